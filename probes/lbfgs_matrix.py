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
    """The L-BFGS approximate Hessian ``B`` of the pairs (S, Y)."""

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
    def from_memory(cls, memory) -> "CompactLBFGS":
        if memory is None or memory.size == 0:
            raise ValueError("the optimizer holds no curvature pairs yet (memory is empty)")
        return cls(memory.S, memory.Y, memory.gamma)

    def matmat(self, block):
        block = torch.as_tensor(block, dtype=torch.float64)
        return self.delta * block - self.W @ torch.linalg.solve(self.middle, self.W.T @ block)

    def inverse(self) -> "InverseLBFGS":
        """``H = B^{-1}`` as an operator (two-loop recursion)."""
        return InverseLBFGS(self)


class InverseLBFGS(LinearOperator):
    """``H = B^{-1}`` of a :class:`CompactLBFGS`, by the two-loop recursion over a block of columns."""

    def __init__(self, compact: CompactLBFGS):
        self.compact = compact
        self.shape = compact.shape

    def matmat(self, block):
        c = self.compact
        return two_loop_pairs(torch.as_tensor(block, dtype=torch.float64), list(c.S.T), list(c.Y.T),
                              [c.rho[i] for i in range(c.m)], c.gamma)

    def inverse(self) -> CompactLBFGS:
        return self.compact
