"""Record loops we did not write: ``torch.optim`` optimizers, SciPy callbacks, or ``observe`` by hand.

::

    with Recorder("runs/adam.h5", objective, probes=[...]) as recorder:
        recorder.attach(adam)                  # hooks on adam.step(): records every iterate
        for _ in range(100):
            adam.zero_grad()
            objective.module_loss().backward()
            adam.step()

    with Recorder("runs/lbfgs.h5", objective, probes=[LBFGSDensityProbe(every=5)]) as recorder:
        recorder.attach(lbfgs)                 # torch.optim.LBFGS: the closure pattern
        for _ in range(20):
            lbfgs.step(closure)

``attach`` records, for every ``step()``, the iterate it starts from (step k is
theta_k with its loss and gradient), and when the Recorder closes, the iterate
the last ``step()`` produced. Where the loss and gradient at theta_k come from:

* optimizers that take a **closure** (``torch.optim.LBFGS``, or any whose ``step``
  takes one): the closure is wrapped, every call counts as one evaluation (a row
  of the trace's evaluations table), and step k is recorded from the first
  evaluation at theta_k, so the gradient is the one at theta_k, never a
  line-search trial's;
* optimizers without one (SGD, Adam): the gradient is the one the loop left in
  ``p.grad`` before ``step()`` (one evaluation per step), the loss is ``loss()`` if
  given, otherwise ``objective.loss(theta)``.

The final iterate, which no loop evaluates, is evaluated by the Recorder itself
(not counted as an evaluation). ``torch.optim.LBFGS``'s curvature memory
(``old_stps``, ``old_dirs``, ``H_diag``) reaches the probes as (S, Y, gamma);
a hand-written quasi-Newton method hands its own with
``observe(..., memory=(S, Y, gamma))``. Probes scheduled for the last step run
when the Recorder closes. The trace names the optimizer with its class and
hyper-parameters (``torch.optim.LBFGS(lr=1, history_size=10, ...)``), or the
``label`` given, so that comparisons and reports keep different optimizers apart.

As a SciPy callback (``minimize(..., callback=recorder.scipy_callback)``) the
recorder takes ``x`` and ``fun`` of each iterate. ``observe(step, theta, loss,
grad=None, **extra)`` records anything else. Probes run on their schedules with
the same context as in :func:`landscape.run`, and the file is the same trace
format. From construction until :meth:`close` torch and BLAS run with the
thread counts of :mod:`landscape.threads` (``threads=`` overrides), and the
counts are recorded.
"""
from __future__ import annotations

import contextlib
import inspect
import math
from collections.abc import Callable, Sequence

import numpy as np
import torch

from .optim.base import Evaluation, Memory, Step
from .runner import History, Ledger, ProbeContext, RunInterrupted
from .threads import limited
from .threads import policy as thread_policy
from .trace import TraceWriter, probe_outputs

__all__ = ["Recorder"]


def describe_optimizer(optimizer) -> tuple[str, dict]:
    """An optimizer's qualified class name and the hyper-parameters that tell it apart.

    The hyper-parameters are read from ``optimizer.defaults``: ``lr`` always, and every option whose value
    differs from the default of the class's constructor (or that has none). Tensors become numbers or lists,
    tuples lists, and other objects their ``str``.

    Args:
        optimizer: an optimizer object, typically a ``torch.optim.Optimizer``.

    Returns:
        ``(name, options)``, e.g. ``("torch.optim.LBFGS", {"lr": 1, ...})``; classes outside ``torch.optim``
        are named ``module.QualifiedName``.
    """
    cls = type(optimizer)
    module = cls.__module__
    name = f"torch.optim.{cls.__name__}" if module.startswith("torch.optim") else f"{module}.{cls.__qualname__}"
    try:
        signature = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        signature = {}
    options = {}
    for key, value in getattr(optimizer, "defaults", {}).items():
        default = signature[key].default if key in signature else inspect.Parameter.empty
        try:
            same = default is not inspect.Parameter.empty and bool(default == value)
        except (TypeError, RuntimeError, ValueError):
            same = False
        if key == "lr" or not same:
            options[key] = _plain(value)
    return name, options


def _plain(value):
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else value.tolist()
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def optimizer_title(name: str, options: dict) -> str:
    """The optimizer's title in traces and reports: ``torch.optim.LBFGS(lr=1, history_size=10, ...)``.

    Args:
        name: the optimizer's name (see :func:`describe_optimizer`).
        options: its hyper-parameters, written as ``key=repr(value)`` in their order.

    Returns:
        ``name(key=value, ...)``.
    """
    return f"{name}(" + ", ".join(f"{k}={v!r}" for k, v in options.items()) + ")"


def torch_lbfgs_memory(optimizer) -> Memory:
    """The curvature memory of a ``torch.optim.LBFGS`` as (S, Y, gamma), oldest pair first.

    torch keeps ``old_stps`` (the steps s_i), ``old_dirs`` (the gradient changes y_i) and ``H_diag``
    (s'y / y'y of the newest pair, the scale gamma of H0 = gamma I) in the state of its first parameter.

    Args:
        optimizer: a ``torch.optim.LBFGS`` (one parameter group).

    Returns:
        A :class:`~landscape.optim.Memory` in float64; before the first pair, an empty one (k = 0) with
        gamma 1.
    """
    params = optimizer.param_groups[0]["params"]
    state = optimizer.state.get(params[0], {}) if params else {}
    steps, changes = state.get("old_stps"), state.get("old_dirs")
    if not steps:              # no pair yet (the first step): an empty memory, not a missing one
        n = sum(p.numel() for p in params)
        return Memory(torch.zeros(n, 0, dtype=torch.float64), torch.zeros(n, 0, dtype=torch.float64), 1.0)
    gamma = state.get("H_diag", 1.0)
    return Memory(torch.stack([s.detach().to(torch.float64) for s in steps], 1),
                  torch.stack([y.detach().to(torch.float64) for y in changes], 1), float(gamma))


def as_memory(memory, num_params: int) -> Memory | None:
    """A curvature memory handed by a hand-written optimizer, as a :class:`~landscape.optim.Memory`.

    Args:
        memory: None, a :class:`~landscape.optim.Memory` (returned as it is), or ``(S, Y, gamma)`` with S and Y
            of shape (n, k), columns oldest first (a single pair may be given as two vectors of shape (n,)).
        num_params: n, the number of parameters S and Y must have as rows.

    Returns:
        The memory with S and Y as float64 tensors and gamma a float, or None for None.

    Raises:
        ValueError: not a triple, S and Y of other shapes, or gamma not a finite positive number.
    """
    if memory is None or isinstance(memory, Memory):
        return memory
    try:
        S, Y, gamma = memory
    except (TypeError, ValueError):
        raise ValueError(f"memory must be (S, Y, gamma) or a landscape.optim.Memory, got {type(memory).__name__}") \
            from None
    S = torch.as_tensor(S, dtype=torch.float64)
    Y = torch.as_tensor(Y, dtype=torch.float64)
    if S.ndim == 1:
        S, Y = S[:, None], Y[:, None]
    if S.shape != Y.shape or S.ndim != 2 or S.shape[0] != num_params:
        raise ValueError(f"memory: S and Y must both be (n, k) with n = {num_params} parameters; got S "
                         f"{tuple(S.shape)} and Y {tuple(Y.shape)}")
    gamma = float(gamma)
    if not math.isfinite(gamma) or gamma <= 0:
        raise ValueError(f"memory: gamma must be a positive number, got {gamma!r}")
    return Memory(S, Y, gamma)


class _MemorySource:
    """What a probe's context asks for the optimizer's memory (the Recorder has no optimizer object of ours)."""

    def __init__(self, memory: Memory | None):
        self._memory = memory

    def memory(self) -> Memory | None:
        return self._memory


class Recorder:
    """Writes a trace of an optimization loop driven by someone else's code (see the module docstring).

    Args:
        path: the trace file to write (refused if it exists, unless ``overwrite``).
        objective: the :class:`~landscape.Objective` the loop optimizes (needed by probes, by ``attach``
            without ``loss=``, and to evaluate the final iterate).
        probes: recordable probes (:mod:`probes`), run on their schedules.
        config: extra entries for the trace's config (e.g. ``{"note": ...}``).
        overwrite: replace an existing trace at ``path``.
        snapshot_every: keep theta and the design every N steps.
        seed: the seed recorded in the trace (and given to the probes).
        threads: thread counts while the Recorder is open (default: the policy of :mod:`landscape.threads`).
        spec: the run's :class:`~landscape.RunSpec`, stored so that ``Trace.spec()`` gives it back.
        label: how comparisons and reports name this run's group (default: the optimizer's description).
        optimizer: the name of the optimizer, when it is not attached (``observe`` by hand); ``attach``
            names it from the optimizer object.
        optimizer_options: its hyper-parameters, recorded with the name.

    The trace is created at the first recorded iterate (or when the Recorder closes), so that ``attach``
    can still name the optimizer.

    Raises:
        TypeError: a probe that does not follow the probe protocol (``name``, ``due``, ``__call__``).
        TraceError: ``path`` exists (without ``overwrite``) or cannot be written.
        ValueError: bad ``threads`` or ``snapshot_every``.
    """

    def __init__(self, path, objective=None, probes: Sequence = (), config: dict | None = None,
                 overwrite: bool = False, snapshot_every: int | None = None, seed: int = 0, threads=None,
                 spec=None, label: str | None = None, optimizer: str | None = None,
                 optimizer_options: dict | None = None):
        self.threads = thread_policy(threads)
        self.objective = objective
        self.probes = list(probes)
        for probe in self.probes:
            if not (hasattr(probe, "name") and hasattr(probe, "due") and callable(probe)):
                raise TypeError(f"{probe!r} does not follow the probe protocol (name, due(step, last), __call__)")
        self.seed = seed
        self.writer = TraceWriter(path, overwrite=overwrite, snapshot_every=snapshot_every)
        self.config = dict(config or {})
        if spec is not None:          # the run's RunSpec, stored so that Trace.spec() gives it back
            self.config["spec"] = spec.to_dict()
        if label is not None:
            self.config["label"] = str(label)
        if optimizer is not None:
            self.config["optimizer"] = str(optimizer)
            self.config["optimizer_options"] = dict(optimizer_options or {})
        self.ledger: Ledger | None = None     # from the first observed iterate on
        self._previous: torch.Tensor | None = None
        self._last_context: ProbeContext | None = None
        self._evaluations = 0                 # objective evaluations of the loop, counted by attach
        self._pending: list[Evaluation] = []  # evaluations not yet attached to a recorded step
        self._final = None                    # the iterate the last attached step() produced
        self._closure_values = None           # (theta, loss, grad) of the latest closure evaluation
        self._memory_of: Callable[[], Memory | None] | None = None
        self._final_loss: Callable[[], float] | None = None     # attach's loss(), for the last iterate
        self._hooks = []
        self._closed = False
        self._limits = contextlib.ExitStack()
        self._limits.enter_context(limited(self.threads))

    @property
    def history(self) -> History:
        """The observed steps so far (empty before the first)."""
        return self.ledger.history if self.ledger is not None else History()

    @property
    def theta0(self) -> torch.Tensor | None:
        """The first observed iterate, or None before the first."""
        return self.ledger.theta0 if self.ledger is not None else None

    def _open(self, num_params: int):
        problem = getattr(self.objective, "problem", None)
        config = {"optimizer": "external", "seed": self.seed, "num_params": num_params,
                  "threads": self.threads.to_dict(), **self.config}
        if self.objective is not None:        # the same description of the objective as landscape.run's traces
            from .trace.schema import objective_config
            for key, value in objective_config(self.objective).items():
                config.setdefault(key, value)
        config["probes"] = [p.config() if hasattr(p, "config") else {"name": p.name} for p in self.probes]
        self.writer.open(config, num_params, tuple(problem.shape) if problem is not None else None,
                         {p.name: probe_outputs(p, self.objective) for p in self.probes}, self.objective)

    # -- recording --------------------------------------------------------------------
    def observe(self, step: int, theta, loss: float, grad=None, memory=None, **extra) -> None:
        """Record one iterate: ``theta`` (flat), its ``loss`` and optionally ``grad``.

        Args:
            step: the iterate's index (0 for the start).
            theta: the flat parameter vector.
            loss: the loss at ``theta``.
            grad: the gradient at ``theta`` (None if unknown: probes that need it compute it).
            memory: the optimizer's curvature memory after this step, ``(S, Y, gamma)`` with S and Y of shape
                (n, k) (columns ``s_i = theta_{i+1} - theta_i``, ``y_i = g_{i+1} - g_i``, oldest first) or a
                :class:`~landscape.optim.Memory`; the L-BFGS probes read it (``context.memory()``).
            **extra: ``step_size``, and ``evaluations`` (objective evaluations used so far; by default one
                per observed step); other keys are ignored.

        Raises:
            ValueError: a memory of the wrong shape.
        """
        theta = torch.as_tensor(theta, dtype=torch.float64).detach().reshape(-1).clone()
        grad = None if grad is None else torch.as_tensor(grad, dtype=torch.float64).detach().reshape(-1)
        memory = as_memory(memory, theta.numel())
        if memory is None and self._memory_of is not None:
            memory = self._memory_of()
        if self.writer.file is None:
            self._open(theta.numel())
        if self.ledger is None:
            self.ledger = Ledger(theta, self.writer)
        loss = float(loss)
        grad_norm = float(grad.norm()) if grad is not None else math.nan
        step_norm = float(torch.dist(theta, self._previous)) if self._previous is not None else math.nan
        evaluations, self._pending = self._pending, []
        record = Step(int(step), theta, loss, grad, grad_norm, float(extra.get("step_size", math.nan)),
                      step_norm, evaluations=evaluations)
        total = extra.get("evaluations")
        self.ledger.accept(record, evaluations=int(total if total is not None else len(self.history.steps) + 1))
        self._previous = theta
        context = ProbeContext(record.step, theta, loss, grad, self.objective, _MemorySource(memory),
                               self.ledger.theta0, self.seed, self.history)
        self._last_context = context
        for probe in self.probes:
            if probe.due(record.step, False):
                self.writer.append_probe(probe.name, record.step, dict(probe(context)))

    def attach(self, optimizer: torch.optim.Optimizer, loss: Callable[[], float] | None = None,
               label: str | None = None):
        """Record every ``optimizer.step()`` (a step pre-hook and post-hook); returns the hook handles.

        Args:
            optimizer: a ``torch.optim.Optimizer`` over exactly the objective's model parameters, in the order
                of ``model.parameters()``. Optimizers whose ``step`` takes a closure (``torch.optim.LBFGS``)
                have it wrapped to count and record every evaluation.
            loss: for optimizers without a closure, a callable giving the loss at the current parameters
                (default: ``objective.loss(theta)``, one extra forward pass per step).
            label: the run's group name in comparisons and reports (default: the optimizer's description).

        Returns:
            The two hook handles (pre-hook, post-hook); :meth:`close` removes them.

        Raises:
            ValueError: the optimizer holds other parameters, no way to know the loss, or the trace has
                already started (attach before the first step).
        """
        params = [p for group in optimizer.param_groups for p in group["params"]]
        if self.objective is not None and hasattr(self.objective, "model"):
            own = [p for _, p in self.objective.model.named_parameters() if p.requires_grad]
            if len(own) != len(params) or any(a is not b for a, b in zip(own, params)):
                raise ValueError("the optimizer must hold exactly the objective's model parameters, in the "
                                 "order of model.parameters(), so that theta means the same to the probes")
        if loss is None and self.objective is None:
            raise ValueError("attach needs loss=callable or a Recorder with an objective to know the loss")
        if self.writer.file is not None:
            raise ValueError("attach the optimizer before the first recorded step (the trace names it when it "
                             "starts)")
        name, options = describe_optimizer(optimizer)
        self.config.setdefault("optimizer", name)
        self.config.setdefault("optimizer_options", options)
        self.config.setdefault("label", label or optimizer_title(name, options))
        if isinstance(optimizer, torch.optim.LBFGS):
            self._memory_of = lambda: torch_lbfgs_memory(optimizer)
        step_size = lambda: float(optimizer.param_groups[0].get("lr", math.nan))   # noqa: E731

        def flat() -> torch.Tensor:
            return torch.cat([p.detach().reshape(-1) for p in params]).to(torch.float64)

        def flat_grad() -> torch.Tensor | None:
            if any(p.grad is None for p in params):
                return None
            return torch.cat([p.grad.detach().reshape(-1) for p in params]).to(torch.float64)

        def record(theta, value, grad):
            self._final = None
            self.observe(len(self.history.steps), theta, value, grad, evaluations=self._evaluations,
                         step_size=step_size())

        def before_step(opt, args, kwargs):
            theta = flat()
            # torch passes the bound call's arguments, the optimizer first: (self, closure)
            closure = kwargs.get("closure", args[1] if len(args) > 1 else None)
            if closure is None:                   # the loop evaluated theta_k itself before step()
                grad = flat_grad()
                value = float(loss()) if loss is not None else float(self.objective.loss(theta))
                self._evaluations += 1
                self._pending.append(Evaluation(value, float(grad.norm()) if grad is not None else math.nan))
                record(theta, value, grad)
                return None
            waiting = {"recorded": False}

            def counted():
                value = closure()
                now, grad = flat(), flat_grad()
                number = float(value.detach()) if isinstance(value, torch.Tensor) else float(value)
                self._evaluations += 1
                self._pending.append(Evaluation(number, float(grad.norm()) if grad is not None else math.nan))
                self._closure_values = (now, number, grad)
                if not waiting["recorded"] and torch.equal(now, theta):
                    waiting["recorded"] = True            # the first evaluation at theta_k: step k
                    record(now, number, grad)
                return value

            if "closure" in kwargs:
                return args, {**kwargs, "closure": counted}
            return (args[0], counted, *args[2:]), kwargs

        def after_step(opt, args, kwargs):
            self._final = flat()

        self._hooks += [optimizer.register_step_pre_hook(before_step), optimizer.register_step_post_hook(after_step)]
        self._final_loss = loss
        return tuple(self._hooks[-2:])

    def scipy_callback(self, intermediate_result) -> None:
        """A ``callback`` for ``scipy.optimize.minimize`` (SciPy >= 1.11 passes an OptimizeResult).

        Records the iterate ``x`` with its ``fun`` (evaluated with the objective when the result has none)
        and its ``jac`` if present, as the next step.

        Args:
            intermediate_result: SciPy's intermediate ``OptimizeResult``, with ``x`` and usually ``fun``.
        """
        x = np.asarray(intermediate_result.x, dtype=np.float64)
        fun = getattr(intermediate_result, "fun", None)
        if fun is None:
            fun = self.objective.loss(torch.from_numpy(x))
        self.observe(len(self.history.steps), torch.from_numpy(x.copy()), float(fun),
                     getattr(intermediate_result, "jac", None))

    # -- closing ----------------------------------------------------------------------
    def _record_final(self) -> str:
        """Record the iterate the last attached ``step()`` produced (no loop evaluated it); returns a note."""
        theta, self._final = self._final, None
        if theta is None or (self._previous is not None and torch.equal(theta, self._previous)):
            return ""
        values = self._closure_values
        if values is not None and torch.equal(values[0], theta):
            value, grad = values[1], values[2]
        elif self.objective is not None:
            value, grad = self.objective.value_and_grad(theta)
        elif self._final_loss is not None:
            value, grad = float(self._final_loss()), None
        else:
            return "the last iterate was not recorded: no objective to evaluate it"
        self.observe(len(self.history.steps), theta, float(value), grad, evaluations=self._evaluations)
        return ""

    def _last_step_probes(self) -> None:
        """Run the probes scheduled for the last step that did not run at the last recorded step."""
        context = self._last_context
        if context is None:
            return
        context = ProbeContext(context.step, context.theta, context.loss, context.grad, context.objective,
                               context.optimizer, context.theta0, context.seed, context.history, True)
        for probe in self.probes:
            if probe.due(context.step, True) and not probe.due(context.step, False):
                self.writer.append_probe(probe.name, context.step, dict(probe(context)))

    def close(self, status: str = "completed", message: str = "") -> None:
        """Record the last iterate and the last-step probes, write the final state and ``status``, close the file.

        The last iterate and the last-step probes are recorded only for ``completed``. A Recorder that observed
        nothing still writes a trace (with its status) if it has an objective. The thread limits end here;
        ``with Recorder(...)`` calls this on exit, with ``interrupted`` or ``failed`` on an exception. Closing
        again does nothing.

        Args:
            status: the run's status (default ``"completed"``; see :mod:`landscape.statuses`).
            message: the details of ``status`` (default: empty, or a note that the last iterate could not be
                evaluated).
        """
        if self._closed:              # a second close (an explicit close() inside ``with``) changes nothing
            return
        self._closed = True
        for handle in self._hooks:
            handle.remove()
        self._hooks.clear()
        try:
            if status == "completed":
                note = self._record_final()
                message = message or note
                self._last_step_probes()
            if self.writer.file is None:
                if self.objective is None:
                    return
                self._open(self.objective.num_params)
            if self._previous is not None:
                loss, best_theta, best_step = self.ledger.best_loss, self.ledger.best_theta, self.ledger.best_step
                design = best_design = None
                if getattr(self.objective, "problem", None) is not None:
                    design = self.objective.design(self._previous).numpy()
                    best_design = self.objective.design(best_theta).numpy()
                self.writer.write_final(self._previous, best_theta, loss, best_step, design, best_design)
            self.writer.set_status(status, message, ended=True)
        finally:
            self._limits.close()
            if self.writer.file is not None:
                self.writer.close()

    def __enter__(self):
        return self

    def __exit__(self, kind, error, tb):
        if kind is None:
            self.close("completed")
        elif issubclass(kind, (KeyboardInterrupt, RunInterrupted)):
            self.close("interrupted", str(error) or kind.__name__)
        else:
            self.close("failed", f"{kind.__name__}: {error}")
        return False
