"""The L-BFGS matrices as operators: B (approximate Hessian) by the compact form, H = B^-1 by two loops.

From the memory ``S = [s_1 .. s_m]``, ``Y = [y_1 .. y_m]`` (oldest first) and the
initial scaling ``B0 = delta I`` (``delta = 1 / gamma = y'y / s'y`` of the newest
pair, L-BFGS-B's ``theta``), Byrd, Nocedal and Schnabel (1994, eq. 2.17;
thesis eq. B.1) give

    B = delta I - W M^{-1} W',   W = [delta S, Y],   M = [[delta S'S, L], [L', -D]]

with ``D = diag(s_i'y_i)`` and ``L`` the strictly lower triangle of ``S'Y``
(``L_ij = s_i'y_j`` for ``i > j``). A product with a block of ``k`` vectors
costs two passes over ``W`` (``O(mnk)``) and one solve with the ``2m x 2m``
matrix ``M`` (``O(m^3)``); the thesis's eq. B.6-B.7 are the same product with
``M`` factorized by Cholesky. ``H`` products use the two-loop recursion, over
all columns of a block at once. ``B`` equals the dense BFGS recursion
``B+ = B - B s s'B / s'Bs + y y' / y's`` from ``delta I`` (tested to 1e-10), and
``B H = I``.

``CompactLBFGS.from_memory(optimizer.memory())`` takes the memory of any
optimizer of :mod:`landscape.optim`, including the one rebuilt from SciPy's L-BFGS-B.
"""
from __future__ import annotations

import torch

from landscape.operators import LinearOperator
from landscape.optim.directions import two_loop_pairs

__all__ = ["CompactLBFGS", "InverseLBFGS"]


class CompactLBFGS(LinearOperator):
    """The L-BFGS approximate Hessian ``B`` of the pairs (S, Y), as an ``n x n`` operator in float64.

    The compact representation of Byrd, Nocedal and Schnabel (1994, eq. 2.17; thesis
    eq. B.1), with ``delta = 1 / gamma``:

        B = delta I - W M^{-1} W',   W = [delta S, Y],   M = [[delta S'S, L], [L', -D]]

    where ``D = diag(s_i'y_i)`` and ``L`` is the strictly lower triangle of ``S'Y``
    (``L_ij = s_i'y_j`` for ``i > j``). ``M`` and ``W`` are built once here; each
    product then costs two passes over ``W`` and one dense solve with ``M``.

    Args:
        S: the steps ``s_i = theta_{i+1} - theta_i`` as the columns of an ``(n, m)`` array or tensor,
            oldest pair first (column ``m - 1`` is the newest), ``m >= 1``; converted to float64.
            One pair per column: a row-per-pair ``(m, n)`` array would be read as ``n`` pairs.
        Y: the gradient differences ``y_i = g_{i+1} - g_i``, same shape ``(n, m)`` and column order
            as ``S``.
        gamma: scale of the initial inverse Hessian ``H0 = gamma I`` (so ``B0 = I / gamma``;
            L-BFGS-B's ``theta`` is ``1 / gamma``). None (default) takes ``s'y / y'y`` of the newest
            pair (the last column).

    Attributes:
        S: the steps, float64 ``(n, m)``.
        Y: the gradient differences, float64 ``(n, m)``.
        gamma: the scale of ``H0 = gamma I``.
        delta: ``1 / gamma``, the scale of ``B0 = delta I``.
        m: the number of pairs.
        shape: ``(n, n)``.
        middle: the ``2m x 2m`` matrix ``M`` above.
        W: the ``(n, 2m)`` matrix ``[delta S, Y]``.
        rho: ``1 / (s_i'y_i)`` per pair, ``(m,)``.

    Raises:
        ValueError: ``S`` is not 2-D, ``S`` and ``Y`` differ in shape, or there is no pair
            (``m == 0``); or some pair has ``s_i'y_i <= 0`` (``B`` would not be positive definite).
    """

    def __init__(self, S: torch.Tensor, Y: torch.Tensor, gamma: float | None = None):
        S = torch.as_tensor(S, dtype=torch.float64)
        Y = torch.as_tensor(Y, dtype=torch.float64)
        if S.dim() != 2 or S.shape != Y.shape or S.shape[1] < 1:
            raise ValueError(f"S and Y must both be (n, m) with m >= 1, got {tuple(S.shape)} and {tuple(Y.shape)}")
        self.S, self.Y = S, Y
        SY = S.T @ Y
        curvature = torch.diagonal(SY)
        if not bool((curvature > 0).all()):
            raise ValueError(f"every pair needs s'y > 0 for a positive definite B; got {curvature.tolist()}")
        if gamma is None:
            gamma = float(curvature[-1] / (Y[:, -1] @ Y[:, -1]))
        self.gamma = float(gamma)
        self.delta = 1.0 / self.gamma
        n, m = S.shape
        self.shape = (n, n)
        self.m = m
        L = torch.tril(SY, diagonal=-1)
        D = torch.diag(curvature)
        self.middle = torch.cat([torch.cat([self.delta * (S.T @ S), L], dim=1),
                                 torch.cat([L.T, -D], dim=1)], dim=0)
        self.W = torch.cat([self.delta * S, Y], dim=1)
        self.rho = 1.0 / curvature

    @classmethod
    def from_memory(cls, memory) -> CompactLBFGS:
        """``B`` of an optimizer's curvature memory (``optimizer.memory()`` of :mod:`landscape.optim`).

        Args:
            memory: a :class:`landscape.optim.base.Memory` (or anything with ``S``, ``Y`` as
                ``(n, m)`` columns oldest first, ``gamma`` and ``size``), or None.

        Returns:
            ``CompactLBFGS(memory.S, memory.Y, memory.gamma)``.

        Raises:
            ValueError: ``memory`` is None or holds no pair (``size == 0``), or the constructor's
                checks fail.
        """
        if memory is None or memory.size == 0:
            raise ValueError("the optimizer holds no curvature pairs yet (memory is empty)")
        return cls(memory.S, memory.Y, memory.gamma)

    def matmat(self, block):
        """``B @ block`` by the compact form: ``delta block - W (M^{-1} (W' block))``.

        Args:
            block: an ``(n, k)`` array or tensor of ``k`` vectors as columns (converted to float64).

        Returns:
            The ``(n, k)`` float64 tensor ``B block``.
        """
        block = torch.as_tensor(block, dtype=torch.float64)
        return self.delta * block - self.W @ torch.linalg.solve(self.middle, self.W.T @ block)

    def inverse(self) -> InverseLBFGS:
        """``H = B^{-1}`` as an operator (two-loop recursion): an :class:`InverseLBFGS` of these pairs."""
        return InverseLBFGS(self)


class InverseLBFGS(LinearOperator):
    """``H = B^{-1}`` of a :class:`CompactLBFGS`, by the two-loop recursion over a block of columns.

    ``H`` is the L-BFGS inverse Hessian approximation from ``H0 = gamma I`` and the
    same pairs (Nocedal and Wright, algorithm 7.4), computed by
    :func:`landscape.optim.directions.two_loop_pairs`, the recursion the optimizers use.

    Args:
        compact: the :class:`CompactLBFGS` whose ``S``, ``Y``, ``rho`` and ``gamma`` are used.
    """

    def __init__(self, compact: CompactLBFGS):
        self.compact = compact
        self.shape = compact.shape

    def matmat(self, block):
        """``H @ block`` by the two-loop recursion, all columns at once.

        Args:
            block: an ``(n, k)`` array or tensor of ``k`` vectors as columns, or one vector ``(n,)``
                (converted to float64).

        Returns:
            ``H block``, float64, the shape of ``block``.
        """
        c = self.compact
        return two_loop_pairs(torch.as_tensor(block, dtype=torch.float64), list(c.S.T), list(c.Y.T),
                              [c.rho[i] for i in range(c.m)], c.gamma)

    def inverse(self) -> CompactLBFGS:
        """``B = H^{-1}``: the :class:`CompactLBFGS` this operator was built from (the same object)."""
        return self.compact
