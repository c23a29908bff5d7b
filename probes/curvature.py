"""Recordable curvature probes: the functions of this package on a schedule, writing into traces.

Each probe is called by :func:`landscape.run` or a :class:`landscape.Recorder`
with a context (step, theta, loss, grad, objective, optimizer, seed) and
returns fixed-shape outputs that it declares in ``outputs(objective)``.

========================  ==================================================================
name (CLI ``--probe``)    outputs
========================  ==================================================================
``hutchinson``            trace, trace_se, frobenius, frobenius_se, ratio
``eigenvalues``           top (k,), bottom (k,), top_residuals (k,), bottom_residuals (k,)
``overlap``               overlap = g'Hg / (|g||Hg|), curvature = g'Hg / g'g
``hessian_density``       grid (G,), density (G,), nodes (runs, steps), weights (runs, steps)
``lbfgs_density``         the same for the optimizer's L-BFGS matrix B (NaN without memory)
``b_vs_h``                Hessian and B densities on one common grid, plus their traces
========================  ==================================================================
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from .base import Probe
from .directional import gradient_hessian_overlap
from .hutchinson import hutchinson
from .lbfgs_matrix import CompactLBFGS
from .linalg import extreme_eigenpairs
from .slq import default_grid, kernel_width, quadrature, slq, smooth

__all__ = ["Probe", "HutchinsonProbe", "EigenvalueProbe", "OverlapProbe", "HessianDensityProbe",
           "LBFGSDensityProbe", "BvsHProbe"]


class HutchinsonProbe(Probe):
    """Hutchinson trace and Frobenius norm of the Hessian (thesis: 50 samples).

    Registered as ``hutchinson``. At each scheduled step it runs :func:`probes.hutchinson.hutchinson`
    on ``objective.hessian(theta)`` (``tr(H) ~ mean_i v_i' H v_i``, Hutchinson 1989, thesis eq. 2.10;
    ``|H|_F^2 ~ mean_i |H v_i|^2``, thesis eq. 2.11; ratio ``tr(H) / |H|_F``, Fort and Ganguli 2019)
    with a fresh seed per step (:meth:`~probes.base.Probe.seed_for`).

    Args:
        samples: random vectors per estimate, an integer >= 2 (default 50, thesis appendix B.5).
        block: vectors per block Hessian product, a positive integer, or None (default) for all
            ``samples`` at once.
        distribution: ``"rademacher"`` (default) or ``"gaussian"`` probe vectors (checked only when
            the probe runs).
        every: the periodic schedule of :class:`~probes.base.Probe` (default 10).
        **schedule: ``at``, ``last``, ``seed`` of :class:`~probes.base.Probe`.

    Raises:
        ValueError: ``samples`` is not an integer >= 2, ``block`` is neither None nor a positive
            integer, ``distribution`` is neither "rademacher" nor "gaussian", or the schedule is invalid
            (see :class:`~probes.base.Probe`).
    """

    name = "hutchinson"

    def __init__(self, samples: int = 50, block: int | None = None, distribution: str = "rademacher",
                 every: int | None = 10, **schedule):
        super().__init__(every=every, **schedule)
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 2:
            raise ValueError(f"hutchinson: samples must be an integer >= 2 (a standard error needs two), "
                             f"got {samples!r}")
        if block is not None and (isinstance(block, bool) or not isinstance(block, int) or block < 1):
            raise ValueError(f"hutchinson: block must be a positive integer or None, got {block!r}")
        if distribution not in ("rademacher", "gaussian"):
            raise ValueError(f"hutchinson: distribution must be 'rademacher' or 'gaussian', got {distribution!r}")
        self.samples, self.block, self.distribution = samples, block, distribution

    def options(self):
        """The options ``samples``, ``block`` and ``distribution`` for the trace's config."""
        return {"samples": self.samples, "block": self.block, "distribution": self.distribution}

    def outputs(self, objective):
        """Five scalars: ``trace``, ``trace_se``, ``frobenius``, ``frobenius_se`` and ``ratio``.

        Args:
            objective: the run's objective (unused: the shapes do not depend on it).

        Returns:
            ``{name: ()}`` for the five outputs.
        """
        return {"trace": (), "trace_se": (), "frobenius": (), "frobenius_se": (), "ratio": ()}

    def __call__(self, context):
        """Estimate the Hessian's trace and Frobenius norm at ``context.theta``.

        Args:
            context: the run's :class:`landscape.runner.ProbeContext` (``objective``, ``theta``, and the
                seed via :meth:`~probes.base.Probe.seed_for`).

        Returns:
            ``{"trace", "trace_se", "frobenius", "frobenius_se", "ratio"}``: the estimates, their standard
            errors, and ``tr(H) / |H|_F`` (NaN when the norm estimate is 0).
        """
        r = hutchinson(context.objective.hessian(context.theta), self.samples, self.seed_for(context),
                       self.distribution, self.block)
        return {"trace": r.trace.value, "trace_se": r.trace.stderr, "frobenius": r.frobenius.value,
                "frobenius_se": r.frobenius.stderr, "ratio": r.ratio}


class EigenvalueProbe(Probe):
    """Top-k and bottom-k Hessian eigenvalues by Lanczos (:func:`probes.linalg.extreme_eigenpairs`).

    ``top`` holds the k largest (algebraic) Ritz values of ``steps`` Lanczos steps, largest first, and
    ``bottom`` the k smallest, smallest first; with ``steps >= 2 k`` the two sets are distinct Ritz values.

    Registered as ``eigenvalues``. The residuals are the Lanczos residual norms
    ``|H y - theta y|`` of the Ritz pairs; all outputs are padded with NaN when Lanczos stops
    early.

    Args:
        k: how many eigenvalues at each end, an integer >= 1 (default 5); capped at ``steps`` and
            the number of parameters.
        steps: Lanczos iterations, an integer >= ``2 k`` (default 50).
        every: the periodic schedule of :class:`~probes.base.Probe` (default 10).
        **schedule: ``at``, ``last``, ``seed`` of :class:`~probes.base.Probe`.

    Raises:
        ValueError: k < 1, or fewer than 2 k Lanczos steps (top and bottom would share Ritz values);
            or the schedule is invalid (see :class:`~probes.base.Probe`).
    """

    name = "eigenvalues"

    def __init__(self, k: int = 5, steps: int = 50, every: int | None = 10, **schedule):
        super().__init__(every=every, **schedule)
        for key, value in (("k", k), ("steps", steps)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"eigenvalues: {key} must be an integer >= 1, got {value!r}")
        if steps < 2 * k:
            raise ValueError(f"eigenvalues: k={k} needs steps >= 2k = {2 * k} Lanczos steps, so that the top k and "
                             f"the bottom k are different Ritz values; got steps={steps}")
        self.k, self.steps = k, steps

    def options(self):
        """The options ``k`` and ``steps`` for the trace's config."""
        return {"k": self.k, "steps": self.steps}

    def outputs(self, objective):
        """``top``, ``bottom``, ``top_residuals`` and ``bottom_residuals``, each ``(k,)``.

        Args:
            objective: the run's objective (its ``num_params`` caps ``k``).

        Returns:
            ``{name: (k,)}`` with ``k = min(self.k, self.steps, objective.num_params)``.
        """
        k = min(self.k, self.steps, objective.num_params)
        return {"top": (k,), "bottom": (k,), "top_residuals": (k,), "bottom_residuals": (k,)}

    def __call__(self, context):
        """The extreme Ritz values of the Hessian at ``context.theta``, from one Lanczos run.

        Args:
            context: the run's :class:`landscape.runner.ProbeContext` (``objective``, ``theta``, and the
                seed of the start vector via :meth:`~probes.base.Probe.seed_for`).

        Returns:
            ``{"top", "bottom", "top_residuals", "bottom_residuals"}``, NumPy arrays of the declared
            length, NaN-padded when the run took fewer steps.
        """
        pairs = extreme_eigenpairs(context.objective.hessian(context.theta), self.k, self.steps,
                                   self.seed_for(context), vectors=False)
        k = self.outputs(context.objective)["top"][0]
        pad = lambda t: np.pad(t.numpy(), (0, k - t.numel()), constant_values=np.nan)   # noqa: E731
        return {"top": pad(pairs.top), "bottom": pad(pairs.bottom), "top_residuals": pad(pairs.top_residuals),
                "bottom_residuals": pad(pairs.bottom_residuals)}


class OverlapProbe(Probe):
    """Gradient-Hessian overlap and the curvature along the gradient.

    Registered as ``overlap``. ``overlap = g'Hg / (|g| |Hg|)``
    (:func:`probes.directional.gradient_hessian_overlap`) and ``curvature = g'Hg / g'g``, the
    Rayleigh quotient along the gradient (thesis eq. 2.12 per unit length), both NaN when ``g = 0``.

    Args:
        every: the periodic schedule of :class:`~probes.base.Probe` (default 1: every step).
        **schedule: ``at``, ``last``, ``seed`` of :class:`~probes.base.Probe`.

    Raises:
        ValueError: the schedule is invalid (see :class:`~probes.base.Probe`).
    """

    name = "overlap"

    def __init__(self, every: int | None = 1, **schedule):
        super().__init__(every=every, **schedule)

    def outputs(self, objective):
        """Two scalars, ``overlap`` and ``curvature``.

        Args:
            objective: the run's objective (unused: the shapes do not depend on it).

        Returns:
            ``{"overlap": (), "curvature": ()}``.
        """
        return {"overlap": (), "curvature": ()}

    def __call__(self, context):
        """Measure the overlap and the curvature along the gradient at ``context.theta``.

        Args:
            context: the run's :class:`landscape.runner.ProbeContext` (``objective``, ``theta`` and
                ``grad``; the gradient is recomputed with ``objective.grad`` when ``grad`` is None).

        Returns:
            ``{"overlap": float, "curvature": float}``, both NaN when the gradient is zero (the overlap
            also when ``Hg`` is).
        """
        hessian = context.objective.hessian(context.theta)
        g = context.grad if context.grad is not None else context.objective.grad(context.theta)
        hg = hessian.matvec(g)
        gg, ghg = float(g @ g), float(g @ hg)
        return {"overlap": gradient_hessian_overlap(None, g, product=hg) if gg > 0 else math.nan,   # one HVP
                "curvature": ghg / gg if gg > 0 else math.nan}


class _DensityProbe(Probe):
    """The common part of the SLQ density probes: options, output shapes and one SLQ density.

    By default the schedule is ``at=(0,)`` plus the last step (``every`` None).
    """

    def __init__(self, runs: int = 3, steps: int = 50, sigma2: float = 1e-4, grid_size: int = 500,
                 every: int | None = None, **schedule):
        schedule.setdefault("at", (0,))
        super().__init__(every=every, **schedule)
        for option, value, low in (("runs", runs, 1), ("steps", steps, 1), ("grid_size", grid_size, 2)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{self.name}: {option} must be an integer >= {low}, got {value!r}")
        if isinstance(sigma2, bool) or not isinstance(sigma2, (int, float)) or not 0 < sigma2 < float("inf"):
            raise ValueError(f"{self.name}: sigma2 must be a finite number > 0, got {sigma2!r}")
        self.runs, self.steps, self.sigma2, self.grid_size = runs, steps, sigma2, grid_size

    def options(self):
        """The options ``runs``, ``steps``, ``sigma2`` and ``grid_size`` for the trace's config."""
        return {"runs": self.runs, "steps": self.steps, "sigma2": self.sigma2, "grid_size": self.grid_size}

    def _width(self, objective):
        return min(self.steps, objective.num_params)

    def outputs(self, objective):
        """``grid`` and ``density`` ``(grid_size,)``, ``nodes`` and ``weights`` ``(runs, w)``.

        Args:
            objective: the run's objective (its ``num_params`` caps the Lanczos steps).

        Returns:
            ``{name: shape}`` with ``w = min(steps, objective.num_params)``.
        """
        w = self._width(objective)
        return {"grid": (self.grid_size,), "density": (self.grid_size,), "nodes": (self.runs, w),
                "weights": (self.runs, w)}

    def _empty(self, objective):
        return {k: np.full(shape, np.nan) for k, shape in self.outputs(objective).items()}

    def _density(self, operator, context):
        d = slq(operator, self.runs, self.steps, self.sigma2, grid_size=self.grid_size,
                seed=self.seed_for(context))
        return {"grid": d.grid, "density": d.density, "nodes": d.nodes, "weights": d.weights}


class HessianDensityProbe(_DensityProbe):
    """SLQ eigenvalue density of the Hessian (thesis settings by default; at step 0 and the last step).

    Registered as ``hessian_density``: :func:`probes.slq.slq` (stochastic Lanczos quadrature,
    Ghorbani et al. 2019; thesis eqs. 2.13-2.15) on ``objective.hessian(theta)``, with a fresh seed
    per step.

    Args:
        runs: random start vectors ``k`` of SLQ (default 3, thesis appendix B.5).
        steps: Lanczos steps per run ``o`` (default 50, thesis appendix B.5); capped at the number of
            parameters.
        sigma2: the kernel variance on the spectrum rescaled to [-1, 1] (default 1e-4, thesis
            appendix B.5), see :func:`probes.slq.kernel_width`.
        grid_size: points of the density's grid (default 500).
        every: the periodic schedule of :class:`~probes.base.Probe` (default None).
        **schedule: ``at``, ``last``, ``seed`` of :class:`~probes.base.Probe`; ``at`` defaults to
            ``(0,)`` (the initialization), so by default the probe runs at step 0 and the last step.

    Raises:
        ValueError: the schedule is invalid (see :class:`~probes.base.Probe`), ``runs`` or ``steps`` is not an
            integer >= 1, ``grid_size`` not an integer >= 2, or ``sigma2`` not a finite number > 0.
    """

    name = "hessian_density"

    def __call__(self, context):
        """The SLQ density of the Hessian at ``context.theta``.

        Args:
            context: the run's :class:`landscape.runner.ProbeContext` (``objective``, ``theta``, and the
                seed via :meth:`~probes.base.Probe.seed_for`).

        Returns:
            ``{"grid", "density", "nodes", "weights"}`` of :func:`probes.slq.slq`.
        """
        return self._density(context.objective.hessian(context.theta), context)


class _NeedsMemory:
    """For probes of the optimizer's L-BFGS matrix: ``available`` is 1 when the memory held pairs, 0 when not;
    an optimizer that hands no memory at all is named once in a warning (never silent NaN).

    ``_memory(context)`` returns ``context.memory()`` when it holds at least one pair, else None;
    it warns (``UserWarning``, once per probe) when the optimizer hands None at a step after 0.
    """

    _warned = False

    def _memory(self, context):
        memory = context.memory()
        if memory is None and context.step > 0 and not self._warned:      # step 0 has no pair yet anyway
            self._warned = True
            warnings.warn(f"{self.name}: the optimizer hands no curvature memory (S, Y, gamma) at step {context.step}; "
                          "its L-BFGS matrix is recorded as not available (output 'available' = 0). A hand-written "
                          "optimizer passes it with Recorder.observe(..., memory=(S, Y, gamma))", UserWarning,
                          stacklevel=3)
        return memory if memory is not None and memory.size > 0 else None


class LBFGSDensityProbe(_NeedsMemory, _DensityProbe):
    """SLQ eigenvalue density of the optimizer's L-BFGS matrix B (``available`` = 0 and NaN rows while the
    memory is empty or the optimizer keeps none).

    Registered as ``lbfgs_density``: :func:`probes.slq.slq` on
    :meth:`probes.lbfgs_matrix.CompactLBFGS.from_memory` of ``context.memory()`` (the compact form of
    Byrd, Nocedal and Schnabel 1994; thesis appendix B.4, eq. B.1).

    Args:
        runs: random start vectors ``k`` of SLQ (default 3, thesis appendix B.5).
        steps: Lanczos steps per run ``o`` (default 50, thesis appendix B.5); capped at the number of
            parameters.
        sigma2: the kernel variance on the spectrum rescaled to [-1, 1] (default 1e-4, thesis
            appendix B.5), see :func:`probes.slq.kernel_width`.
        grid_size: points of the density's grid (default 500).
        every: the periodic schedule of :class:`~probes.base.Probe` (default None).
        **schedule: ``at``, ``last``, ``seed`` of :class:`~probes.base.Probe`; ``at`` defaults to
            ``(0,)`` (the initialization), so by default the probe runs at step 0 and the last step.

    Raises:
        ValueError: the schedule is invalid (see :class:`~probes.base.Probe`), ``runs`` or ``steps`` is not an
            integer >= 1, ``grid_size`` not an integer >= 2, or ``sigma2`` not a finite number > 0.
    """

    name = "lbfgs_density"

    def outputs(self, objective):
        """The outputs of :class:`HessianDensityProbe` plus the scalar ``available``.

        Args:
            objective: the run's objective (its ``num_params`` caps the Lanczos steps).

        Returns:
            ``{name: shape}``: ``grid``, ``density`` ``(grid_size,)``, ``nodes``, ``weights``
            ``(runs, min(steps, num_params))`` and ``available`` ``()``.
        """
        return {**super().outputs(objective), "available": ()}

    def __call__(self, context):
        """The SLQ density of the optimizer's L-BFGS matrix B at this step.

        Args:
            context: the run's :class:`landscape.runner.ProbeContext` (``objective``, ``memory()``,
                ``step``, and the seed via :meth:`~probes.base.Probe.seed_for`).

        Returns:
            ``{"grid", "density", "nodes", "weights", "available"}``: the density of B and
            ``available = 1.0``, or all-NaN arrays and ``available = 0.0`` when the memory holds no
            pair.
        """
        memory = self._memory(context)
        if memory is None:
            return {**self._empty(context.objective), "available": 0.0}
        return {**self._density(CompactLBFGS.from_memory(memory), context), "available": 1.0}


class BvsHProbe(_NeedsMemory, _DensityProbe):
    """The densities of the Hessian and of the L-BFGS matrix B at the same iterate, on one grid.

    Registered as ``b_vs_h`` (the comparison of thesis Figure 3.7 and Figures C.9-C.12). Both
    operators get :func:`probes.slq.quadrature` with the same seed (so the same start vectors); the
    kernel width comes from ``sigma2`` on the range of both sets of Ritz values together, and both
    densities are smoothed on one :func:`probes.slq.default_grid` over that range. The traces are the
    first moments times ``n``: ``tr ~ n (1/runs) sum_rj w_rj theta_rj``.

    Args:
        runs: random start vectors ``k`` of SLQ (default 3, thesis appendix B.5).
        steps: Lanczos steps per run ``o`` (default 50, thesis appendix B.5); capped at the number of
            parameters.
        sigma2: the kernel variance on the spectrum rescaled to [-1, 1] (default 1e-4, thesis
            appendix B.5), see :func:`probes.slq.kernel_width`.
        grid_size: points of the density's grid (default 500).
        every: the periodic schedule of :class:`~probes.base.Probe` (default None).
        **schedule: ``at``, ``last``, ``seed`` of :class:`~probes.base.Probe`; ``at`` defaults to
            ``(0,)`` (the initialization), so by default the probe runs at step 0 and the last step.

    Raises:
        ValueError: the schedule is invalid (see :class:`~probes.base.Probe`), ``runs`` or ``steps`` is not an
            integer >= 1, ``grid_size`` not an integer >= 2, or ``sigma2`` not a finite number > 0.
    """

    name = "b_vs_h"

    def outputs(self, objective):
        """The two densities on one grid, their quadrature rules and traces, and ``available``.

        Args:
            objective: the run's objective (its ``num_params`` caps the Lanczos steps).

        Returns:
            ``{name: shape}``: ``grid``, ``hessian_density``, ``lbfgs_density`` ``(grid_size,)``;
            ``hessian_nodes``, ``hessian_weights``, ``lbfgs_nodes``, ``lbfgs_weights``
            ``(runs, min(steps, num_params))``; ``hessian_trace``, ``lbfgs_trace``, ``available`` ``()``.
        """
        w = self._width(objective)
        g = (self.grid_size,)
        return {"grid": g, "hessian_density": g, "lbfgs_density": g, "hessian_nodes": (self.runs, w),
                "hessian_weights": (self.runs, w), "lbfgs_nodes": (self.runs, w), "lbfgs_weights": (self.runs, w),
                "hessian_trace": (), "lbfgs_trace": (), "available": ()}

    def __call__(self, context):
        """The Hessian and L-BFGS densities at ``context.theta`` on a common grid.

        Args:
            context: the run's :class:`landscape.runner.ProbeContext` (``objective``, ``theta``,
                ``memory()``, ``step``, and the seed via :meth:`~probes.base.Probe.seed_for`).

        Returns:
            The outputs of :meth:`outputs` with ``available = 1.0``, or all-NaN values and
            ``available = 0.0`` when the memory holds no pair.
        """
        memory = self._memory(context)
        if memory is None:
            return {**self._empty(context.objective), "available": 0.0}
        seed = self.seed_for(context)
        hessian = quadrature(context.objective.hessian(context.theta), self.runs, self.steps, seed)
        lbfgs = quadrature(CompactLBFGS.from_memory(memory), self.runs, self.steps, seed)
        low = min(np.nanmin(hessian[0]), np.nanmin(lbfgs[0]))
        high = max(np.nanmax(hessian[0]), np.nanmax(lbfgs[0]))
        sigma = kernel_width(self.sigma2, low, high)
        grid = default_grid(low, high, sigma, self.grid_size)
        h, b = smooth(*hessian, sigma, grid), smooth(*lbfgs, sigma, grid)
        n = context.objective.num_params
        return {"grid": grid, "hessian_density": h.density, "lbfgs_density": b.density,
                "hessian_nodes": h.nodes, "hessian_weights": h.weights, "lbfgs_nodes": b.nodes,
                "lbfgs_weights": b.weights, "hessian_trace": n * h.moment(1), "lbfgs_trace": n * b.moment(1),
                "available": 1.0}
