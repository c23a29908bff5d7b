"""Record loops we did not write: ``torch.optim`` optimizers, SciPy callbacks, or ``observe`` by hand.

::

    with Recorder("runs/adam.h5", objective, probes=[...]) as recorder:
        recorder.attach(adam)                  # a step pre-hook: records every adam.step()
        for _ in range(100):
            adam.zero_grad()
            objective.module_loss().backward()
            adam.step()

A ``torch.optim`` hook sees the parameters and their gradients just before each
``step()``; the loss there is taken from ``loss()`` if given, otherwise
``objective.loss(theta)`` is evaluated (one extra forward pass per step). As a
SciPy callback (``minimize(..., callback=recorder.scipy_callback)``) the
recorder takes ``x`` and ``fun`` of each iterate. ``observe(step, theta, loss,
grad=None, **extra)`` records anything else. Probes run on their schedules
with the same context as in :func:`landscape.run`, and the file is the same
trace format. From construction until :meth:`close` torch and BLAS run with
the thread counts of :mod:`landscape.threads` (``threads=`` overrides), and
the counts are recorded.
"""
from __future__ import annotations

import contextlib
import math
from typing import Callable, Sequence

import numpy as np
import torch

from .optim.base import Step
from .runner import History, Ledger, ProbeContext, RunInterrupted
from .threads import limited
from .threads import policy as thread_policy
from .trace import TraceWriter, probe_outputs

__all__ = ["Recorder"]


class Recorder:
    """Writes a trace of an optimization loop driven by someone else's code."""

    def __init__(self, path, objective=None, probes: Sequence = (), config: dict | None = None,
                 overwrite: bool = False, snapshot_every: int | None = None, seed: int = 0, threads=None,
                 spec=None):
        self.threads = thread_policy(threads)
        self.objective = objective
        self.probes = list(probes)
        self.seed = seed
        self.writer = TraceWriter(path, overwrite=overwrite, snapshot_every=snapshot_every)
        self.config = dict(config or {})
        if spec is not None:          # the run's RunSpec, stored so that Trace.spec() gives it back
            self.config["spec"] = spec.to_dict()
        self.ledger: Ledger | None = None     # from the first observed iterate on
        self._previous: torch.Tensor | None = None
        self._count = 0
        self._hooks = []
        self._limits = contextlib.ExitStack()
        self._limits.enter_context(limited(self.threads))
        if objective is not None:
            try:
                self._open(objective.num_params)
            except BaseException:
                self._limits.close()
                raise

    @property
    def history(self) -> History:
        """The observed steps so far (empty before the first)."""
        return self.ledger.history if self.ledger is not None else History()

    @property
    def theta0(self) -> torch.Tensor | None:
        return self.ledger.theta0 if self.ledger is not None else None

    def _open(self, num_params: int):
        problem = getattr(self.objective, "problem", None)
        config = {"optimizer": "external", "seed": self.seed, "num_params": num_params,
                  "threads": self.threads.to_dict(), **self.config}
        if self.objective is not None:
            from .trace.schema import _model_kind
            config.setdefault("problem", getattr(problem, "name", None) or getattr(self.objective, "name", ""))
            config.setdefault("model", _model_kind(self.objective))
            config.setdefault("penal", getattr(self.objective, "penal", None))
            config.setdefault("precision", getattr(self.objective, "precision", None))
        config["probes"] = [p.config() if hasattr(p, "config") else {"name": p.name} for p in self.probes]
        self.writer.open(config, num_params, tuple(problem.shape) if problem is not None else None,
                         {p.name: probe_outputs(p, self.objective) for p in self.probes}, self.objective)

    # -- recording --------------------------------------------------------------------
    def observe(self, step: int, theta, loss: float, grad=None, **extra) -> None:
        """Record one iterate: ``theta`` (flat), its ``loss`` and optionally ``grad``.

        ``extra`` may hold ``step_size`` and ``evaluations`` (objective evaluations
        used so far; by default one per observed step).
        """
        theta = torch.as_tensor(theta, dtype=torch.float64).detach().reshape(-1).clone()
        grad = None if grad is None else torch.as_tensor(grad, dtype=torch.float64).detach().reshape(-1)
        if self.writer.file is None:
            self._open(theta.numel())
        if self.ledger is None:
            self.ledger = Ledger(theta, self.writer)
        self._count += 1
        loss = float(loss)
        grad_norm = float(grad.norm()) if grad is not None else math.nan
        step_norm = float(torch.dist(theta, self._previous)) if self._previous is not None else math.nan
        record = Step(int(step), theta, loss, grad, grad_norm, float(extra.get("step_size", math.nan)),
                      step_norm)
        self.ledger.accept(record, evaluations=int(extra.get("evaluations", self._count)))
        self._previous = theta
        for probe in self.probes:
            if probe.due(record.step, False):
                context = ProbeContext(record.step, theta, loss, grad, self.objective, None, self.ledger.theta0,
                                       self.seed, self.history)
                self.writer.append_probe(probe.name, record.step, dict(probe(context)))

    def attach(self, optimizer: torch.optim.Optimizer, loss: Callable[[], float] | None = None):
        """Record every ``optimizer.step()`` through a step pre-hook; returns the hook handle."""
        params = [p for group in optimizer.param_groups for p in group["params"]]
        if self.objective is not None and hasattr(self.objective, "model"):
            own = [p for _, p in self.objective.model.named_parameters() if p.requires_grad]
            if len(own) != len(params) or any(a is not b for a, b in zip(own, params)):
                raise ValueError("the optimizer must hold exactly the objective's model parameters, in the "
                                 "order of model.parameters(), so that theta means the same to the probes")
        if loss is None and self.objective is None:
            raise ValueError("attach needs loss=callable or a Recorder with an objective to know the loss")
        counter = {"step": 0}

        def before_step(opt, args, kwargs):
            theta = torch.cat([p.detach().reshape(-1) for p in params])
            grads = [p.grad for p in params]
            grad = None if any(g is None for g in grads) else torch.cat([g.detach().reshape(-1) for g in grads])
            value = loss() if loss is not None else self.objective.loss(theta)
            self.observe(counter["step"], theta, float(value), grad,
                         step_size=float(opt.param_groups[0].get("lr", math.nan)))
            counter["step"] += 1

        handle = optimizer.register_step_pre_hook(before_step)
        self._hooks.append(handle)
        return handle

    def scipy_callback(self, intermediate_result) -> None:
        """A ``callback`` for ``scipy.optimize.minimize`` (SciPy >= 1.11 passes an OptimizeResult)."""
        x = np.asarray(intermediate_result.x, dtype=np.float64)
        fun = getattr(intermediate_result, "fun", None)
        if fun is None:
            fun = self.objective.loss(torch.from_numpy(x))
        self.observe(len(self.history.steps), torch.from_numpy(x.copy()), float(fun),
                     getattr(intermediate_result, "jac", None))

    # -- closing ----------------------------------------------------------------------
    def close(self, status: str = "completed", message: str = "") -> None:
        for handle in self._hooks:
            handle.remove()
        self._hooks.clear()
        self._limits.close()
        if self.writer.file is None:
            return
        try:
            if self._previous is not None:
                loss, best_theta, best_step = self.ledger.best_loss, self.ledger.best_theta, self.ledger.best_step
                design = best_design = None
                if getattr(self.objective, "problem", None) is not None:
                    design = self.objective.design(self._previous).numpy()
                    best_design = self.objective.design(best_theta).numpy()
                self.writer.write_final(self._previous, best_theta, loss, best_step, design, best_design)
            self.writer.set_status(status, message, ended=True)
        finally:
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
