"""Step rules: a constant step, a scheduled step, and two line searches.

A step rule is given a search line ``theta + alpha d`` through a callable
``line(alpha) -> (loss, grad)`` that evaluates (and records) the objective, and
returns a :class:`LineResult`.

Both line searches look for a step ``alpha`` with

    f(theta + alpha d) <= f(theta) + c1 alpha g'd          (sufficient decrease)
    |g(theta + alpha d)' d| <= c2 |g'd|                    (curvature, strong form)

* :class:`MoreThuente` is the search of L-BFGS-B (Byrd, Lu, Nocedal and Zhu 1995; Zhu et al. 1997,
  subroutine ``lnsrlb``): Moré and Thuente's ``dcsrch`` (ACM TOMS 20, 1994) with ``ftol = c1 = 1e-3``,
  ``gtol = c2 = 0.9``, ``xtol = 0.1``, ``stpmin = 0``, ``stpmax = 1e10``, at most ``maxls = 20`` trials,
  from the first trial ``1 / |d|`` when the direction carries no curvature (L-BFGS-B's first iteration).
  The thesis's GD_LS is SciPy's L-BFGS-B restarted at every step (its appendix B.2.4), so this is its
  search, trial for trial.
* :class:`StrongWolfe` is SciPy's ``scipy.optimize.line_search`` (Nocedal and Wright, Algorithms 3.5 and
  3.6: bracketing by doubling, then zoom by cubic interpolation) with ``c1 = 1e-4``, ``c2 = 0.9``; its
  bracketing phase makes at most ``max_iter`` trials and the zoom at most 10 more.

A search that finds no acceptable ``alpha`` reports failure instead of a step.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.optimize
import torch

__all__ = ["ConstantStep", "ScheduledStep", "SCHEDULE_SHAPES", "StrongWolfe", "MoreThuente", "LineResult",
           "SEARCHES"]


@dataclass(frozen=True)
class LineResult:
    """What a step rule's search returns.

    Attributes:
        ok: whether an acceptable step was found.
        alpha: the step length along the direction (nan when ``ok`` is False).
        loss: the loss at ``theta + alpha d`` (None when ``ok`` is False).
        grad: the gradient there (None when ``ok`` is False).
        message: why the search failed ("" when it did not).
    """

    ok: bool
    alpha: float
    loss: float | None = None
    grad: torch.Tensor | None = None
    message: str = ""


# line(alpha) -> (loss, grad, slope) at theta + alpha d, with slope = grad' d; each call is one evaluation.
Line = Callable[[float], "tuple[float, torch.Tensor, float]"]


class ConstantStep:
    """``alpha = lr`` every step; one evaluation, always accepted (divergence is the run's to judge).

    Args:
        lr: the step length (not checked here; :func:`landscape.optim.build` checks it).
    """

    def __init__(self, lr: float):
        self.lr = lr

    def next_alpha(self) -> float:
        """The step length of the next step: ``lr``."""
        return self.lr

    def search(self, line: Line, loss0: float, slope0: float, initial: float) -> LineResult:
        """Take ``alpha = next_alpha()``: one evaluation of ``line``, accepted whatever it returns.

        Args:
            line: ``line(alpha) -> (loss, grad, slope)`` at ``theta + alpha d``.
            loss0: the loss at ``alpha = 0`` (unused).
            slope0: the slope ``g'd`` at ``alpha = 0`` (unused).
            initial: the optimizer's first trial step (unused).

        Returns:
            An accepted :class:`LineResult` at that ``alpha``.
        """
        alpha = self.next_alpha()
        loss, grad, _ = line(alpha)
        return LineResult(True, alpha, loss, grad)

    def __repr__(self):
        return f"ConstantStep(lr={self.lr})"


SCHEDULE_SHAPES = ("linear", "exponential")


class ScheduledStep(ConstantStep):
    """``alpha_k`` rising (or falling) from ``lr`` to ``lr_end`` over ``ramp`` steps, then held: one evaluation per
    step, always accepted.

    The thesis (section 4.1) suggests that "a simple and increasing step size schedule" could help GD, whose
    stable step is set by the first steps while GD_LS accepts far larger ones later. With ``t = min(k / ramp, 1)``
    at the ``k``-th step of a run (``k = 0, 1, ...``):

    * ``linear``:       ``alpha_k = lr + t (lr_end - lr)``
    * ``exponential``:  ``alpha_k = lr (lr_end / lr)^t``   (a straight line on a log axis)

    Args:
        lr: the first step, > 0.
        lr_end: the step from ``ramp`` on, > 0.
        ramp: the steps to get there, >= 1.
        shape: one of :data:`SCHEDULE_SHAPES` (default ``"exponential"``).

    (Not checked here; :func:`landscape.optim.pgd` checks them.)
    """

    def __init__(self, lr: float, lr_end: float, ramp: int, shape: str = "exponential"):
        super().__init__(lr)
        self.lr_end, self.ramp, self.shape = lr_end, ramp, shape
        self.k = 0

    def start(self) -> None:
        """Back to the first step, for a new run."""
        self.k = 0

    def alpha(self, k: int) -> float:
        """The step length at step ``k`` (the formulas above)."""
        t = min(k / self.ramp, 1.0)
        if self.shape == "linear":
            return self.lr + t * (self.lr_end - self.lr)
        return self.lr * (self.lr_end / self.lr) ** t

    def next_alpha(self) -> float:
        """``alpha_k`` for the run's ``k``-th step, counting the step."""
        self.k += 1
        return self.alpha(self.k - 1)

    def __repr__(self):
        return f"ScheduledStep(lr={self.lr}, lr_end={self.lr_end}, ramp={self.ramp}, shape={self.shape!r})"


class StrongWolfe:
    """Strong-Wolfe line search with SciPy's bracketing-and-zoom routine.

    ``initial`` (given by the optimizer for every search) is the first trial
    step: 1 when the direction carries curvature information, ``min(1, 1 / |d|)``
    otherwise, as in L-BFGS-B.

    Args:
        c1: the sufficient-decrease constant (default 1e-4, the thesis's).
        c2: the curvature constant (default 0.9, the thesis's).
        max_iter: the most trials of the bracketing phase (default 10); the zoom makes at most 10 more.

    Raises:
        ValueError: not ``0 < c1 < c2 < 1``.
    """

    def __init__(self, c1: float = 1e-4, c2: float = 0.9, max_iter: int = 10):
        if not 0 < c1 < c2 < 1:
            raise ValueError(f"strong-Wolfe constants need 0 < c1 < c2 < 1, got c1={c1}, c2={c2}")
        self.c1, self.c2, self.max_iter = c1, c2, max_iter

    def search(self, line: Line, loss0: float, slope0: float, initial: float) -> LineResult:
        """Search ``theta + alpha d`` for a step satisfying both strong-Wolfe conditions.

        SciPy's ``line_search`` runs on ``t -> f(theta + t * initial * d)`` from ``t = 1``; every distinct
        trial costs one evaluation of ``line``. A step SciPy returns is accepted only if it passes
        :meth:`satisfied`.

        Args:
            line: ``line(alpha) -> (loss, grad, slope)`` at ``theta + alpha d``, with ``slope = grad' d``.
            loss0: the loss at ``alpha = 0``.
            slope0: the slope ``g'd`` at ``alpha = 0`` (negative for a descent direction).
            initial: the first trial step length.

        Returns:
            An accepted :class:`LineResult`, or one with ``ok`` False and a message naming the constants and
            the evaluations spent.
        """
        # SciPy's routine is handed the 1-D problem t -> f(theta + t * initial * d), from
        # x = [0] along p = [1]; evaluations are cached by t so that its separate calls
        # for the value and the slope cost one objective evaluation.
        cache: dict[float, tuple[float, torch.Tensor, float]] = {}

        def at(t: float):
            t = float(t)
            if t not in cache:
                cache[t] = line(t * initial)
            return cache[t]

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The line search algorithm")
            t, _, _, _, _, slope = scipy.optimize.line_search(
                lambda x: at(x[0])[0],
                lambda x: np.array([at(x[0])[2] * initial]),
                np.zeros(1), np.ones(1), gfk=np.array([slope0 * initial]), old_fval=loss0,
                c1=self.c1, c2=self.c2, maxiter=self.max_iter)
        # SciPy hands back its last bracketing trial (with slope None) when the bracketing
        # phase runs out of iterations; only a step meeting both conditions is a step here.
        if t is not None and slope is not None:
            loss, grad, slope = at(t)
            alpha = float(t) * initial
            if self.satisfied(loss0, slope0, alpha, loss, slope):
                return LineResult(True, alpha, loss, grad)
        return LineResult(False, float("nan"), message=(
            f"strong-Wolfe line search found no step satisfying c1={self.c1}, c2={self.c2} "
            f"in {len(cache)} evaluations"))

    def satisfied(self, loss0, slope0, alpha, loss, slope) -> bool:
        """Both strong-Wolfe conditions for the step ``alpha`` (slopes along the unscaled direction).

        ``loss <= loss0 + c1 alpha slope0`` (sufficient decrease) and ``|slope| <= c2 |slope0|``
        (curvature, strong form).

        Args:
            loss0: the loss at ``alpha = 0``.
            slope0: the slope ``g'd`` at ``alpha = 0``.
            alpha: the step length.
            loss: the loss at ``theta + alpha d``.
            slope: the slope ``g(theta + alpha d)' d``.

        Returns:
            True when both conditions hold.
        """
        return (loss <= loss0 + self.c1 * alpha * slope0) and abs(slope) <= self.c2 * abs(slope0)

    def __repr__(self):
        return f"StrongWolfe(c1={self.c1}, c2={self.c2}, max_iter={self.max_iter})"


class MoreThuente:
    """L-BFGS-B's line search: Moré and Thuente's ``dcsrch``, driven the way L-BFGS-B drives it.

    ``dcsrch`` (Moré and Thuente, ACM TOMS 20, 1994) keeps an interval of uncertainty that it extrapolates
    (by up to 4 times its width) until it brackets a step meeting the strong-Wolfe conditions with
    ``c1 = ftol`` and ``c2 = gtol``, then shrinks it by safeguarded cubic and quadratic steps. L-BFGS-B
    (``lnsrlb``; SciPy's ``L-BFGS-B``) calls it with ``ftol = 1e-3``, ``gtol = 0.9``, ``xtol = 0.1``,
    ``stpmin = 0`` and ``stpmax = 1e10`` for an unconstrained problem, starts at ``1 / |d|`` on its first
    iteration (``1`` after it, when the direction is quasi-Newton), accepts the last trial when ``dcsrch``
    converges *or warns* (rounding errors, the ``xtol`` test, a bound), and gives up, without evaluating
    it, when ``dcsrch`` asks for a ``maxls + 1``-th trial. This rule does the same, with SciPy's port of
    ``dcsrch`` (``scipy.optimize._dcsrch.DCSRCH``); the tests compare it with SciPy's L-BFGS-B restarted for
    one iteration, which is how the thesis ran GD_LS (appendix B.2.4).

    A trial whose loss or slope is not finite is not handed to ``dcsrch`` as it is (which would turn it into
    a NaN step) but as a wall: a loss ``f(0) + 2 |g'd| alpha`` above the start and a rising slope ``|g'd|``,
    so that ``dcsrch`` brackets it and looks between; such a trial is never accepted.

    Args:
        ftol: the sufficient-decrease constant ``c1`` (default 1e-3, L-BFGS-B's).
        gtol: the curvature constant ``c2`` (default 0.9).
        xtol: the relative width of the interval of uncertainty at which ``dcsrch`` stops (default 0.1).
        maxls: the most trials that ``dcsrch`` sees (default 20, SciPy's ``maxls``).
        stpmax: the largest step length (default 1e10, L-BFGS-B's for unconstrained problems).

    Raises:
        ValueError: not ``0 < ftol < gtol < 1``, ``xtol <= 0``, ``maxls < 1`` or ``stpmax <= 0``.
    """

    def __init__(self, ftol: float = 1e-3, gtol: float = 0.9, xtol: float = 0.1, maxls: int = 20,
                 stpmax: float = 1e10):
        if not 0 < ftol < gtol < 1:
            raise ValueError(f"Moré-Thuente constants need 0 < ftol < gtol < 1, got ftol={ftol}, gtol={gtol}")
        if not (xtol > 0 and maxls >= 1 and stpmax > 0):
            raise ValueError(f"Moré-Thuente needs xtol > 0, maxls >= 1 and stpmax > 0, got xtol={xtol}, "
                             f"maxls={maxls}, stpmax={stpmax}")
        self.ftol, self.gtol, self.xtol, self.maxls, self.stpmax = ftol, gtol, xtol, maxls, stpmax

    @staticmethod
    def first_trial(d: torch.Tensor, has_curvature: bool) -> float:
        """L-BFGS-B's first trial step: ``1`` along a quasi-Newton direction, ``1 / |d|`` along the gradient
        (its first iteration: a trial point at unit distance)."""
        return 1.0 if has_curvature else 1.0 / float(d.norm())

    def search(self, line: Line, loss0: float, slope0: float, initial: float) -> LineResult:
        """Search ``theta + alpha d`` from ``alpha = initial`` as L-BFGS-B does (the class docstring).

        Args:
            line: ``line(alpha) -> (loss, grad, slope)`` at ``theta + alpha d``, with ``slope = grad' d``.
            loss0: the loss at ``alpha = 0``.
            slope0: the slope ``g'd`` at ``alpha = 0``; a search along a direction that does not descend
                (``slope0 >= 0``) fails at once.
            initial: the first trial step length, > 0.

        Returns:
            The last trial as an accepted :class:`LineResult` when ``dcsrch`` converges or warns, else one with
            ``ok`` False and a message naming the constants and the trials spent.
        """
        try:
            from scipy.optimize._dcsrch import DCSRCH  # SciPy's port of MINPACK-2's dcsrch (private module)
        except ImportError as error:      # SciPy before 1.12 has no Python dcsrch
            raise ImportError(f"the L-BFGS-B line search needs SciPy >= 1.13 (scipy.optimize._dcsrch); this is "
                              f"SciPy {scipy.__version__}: pip install 'scipy>=1.13', or use search='wolfe'") from error

        if not slope0 < 0:
            return LineResult(False, float("nan"), message=f"not a descent direction (g'd = {slope0:.3g})")
        dcsrch = DCSRCH(None, None, self.ftol, self.gtol, self.xtol, 0.0, self.stpmax)
        trials, stp, f, g, task, last = 0, float(initial), loss0, slope0, b"START", None
        while True:
            stp, f, g, task = dcsrch._iterate(stp, f, g, task)
            if task[:2] != b"FG":
                break
            if trials >= self.maxls:      # L-BFGS-B never evaluates the (maxls + 1)-th request
                task = b"NO STEP IN MAXLS TRIALS"
                break
            loss, grad, slope = line(stp)
            trials += 1
            if np.isfinite(loss) and np.isfinite(slope):
                last, f, g = (stp, loss, grad), loss, slope
            else:                         # a wall: higher than the start, rising, so dcsrch brackets it
                last, f, g = None, loss0 - 2.0 * slope0 * stp, -slope0
        if task[:4] in (b"CONV", b"WARN") and last is not None and last[0] == stp:
            return LineResult(True, stp, last[1], last[2])
        return LineResult(False, float("nan"), message=(
            f"Moré-Thuente line search (ftol={self.ftol}, gtol={self.gtol}) found no step in {trials} trials: "
            f"{task.decode(errors='replace').strip()}"))

    def __repr__(self):
        return (f"MoreThuente(ftol={self.ftol}, gtol={self.gtol}, xtol={self.xtol}, maxls={self.maxls}, "
                f"stpmax={self.stpmax})")


# the line searches by name, for the optimizers' ``search`` option
SEARCHES = {"lbfgsb": MoreThuente, "wolfe": StrongWolfe}
