"""Sparse Cholesky solves of ``K(E) U = F`` as a twice-differentiable torch operation.

:class:`SparseSolve` maps element Young's moduli ``E`` (nel,) and right-hand
sides ``F`` (num_free,) or (num_free, k) to ``U = K(E)^{-1} F``. Its rules:

* backward:  ``L = K^{-1} gU`` (K is symmetric), ``gF = L``,
  ``gE_e = -L_e' KE U_e``;
* forward mode:  ``dU = K^{-1} (dF - dK U)`` with ``(dK U)_e = dE_e KE U_e``;
* vmap:  a batch of right-hand sides at one ``E`` is solved as one block.

Both derivative rules call :class:`SparseSolve` again, so reverse-mode
derivatives of any order, and forward-over-reverse products (HVPs, dense
Hessians), are exact (forward-over-forward is not supported), and every solve at the same ``E`` (forward, adjoint,
second-order) reuses one numeric factorization. The symbolic analysis
(fill-reducing ordering) is done once per problem and shared across densities.

CHOLMOD (scikit-sparse) is the fast path. Without it, SciPy's SuperLU is used
and a warning says so once. ``LANDSCAPE_SOLVER=scipy`` forces the fallback.
"""
from __future__ import annotations

import os
import warnings
from collections import OrderedDict

import numpy as np
import scipy.sparse.linalg as spla
import torch

from ..threads import blas_for_solver
from .assembly import FESystem

try:  # pragma: no cover - depends on the machine
    import sksparse.cholmod as _cholmod
except ImportError:  # pragma: no cover
    _cholmod = None

__all__ = ["SparseSolve", "solve", "backend", "SingularStiffnessError", "factorization_count"]

_warned = False


class SingularStiffnessError(RuntimeError):
    """The stiffness matrix is not positive definite (e.g. supports leave a rigid-body mode)."""


def backend() -> str:
    """``"cholmod"`` or ``"scipy"``: the sparse solver in use.

    ``LANDSCAPE_SOLVER=scipy`` forces SciPy's SuperLU; otherwise CHOLMOD (scikit-sparse) is used when it
    imports, else SuperLU, with a ``RuntimeWarning`` the first time.

    Returns:
        The backend's name.

    Raises:
        ValueError: ``LANDSCAPE_SOLVER`` is set to something other than ``cholmod``, ``scipy`` or empty.
    """
    global _warned
    wanted = os.environ.get("LANDSCAPE_SOLVER", "").lower()
    if wanted not in ("", "cholmod", "scipy"):
        raise ValueError(f"LANDSCAPE_SOLVER={wanted!r}; accepted: 'cholmod', 'scipy' or unset")
    if wanted == "scipy":
        return "scipy"
    if _cholmod is None:
        if not _warned:
            warnings.warn("scikit-sparse (CHOLMOD) is not installed; solving with SciPy's SuperLU, "
                          "which is several times slower. Install it with `make setup` or "
                          "`pip install 'scikit-sparse<0.5'` after `apt-get install libsuitesparse-dev`.",
                          RuntimeWarning, stacklevel=3)
            _warned = True
        return "scipy"
    return "cholmod"


class _Factorization:
    """A numeric factorization of K at one density, with a block solve."""

    def __init__(self, system: FESystem, young_moduli: np.ndarray):
        blas_for_solver()
        self._factor(system, young_moduli)
        global _FACTORIZATIONS
        _FACTORIZATIONS += 1

    def _factor(self, system: FESystem, young_moduli: np.ndarray) -> None:
        kind = backend()
        if kind == "cholmod":
            lower = system.lower_matrix(young_moduli)
            if getattr(system, "_symbolic", None) is None:
                system._symbolic = _cholmod.analyze(lower, mode="auto", ordering_method="default")
            try:
                self._solve = system._symbolic.cholesky(lower).solve_A
            except _cholmod.CholmodNotPositiveDefiniteError as err:
                raise SingularStiffnessError(
                    f"stiffness matrix is not positive definite ({err}); check the supports "
                    "and that all Young's moduli are positive") from None
        else:
            full = system.full_matrix(young_moduli)
            try:
                lu = spla.splu(full)
            except RuntimeError as err:
                raise SingularStiffnessError(f"stiffness matrix is singular ({err})") from None
            self._solve = lu.solve

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        out = self._solve(np.ascontiguousarray(rhs))
        if not np.all(np.isfinite(out)):
            raise SingularStiffnessError("the solve returned non-finite displacements")
        return out


_FACTORIZATIONS = 0


def factorization_count() -> int:
    """How many numeric factorizations have been computed in this process (for tests, benchmarks).

    Returns:
        The count; a solve at moduli still in a system's small cache (the last two) does not add one.
    """
    return _FACTORIZATIONS


_CACHE_SIZE = 2


def _factorization(system: FESystem, young_moduli: torch.Tensor) -> _Factorization:
    """The factorization of K(E), reused while ``E`` is bit-for-bit the same."""
    cache = system.__dict__.setdefault("_factor_cache", OrderedDict())
    e = young_moduli.detach().numpy()
    key = e.tobytes()
    factor = cache.get(key)
    if factor is not None:
        cache.move_to_end(key)
        return factor
    if not np.all(e > 0):
        raise SingularStiffnessError(f"Young's moduli must be positive, got min {e.min():.3g}")
    factor = _Factorization(system, e)
    cache[key] = factor
    while len(cache) > _CACHE_SIZE:
        cache.popitem(last=False)
    return factor


def _element_energy(system: FESystem, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """``sum_k left_e[:, k]' KE right_e[:, k]`` per element for free-dof blocks."""
    le, re = system.gather(left), system.gather(right)
    if le.dim() == 2:
        return torch.einsum("ea,ab,eb->e", le, system.ke, re)
    return torch.einsum("eak,ab,ebk->e", le, system.ke, re)


class SparseSolve(torch.autograd.Function):
    """``U = K(E)^{-1} F`` with exact derivatives of every order; see the module docstring."""

    @staticmethod
    def forward(young_moduli, rhs, system):
        """``K(E)^{-1} rhs`` with the (cached) factorization at ``young_moduli``.

        Args:
            young_moduli: element moduli ``E`` (nel,).
            rhs: right-hand side(s) on the free dofs, (num_free,) or (num_free, k).
            system: the problem's :class:`~landscape.physics.assembly.FESystem`.

        Returns:
            The solution, the shape and dtype of ``rhs``.

        Raises:
            SingularStiffnessError: a Young's modulus that is not positive, a factorization that fails
                (K not positive definite, or singular with SuperLU), or a solve that gave non-finite values.
        """
        factor = _factorization(system, young_moduli)
        out = factor.solve(rhs.detach().numpy())
        return torch.from_numpy(out).to(rhs.dtype)

    @staticmethod
    def setup_context(ctx, inputs, output):
        """Save ``E`` and the solution for both modes; the solution is a constant in forward mode.

        Args:
            ctx: the autograd context.
            inputs: ``(young_moduli, rhs, system)`` as given to :meth:`forward`.
            output: the solution ``U``.
        """
        young_moduli, rhs, system = inputs
        ctx.system = system
        ctx.save_for_backward(young_moduli, output)
        # forward mode reads the primal solution as a constant: tangents are
        # exact, and jvp stays outermost in every transform we compose (hvp, hessian)
        ctx.solution = output.detach()
        ctx.save_for_forward(young_moduli)

    @staticmethod
    def backward(ctx, grad_u):
        """Adjoint: ``lambda = K^{-1} grad_u`` (K is symmetric), ``dL/dE_e = -lambda_e' ke u_e``, ``dL/drhs = lambda``.

        The adjoint solve is itself a :class:`SparseSolve`, so derivatives of any order follow.

        Args:
            ctx: the autograd context.
            grad_u: the gradient with respect to the solution.

        Returns:
            ``(grad_E, grad_rhs, None)``.
        """
        young_moduli, u = ctx.saved_tensors
        lam = SparseSolve.apply(young_moduli, grad_u, ctx.system)
        grad_e = -_element_energy(ctx.system, lam, u) if ctx.needs_input_grad[0] else None
        return grad_e, lam, None

    @staticmethod
    def jvp(ctx, d_young, d_rhs, _):
        """Tangent: ``dU = K^{-1} (d_rhs - dK U)`` with ``dK U`` assembled element by element from ``dE``.

        Args:
            ctx: the autograd context.
            d_young: tangent of ``E`` (nel,), or None.
            d_rhs: tangent of ``rhs``, or None.
            _: the system's tangent (none: it is a constant).

        Returns:
            The solution's tangent.
        """
        (young_moduli,) = ctx.saved_tensors
        u, system = ctx.solution, ctx.system
        rhs = torch.zeros_like(u) if d_rhs is None else d_rhs
        if d_young is not None:
            ue = system.gather(u)                                    # (nel, 8, ...)
            ke_u = torch.einsum("ab,eb...->ea...", system.ke, ue)
            scale = d_young.reshape((-1, 1) + (1,) * (ue.dim() - 2))
            rhs = rhs - system.scatter_add(scale * ke_u)
        return SparseSolve.apply(young_moduli, rhs, system)

    @staticmethod
    def vmap(info, in_dims, young_moduli, rhs, system):
        """Batching rule: a batch of right-hand sides is one block solve with one factorization; a batch
        of densities is one factorization each.

        Args:
            info: torch's vmap info (unused).
            in_dims: the batch dimension of ``(young_moduli, rhs, system)``, None where unbatched.
            young_moduli: element moduli, batched or not.
            rhs: right-hand side(s), batched or not.
            system: the :class:`~landscape.physics.assembly.FESystem`.

        Returns:
            ``(solution, out_dim)``.
        """
        e_dim, f_dim, _ = in_dims
        if e_dim is None:
            if f_dim is None:
                return SparseSolve.apply(young_moduli, rhs, system), None
            block = rhs.movedim(f_dim, -1)                        # (num_free, ..., B)
            flat = block.reshape(block.shape[0], -1)
            out = SparseSolve.apply(young_moduli, flat, system).reshape(block.shape)
            return out, out.dim() - 1
        # a batch of densities: one factorization each
        young_moduli = young_moduli.movedim(e_dim, 0)
        size = young_moduli.shape[0]
        rhs = rhs.movedim(f_dim, 0) if f_dim is not None else rhs.expand((size,) + rhs.shape)
        outs = [SparseSolve.apply(young_moduli[i], rhs[i], system) for i in range(size)]
        return torch.stack(outs), 0


def solve(system: FESystem, young_moduli: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """Differentiable ``K(E)^{-1} rhs`` for ``rhs`` of shape (num_free,) or (num_free, k).

    Args:
        system: the problem's :class:`~landscape.physics.assembly.FESystem`.
        young_moduli: element moduli ``E``, shape (nel,).
        rhs: right-hand side(s) on the free dofs.

    Returns:
        The solution, the shape of ``rhs``.

    Raises:
        ValueError: ``young_moduli`` or ``rhs`` of the wrong shape.
        SingularStiffnessError: non-positive moduli, or a stiffness matrix that cannot be factored or
            solved (see :meth:`SparseSolve.forward`).
    """
    if young_moduli.shape != (system.nel,):
        raise ValueError(f"young_moduli must have shape ({system.nel},), got {tuple(young_moduli.shape)}")
    if rhs.shape[0] != system.num_free or rhs.dim() > 2:
        raise ValueError(f"rhs must have shape ({system.num_free},) or ({system.num_free}, k), "
                         f"got {tuple(rhs.shape)}")
    return SparseSolve.apply(young_moduli, rhs, system)
