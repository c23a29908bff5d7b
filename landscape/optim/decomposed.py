"""The decomposed optimizer: a direction rule times a step rule (thesis section 3.4).

One step from ``theta`` with gradient ``g``:

1. ``d`` from the direction rule (``-g`` or ``-H_m g``);
2. ``alpha`` from the step rule along ``theta + alpha d``, first trial
   ``1`` when ``d`` carries curvature information and, when it does not,
   the rule's ``first_trial`` if it has one (L-BFGS-B's ``1/|d|`` for
   :class:`~landscape.optim.steps.MoreThuente`), else ``min(1, 1/|d|)``;
3. ``theta+ = theta + alpha d``; the pair ``(s, y) = (theta+ - theta, g+ - g)``
   goes to the direction rule's memory.

If the line search fails from a quasi-Newton direction, the memory is dropped
and the search is retried once along ``-g`` (what L-BFGS-B does); if that fails
too, the step reports ``line_search_failed``. So ``gd_ls`` and ``lbfgs`` with
``m = 0`` and the same ``search`` take identical steps.
"""
from __future__ import annotations

import torch

from .base import Optimizer, Step
from .directions import LBFGSDirection, SteepestDescent
from .steps import ConstantStep, MoreThuente, StrongWolfe

__all__ = ["Decomposed"]


class Decomposed(Optimizer):
    """``direction`` (:class:`SteepestDescent`, :class:`LBFGSDirection` or a preconditioner of
    :mod:`~landscape.optim.directions`) x ``rule`` (:class:`ConstantStep`, :class:`ScheduledStep`,
    :class:`MoreThuente` or :class:`StrongWolfe`).

    One step follows the module docstring (thesis section 3.4). A step whose gradient norm is exactly zero
    (or underflows to zero) is not taken: it reports ``completed``. Every step's ``extra`` holds the
    direction rule's :meth:`~LBFGSDirection.stats`. :func:`landscape.optim.build` makes the thesis's
    combinations (``gd``, ``gd_ls``, ``hd``, ``lbfgs``).

    Args:
        direction: the direction rule; :meth:`~Optimizer.start` calls its ``start()``, and its ``bind(optimizer)``
            if it has one (for a rule that needs the objective and the iterate).
        rule: the step rule; :meth:`~Optimizer.start` calls its ``start()`` if it has one.
        name: the optimizer's name in traces and reports (default ``"decomposed"``).
        **options: the options recorded with the name (e.g. ``lr``, ``m``, ``c1``); they are not passed
            to the rules.
    """

    def __init__(self, direction: SteepestDescent | LBFGSDirection, rule: ConstantStep | StrongWolfe | MoreThuente,
                 name: str = "decomposed", **options):
        super().__init__(**options)
        self.name = name
        self.direction = direction
        self.rule = rule

    def _start(self, theta, steps):
        self.direction.start()
        if hasattr(self.direction, "bind"):    # a rule that reads the objective (HutchinsonDiagonal)
            self.direction.bind(self)
        if hasattr(self.rule, "start"):        # a rule with per-run state (ScheduledStep)
            self.rule.start()
        self.theta = theta
        self.loss, self.grad = self._evaluate(theta)
        return Step(0, theta.clone(), self.loss, self.grad, float(self.grad.norm()),
                    evaluations=self._take_evaluations())

    def _search(self, d: torch.Tensor):
        theta, loss0 = self.theta, self.loss
        slope0 = float(self.grad @ d)

        points = {}

        def line(alpha):
            points[alpha] = point = torch.add(theta, d, alpha=alpha)
            loss, grad = self._evaluate(point, alpha, d)
            return loss, grad, float(grad @ d)

        first_trial = getattr(self.rule, "first_trial", None)
        if first_trial is not None:
            initial = first_trial(d, self.direction.has_curvature)
        else:
            initial = 1.0 if self.direction.has_curvature else min(1.0, 1.0 / float(d.norm()))
        result = self.rule.search(line, loss0, slope0, initial)
        return result, points.get(result.alpha)

    def _step(self) -> Step:
        if float(self.grad.norm()) == 0.0:   # stationary, e.g. a saturated design: nowhere to go
            # |g| is also 0 when every entry is below ~1e-154 (its square underflows): just as flat
            what = "is exactly zero" if not bool(self.grad.any()) else "norm underflows to zero"
            return Step(self.steps_taken, self.theta.clone(), self.loss, self.grad, 0.0, accepted=False,
                        status="completed", message=f"the gradient {what} at step {self.steps_taken}",
                        extra=self.direction.stats())
        d = self.direction.direction(self.grad)
        result, theta = self._search(d)
        if not result.ok and self.direction.has_curvature:
            self.direction.reset()
            d = -self.grad
            result, theta = self._search(d)
        evaluations = self._take_evaluations()
        if not result.ok:
            return Step(self.steps_taken, self.theta.clone(), self.loss, self.grad,
                        float(self.grad.norm()), evaluations=evaluations, accepted=False,
                        status="line_search_failed", message=result.message,
                        extra=self.direction.stats())
        if theta is None:   # a step rule that returned a step it did not evaluate through the line
            theta = self.theta + result.alpha * d
        s = theta - self.theta
        if self.direction.keeps_pairs:
            self.direction.update(s, result.grad - self.grad, self.grad)
        self.theta, self.loss, self.grad = theta, result.loss, result.grad
        return Step(self.steps_taken + 1, theta, self.loss, self.grad, float(self.grad.norm()),
                    step_size=result.alpha, step_norm=float(s.norm()), evaluations=evaluations,
                    extra=self.direction.stats())

    def memory(self):
        """The direction rule's curvature memory (S, Y, gamma), or None (steepest descent, or no pair yet)."""
        return self.direction.memory()
