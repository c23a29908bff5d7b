"""Linear operators on R^n: the Hessian of an objective, the L-BFGS matrices, test matrices.

:class:`LinearOperator` is the small protocol every curvature probe takes:
``matmat`` on a block ``(n, k)``, with ``matvec``, ``@``, ``to_dense`` and
``to_scipy`` (a ``scipy.sparse.linalg.LinearOperator``) from it.
:func:`hessian_vector_products` is the one exact HVP (forward-over-reverse),
and :class:`HessianOperator` wraps :meth:`landscape.Objective.hvp` at a point.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse.linalg as spla
import torch

__all__ = ["LinearOperator", "HessianOperator", "hessian_vector_products"]


def _real(value, name: str) -> torch.Tensor:
    """``value`` as a float64 tensor; complex input is refused rather than silently truncated."""
    if torch.is_tensor(value) and value.is_complex() or np.iscomplexobj(value):
        raise ValueError(f"{name} must be real, got a complex array (its imaginary part would be dropped)")
    return torch.as_tensor(value, dtype=torch.float64)


def _as_theta(theta, n) -> torch.Tensor:
    theta = _real(theta, "theta")
    if theta.shape != (n,):
        raise ValueError(f"theta must be a flat vector of length {n}, got shape {tuple(theta.shape)}")
    return theta


class LinearOperator:
    """A symmetric linear operator on R^n: ``matvec``, ``matmat`` and a SciPy view.

    Subclasses implement :meth:`matmat` for a block ``(n, k)``; ``matvec`` and
    ``@`` follow. This is the small protocol shared by the Hessian, the L-BFGS
    matrix and test matrices.
    """

    shape: tuple[int, int]
    dtype = torch.float64

    def matmat(self, block: torch.Tensor) -> torch.Tensor:   # pragma: no cover - interface
        """The product with a block of vectors; subclasses implement it.

        Args:
            block: shape (n, k).

        Returns:
            The product, shape (n, k).
        """
        raise NotImplementedError

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        """The product with one vector, through :meth:`matmat` on a one-column block.

        Args:
            v: shape (n,), converted to float64.

        Returns:
            The product, shape (n,).
        """
        return self.matmat(torch.as_tensor(v, dtype=self.dtype)[:, None])[:, 0]

    def __matmul__(self, other):
        other = torch.as_tensor(other, dtype=self.dtype)
        return self.matvec(other) if other.dim() == 1 else self.matmat(other)

    def to_dense(self, block: int = 256) -> torch.Tensor:
        """The explicit matrix (n x n), built ``block`` columns at a time: only for small n.

        The columns are the products with the identity's columns, ``block`` of them per :meth:`matmat`.

        Args:
            block: the number of identity columns per product (default 256).

        Returns:
            The (n, n) float64 tensor.
        """
        n = self.shape[1]
        eye = torch.eye(n, dtype=self.dtype)
        return torch.cat([self.matmat(eye[:, i:i + block]) for i in range(0, n, block)], dim=1)

    def to_scipy(self) -> spla.LinearOperator:
        """A ``scipy.sparse.linalg.LinearOperator`` view (NumPy in, NumPy out), e.g. for ``eigsh``.

        ``rmatvec`` is ``matvec``: the operator is taken as symmetric.

        Returns:
            A float64 ``scipy.sparse.linalg.LinearOperator`` of this operator's shape.
        """
        return spla.LinearOperator(
            self.shape, dtype=np.float64,
            matvec=lambda v: self.matvec(torch.from_numpy(np.asarray(v, np.float64).ravel())).numpy(),
            matmat=lambda m: self.matmat(torch.from_numpy(np.asarray(m, np.float64))).numpy(),
            rmatvec=lambda v: self.matvec(torch.from_numpy(np.asarray(v, np.float64).ravel())).numpy())

    scipy = to_scipy     # the earlier name


class HessianOperator(LinearOperator):
    """The Hessian of a :class:`landscape.Objective` at a fixed ``theta``.

    Products are exact (:meth:`landscape.Objective.hvp`, forward-over-reverse); nothing is formed.

    Args:
        objective: anything with ``num_params`` and ``hvp(theta, block)``.
        theta: the point, a flat vector of length ``num_params`` (copied).

    Raises:
        ValueError: ``theta`` of the wrong shape, or complex.
    """

    def __init__(self, objective, theta):
        self.objective = objective
        self.theta = _as_theta(theta, objective.num_params).detach().clone()
        self.shape = (objective.num_params, objective.num_params)

    def matmat(self, block):
        """``H block`` for a block (n, k) of directions, one vmapped pass.

        Args:
            block: directions, one per column, shape (n, k).

        Returns:
            The products, shape (n, k).
        """
        return self.objective.hvp(self.theta, block)


def hessian_vector_products(loss, point: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Exact ``H v`` of a scalar ``loss`` at ``point``, for ``v`` of shape (n,) or a block (n, k).

    Forward-over-reverse, ``jvp(grad(loss))``, vectorized over the columns of a
    block with ``vmap``. The one implementation behind :meth:`Objective.hvp` and
    the density-space Hessian of :mod:`probes.density_hessian`.

    Args:
        loss: a function ``loss(point) -> 0-d tensor``, twice differentiable by ``torch.func``.
        point: the point ``theta``, shape (n,).
        v: the direction, shape (n,), or a block of directions (n, k), one per column.

    Returns:
        ``H v``, the shape of ``v``.
    """
    grad = torch.func.grad(loss)

    def single(direction):
        return torch.func.jvp(grad, (point,), (direction,))[1]

    if v.dim() == 1:
        return single(v)
    return torch.func.vmap(single, in_dims=1, out_dims=1)(v)
