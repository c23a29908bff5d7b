"""Direction rules: steepest descent, the L-BFGS two-loop recursion, and three simple preconditioners.

The preconditioners (thesis section 4.1: "rescaling the gradients using simple matrices") are
described in their classes: :class:`ScaledIdentity` (L-BFGS's ``H0``), :class:`SecantDiagonal` (a
diagonal fitted to the curvature pairs) and :class:`HutchinsonDiagonal` (the Hessian's diagonal).

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

__all__ = ["SteepestDescent", "LBFGSDirection", "LBFGSMemory", "two_loop", "ScaledIdentity", "SecantDiagonal",
           "HutchinsonDiagonal", "hessian_diagonal"]

EPS = torch.finfo(torch.float64).eps


class LBFGSMemory:
    """The last ``m`` accepted curvature pairs, with L-BFGS-B's skip rule.

    Args:
        m: the number of pairs kept (0 keeps none: every push is refused, and skipped pairs are still
            counted).

    Attributes:
        pairs: the stored ``(s, y, s'y)``, oldest first.
        gamma: ``s'y / y'y`` of the newest stored pair (1 when there is none), the scale of ``H0 = gamma I``.
        skipped: pairs refused by the curvature test.
        resets: calls of :meth:`clear`.
    """

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

        The test is L-BFGS-B's ``s'y > eps * (-g_old' s)`` (see the module docstring). A pair whose ``y'y``
        underflows to zero (gradients of order 1e-160, e.g. on a saturated design) is skipped too: its scale
        ``s'y / y'y`` would be infinite. A kept pair becomes the newest (the oldest drops out beyond ``m``)
        and sets ``gamma``. The tensors are stored without a copy.

        Args:
            s: the step ``theta+ - theta``, shape (n,).
            y: the gradient change ``g+ - g``, shape (n,).
            g_old: the gradient at the start of the step, shape (n,).

        Returns:
            True if the pair was stored; False if it was skipped (counted in ``skipped``) or ``m`` is 0.
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
        """Drop every pair and reset ``gamma`` to 1; counted in ``resets``."""
        self.pairs.clear()
        self.gamma = 1.0
        self.resets += 1

    def snapshot(self) -> Memory | None:
        """The stored pairs as a :class:`~landscape.optim.Memory` (S, Y of shape (n, k), oldest first), or None
        when no pair is stored."""
        if len(self) == 0:
            return None
        S = torch.stack([s for s, _, _ in self.pairs], dim=1)
        Y = torch.stack([y for _, y, _ in self.pairs], dim=1)
        return Memory(S, Y, self.gamma)


def two_loop(grad: torch.Tensor, memory: LBFGSMemory, overwrite: bool = False) -> torch.Tensor:
    """``H g`` by the two-loop recursion over ``memory`` (newest pair last); see :func:`two_loop_pairs`.

    Nocedal and Wright, Algorithm 7.4 (thesis Algorithm 3), from ``H0 = memory.gamma I``; with no stored
    pair the result is ``grad`` itself (a copy unless ``overwrite``).

    Args:
        grad: the vector to multiply, shape (n,) (or a block (n, k)).
        memory: the curvature pairs.
        overwrite: compute in the storage of ``grad`` instead of a copy (default False).

    Returns:
        ``H grad``, the same shape as ``grad``.
    """
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

    Args:
        block: the vector (n,) or block (n, k) to multiply.
        S: the steps ``s_i``, each of shape (n,), oldest first.
        Y: the gradient changes ``y_i``, each of shape (n,), in the order of ``S``.
        rho: ``1 / (s_i' y_i)`` for each pair.
        gamma: the scale of ``H_0 = gamma I``.
        overwrite: work in the storage of ``block`` (default False: on a copy).

    Returns:
        ``H block``, the same shape as ``block`` (``block`` itself, unscaled, when there is no pair).
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
    """``d = -g``: the direction of gradient descent; no memory, no state."""

    has_curvature = False
    keeps_pairs = False

    def direction(self, grad: torch.Tensor) -> torch.Tensor:
        """The search direction ``-grad``.

        Args:
            grad: the gradient at the current iterate, shape (n,).

        Returns:
            ``-grad``, a new tensor.
        """
        return -grad

    def update(self, s, y, g_old) -> None:
        """Ignore the step's curvature pair (steepest descent keeps none).

        Args:
            s: the step (unused).
            y: the gradient change (unused).
            g_old: the gradient at the start of the step (unused).
        """
        pass

    def start(self) -> None:
        """Nothing to prepare for a new run."""
        pass

    def reset(self) -> None:
        """Nothing to drop."""
        pass

    def memory(self) -> Memory | None:
        """None: steepest descent keeps no curvature memory."""
        return None

    def stats(self) -> dict:
        """An empty dict: no memory statistics."""
        return {}


class LBFGSDirection:
    """``d = -H_m g`` by the two-loop recursion over the last ``m`` pairs.

    Args:
        m: the number of curvature pairs kept (default 10).
    """

    keeps_pairs = True

    def __init__(self, m: int = 10):
        self.store = LBFGSMemory(m)

    @property
    def has_curvature(self) -> bool:
        """Whether the direction carries a curvature scaling (some pair is stored)."""
        return len(self.store) > 0

    def direction(self, grad: torch.Tensor) -> torch.Tensor:
        """The search direction ``-H_m grad`` (``-grad`` while no pair is stored).

        Args:
            grad: the gradient at the current iterate, shape (n,); not modified.

        Returns:
            The direction, a new tensor of shape (n,).
        """
        return two_loop(grad.neg(), self.store, overwrite=True)   # H (-g) = -H g

    def update(self, s, y, g_old) -> None:
        """Offer the step's pair to the memory (:meth:`LBFGSMemory.push`, with its skip rule).

        Args:
            s: the step ``theta+ - theta``, shape (n,).
            y: the gradient change ``g+ - g``, shape (n,).
            g_old: the gradient at the start of the step, shape (n,).
        """
        self.store.push(s, y, g_old)

    def start(self) -> None:
        """A fresh memory and fresh counts, for a new run."""
        self.store = LBFGSMemory(self.store.m)

    def reset(self) -> None:
        """Drop the pairs during a run (counted as a reset)."""
        self.store.clear()

    def memory(self) -> Memory | None:
        """The stored pairs as (S, Y, gamma) (:meth:`LBFGSMemory.snapshot`), or None when there is none."""
        return self.store.snapshot()

    def stats(self) -> dict:
        """``skipped_pairs``, ``memory_resets`` and ``memory_size`` (pairs stored now) of the current run."""
        return {"skipped_pairs": self.store.skipped, "memory_resets": self.store.resets,
                "memory_size": len(self.store)}


def hessian_diagonal(objective, theta: torch.Tensor, samples: int, generator: torch.Generator) -> torch.Tensor:
    """Hutchinson's estimate of the Hessian's diagonal, ``mean_k v_k * (H v_k)`` over ``samples`` Rademacher
    vectors ``v_k`` drawn from ``generator`` (Bekas, Kokiopoulou and Saad 2007); exact for a diagonal Hessian.

    Args:
        objective: anything with ``hvp(theta, v)``.
        theta: the point, shape (n,).
        samples: the number of vectors (Hessian-vector products), >= 1.
        generator: the source of the vectors; advanced by ``samples`` draws.

    Returns:
        The estimate, shape (n,).
    """
    total = torch.zeros_like(theta)
    for _ in range(samples):
        v = torch.randint(0, 2, theta.shape, generator=generator, dtype=theta.dtype).mul_(2).sub_(1)
        total += v * objective.hvp(theta, v)
    return total / samples


class ScaledIdentity(LBFGSDirection):
    """``d = -gamma g`` with ``gamma = s'y / y'y`` of the newest curvature pair: L-BFGS's initial matrix
    ``H0 = gamma I`` alone (Nocedal and Wright eq. 7.20), i.e. the second Barzilai-Borwein step (Barzilai and
    Borwein 1988) when the step rule's ``lr`` is 1. ``-g`` until a pair is kept (L-BFGS-B's skip rule).
    """

    def __init__(self):
        super().__init__(m=1)

    def direction(self, grad: torch.Tensor) -> torch.Tensor:
        """``-gamma grad`` (``-grad`` while no pair is stored).

        Args:
            grad: the gradient at the current iterate, shape (n,); not modified.

        Returns:
            The direction, a new tensor.
        """
        return grad.mul(-self.store.gamma)

    def memory(self) -> Memory | None:
        """None: the direction is no L-BFGS matrix, so the L-BFGS probes have nothing to read."""
        return None


class SecantDiagonal(LBFGSDirection):
    """``d = -D g`` with a diagonal ``D`` fitted to the last ``m`` curvature pairs, coordinate by coordinate.

    ``D_i = sum_k s_ik y_ik / sum_k y_ik^2``, the least-squares solution of ``D y_k = s_k`` in coordinate ``i``
    (a Barzilai-Borwein step per coordinate), where that is positive and finite; ``gamma = s'y / y'y`` of the
    newest pair elsewhere; then clipped to ``[gamma / clip, clip gamma]`` so that no coordinate's step runs
    away. ``-g`` until a pair is kept (L-BFGS-B's skip rule).

    Args:
        m: the pairs fitted (default 10).
        clip: the largest ratio between a coordinate's scale and ``gamma``, >= 1 (default 100).
    """

    def __init__(self, m: int = 10, clip: float = 100.0):
        super().__init__(m)
        self.clip = clip

    def direction(self, grad: torch.Tensor) -> torch.Tensor:
        """``-D grad`` (``-grad`` while no pair is stored).

        Args:
            grad: the gradient at the current iterate, shape (n,); not modified.

        Returns:
            The direction, a new tensor.
        """
        if not len(self.store):
            return grad.neg()
        gamma = self.store.gamma
        sy = sum(s * y for s, y, _ in self.store.pairs)
        yy = sum(y * y for _, y, _ in self.store.pairs)
        scale = torch.where((sy > 0) & (yy > 0), sy / yy.clamp_min(torch.finfo(yy.dtype).tiny), gamma)
        scale = torch.nan_to_num(scale, nan=gamma, posinf=gamma).clamp(gamma / self.clip, gamma * self.clip)
        return -scale * grad

    def memory(self) -> Memory | None:
        """None: the direction is no L-BFGS matrix, so the L-BFGS probes have nothing to read."""
        return None


class HutchinsonDiagonal:
    """``d = -g / (|h| + damping mean|h|)`` with ``h`` Hutchinson's estimate of the Hessian's diagonal.

    ``h = mean_k v_k * (H v_k)`` over ``samples`` Rademacher vectors (Bekas, Kokiopoulou and Saad 2007; the
    diagonal that AdaHessian uses, Yao et al. 2021), made at the current iterate and refreshed every ``refresh``
    steps; the damping keeps flat coordinates from taking huge steps. With the step rule's ``lr`` = 1 this is
    a damped diagonal Newton step. Each refresh costs ``samples`` Hessian-vector products, counted in
    :meth:`stats` (``hvps``). The Rademacher vectors come from a generator seeded with ``seed`` at the start of
    every run.

    Args:
        samples: Rademacher vectors per estimate (default 4).
        refresh: steps between estimates (default 10).
        damping: added to ``|h|``, relative to its mean (default 0.01).
        seed: the seed of the Rademacher vectors (default 0).
    """

    has_curvature = True
    keeps_pairs = False

    def __init__(self, samples: int = 4, refresh: int = 10, damping: float = 0.01, seed: int = 0):
        self.samples, self.refresh, self.damping, self.seed = samples, refresh, damping, seed
        self.optimizer = None
        self.start()

    def start(self) -> None:
        """Forget the last estimate, reseed the Rademacher vectors and zero the count, for a new run."""
        self.generator = torch.Generator().manual_seed(self.seed)
        self.scale, self.steps, self.hvps = None, 0, 0

    def bind(self, optimizer) -> None:
        """Read the objective and the current iterate from ``optimizer`` (:class:`~landscape.optim.Decomposed`
        calls this when it starts a run, for every direction rule that has it).

        Args:
            optimizer: the optimizer starting a run; it has ``objective`` (with ``hvp``) and ``theta``.
        """
        self.optimizer = optimizer

    def estimate(self, theta: torch.Tensor) -> torch.Tensor:
        """Hutchinson's estimate of the diagonal of the Hessian at ``theta`` (:func:`hessian_diagonal`, ``samples``
        products, counted in ``hvps``).

        Args:
            theta: the point, shape (n,).

        Returns:
            ``mean_k v_k * (H v_k)``, shape (n,).
        """
        self.hvps += self.samples
        return hessian_diagonal(self.optimizer.objective, theta, self.samples, self.generator)

    def direction(self, grad: torch.Tensor) -> torch.Tensor:
        """``-grad / (|h| + damping mean|h|)``, re-estimating ``h`` every ``refresh`` calls.

        Args:
            grad: the gradient at the current iterate (the bound optimizer's ``theta``), shape (n,).

        Returns:
            The direction, a new tensor.

        Raises:
            RuntimeError: the rule is not bound to an optimizer (:meth:`bind`).
        """
        if self.optimizer is None:
            raise RuntimeError("HutchinsonDiagonal needs bind(optimizer) before direction()")
        if self.scale is None or self.steps % self.refresh == 0:
            h = self.estimate(self.optimizer.theta).abs()
            self.scale = h + self.damping * float(h.mean())
        self.steps += 1
        return -grad / self.scale

    def update(self, s, y, g_old) -> None:
        """Ignore the pair (the diagonal comes from Hessian-vector products).

        Args:
            s: the step (unused).
            y: the gradient change (unused).
            g_old: the gradient at the start of the step (unused).
        """

    def reset(self) -> None:
        """Re-estimate the diagonal at the next step."""
        self.scale = None
        self.steps = 0

    def memory(self) -> Memory | None:
        """None: no curvature pairs."""
        return None

    def stats(self) -> dict:
        """``hvps``: the Hessian-vector products spent on the diagonal so far in this run."""
        return {"hvps": self.hvps}
