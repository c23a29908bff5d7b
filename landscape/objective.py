"""The objective every optimizer and probe talks to: theta -> compliance, with exact derivatives.

``theta`` is a flat float64 vector holding all parameters of a parameterization
(a ``torch.nn.Module``) in the order of ``named_parameters()``. One evaluation is

    theta -> model logits -> physical_density (constrained sigmoid, mask, cone
    filter) -> modified SIMP -> K(x) u = f -> compliance f'u.

Precision (``precision=``):

``"mixed"``    the network runs in float32, as Hoyer et al. and the thesis ran it:
               ``theta`` is rounded to float32 on the way into the module and the
               logits are cast back to float64, so the constrained sigmoid, the
               filter, the physics and the solve stay float64. Optimizers still
               see a float64 ``theta`` and a float64 gradient (the float32
               gradient of the network, widened). 5 to 9 times faster for CNNs.
``"float64"``  everything in float64: derivatives exact to rounding, for
               curvature work and every comparison with dense truth.

A module without a network (``pixel``, marked ``has_network = False``) always
runs in float64; its precision reads ``"float64"`` whatever was asked.

Hessian-vector products are exact (Pearlmutter 1994), computed forward-over-
reverse with ``torch.func.jvp(torch.func.grad(loss))``. A block ``V`` of shape
``(n, k)`` is pushed through with ``torch.func.vmap``, so every linear solve of
the tangent pass is one multi-right-hand-side solve with the factorization of
K shared by all columns.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch.func import functional_call

from .design import physical_density
from .operators import HessianOperator, LinearOperator, _as_theta, _real, hessian_vector_products
from .physics import compliance
from .precision import PRECISIONS, network_dtype

__all__ = ["Objective", "hessian_vector_products", "FunctionObjective", "HessianOperator", "LinearOperator",
           "PRECISIONS",
           "network_dtype"]



class Objective:
    """Compliance of ``problem`` as a function of the parameters of ``model``.

    ``theta`` is the flat float64 vector of the module's trainable parameters (those with
    ``requires_grad``), in the order of ``named_parameters()``; :attr:`theta0` holds their values at
    construction. Every :meth:`loss`, :meth:`value_and_grad` (and :meth:`grad`) call counts one
    evaluation in :attr:`evaluations`, :meth:`losses` one per row.

    Args:
        problem: the :class:`~landscape.problems.Problem`.
        model: a ``torch.nn.Module`` whose ``forward()`` returns logits (height, width).
        penal: SIMP penalization ``p``, finite and >= 1 (1 gives the convex pixel problem, 3 the usual one;
            default 3.0).
        volume_constraint: passed to :func:`~landscape.design.physical_density`: the constrained sigmoid
            (default True).
        filter: passed to :func:`~landscape.design.physical_density`: the cone filter (default True).
        precision: ``"mixed"`` (float32 network, float64 physics), ``"float64"``, or None
            (the default) to keep the module's own dtype: float32 parameters mean
            ``"mixed"``, float64 mean ``"float64"``. ``models.build`` makes mixed
            networks unless asked otherwise. The module is converted in place.

    Attributes:
        names, shapes, sizes: the name, shape and number of entries of each trainable parameter.
        num_params: the length ``n`` of ``theta``.
        theta0: the initial ``theta`` (float64, shape (n,)).
        network_dtype: the dtype the module runs in (float32 for ``"mixed"``).
        evaluations: objective evaluations so far, for optimizers' bookkeeping.

    Raises:
        ValueError: ``penal`` below 1 or not finite, an unknown ``precision`` (or, with None, a module
            of mixed or non-float dtypes), a module without trainable parameters, or logits whose shape
            is not the problem's.
    """

    def __init__(self, problem, model: torch.nn.Module, penal: float = 3.0,
                 volume_constraint: bool = True, filter: bool = True,   # noqa: A002
                 precision: str | None = None):
        if not penal >= 1.0 or not math.isfinite(penal):
            raise ValueError(f"penal must be a finite number >= 1, got {penal!r}")
        self.problem = problem
        self.network_dtype = network_dtype(model, precision)
        self.model = model.to(self.network_dtype)
        self.penal = float(penal)
        self.volume_constraint = volume_constraint
        self.filter = filter
        named = [(k, p) for k, p in model.named_parameters() if p.requires_grad]
        if not named:
            raise ValueError("the model has no trainable parameters")
        self.names = [k for k, _ in named]
        self.shapes = [tuple(p.shape) for _, p in named]
        self.sizes = [p.numel() for _, p in named]
        self.num_params = sum(self.sizes)
        self.theta0 = torch.cat([p.detach().reshape(-1) for _, p in named]).to(torch.float64)
        with torch.no_grad():
            logits = model()
        if tuple(logits.shape) != problem.shape:
            raise ValueError(f"model returns logits of shape {tuple(logits.shape)}, "
                             f"problem {problem.name} needs {problem.shape}")
        self.evaluations = 0   # objective evaluations (loss or gradient), for optimizers' bookkeeping

    @property
    def precision(self) -> str:
        """``"mixed"`` (float32 network, float64 physics) or ``"float64"``."""
        return "float64" if self.network_dtype == torch.float64 else "mixed"

    # -- the graph ------------------------------------------------------------
    def parameters(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        """``theta`` in the network's dtype, split into named tensors shaped like the module's parameters.

        Args:
            theta: the flat parameter vector, shape (num_params,).

        Returns:
            ``{parameter name: tensor}``, views of ``theta`` cast to the network dtype, for
            ``torch.func.functional_call``.
        """
        theta = theta.to(self.network_dtype)
        return {name: chunk.view(shape) for name, chunk, shape
                in zip(self.names, torch.split(theta, self.sizes), self.shapes)}

    def logits(self, theta: torch.Tensor) -> torch.Tensor:
        """The module's output at ``theta``, in float64 (the cast of a mixed network is here).

        Args:
            theta: the flat parameter vector, shape (num_params,); differentiable.

        Returns:
            The logits, float64, shape (height, width).
        """
        return functional_call(self.model, self.parameters(theta), ()).to(torch.float64)

    def design_graph(self, theta: torch.Tensor) -> torch.Tensor:
        """Differentiable physical density at ``theta``.

        Args:
            theta: the flat parameter vector, shape (num_params,).

        Returns:
            The physical density (constrained sigmoid, mask and filter as configured), float64, shape
            (height, width).
        """
        return physical_density(self.problem, self.logits(theta), self.volume_constraint, self.filter)

    def loss_graph(self, theta: torch.Tensor) -> torch.Tensor:
        """Differentiable compliance at ``theta`` (a 0-d tensor).

        The whole graph of the module docstring; it is also the objective's ``__call__``. Not counted
        in :attr:`evaluations`.

        Args:
            theta: the flat parameter vector, shape (num_params,).

        Returns:
            A 0-d float64 tensor, the compliance.
        """
        return compliance(self.problem, self.design_graph(theta), self.penal)

    __call__ = loss_graph

    # -- the density space (pixel baselines, the density-space Hessian) ------------------
    def densities(self, theta: torch.Tensor) -> torch.Tensor:
        """The constrained sigmoid of the logits at ``theta``, before the filter (h, w).

        Args:
            theta: the flat parameter vector, shape (num_params,).

        Returns:
            The densities, shape (height, width) (with ``volume_constraint=False``: the masked logits).
        """
        return physical_density(self.problem, self.logits(theta), self.volume_constraint, filter=False)

    def density_design(self, x: torch.Tensor, apply_filter: bool | None = None) -> torch.Tensor:
        """The physical density of the densities ``x`` (h, w): filtered as this objective filters
        (``apply_filter=False``: ``x`` already is one), no volume constraint applied.

        Args:
            x: densities, shape (height, width); multiplied by the mask.
            apply_filter: filter ``x``; None (default) filters as this objective does.

        Returns:
            The physical density, shape (height, width).
        """
        return physical_density(self.problem, x, volume_constraint=False,
                                filter=self.filter if apply_filter is None else apply_filter)

    def density_loss(self, x: torch.Tensor, apply_filter: bool | None = None) -> torch.Tensor:
        """Differentiable compliance of the densities ``x`` (h, w); see :meth:`density_design`.

        The loss of the density space in which the OC and MMA baselines work and in which the
        density-space Hessian (thesis appendix B.3) is taken.

        Args:
            x: densities in [0, 1], shape (height, width).
            apply_filter: filter ``x`` first; None (default) filters as this objective does.

        Returns:
            A 0-d tensor, the compliance.
        """
        return compliance(self.problem, self.density_design(x, apply_filter), self.penal)

    def losses(self, thetas, batch: int = 8) -> np.ndarray:
        """Losses at the rows of ``thetas`` (k, n), without gradients.

        ``batch`` rows go through the network as one vmapped forward pass; the
        physics (one factorization per design) follows row by row. Counts ``k`` evaluations.

        Args:
            thetas: parameter vectors, one per row, shape (k, num_params); converted to float64.
            batch: rows per network pass (default 8; values below 1 mean 1).

        Returns:
            The compliances, a float64 NumPy array of shape (k,).

        Raises:
            ValueError: ``thetas`` that is not 2-d with ``num_params`` columns (e.g. one flat theta).
        """
        thetas = torch.as_tensor(thetas, dtype=torch.float64)
        if thetas.ndim != 2 or thetas.shape[1] != self.num_params:
            raise ValueError(f"losses takes a block of parameter vectors of shape (k, {self.num_params}), got shape "
                             f"{tuple(thetas.shape)}; for one theta of length {self.num_params} use loss(theta)")
        out = np.empty(thetas.shape[0])
        with torch.no_grad():
            for start in range(0, thetas.shape[0], max(1, batch)):
                chunk = thetas[start:start + max(1, batch)]
                logits = torch.func.vmap(self.logits)(chunk)
                designs = physical_density(self.problem, logits, self.volume_constraint, self.filter)
                for j, design in enumerate(designs):
                    out[start + j] = float(compliance(self.problem, design, self.penal))
        self.evaluations += thetas.shape[0]
        return out

    # -- numbers -----------------------------------------------------------
    def loss(self, theta) -> float:
        """The compliance at ``theta``, without a gradient (counted as one evaluation).

        Evaluates :meth:`loss_graph` under ``torch.no_grad()``: ``theta`` -> logits (float32 network in
        ``"mixed"`` precision) -> physical density -> modified SIMP -> ``K(x) u = f`` -> ``f'u``.

        Args:
            theta: the flat parameter vector, shape (num_params,), converted to float64.

        Returns:
            The loss as a float.

        Raises:
            ValueError: ``theta`` of the wrong shape, or complex; non-finite logits (from the constrained
                sigmoid).
            SingularStiffnessError: the stiffness matrix cannot be factored
                (:class:`~landscape.physics.SingularStiffnessError`).
        """
        theta = _as_theta(theta, self.num_params)
        self.evaluations += 1
        with torch.no_grad():
            return float(self.loss_graph(theta))

    def value_and_grad(self, theta) -> tuple[float, torch.Tensor]:
        """The compliance and its exact gradient at ``theta`` (one forward and one backward pass).

        The gradient flows through the network (float32 in ``"mixed"`` precision, then widened), the
        constrained sigmoid (implicit differentiation of the bias), the filter and the adjoint solve
        (``dc/dE_e = -lambda_e' KE u_e`` with ``lambda = K^{-1} f``, which equals ``u``; the adjoint solve
        reuses the factorization). Counted as one evaluation.

        Args:
            theta: the flat parameter vector, shape (num_params,), converted to float64.

        Returns:
            ``(loss, grad)``: a float and a float64 tensor of shape (num_params,).

        Raises:
            ValueError: ``theta`` of the wrong shape, or complex; non-finite logits (from the constrained
                sigmoid).
            SingularStiffnessError: the stiffness matrix cannot be factored
                (:class:`~landscape.physics.SingularStiffnessError`).
        """
        theta = _as_theta(theta, self.num_params).detach().requires_grad_(True)
        self.evaluations += 1
        value = self.loss_graph(theta)
        (grad,) = torch.autograd.grad(value, theta)
        return float(value.detach()), grad

    def grad(self, theta) -> torch.Tensor:
        """The gradient at ``theta`` (:meth:`value_and_grad` without the value).

        Args:
            theta: the flat parameter vector, shape (num_params,).

        Returns:
            A float64 tensor of shape (num_params,).

        Raises:
            ValueError: ``theta`` of the wrong shape, or complex (see :meth:`value_and_grad`).
        """
        return self.value_and_grad(theta)[1]

    def design(self, theta) -> torch.Tensor:
        """Physical density (height, width) at ``theta``.

        Args:
            theta: the flat parameter vector, shape (num_params,), converted to float64.

        Returns:
            The physical density without a graph, float64, shape (height, width).

        Raises:
            ValueError: ``theta`` of the wrong shape, or complex.
        """
        theta = _as_theta(theta, self.num_params)
        with torch.no_grad():
            return self.design_graph(theta)

    def hvp(self, theta, v) -> torch.Tensor:
        """Exact Hessian-vector product ``H(theta) v`` for ``v`` of shape (n,) or a block (n, k).

        Forward-over-reverse (Pearlmutter 1994) through :func:`hessian_vector_products`; a block is one
        vmapped pass, its linear solves sharing one factorization. Not counted in :attr:`evaluations`.

        Args:
            theta: the flat parameter vector, shape (n,) with ``n = num_params``.
            v: a direction (n,) or a block of directions (n, k), k >= 1, converted to float64.

        Returns:
            ``H v``, the shape of ``v``.

        Raises:
            ValueError: ``theta`` or ``v`` of the wrong shape, complex, or with NaN or infinite entries.
        """
        theta = _as_theta(theta, self.num_params).detach()
        v = _real(v, "v")
        if v.dim() not in (1, 2) or v.shape[0] != self.num_params or (v.dim() == 2 and v.shape[1] == 0):
            raise ValueError(f"v must have shape ({self.num_params},) or ({self.num_params}, k) with k >= 1, "
                             f"got {tuple(v.shape)}")
        if not bool(torch.isfinite(v).all()):
            raise ValueError("v holds NaN or infinite entries; a Hessian-vector product needs a finite direction")
        if not bool(torch.isfinite(theta).all()):
            raise ValueError("theta holds NaN or infinite entries")
        return hessian_vector_products(self.loss_graph, theta, v)

    def module_loss(self) -> torch.Tensor:
        """Compliance at the module's own current parameters, differentiable with respect to them.

        For training loops written with ``torch.optim``: ``objective.module_loss().backward()``
        fills ``p.grad`` of the model's parameters. Not counted in :attr:`evaluations`.

        Returns:
            A 0-d float64 tensor, the compliance.
        """
        logits = self.model().to(torch.float64)
        return compliance(self.problem, physical_density(self.problem, logits, self.volume_constraint,
                                                         self.filter), self.penal)

    def module_theta(self) -> torch.Tensor:
        """The module's current parameters as one flat vector (the order of ``theta``).

        Returns:
            A detached float64 tensor of shape (num_params,).
        """
        return torch.cat([p.detach().reshape(-1) for name, p in self.model.named_parameters()
                          if p.requires_grad]).to(torch.float64)

    def hessian(self, theta) -> HessianOperator:
        """The Hessian at ``theta`` as a :class:`LinearOperator` (``matvec``, ``matmat``, ``.to_scipy()``).

        Args:
            theta: the point, shape (num_params,) (copied).

        Returns:
            A :class:`HessianOperator` whose products call :meth:`hvp`.

        Raises:
            ValueError: ``theta`` of the wrong shape, or complex.
        """
        return HessianOperator(self, theta)

    def __repr__(self):
        return (f"Objective(problem={self.problem.name!r}, model={type(self.model).__name__}, "
                f"penal={self.penal}, precision={self.precision!r}, params={self.num_params})")


class FunctionObjective:
    """Any twice-differentiable ``fn(theta) -> 0-d tensor`` with the :class:`Objective` interface.

    For developing and testing optimizers and probes on small analytic
    functions (quadratics, Rosenbrock) before pointing them at the TO graph.
    ``design(theta)`` returns ``theta`` itself.

    Args:
        fn: the function, ``fn(theta) -> 0-d tensor`` for a flat float64 ``theta``; twice differentiable
            by ``torch.func`` for :meth:`hvp` and :meth:`hessian`.
        theta0: the starting point, flattened to float64.
        name: shown in progress bars and traces (default ``"function"``).
    """

    problem = None

    def __init__(self, fn, theta0, name: str = "function"):
        self.fn = fn
        self.theta0 = torch.as_tensor(theta0, dtype=torch.float64).detach().clone().reshape(-1)
        self.num_params = self.theta0.numel()
        self.name = name
        self.evaluations = 0

    def __call__(self, theta):
        """``fn(theta)`` as a differentiable 0-d tensor (also ``loss_graph``).

        Args:
            theta: the flat parameter vector.

        Returns:
            What ``fn`` returns; not counted in ``evaluations``.
        """
        return self.fn(theta)

    loss_graph = __call__

    def loss(self, theta) -> float:
        """``fn(theta)`` as a float, without a gradient (counted as one evaluation).

        Args:
            theta: the flat parameter vector, shape (num_params,).

        Returns:
            The value as a float.

        Raises:
            ValueError: ``theta`` of the wrong shape, or complex.
        """
        self.evaluations += 1
        with torch.no_grad():
            return float(self.fn(_as_theta(theta, self.num_params)))

    def value_and_grad(self, theta):
        """``(fn(theta), grad fn(theta))`` by reverse mode.

        Args:
            theta: the flat parameter vector, shape (num_params,).

        Returns:
            ``(loss, grad)``: a float and a float64 tensor of shape (num_params,).

        Raises:
            ValueError: ``theta`` of the wrong shape, or complex.
        """
        theta = _as_theta(theta, self.num_params).detach().requires_grad_(True)
        self.evaluations += 1
        value = self.fn(theta)
        (grad,) = torch.autograd.grad(value, theta)
        return float(value.detach()), grad

    def grad(self, theta):
        """The gradient of ``fn`` at ``theta``, shape (num_params,).

        Args:
            theta: the flat parameter vector.

        Returns:
            A float64 tensor of shape (num_params,) (from :meth:`value_and_grad`, one evaluation).

        Raises:
            ValueError: ``theta`` of the wrong shape, or complex.
        """
        return self.value_and_grad(theta)[1]

    def design(self, theta):
        """``theta`` itself (a copy): a function has no separate design.

        Args:
            theta: the flat parameter vector, shape (num_params,).

        Returns:
            A float64 copy of ``theta``.

        Raises:
            ValueError: ``theta`` of the wrong shape, or complex.
        """
        return _as_theta(theta, self.num_params).detach().clone()

    hvp = Objective.hvp
    hessian = Objective.hessian

    def __repr__(self):
        return f"FunctionObjective({self.name!r}, params={self.num_params})"
