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

from .directional import gradient_hessian_overlap
from .hutchinson import hutchinson
from .lbfgs_matrix import CompactLBFGS
from .linalg import extreme_eigenpairs
from .base import Probe
from .slq import default_grid, kernel_width, quadrature, slq, smooth

__all__ = ["Probe", "HutchinsonProbe", "EigenvalueProbe", "OverlapProbe", "HessianDensityProbe",
           "LBFGSDensityProbe", "BvsHProbe"]


class HutchinsonProbe(Probe):
    """Hutchinson trace and Frobenius norm of the Hessian (thesis: 50 samples)."""

    name = "hutchinson"

    def __init__(self, samples: int = 50, block: int | None = None, distribution: str = "rademacher",
                 every: int | None = 10, **schedule):
        super().__init__(every=every, **schedule)
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 2:
            raise ValueError(f"hutchinson: samples must be an integer >= 2 (a standard error needs two), got {samples!r}")
        if block is not None and (isinstance(block, bool) or not isinstance(block, int) or block < 1):
            raise ValueError(f"hutchinson: block must be a positive integer or None, got {block!r}")
        self.samples, self.block, self.distribution = samples, block, distribution

    def options(self):
        return {"samples": self.samples, "block": self.block, "distribution": self.distribution}

    def outputs(self, objective):
        return {"trace": (), "trace_se": (), "frobenius": (), "frobenius_se": (), "ratio": ()}

    def __call__(self, context):
        r = hutchinson(context.objective.hessian(context.theta), self.samples, self.seed_for(context),
                       self.distribution, self.block)
        return {"trace": r.trace.value, "trace_se": r.trace.stderr, "frobenius": r.frobenius.value,
                "frobenius_se": r.frobenius.stderr, "ratio": r.ratio}


class EigenvalueProbe(Probe):
    """Top-k and bottom-k Hessian eigenvalues by Lanczos (:func:`probes.linalg.extreme_eigenpairs`).

    ``top`` holds the k largest (algebraic) Ritz values of ``steps`` Lanczos steps, largest first, and
    ``bottom`` the k smallest, smallest first; with ``steps >= 2 k`` the two sets are distinct Ritz values.

    Raises:
        ValueError: k < 1, or fewer than 2 k Lanczos steps (top and bottom would share Ritz values).
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
        return {"k": self.k, "steps": self.steps}

    def outputs(self, objective):
        k = min(self.k, self.steps, objective.num_params)
        return {"top": (k,), "bottom": (k,), "top_residuals": (k,), "bottom_residuals": (k,)}

    def __call__(self, context):
        pairs = extreme_eigenpairs(context.objective.hessian(context.theta), self.k, self.steps,
                                   self.seed_for(context), vectors=False)
        k = self.outputs(context.objective)["top"][0]
        pad = lambda t: np.pad(t.numpy(), (0, k - t.numel()), constant_values=np.nan)   # noqa: E731
        return {"top": pad(pairs.top), "bottom": pad(pairs.bottom), "top_residuals": pad(pairs.top_residuals),
                "bottom_residuals": pad(pairs.bottom_residuals)}


class OverlapProbe(Probe):
    """Gradient-Hessian overlap and the curvature along the gradient."""

    name = "overlap"

    def __init__(self, every: int | None = 1, **schedule):
        super().__init__(every=every, **schedule)

    def outputs(self, objective):
        return {"overlap": (), "curvature": ()}

    def __call__(self, context):
        hessian = context.objective.hessian(context.theta)
        g = context.grad if context.grad is not None else context.objective.grad(context.theta)
        hg = hessian.matvec(g)
        gg, ghg = float(g @ g), float(g @ hg)
        return {"overlap": gradient_hessian_overlap(hessian, g) if gg > 0 else math.nan,
                "curvature": ghg / gg if gg > 0 else math.nan}


class _DensityProbe(Probe):
    def __init__(self, runs: int = 3, steps: int = 50, sigma2: float = 1e-4, grid_size: int = 500,
                 every: int | None = None, **schedule):
        schedule.setdefault("at", (0,))
        super().__init__(every=every, **schedule)
        self.runs, self.steps, self.sigma2, self.grid_size = runs, steps, sigma2, grid_size

    def options(self):
        return {"runs": self.runs, "steps": self.steps, "sigma2": self.sigma2, "grid_size": self.grid_size}

    def _width(self, objective):
        return min(self.steps, objective.num_params)

    def outputs(self, objective):
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
    """SLQ eigenvalue density of the Hessian (thesis settings by default; at step 0 and the last step)."""

    name = "hessian_density"

    def __call__(self, context):
        return self._density(context.objective.hessian(context.theta), context)


class _NeedsMemory:
    """For probes of the optimizer's L-BFGS matrix: ``available`` is 1 when the memory held pairs, 0 when not;
    an optimizer that hands no memory at all is named once in a warning (never silent NaN)."""

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
    memory is empty or the optimizer keeps none)."""

    name = "lbfgs_density"

    def outputs(self, objective):
        return {**super().outputs(objective), "available": ()}

    def __call__(self, context):
        memory = self._memory(context)
        if memory is None:
            return {**self._empty(context.objective), "available": 0.0}
        return {**self._density(CompactLBFGS.from_memory(memory), context), "available": 1.0}


class BvsHProbe(_NeedsMemory, _DensityProbe):
    """The densities of the Hessian and of the L-BFGS matrix B at the same iterate, on one grid."""

    name = "b_vs_h"

    def outputs(self, objective):
        w = self._width(objective)
        g = (self.grid_size,)
        return {"grid": g, "hessian_density": g, "lbfgs_density": g, "hessian_nodes": (self.runs, w),
                "hessian_weights": (self.runs, w), "lbfgs_nodes": (self.runs, w), "lbfgs_weights": (self.runs, w),
                "hessian_trace": (), "lbfgs_trace": (), "available": ()}

    def __call__(self, context):
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
