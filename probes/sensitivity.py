"""How sensitive is a run to its start? Twin runs from starts a relative ``epsilon`` apart.

The same optimizer runs twice in lockstep, from ``theta0`` and from ``theta0 + delta`` with
``|delta| = epsilon |theta0|`` along a seeded random direction, and after every step the two iterates and
their losses are compared:

    d_k = |theta_k^a - theta_k^b|,      gap_k = |L(theta_k^a) - L(theta_k^b)|,

    lambda_k = ln(d_k / d_0) / k        (the finite-time Lyapunov exponent of the run, per step).

``lambda_k > 0`` means perturbations grow by ``exp(lambda_k)`` per step on average: a run that amplifies
the last bits of its start (or of a CPU's rounding) until two runs end at different minima is chaotic in
this sense, and a table's seed spread for it is partly chaos. For gradient descent with step ``lr`` on a
quadratic with Hessian ``A``, ``d_k = |(I - lr A)^k delta|`` exactly, so ``lambda_k`` tends to
``ln max_i |1 - lr lambda_i(A)|`` (the tests check this).

Nothing is stored but the two current iterates, so twins of a large network cost two runs of memory, not a
trajectory of snapshots.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

__all__ = ["Twins", "twin_runs"]


@dataclass(frozen=True)
class Twins:
    """Two runs from nearby starts, step by step.

    Attributes:
        steps: the step numbers ``0 .. K``, ``(K + 1,)``; ``K`` is where the first of the two stopped.
        distance: ``d_k = |theta_k^a - theta_k^b|``, ``(K + 1,)``; ``distance[0]`` is ``|delta|``.
        loss_a: the first run's loss, ``(K + 1,)``.
        loss_b: the second run's loss, ``(K + 1,)``.
        epsilon: the relative size of the perturbation asked for.
        status: why the pair stopped: ``"budget"``, or the status of the run that stopped first.
    """

    steps: np.ndarray
    distance: np.ndarray
    loss_a: np.ndarray
    loss_b: np.ndarray
    epsilon: float
    status: str

    @property
    def loss_gap(self) -> np.ndarray:
        """``|L_a - L_b|`` at every step."""
        return np.abs(self.loss_a - self.loss_b)

    def lyapunov(self) -> np.ndarray:
        """``ln(d_k / d_0) / k`` for ``k >= 1`` (NaN where ``d_k`` is 0), ``(K,)``."""
        k = self.steps[1:]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.log(self.distance[1:] / self.distance[0]) / k
        return np.where(self.distance[1:] > 0, ratio, np.nan)


def _optimizer(optimizer, options):
    from landscape.optim import Optimizer, build
    if isinstance(optimizer, Optimizer):
        raise TypeError("twin_runs needs an optimizer name (and options), to build two independent instances; "
                        f"got an instance, {optimizer!r}")
    return build(optimizer, **(options or {}))


def twin_runs(objective, optimizer: str, steps: int, options: dict | None = None, epsilon: float = 1e-8,
              seed: int = 0, theta0=None, progress: bool = True) -> Twins:
    """Run ``optimizer`` twice in lockstep from ``theta0`` and from a point ``epsilon |theta0|`` away.

    Args:
        objective: the objective (anything the optimizers accept).
        optimizer: a name :func:`landscape.optim.build` knows; two instances are built from it.
        steps: the step budget, an integer >= 1.
        options: the optimizer's options (e.g. ``{"lr": 1e-6}``).
        epsilon: the relative size of the perturbation, >= 0 (default 1e-8; 0 runs the same start twice,
            which must give identical runs).
        seed: the seed of the perturbation's direction (default 0).
        theta0: the first start (default ``objective.theta0``).
        progress: show a progress bar (default True).

    Returns:
        A :class:`Twins`; the pair stops at the budget or when either run stops.

    Raises:
        ValueError: ``steps`` below 1 or ``epsilon`` negative or not finite.
        TypeError: ``optimizer`` is an instance rather than a name.
        landscape.optim.OptimizerError: an unknown name or bad options.
    """
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    if not (isinstance(epsilon, (int, float)) and np.isfinite(epsilon) and epsilon >= 0):
        raise ValueError(f"epsilon must be a finite number >= 0, got {epsilon!r}")
    first, second = _optimizer(optimizer, options), _optimizer(optimizer, options)
    start = torch.as_tensor(objective.theta0 if theta0 is None else theta0, dtype=torch.float64).reshape(-1)
    direction = torch.randn(start.numel(), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    scale = float(start.norm()) or 1.0
    delta = epsilon * scale * direction / direction.norm()
    a, b = first.start(objective, start.clone(), steps), second.start(objective, start + delta, steps)
    rows, status = [(0, float((a.theta - b.theta).norm()), a.loss, b.loss)], "budget"
    bar = tqdm(total=steps, desc=f"twins {optimizer}", unit="step", disable=not progress, leave=False)
    try:
        for _ in range(steps):
            a, b = first.step(), second.step()
            if not (a.accepted and b.accepted):
                status = a.status if not a.accepted else b.status
                break
            rows.append((a.step, float((a.theta - b.theta).norm()), a.loss, b.loss))
            bar.update()
            bar.set_postfix(distance=f"{rows[-1][1]:.3g}")
    finally:
        bar.close()
        first.close()
        second.close()
    k, d, la, lb = (np.array(column, dtype=float) for column in zip(*rows))
    return Twins(k.astype(int), d, la, lb, float(epsilon), status)
