"""Step rules: a constant step, and a strong-Wolfe line search.

A step rule is given a search line ``theta + alpha d`` through a callable
``line(alpha) -> (loss, grad)`` that evaluates (and records) the objective, and
returns a :class:`LineResult`.

The strong-Wolfe search is SciPy's ``scipy.optimize.line_search`` (Nocedal and
Wright, Algorithms 3.5 and 3.6: bracketing, then zoom by cubic interpolation
with quadratic and bisection safeguards), which accepts ``alpha`` with

    f(theta + alpha d) <= f(theta) + c1 alpha g'd          (sufficient decrease)
    |g(theta + alpha d)' d| <= c2 |g'd|                    (curvature, strong form)

with the thesis's ``c1 = 1e-4`` and ``c2 = 0.9``. Its bracketing phase makes at
most ``max_iter`` trials and the zoom at most 10 more, so a search always ends;
a search that finds no such ``alpha`` reports failure instead of a step.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.optimize
import torch

__all__ = ["ConstantStep", "StrongWolfe", "LineResult"]


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

    def search(self, line: Line, loss0: float, slope0: float, initial: float) -> LineResult:
        """Take ``alpha = lr``: one evaluation of ``line``, accepted whatever it returns.

        Args:
            line: ``line(alpha) -> (loss, grad, slope)`` at ``theta + alpha d``.
            loss0: the loss at ``alpha = 0`` (unused).
            slope0: the slope ``g'd`` at ``alpha = 0`` (unused).
            initial: the optimizer's first trial step (unused).

        Returns:
            An accepted :class:`LineResult` at ``alpha = lr``.
        """
        loss, grad, _ = line(self.lr)
        return LineResult(True, self.lr, loss, grad)

    def __repr__(self):
        return f"ConstantStep(lr={self.lr})"


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
