"""SciPy's L-BFGS-B exactly as the thesis ran it, with its iterates and memory brought out.

The thesis (appendix B.2.1) called ``scipy.optimize.fmin_l_bfgs_b`` with default
settings except ``maxfun`` = the number of steps, ``factr = 1`` and
``pgtol = 1e-14``; so does this optimizer (memory ``m = 10`` is SciPy's default).

Nothing in SciPy is patched. Every objective evaluation SciPy asks for is
recorded (line-search trials included), every accepted iterate arrives
through SciPy's ``callback``, and the ``(s, y)`` memory is rebuilt outside
SciPy with L-BFGS-B's own bookkeeping (Byrd, Lu, Nocedal, Zhu 1995, and the
code's ``mainlb``): after each accepted iterate the pair
``s = x+ - x, y = g+ - g`` is stored unless ``s'y <= eps * (-g's)``, the
oldest pair is dropped beyond ``m``, ``theta = y'y / s'y`` of the newest pair
(so ``gamma = 1 / theta``), and a line-search failure that makes L-BFGS-B
restart from steepest descent clears the memory. Without bounds,
L-BFGS-B's step is ``x+ = x - alpha B^{-1} g`` with ``B`` the compact matrix of
that memory, so every recorded step reports the cosine between the step SciPy
took and ``-H g`` computed from the rebuilt memory (``extra['direction_cosine']``;
1 to rounding when the reconstruction is exact). A restart is recognised by
that cosine: a step along ``-g`` that is not along ``-H g``.
"""
from __future__ import annotations

import numpy as np
import scipy.optimize
import torch
from threadpoolctl import threadpool_limits

from .base import Optimizer, Step, check_count, check_positive
from .directions import LBFGSMemory, two_loop
from .external import ExternalLoop

__all__ = ["ScipyLBFGSB"]

_PARALLEL = 1 - 1e-6


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    denominator = float(a.norm() * b.norm())
    return float(a @ b) / denominator if denominator > 0 else float("nan")


class ScipyLBFGSB(Optimizer):
    """``scipy.optimize.fmin_l_bfgs_b`` stepped one accepted iterate at a time.

    Options: ``m`` (memory, SciPy's default 10), ``maxfun`` (default: the run's
    step budget, as in the thesis), ``factr`` (1), ``pgtol`` (1e-14), ``maxls`` (20).
    ``maxiter`` is the run's step budget (15000 without one). Every accepted step's ``extra`` holds
    ``direction_cosine`` (see the module docstring) and the rebuilt memory's ``skipped_pairs``,
    ``memory_resets`` and ``memory_size``. When SciPy ends, the step reports ``max_evaluations`` (``maxfun``
    reached), ``line_search_failed`` (an abnormal line-search termination) or ``completed``.

    Args:
        m: the number of curvature pairs, an integer >= 1 (default 10).
        maxfun: the evaluation budget, an integer >= 1, or None for the run's step budget (default None).
        factr: SciPy's relative-reduction tolerance factor, a finite number >= 0 (default 1.0).
        pgtol: SciPy's projected-gradient tolerance, a finite number >= 0 (default 1e-14).
        maxls: the most line-search trials per step, an integer >= 1 (default 20).

    Raises:
        OptimizerError: an option outside the ranges above.
    """

    name = "scipy_lbfgsb"

    def __init__(self, m: int = 10, maxfun: int | None = None, factr: float = 1.0,
                 pgtol: float = 1e-14, maxls: int = 20):
        m = check_count(self.name, "m", m, minimum=1)
        if maxfun is not None:
            maxfun = check_count(self.name, "maxfun", maxfun, minimum=1)
        factr = check_positive(self.name, "factr", factr, allow_zero=True)
        pgtol = check_positive(self.name, "pgtol", pgtol, allow_zero=True)
        maxls = check_count(self.name, "maxls", maxls, minimum=1)
        super().__init__(m=m, maxfun=maxfun, factr=factr, pgtol=pgtol, maxls=maxls)
        self._loop = None

    # -- stepping ---------------------------------------------------------------
    def _start(self, theta, steps):
        self.close()
        self.maxiter = steps if steps is not None else 15000
        self.maxfun = self.options["maxfun"] or self.maxiter
        self.store = LBFGSMemory(self.options["m"])
        self.restarts = 0
        self.theta = theta
        self._loop = ExternalLoop(self._drive, self.name)
        kind, step0 = self._loop.next()
        return step0

    def _step(self) -> Step:
        kind, value = self._loop.next()
        if kind == "item":
            return value
        status, message = self._finish_status(value)
        return Step(self.steps_taken, self.theta.clone(), self.loss, self.grad, float(self.grad.norm()),
                    evaluations=self._take_evaluations(), accepted=False, status=status,
                    message=message, extra=self._stats())

    def close(self):
        """Stop SciPy's loop in its worker thread, if one is running."""
        if self._loop is not None:
            self._loop.close()
            self._loop = None

    def memory(self):
        """The rebuilt L-BFGS-B memory (S, Y, gamma) after the last step, or None (not started, or no pair)."""
        return self.store.snapshot() if self.objective is not None else None

    # -- the SciPy side (worker thread) ---------------------------------------------
    def _drive(self, pause):
        last = {}

        def fun(x):
            theta = torch.tensor(x, dtype=torch.float64)
            loss, grad = self._evaluate(theta)
            last.update(theta=theta, loss=loss, grad=grad)
            if "started" not in last:
                last["started"] = True
                self.loss, self.grad = loss, grad
                pause(Step(0, theta, loss, grad, float(grad.norm()),
                           evaluations=self._take_evaluations()))
            return loss, grad.numpy()

        def callback(xk):
            if not np.array_equal(last["theta"].numpy(), xk):
                raise RuntimeError("L-BFGS-B accepted a point that was not its last evaluation; "
                                   "the recorded memory would be wrong")
            pause(self._accept(last["theta"], last["loss"], last["grad"]))

        # SciPy's bundled OpenBLAS threads spin after L-BFGS-B's small BLAS calls and slow
        # the sparse solver down; one thread is plenty for vectors of this size.
        with threadpool_limits(limits={"libscipy_openblas": 1}):
            _, _, info = scipy.optimize.fmin_l_bfgs_b(
                fun, self.theta.numpy().copy(), m=self.options["m"], factr=self.options["factr"],
                pgtol=self.options["pgtol"], maxfun=self.maxfun, maxiter=self.maxiter,
                maxls=self.options["maxls"], callback=callback)
        return info

    def _accept(self, theta, loss, grad) -> Step:
        s = theta - self.theta
        d = -two_loop(self.grad, self.store)
        cosine = _cosine(s, d)
        if len(self.store) and not cosine > _PARALLEL and _cosine(s, -self.grad) > _PARALLEL:
            self.store.clear()      # L-BFGS-B restarted from steepest descent
            self.restarts += 1
            d = -self.grad
            cosine = _cosine(s, d)
        alpha = float(s @ d) / float(d @ d)
        self.store.push(s, grad - self.grad, self.grad)
        self.theta, self.loss, self.grad = theta, loss, grad
        extra = self._stats()
        extra["direction_cosine"] = cosine
        return Step(self.steps_taken + 1, theta, loss, grad, float(grad.norm()),
                    step_size=alpha, step_norm=float(s.norm()), evaluations=self._take_evaluations(),
                    extra=extra)

    def _stats(self) -> dict:
        return {"skipped_pairs": self.store.skipped, "memory_resets": self.restarts,
                "memory_size": len(self.store)}

    def _finish_status(self, info) -> tuple[str, str]:
        task = info.get("task", "")
        task = task.decode() if isinstance(task, bytes) else str(task)
        if info["warnflag"] == 1 and info["funcalls"] >= self.maxfun:
            return "max_evaluations", f"L-BFGS-B: {task} (maxfun={self.maxfun})"
        if info["warnflag"] == 2 and "ABNORMAL" in task.upper():
            return "line_search_failed", f"L-BFGS-B: {task}"
        return "completed", f"L-BFGS-B: {task}"
