"""Direction rules: steepest descent, and the L-BFGS two-loop recursion.

The L-BFGS direction is ``d = -H g`` with ``H`` the inverse-Hessian
approximation built from the last ``m`` curvature pairs ``(s_i, y_i)`` by the
two-loop recursion (Nocedal and Wright, Algorithm 7.4; thesis Algorithm 3),
starting from ``H0 = gamma I`` with ``gamma = s'y / y'y`` of the newest pair
(Nocedal and Wright eq. 7.20). With full memory this equals the dense BFGS
inverse update ``H+ = (I - rho s y') H (I - rho y s') + rho s s'`` (thesis eq.
A.5) applied pair by pair to ``gamma I``.

A pair is stored only if ``s'y > eps * (-g's)`` with ``g`` the gradient at the
start of the step and ``eps`` machine epsilon: the rule of L-BFGS-B (Byrd, Lu,
Nocedal, Zhu 1995), so the memory reconstructed from SciPy's runs and the
memory of :func:`lbfgs` follow the same bookkeeping. Skipped pairs are counted.
"""
from __future__ import annotations

import math

from collections import deque

import torch

from .base import Memory

__all__ = ["SteepestDescent", "LBFGSDirection", "LBFGSMemory", "two_loop"]

EPS = torch.finfo(torch.float64).eps


class LBFGSMemory:
    """The last ``m`` accepted curvature pairs, with L-BFGS-B's skip rule."""

    def __init__(self, m: int):
        self.m = m
        self.pairs: deque[tuple[torch.Tensor, torch.Tensor, float]] = deque(maxlen=m if m > 0 else 1)
        self.gamma = 1.0
        self.skipped = 0
        self.resets = 0

    def __len__(self):
        return len(self.pairs) if self.m > 0 else 0

    def push(self, s: torch.Tensor, y: torch.Tensor, g_old: torch.Tensor) -> bool:
        """Store the pair if its curvature ``s'y`` is sufficiently positive; returns whether it was kept.

        A pair whose ``y'y`` underflows to zero (gradients of order 1e-160, e.g. on a saturated design) is
        skipped too: its scale ``s'y / y'y`` would be infinite.
        """
        sy = float(s @ y)
        yy = float(y @ y)
        if not (sy > EPS * float(-(g_old @ s)) and yy > 0 and math.isfinite(sy / yy)):
            self.skipped += 1
            return False
        if self.m == 0:
            return False
        self.pairs.append((s, y, sy))   # the caller hands over fresh tensors; no copy
        self.gamma = sy / yy
        return True

    def clear(self) -> None:
        self.pairs.clear()
        self.gamma = 1.0
        self.resets += 1

    def snapshot(self) -> Memory | None:
        if len(self) == 0:
            return None
        S = torch.stack([s for s, _, _ in self.pairs], dim=1)
        Y = torch.stack([y for _, y, _ in self.pairs], dim=1)
        return Memory(S, Y, self.gamma)


def two_loop(grad: torch.Tensor, memory: LBFGSMemory, overwrite: bool = False) -> torch.Tensor:
    """``H g`` by the two-loop recursion over ``memory`` (newest pair last); see :func:`two_loop_pairs`."""
    pairs = list(memory.pairs) if len(memory) else []
    return two_loop_pairs(grad, [s for s, _, _ in pairs], [y for _, y, _ in pairs], [1.0 / sy for _, _, sy in pairs],
                          memory.gamma, overwrite=overwrite)


def two_loop_pairs(block: torch.Tensor, S, Y, rho, gamma: float, overwrite: bool = False) -> torch.Tensor:
    """``H v`` for a vector or every column of a block ``(n, k)``, by the two-loop recursion.

    ``H`` is the L-BFGS inverse Hessian approximation from ``H_0 = gamma I`` and
    the pairs ``(S[i], Y[i])``, oldest first, with ``rho[i] = 1 / (s_i' y_i)``
    (Nocedal and Wright, algorithm 7.4). The one implementation behind the
    optimizers' directions and :class:`probes.lbfgs_matrix.InverseLBFGS`. With
    ``overwrite`` the result is computed in the storage of ``block`` (no copy:
    at millions of parameters every fresh vector costs page faults).
    """
    q = block if overwrite else block.clone()
    if not len(S):
        return q
    # one vector: Python scalars and axpy (2.5 x faster than the block form at 567k parameters)
    vector = q.ndim == 1
    alphas = []
    for s, y, r in zip(reversed(S), reversed(Y), reversed(rho)):
        if vector:
            a = float(r) * float(s @ q)
            q.add_(y, alpha=-a)
        else:
            a = r * (s @ q)                        # (k,)
            q.addr_(y, a, alpha=-1.0)              # rank-one updates in place: no (n, k) temporaries
        alphas.append(a)
    q.mul_(gamma)
    for s, y, r, a in zip(S, Y, rho, reversed(alphas)):
        if vector:
            q.add_(s, alpha=a - float(r) * float(y @ q))
        else:
            q.addr_(s, a - r * (y @ q))
    return q


class SteepestDescent:
    """``d = -g``."""

    has_curvature = False
    keeps_pairs = False

    def direction(self, grad: torch.Tensor) -> torch.Tensor:
        return -grad

    def update(self, s, y, g_old) -> None:
        pass

    def start(self) -> None:
        pass

    def reset(self) -> None:
        pass

    def memory(self) -> Memory | None:
        return None

    def stats(self) -> dict:
        return {}


class LBFGSDirection:
    """``d = -H_m g`` by the two-loop recursion over the last ``m`` pairs."""

    keeps_pairs = True

    def __init__(self, m: int = 10):
        self.store = LBFGSMemory(m)

    @property
    def has_curvature(self) -> bool:
        """Whether the direction carries a curvature scaling (some pair is stored)."""
        return len(self.store) > 0

    def direction(self, grad: torch.Tensor) -> torch.Tensor:
        return two_loop(grad.neg(), self.store, overwrite=True)   # H (-g) = -H g

    def update(self, s, y, g_old) -> None:
        self.store.push(s, y, g_old)

    def start(self) -> None:
        """A fresh memory and fresh counts, for a new run."""
        self.store = LBFGSMemory(self.store.m)

    def reset(self) -> None:
        """Drop the pairs during a run (counted as a reset)."""
        self.store.clear()

    def memory(self) -> Memory | None:
        return self.store.snapshot()

    def stats(self) -> dict:
        return {"skipped_pairs": self.store.skipped, "memory_resets": self.store.resets,
                "memory_size": len(self.store)}
