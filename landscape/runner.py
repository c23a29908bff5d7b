"""One run: an optimizer on an objective for a budget of steps, with probes, a progress bar and a result.

Step counting follows the thesis: one step is one accepted iterate; objective
evaluations (line-search trials included) are counted separately. A run ends
with one of these statuses:

``completed``           the step budget was used, or the optimizer stopped by its own test
``diverged``            a non-finite loss or gradient, or a loss that stays above the
                        :class:`Divergence` threshold (see there; the thesis saw GD diverge
                        on some CNN seeds); the message names the step it began
``line_search_failed``  no step satisfying the strong-Wolfe conditions, even along ``-g``
``max_evaluations``     the evaluation budget (``max_evaluations``, or SciPy's ``maxfun``) ran out
``interrupted``         Ctrl-C (or SIGTERM when the command line runs it)
``failed``              an exception; it is re-raised after the result is recorded

Probes follow a small protocol (``landscape`` never imports ``probes``): an
object with a ``name``, a ``due(step, last) -> bool`` schedule, and a call
``probe(context) -> dict`` of numbers or arrays, given a :class:`ProbeContext`.
"""
from __future__ import annotations

import collections
import contextlib
import functools
import math
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from . import optim
from .statuses import RECORDED, rose
from .threads import limited
from .threads import policy as thread_policy
from .trace.schema import EVALUATION_COLUMNS, STEP_COLUMNS, step_row

__all__ = ["run", "run_spec", "RunResult", "ProbeContext", "RunInterrupted", "STATUSES", "Divergence"]

STATUSES = RECORDED


@dataclass(frozen=True)
class Divergence:
    """When a finite run counts as diverged: its loss stays above ``factor`` x the initial loss.

    A design that has lost its load path has a compliance of order ``1 / Emin``
    (1e9) times a connected one: CNN GD at the thesis's step size jumps from
    4.8e3 to 4e9 on problem A and stays there. Line searches and constant steps
    also make brief spikes that the run recovers from (pixel HD on problem B
    spikes to 1e6 x its start for one step). So a run is diverged when its loss

    - has been above ``factor`` x the initial loss for ``patience`` consecutive steps, or
    - was above it on at least ``share`` of the last ``window`` steps (a run that sits at
      1e6 x its start and dips back for one step in twenty never has ``patience``
      consecutive steps above, and is diverged all the same), or
    - ends above it;

    non-finite values diverge at once. The step the excursion began is recorded
    (``RunResult.diverged_at``): the first step above the threshold in the current
    excursion, or in the window. The defaults change none of the committed thesis
    curves (checked on all 858 of them) and call the 19-in-20 spiky run diverged at step 94.

    Attributes:
        factor: the threshold as a multiple of the initial loss (run compares ``loss > factor * |loss_0|``;
            default 1e3).
        patience: consecutive steps above the threshold that make a run diverged (default 20).
        window: the number of recent steps the ``share`` rule looks at (default 100).
        share: the fraction of ``window`` steps above the threshold that makes a run diverged (default 0.9).

    Raises:
        ValueError: ``factor`` not a finite number > 1, ``patience`` or ``window`` not an
            integer >= 1, ``share`` not in (0, 1].
    """

    factor: float = 1e3
    patience: int = 20
    window: int = 100
    share: float = 0.9

    def __post_init__(self):
        if not self.factor > 1 or not math.isfinite(self.factor):
            raise ValueError(f"divergence factor must be a finite number > 1, got {self.factor!r}")
        for name in ("patience", "window"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"divergence {name} must be an integer >= 1, got {value!r}")
        if isinstance(self.share, bool) or not 0 < self.share <= 1:
            raise ValueError(f"divergence share must be a number in (0, 1], got {self.share!r}")

    def blown_up(self, above_steps, since: int | None, step: int) -> int | None:
        """The step the current excursion began if the run counts as diverged at ``step``, else None.

        Args:
            above_steps: the steps (ascending, ending at most at ``step``) whose loss was above
                ``factor`` x the initial loss; only the last ``window`` of them are looked at.
            since: the first step of the stretch of consecutive steps above the threshold that ends at
                ``step``, or None when ``step`` is not above it.
            step: the step just taken.

        Returns:
            The first step of the excursion (the ``patience`` rule) or of the steps above the threshold in the
            window (the ``share`` rule), or None when the run has not diverged, including when ``step``
            itself is not above the threshold.
        """
        if since is None:
            return None
        if step - since + 1 >= self.patience:
            return since
        recent = [s for s in above_steps if s > step - self.window]
        if len(recent) >= self.share * self.window:
            return recent[0]
        return None


class RunInterrupted(Exception):
    """Raised (by a signal handler, or a callback) to end a run cleanly with status ``interrupted``."""


@dataclass(frozen=True)
class ProbeContext:
    """What a probe sees at a step.

    Attributes:
        step: the step number (0 for the initialization).
        theta: the iterate, a flat float64 tensor of shape (n,).
        loss: the loss at ``theta``.
        grad: the gradient at ``theta``, or None when it is not known (a :class:`~landscape.Recorder` given
            no gradient).
        objective: the :class:`~landscape.Objective` being optimized.
        optimizer: the optimizer object (in a :class:`~landscape.Recorder`, a stand-in whose ``memory()``
            gives the recorded memory), or None.
        theta0: the run's starting point.
        seed: the run's seed.
        history: the run's :class:`History` so far.
        last: whether this is the run's last step.
    """

    step: int
    theta: torch.Tensor
    loss: float
    grad: torch.Tensor | None
    objective: Any
    optimizer: Any
    theta0: torch.Tensor
    seed: int
    history: History
    last: bool = False

    def memory(self):
        """The optimizer's curvature memory (S, Y, gamma), or None."""
        return self.optimizer.memory() if self.optimizer is not None else None


class History:
    """Per-step and per-evaluation rows of a run, in memory (NumPy arrays on demand).

    Attributes:
        steps: one row per accepted step, the columns of ``STEP_COLUMNS`` of :mod:`landscape.trace.schema`.
        evaluations: one row per objective evaluation, the columns of ``EVALUATION_COLUMNS``.
    """

    def __init__(self):
        self.steps: list[tuple] = []
        self.evaluations: list[tuple] = []

    def add_step(self, record: optim.Step, total_evaluations: int, distance: float, wall: float):
        """Append the row of an accepted step (:func:`~landscape.trace.schema.step_row`).

        Args:
            record: the accepted :class:`~landscape.optim.Step`.
            total_evaluations: objective evaluations of the run so far.
            distance: ``|theta - theta0|``.
            wall: seconds since the run started.
        """
        self.steps.append(step_row(record, total_evaluations, distance, wall))

    def add_evaluations(self, step: int, evaluations: Sequence[optim.Evaluation]):
        """Append one row ``(step, loss, grad_norm, alpha, slope)`` per evaluation.

        Args:
            step: the step the evaluations were made for.
            evaluations: the step's :class:`~landscape.optim.Evaluation` records.
        """
        self.evaluations.extend((step, e.loss, e.grad_norm, e.alpha, e.slope) for e in evaluations)

    def column(self, name: str) -> np.ndarray:
        """One column of the steps table.

        Args:
            name: a column of ``STEP_COLUMNS`` (``step``, ``loss``, ``grad_norm``, ``step_size``,
                ``step_norm``, ``evaluations``, ``distance``, ``wall_time``).

        Returns:
            The column, one entry per step: int64 for ``step`` and ``evaluations``, float64 otherwise.

        Raises:
            ValueError: ``name`` is not a column.
        """
        index = STEP_COLUMNS.index(name)
        dtype = np.int64 if name in ("step", "evaluations") else np.float64
        return np.array([row[index] for row in self.steps], dtype=dtype)

    def table(self) -> dict[str, np.ndarray]:
        """The steps table as ``{column: array}`` (see :meth:`column`)."""
        return {name: self.column(name) for name in STEP_COLUMNS}

    def evaluation_table(self) -> dict[str, np.ndarray]:
        """The evaluations table as ``{column: array}``: ``step`` as int64, the others as float64."""
        rows = np.array(self.evaluations, dtype=np.float64).reshape(-1, len(EVALUATION_COLUMNS))
        out = {name: rows[:, i] for i, name in enumerate(EVALUATION_COLUMNS)}
        out["step"] = out["step"].astype(np.int64)
        return out


class Ledger:
    """The bookkeeping of accepted steps, shared by :func:`run` and the :class:`~landscape.Recorder`.

    Each accepted step becomes one row (:func:`~landscape.trace.schema.step_row`)
    in the in-memory :class:`History` and, given a writer, in the trace; the
    ledger counts evaluations, measures the distance from ``theta0`` and the wall
    clock, and keeps the best iterate.

    Args:
        theta0: the run's starting point, from which ``distance`` is measured (also the best iterate until a
            step is accepted).
        trace: a :class:`~landscape.trace.TraceWriter` to write the rows to, or None.

    Attributes:
        history: the in-memory :class:`History`.
        evaluations: the running total of objective evaluations.
        best_loss: the lowest loss of an accepted step (inf before the first).
        best_theta: the iterate of ``best_loss``.
        best_step: the step of ``best_loss``.
    """

    def __init__(self, theta0: torch.Tensor, trace=None):
        self.theta0, self.trace = theta0, trace
        self.history = History()
        self.clock = time.perf_counter()
        self.evaluations = 0
        self.best_loss, self.best_theta, self.best_step = math.inf, theta0, 0

    def accept(self, record: optim.Step, evaluations: int | None = None) -> None:
        """Record an accepted step; ``evaluations`` is the running total if the caller counts them itself.

        Args:
            record: the accepted :class:`~landscape.optim.Step`.
            evaluations: the run's total evaluations so far, or None to add ``record.num_evaluations`` to
                the ledger's own count.
        """
        self.evaluations = self.evaluations + record.num_evaluations if evaluations is None else int(evaluations)
        distance = float(torch.dist(record.theta, self.theta0))
        wall = self.wall()
        self.history.add_evaluations(record.step, record.evaluations)
        self.history.add_step(record, self.evaluations, distance, wall)
        if self.trace is not None:
            self.trace.step(record, self.evaluations, distance, wall)
        if record.loss < self.best_loss:
            self.best_loss, self.best_theta, self.best_step = record.loss, record.theta, record.step

    def reject(self, record: optim.Step) -> None:
        """Record the evaluations of a step the optimizer did not take (e.g. a failed line search).

        Args:
            record: the :class:`~landscape.optim.Step` with ``accepted`` False; only its evaluations are
                recorded (no step row).
        """
        self.evaluations += record.num_evaluations
        self.history.add_evaluations(record.step, record.evaluations)
        if self.trace is not None:
            self.trace.evaluations(record.step, record.evaluations)

    def wall(self) -> float:
        """Seconds since the ledger was made."""
        return time.perf_counter() - self.clock


@dataclass(frozen=True)
class RunResult:
    """The outcome of :func:`run`.

    Attributes:
        status: how the run ended, one of :data:`STATUSES` other than ``running``.
        message: the details of ``status``.
        optimizer: the optimizer's name.
        history: the per-step and per-evaluation rows (:class:`History`).
        theta: the last accepted iterate.
        best_theta: the accepted iterate with the lowest loss.
        best_loss: its loss.
        best_step: its step.
        objective: the objective of the run (for :attr:`design` and :attr:`best_design`).
        probes: ``{probe name: [(step, output), ...]}``.
        wall_time: the run's duration in seconds.
        diverged_at: the step the divergence began when ``status`` is ``diverged``, else None.
    """

    status: str
    message: str
    optimizer: str
    history: History
    theta: torch.Tensor
    best_theta: torch.Tensor
    best_loss: float
    best_step: int
    objective: Any = field(repr=False, default=None)
    probes: dict[str, list[tuple[int, dict]]] = field(default_factory=dict)
    wall_time: float = 0.0
    diverged_at: int | None = None

    @functools.cached_property
    def design(self) -> np.ndarray:
        """Physical design at the final iterate (computed on first access)."""
        return np.asarray(self.objective.design(self.theta))

    @functools.cached_property
    def best_design(self) -> np.ndarray:
        """Physical design at the best iterate (computed on first access)."""
        if self.best_step == self.steps:
            return self.design
        return np.asarray(self.objective.design(self.best_theta))

    @property
    def losses(self) -> np.ndarray:
        """Loss at step 0 (the initialization) through the last accepted step."""
        return self.history.column("loss")

    @property
    def steps(self) -> int:
        """The number of accepted steps after the initialization."""
        return len(self.history.steps) - 1

    @property
    def evaluations(self) -> int:
        """The number of objective evaluations recorded (line-search trials and rejected steps' included)."""
        return len(self.history.evaluations)

    @property
    def final_loss(self) -> float:
        """The loss at the last accepted step."""
        return float(self.losses[-1])

    @property
    def rose(self) -> bool:
        """True when the run took steps and ended no lower than it started (or not finite);
        see :func:`landscape.statuses.rose`."""
        return rose(self.losses)

    def frame(self):
        """The per-step table as a pandas DataFrame indexed by step."""
        import pandas as pd
        return pd.DataFrame(self.history.table()).set_index("step")

    def __repr__(self):
        return (f"RunResult({self.optimizer}: {self.status}, steps={self.steps}, "
                f"evaluations={self.evaluations}, final={self.final_loss:.6g}, "
                f"best={self.best_loss:.6g} at step {self.best_step})")


_STOP = threading.Event()
_STOP_REASON = ["stopped"]


def stop_runs(reason: str = "stopped") -> None:
    """Ask every run in this process to stop after its current step and end ``interrupted``.

    For stopping runs in threads where no signal arrives (a sweep's Dask workers
    on Ctrl-C). Runs that start while the request stands stop after their first
    step; :func:`allow_runs` withdraws it.

    Args:
        reason: the start of the runs' ``interrupted`` message (default ``"stopped"``).
    """
    _STOP_REASON[0] = reason
    _STOP.set()


def allow_runs() -> None:
    """Withdraw :func:`stop_runs`."""
    _STOP.clear()


@contextlib.contextmanager
def _stop_requests():
    """SIGINT and SIGTERM ask the run to stop after the current step (a second one stops at once).

    Only in the main thread, where Python delivers signals; the previous handlers come back after.
    """
    request = {"signal": None}
    if threading.current_thread() is not threading.main_thread():
        yield request
        return

    def handler(signum, frame):
        if request["signal"] is not None:
            raise KeyboardInterrupt
        request["signal"] = signal.Signals(signum).name

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield request
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _finite(step: optim.Step) -> bool:
    return math.isfinite(step.loss) and math.isfinite(step.grad_norm)


def run(objective, optimizer, steps: int, *, seed: int = 0, probes: Sequence = (), trace=None,
        progress: bool = True, theta0=None, max_evaluations: int | None = None,
        divergence: Divergence = Divergence(), callback=None, threads=None) -> RunResult:
    """Run ``optimizer`` (an :class:`~landscape.optim.Optimizer` or a name) on ``objective``.

    ``steps`` accepted iterates at most; ``seed`` is handed to the probes (and
    recorded); ``probes`` follow the protocol of this module; ``trace`` is a
    path (an HDF5 trace is written there; an existing file is an error) or a
    :class:`~landscape.trace.TraceWriter`; ``callback(step_record)`` is called
    after every accepted step and may raise :class:`RunInterrupted`. SIGINT
    and SIGTERM end the run after the current step with status ``interrupted``.
    ``threads`` (an int or :class:`~landscape.threads.Threads`; None = the
    policy of :mod:`landscape.threads`) limits torch and BLAS for the run and is
    recorded in the trace. ``divergence`` says when a finite run has diverged.

    Args:
        objective: the :class:`~landscape.Objective` to minimize.
        optimizer: an :class:`~landscape.optim.Optimizer`, or the name of one built with its default options
            (:func:`landscape.optim.build`).
        steps: the most accepted steps, an integer >= 0.
        seed: recorded in the trace and handed to the probes (default 0).
        probes: objects with ``name``, ``due(step, last)`` and ``__call__(context)``.
        trace: a path for a new HDF5 trace, a :class:`~landscape.trace.TraceWriter`, or None.
        progress: show a progress bar (default True).
        theta0: the starting point (default ``objective.theta0``).
        max_evaluations: an evaluation budget, a positive integer, or None for none (default None).
        divergence: the :class:`Divergence` rule (default ``Divergence()``).
        callback: called with every accepted step's :class:`~landscape.optim.Step`, or None.
        threads: the thread counts, an int, a :class:`~landscape.threads.Threads` or None (the policy).

    Returns:
        The :class:`RunResult`; its ``status`` is one of the module docstring's.

    Raises:
        TypeError: ``divergence`` is not a :class:`Divergence`, or a probe does not follow the protocol.
        ValueError: ``steps`` not an integer >= 0, ``max_evaluations`` not a positive integer or None, or
            bad ``threads``.
        OptimizerError: an unknown optimizer name, or one that needs options.
        RuntimeError: the run was interrupted before the initial evaluation finished.
        TraceError: the trace path exists or cannot be written.
        Exception: whatever the optimizer, the objective, a probe or ``callback`` raised (other than
            :class:`RunInterrupted`); the trace, if any, records the run as ``failed`` first.
    """
    if not isinstance(divergence, Divergence):
        raise TypeError(f"divergence must be a landscape.runner.Divergence, got {divergence!r}")
    threads = thread_policy(threads)
    with limited(threads):
        return _run(objective, optimizer, steps, seed, probes, trace, progress, theta0, max_evaluations,
                    divergence, callback, threads)


def _run(objective, optimizer, steps, seed, probes, trace, progress, theta0, max_evaluations,
         divergence, callback, threads) -> RunResult:
    if isinstance(optimizer, str):
        optimizer = optim.build(optimizer)
    if isinstance(trace, (str, Path)):
        from .trace import TraceWriter
        trace = TraceWriter(trace)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps must be an integer >= 0, got {steps!r}")
    if max_evaluations is not None and (isinstance(max_evaluations, bool)
                                        or not isinstance(max_evaluations, (int, np.integer))
                                        or max_evaluations < 1):
        raise ValueError(f"max_evaluations must be a positive integer or None, got {max_evaluations!r}")
    probes = list(probes)
    for probe in probes:
        if not (hasattr(probe, "name") and hasattr(probe, "due") and callable(probe)):
            raise TypeError(f"{probe!r} does not follow the probe protocol (name, due(step, last), __call__)")

    probe_results: dict[str, list[tuple[int, dict]]] = {p.name: [] for p in probes}
    status, message = "running", ""
    theta_start = objective.theta0 if theta0 is None else torch.as_tensor(theta0, dtype=torch.float64)
    theta_start = theta_start.detach().clone()
    ledger = Ledger(theta_start, trace)
    history = ledger.history
    current: optim.Step | None = None
    above_since: int | None = None     # first step of the current stretch above the divergence threshold
    above = collections.deque(maxlen=divergence.window)   # the recent steps above it
    target = getattr(objective.problem, "name", None) or getattr(objective, "name", "objective")
    bar = tqdm(total=steps, desc=f"{optimizer.name} on {target}",
               unit="step", disable=not progress, leave=False, dynamic_ncols=True,
               mininterval=0.5 if sys.stderr.isatty() else 15.0)

    def measure(record: optim.Step, last: bool):
        for probe in probes:
            if probe.due(record.step, last):
                context = ProbeContext(record.step, record.theta, record.loss, record.grad, objective,
                                       optimizer, theta_start, seed, history, last)
                output = dict(probe(context))
                probe_results[probe.name].append((record.step, output))
                if trace is not None:
                    trace.probe(probe.name, record.step, output)

    def accept(record: optim.Step):
        nonlocal current
        ledger.accept(record)
        current = record

    if trace is not None:
        trace.start(objective, optimizer, steps=steps, seed=seed, probes=probes, threads=threads)
    stop = contextlib.ExitStack()
    request = stop.enter_context(_stop_requests())
    try:
        first = optimizer.start(objective, theta_start, steps)
        accept(first)
        initial_loss = first.loss
        if not _finite(first):
            status, message = "diverged", f"non-finite loss or gradient at the initialization ({first.loss})"
        else:
            measure(first, last=steps == 0)
        while status == "running" and current.step < steps:
            record = optimizer.step()
            if not record.accepted:
                ledger.reject(record)
                status, message = record.status or "completed", record.message
                if above_since is not None:   # stopped while blown up: that is divergence
                    status, message = "diverged", (
                        f"loss above {divergence.factor:g} x the initial loss {initial_loss:.4g} from step "
                        f"{above_since} until the optimizer stopped ({record.status}: {record.message})")
                break
            accept(record)
            bar.update()
            bar.set_postfix(loss=f"{record.loss:.5g}", grad=f"{record.grad_norm:.2e}",
                            evals=ledger.evaluations, refresh=False)
            if record.loss > divergence.factor * abs(initial_loss):
                above_since = record.step if above_since is None else above_since
                above.append(record.step)
            else:
                above_since = None
            began = divergence.blown_up(above, above_since, record.step)
            ends = current.step >= steps or (max_evaluations is not None and ledger.evaluations >= max_evaluations)
            if not _finite(record):
                status, message = "diverged", f"non-finite loss or gradient at step {record.step}"
                above_since = record.step
            elif began is not None or (above_since is not None and ends):
                above_since = began if began is not None else above_since
                count = sum(s >= above_since for s in above)
                status, message = "diverged", (
                    f"loss above {divergence.factor:g} x the initial loss {initial_loss:.4g} on {count} of the "
                    f"steps from step {above_since} to step {record.step} (now {record.loss:.4g})")
            elif max_evaluations is not None and ledger.evaluations >= max_evaluations:
                status, message = "max_evaluations", f"{ledger.evaluations} evaluations (budget {max_evaluations})"
            elif current.step >= steps:
                status, message = "completed", f"{steps} steps"
            if callback is not None:
                callback(record)
            if status == "running" and request["signal"] is not None:
                status, message = "interrupted", f"stopped by {request['signal']} after step {record.step}"
            elif status == "running" and _STOP.is_set():
                status, message = "interrupted", f"{_STOP_REASON[0]} after step {record.step}"
            measure(record, last=status != "running")
        if status == "running":
            status, message = "completed", f"{current.step} steps"
    except (KeyboardInterrupt, RunInterrupted) as error:
        status, message = "interrupted", str(error) or type(error).__name__
    except BaseException as error:
        status, message = "failed", f"{type(error).__name__}: {error}"
        _finish(trace, status, message)
        raise
    finally:
        stop.close()
        bar.close()
        optimizer.close()
    if current is None:   # interrupted before the first evaluation finished: the trace still ends, not 'running'
        _finish(trace, status, message or "stopped before the initial evaluation completed")
        raise RuntimeError(f"run ended ({status}) before the initial evaluation completed")
    result = RunResult(status, message, optimizer.name, history, current.theta, ledger.best_theta, ledger.best_loss,
                       ledger.best_step, objective, probe_results, ledger.wall(),
                       above_since if status == "diverged" else None)
    _finish(trace, status, message, result)
    return result


def _finish(trace, status, message, result=None):
    if trace is not None:
        trace.finish(status, message, result)


def run_spec(spec, trace=None, *, progress: bool = True, overwrite: bool = False, **run_options) -> RunResult:
    """Build and :func:`run` a :class:`~landscape.spec.RunSpec`; ``trace`` is a path, a writer or None.

    A trace written here stores the spec, so ``open_trace(path).spec()`` gives it
    back and ``open_trace(path).objective()`` rebuilds the same objective.

    Args:
        spec: the :class:`~landscape.spec.RunSpec` to run.
        trace: a path for a new trace (written with the spec's ``snapshot_every``), a writer (anything with
            ``start``), or None.
        progress: show a progress bar (default True).
        overwrite: replace an existing trace at the path ``trace`` (default False).
        **run_options: further keyword arguments of :func:`run` (e.g. ``max_evaluations``,
            ``divergence``, ``callback``).

    Returns:
        The :class:`RunResult`.

    Raises:
        RunSpecError: the model cannot be built, or the optimizer is an external one.
        TraceError: the trace path exists (without ``overwrite``) or cannot be written.
        Exception: any error of :func:`run`.
    """
    from .trace import TraceWriter
    if trace is not None and not hasattr(trace, "start"):
        trace = TraceWriter(trace, overwrite=overwrite, snapshot_every=spec.snapshot_every, spec=spec)
    return run(spec.build_objective(), spec.build_optimizer(), steps=spec.steps, seed=spec.seed,
               probes=spec.build_probes(), trace=trace, progress=progress, threads=spec.threads, **run_options)
