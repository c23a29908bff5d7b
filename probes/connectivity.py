"""Mode connectivity: are two minima joined by a path along which the loss stays low?

The straight line between two minima ``a`` and ``b`` (:func:`probes.geometry.interpolate`) may cross a
barrier that a curved path avoids. Following Garipov, Izmailov, Podoprikhin, Vetrov and Wilson (2018,
"Loss surfaces, mode connectivity, and fast ensembling of DNNs", eqs. 2-4), the path here is a
quadratic Bezier curve with one free control point ``m``:

    phi(t) = (1 - t)^2 a + 2 t (1 - t) m + t^2 b,        t in [0, 1],

and ``m`` is trained to minimize the loss averaged along the curve,

    l(m) = E_{t ~ U(0, 1)} L(phi(t)),      dl/dm = E[ 2 t (1 - t) grad L(phi(t)) ],

by Adam on Monte Carlo estimates of the gradient (``samples`` values of ``t`` per step, stratified over
[0, 1] and seeded), or on the Gauss-Legendre quadrature of the integral (``rule="gauss"``, exact for a
polynomial loss of low degree). A compliance spans many decades along a path (1e1 at a minimum, 1e9 on a
disconnected design), so ``log=True`` averages ``log L(phi(t))`` instead, whose gradient
``2 t (1 - t) grad L / L`` weighs every point of the curve alike rather than letting the highest dominate.
Draxler, Veschgini, Salmhofer and Hamprecht (2018) find such paths with a polygonal chain instead; one
Bezier control point is the simpler of the two. With ``m = (a + b) / 2`` the curve is the straight line
``(1 - t) a + t b``, which is where the training starts.

The barrier of a path is :func:`probes.geometry.barrier`: ``max L / max(L(a), L(b)) - 1``, 0 when the path
never climbs above its higher end. :func:`connect` trains the curve and measures both paths;
:func:`connect_traces` does it for the final iterates of two runs (the thesis's section 4.1 question: are
the minima reached from different initializations connected?).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .geometry import Interpolation, _flat, barrier, interpolate, losses

__all__ = ["bezier_points", "bezier_curve", "BezierFit", "fit_bezier", "Connection", "connect",
           "connect_traces"]


def bezier_points(a, b, control, ts) -> torch.Tensor:
    """The points ``phi(t) = (1 - t)^2 a + 2 t (1 - t) m + t^2 b`` of a quadratic Bezier curve.

    Args:
        a: the end at ``t = 0`` (flattened to float64).
        b: the end at ``t = 1``, same size.
        control: the control point ``m``, same size.
        ts: the curve parameters ``t`` (array-like, any values; [0, 1] is the curve between its ends).

    Returns:
        A float64 tensor ``(len(ts), n)``, one point per row.
    """
    a, b, m = _flat(a), _flat(b), _flat(control)
    if not a.shape == b.shape == m.shape:
        raise ValueError(f"the end points and the control point must have one size; got {a.numel()}, "
                         f"{b.numel()} and {m.numel()} entries")
    t = torch.as_tensor(np.asarray(ts, dtype=np.float64)).reshape(-1, 1)
    return (1 - t) ** 2 * a + 2 * t * (1 - t) * m + t ** 2 * b


def bezier_curve(objective, a, b, control, ts=None, batch: int = 8) -> Interpolation:
    """The loss along a quadratic Bezier curve, ``L(phi(t))`` for each ``t`` of ``ts``.

    Args:
        objective: the objective, evaluated with :func:`probes.geometry.losses`.
        a: the end at ``t = 0``.
        b: the end at ``t = 1``.
        control: the control point ``m``; ``(a + b) / 2`` gives the straight line.
        ts: the curve parameters (default 41 points on [0, 1]).
        batch: points per batched evaluation (default 8).

    Returns:
        An :class:`~probes.geometry.Interpolation` whose ``alphas`` are the ``ts``, so that
        :func:`~probes.geometry.barrier` applies unchanged.
    """
    ts = np.linspace(0, 1, 41) if ts is None else np.asarray(ts, dtype=np.float64)
    return Interpolation(ts, losses(objective, bezier_points(a, b, control, ts), batch))


@dataclass(frozen=True)
class BezierFit:
    """A trained control point and how its training went.

    Attributes:
        control: the trained control point ``m``, float64 ``(n,)``.
        losses: the training objective's estimate at every step, ``(steps,)``: the mean loss over the
            step's ``t`` values (of ``log L`` when trained with ``log=True``).
        evaluations: the loss-and-gradient evaluations spent.
    """

    control: torch.Tensor
    losses: np.ndarray
    evaluations: int


def _nodes(rule: str, samples: int, generator: torch.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The ``t`` values of one step and their weights (summing to 1)."""
    if rule == "gauss":
        x, w = np.polynomial.legendre.leggauss(samples)
        return (x + 1) / 2, w / 2
    # stratified: one uniform draw in each of ``samples`` equal slices of [0, 1]
    u = torch.rand(samples, generator=generator, dtype=torch.float64).numpy()
    return (np.arange(samples) + u) / samples, np.full(samples, 1.0 / samples)


def fit_bezier(objective, a, b, steps: int = 100, samples: int = 4, lr: float = 0.01, rule: str = "random",
               seed: int = 0, control=None, log: bool = False, progress: bool = True) -> BezierFit:
    """Train the control point ``m`` of the quadratic Bezier curve from ``a`` to ``b`` (module docstring).

    Each step estimates ``dl/dm = E[2 t (1 - t) grad L(phi(t))]`` from ``samples`` values of ``t`` and
    takes one Adam step (Kingma and Ba 2015, PyTorch's defaults but the step size). The step size is
    relative: Adam moves every coordinate by about ``lr |b - a| / sqrt(n)`` per step, so ``lr = 0.01``
    moves ``m`` by about 1 % of the distance between the ends.

    Args:
        objective: anything with ``value_and_grad(theta) -> (loss, grad)``.
        a: the end at ``t = 0`` (a minimum, typically).
        b: the end at ``t = 1``.
        steps: Adam steps (>= 1; default 100).
        samples: values of ``t`` per step (>= 1; default 4).
        lr: the relative step size, > 0 (default 0.01).
        rule: ``"random"`` (stratified uniform ``t``, seeded: Garipov et al.'s stochastic training) or
            ``"gauss"`` (the ``samples``-point Gauss-Legendre rule on [0, 1], the same nodes every step).
        seed: the seed of the ``t`` draws (default 0).
        control: the starting control point (default ``(a + b) / 2``, the straight line).
        log: train on the mean of ``log L`` instead of ``L`` (default False; the loss must be positive).
        progress: show a progress bar (default True).

    Returns:
        A :class:`BezierFit`.

    Raises:
        ValueError: a bad ``steps``, ``samples``, ``lr`` or ``rule``, or ends of different sizes.
    """
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    if not isinstance(samples, int) or isinstance(samples, bool) or samples < 1:
        raise ValueError(f"samples must be an integer >= 1, got {samples!r}")
    if not (isinstance(lr, (int, float)) and np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    if rule not in ("random", "gauss"):
        raise ValueError(f"rule must be 'random' or 'gauss', got {rule!r}")
    a, b = _flat(a), _flat(b)
    if a.shape != b.shape:
        raise ValueError(f"the end points must have one size; got {a.numel()} and {b.numel()} entries")
    m = ((a + b) / 2 if control is None else _flat(control).clone()).requires_grad_(True)
    scale = float((b - a).norm()) / max(a.numel(), 1) ** 0.5
    optimizer = torch.optim.Adam([m], lr=lr * (scale if scale > 0 else 1.0))
    generator = torch.Generator().manual_seed(seed)
    history, bar = [], tqdm(total=steps, desc="bezier", unit="step", disable=not progress, leave=False)
    for _ in range(steps):
        ts, weights = _nodes(rule, samples, generator)
        gradient, mean = torch.zeros_like(a), 0.0
        for t, w in zip(ts, weights):
            point = (1 - t) ** 2 * a + 2 * t * (1 - t) * m.detach() + t ** 2 * b
            loss, grad = objective.value_and_grad(point)
            loss = float(loss)
            if log and not loss > 0:
                raise ValueError(f"log=True needs a positive loss; got {loss} at t = {t:.3g}")
            gradient += w * 2 * t * (1 - t) * (grad / loss if log else grad)
            mean += w * (np.log(loss) if log else loss)
        optimizer.zero_grad()
        m.grad = gradient
        optimizer.step()
        history.append(mean)
        bar.update()
        bar.set_postfix(loss=f"{mean:.5g}")
    bar.close()
    return BezierFit(m.detach().clone(), np.array(history), steps * samples)


@dataclass(frozen=True)
class Connection:
    """Two minima and the two paths between them.

    Attributes:
        line: the loss along the straight line (an :class:`~probes.geometry.Interpolation`).
        curve: the loss along the trained Bezier curve, at the same ``t``.
        line_barrier: :func:`~probes.geometry.barrier` of the line.
        curve_barrier: the barrier of the curve.
        fit: the :class:`BezierFit` of the curve.
        distance: ``|b - a|``.
    """

    line: Interpolation
    curve: Interpolation
    line_barrier: float
    curve_barrier: float
    fit: BezierFit
    distance: float


def connect(objective, a, b, points: int = 41, batch: int = 8, **fit) -> Connection:
    """Train a Bezier curve from ``a`` to ``b`` and measure the loss along it and along the straight line.

    Args:
        objective: the objective (``value_and_grad`` to train, ``loss``/``losses`` to measure).
        a: one minimum.
        b: the other.
        points: points per path, >= 3 (default 41, equally spaced in ``t``).
        batch: points per batched evaluation (default 8).
        **fit: passed to :func:`fit_bezier` (``steps``, ``samples``, ``lr``, ``rule``, ``seed``,
            ``progress``).

    Returns:
        A :class:`Connection`.

    Raises:
        ValueError: ``points`` below 3, or a bad option of :func:`fit_bezier`.
    """
    if not isinstance(points, int) or isinstance(points, bool) or points < 3:
        raise ValueError(f"points must be an integer >= 3, got {points!r}")
    ts = np.linspace(0, 1, points)
    trained = fit_bezier(objective, a, b, **fit)
    line = interpolate(objective, a, b, ts, batch)
    curve = bezier_curve(objective, a, b, trained.control, ts, batch)
    return Connection(line, curve, float(barrier(line)[0]), float(barrier(curve)[0]), trained,
                      float((_flat(b) - _flat(a)).norm()))


_SAME = ("problem", "model", "model_options", "penal", "precision", "filter", "volume_constraint")


def connect_traces(path_a, path_b, best: bool = False, **options) -> Connection:
    """:func:`connect` the final iterates of two runs of one objective (e.g. two seeds of one cell).

    The objective is rebuilt from the first trace (:meth:`landscape.trace.Trace.objective`); the two runs
    must agree on what defines it (problem, model and its options, penalization, precision, filter,
    volume constraint), not on the seed or the optimizer.

    Args:
        path_a: a finished trace (the curve's ``t = 0`` end).
        path_b: another finished trace of the same objective (``t = 1``).
        best: connect the best iterates instead of the last ones (default False).
        **options: passed to :func:`connect`.

    Returns:
        A :class:`Connection`.

    Raises:
        ValueError: the runs differ in a setting that defines the objective (named), or one has not
            finished (no final iterate).
        landscape.trace.TraceError: a path is not a readable trace.
    """
    from landscape.trace import open_trace

    ends, configs, objective = [], [], None
    for path in (path_a, path_b):
        with open_trace(Path(path)) as trace:
            final = trace.final()
            theta = final.best_theta if best else final.theta
            if not np.isfinite(theta).all():
                raise ValueError(f"{path}: the run has no final iterate yet (status {trace.status!r})")
            ends.append(torch.as_tensor(theta, dtype=torch.float64))
            configs.append(trace.config)
            if objective is None:                           # the first trace defines it
                objective = trace.objective()
    differ = [key for key in _SAME if configs[0].get(key) != configs[1].get(key)]
    if differ:
        raise ValueError(f"{path_a} and {path_b} are runs of different objectives: they differ in "
                         + ", ".join(f"{key} ({configs[0].get(key)!r} against {configs[1].get(key)!r})"
                                     for key in differ))
    return connect(objective, ends[0], ends[1], **options)
