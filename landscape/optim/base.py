"""What every optimizer shares: the per-step record, the curvature memory, and the stepping protocol.

An optimizer is driven one accepted iterate at a time::

    opt = landscape.optim.build("lbfgs", m=10)
    first = opt.start(objective)          # step 0: the evaluation at theta0
    while True:
        step = opt.step()                 # one accepted iterate (or why there is none)
        if not step.accepted:
            break

Every objective evaluation an optimizer makes (line-search trials included)
is listed in the :class:`Step` that caused it, so a run can count and record them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from ..statuses import STOPS

__all__ = ["Evaluation", "Memory", "Optimizer", "OptimizerError", "Step", "STOP_STATUSES"]

# Why an optimizer produced no new iterate (Step.status when accepted is False).
STOP_STATUSES = STOPS


class OptimizerError(ValueError):
    """Bad optimizer name or options, or an optimizer used where it does not apply."""


@dataclass(frozen=True)
class Evaluation:
    """One objective evaluation: where along the search line it was made, and what it returned.

    Attributes:
        loss: the objective's value.
        grad_norm: the Euclidean norm of the gradient at the evaluated point.
        alpha: the step length along the search direction, ``theta + alpha d`` (nan when the evaluation
            was not a line-search trial).
        slope: the directional derivative ``g(theta + alpha d)' d`` (nan without a direction).
    """

    loss: float
    grad_norm: float
    alpha: float = float("nan")   # step length along the search direction (nan: not a line trial)
    slope: float = float("nan")   # directional derivative g(theta + alpha d)' d


@dataclass(frozen=True)
class Memory:
    """The curvature pairs of a quasi-Newton method, oldest first.

    ``S`` and ``Y`` are (n, k) with columns ``s_i = theta_{i+1} - theta_i`` and
    ``y_i = g_{i+1} - g_i``; ``gamma`` scales the initial inverse Hessian
    ``H0 = gamma I`` (L-BFGS-B's ``theta`` is ``1 / gamma``).

    Attributes:
        S: the steps, shape (n, k), oldest column first.
        Y: the gradient changes, shape (n, k), oldest column first.
        gamma: the scale of the initial inverse Hessian ``H0 = gamma I``.
    """

    S: torch.Tensor
    Y: torch.Tensor
    gamma: float

    @property
    def size(self) -> int:
        """The number of stored pairs, k (the columns of ``S``)."""
        return self.S.shape[1]


@dataclass
class Step:
    """One call of :meth:`Optimizer.step` (or the initial evaluation, step 0).

    ``accepted`` is False when the optimizer could not (or would not) move: then
    ``status`` says why (one of :data:`STOP_STATUSES`), ``theta`` is the last
    accepted iterate, and ``evaluations`` still lists the trials it spent.

    Attributes:
        step: the step number: 0 for the initial evaluation, the count of accepted steps for an accepted
            one, and the number of the last accepted step when ``accepted`` is False.
        theta: the iterate, a flat float64 tensor of shape (n,).
        loss: the objective at ``theta``.
        grad: the gradient at ``theta``, shape (n,), or None when it is not known.
        grad_norm: the Euclidean norm of ``grad``.
        step_size: ``alpha`` in ``theta_new = theta + alpha * direction`` (nan when it does not apply).
        step_norm: ``|theta_new - theta_old|`` (nan when there was no move: step 0, a step not accepted).
        evaluations: every objective evaluation made for this step, line-search trials included.
        accepted: whether the optimizer moved to a new iterate.
        status: why it did not (one of :data:`STOP_STATUSES`), None for an accepted step.
        message: a human-readable note on the status.
        extra: method-specific numbers (e.g. ``memory_size``, ``skipped_pairs``, ``direction_cosine``).
    """

    step: int
    theta: torch.Tensor
    loss: float
    grad: torch.Tensor | None
    grad_norm: float
    step_size: float = float("nan")      # alpha: theta_new = theta + alpha * direction
    step_norm: float = float("nan")      # |theta_new - theta_old|
    evaluations: list[Evaluation] = field(default_factory=list)
    accepted: bool = True
    status: str | None = None
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def num_evaluations(self) -> int:
        """The number of objective evaluations this step made (``len(evaluations)``)."""
        return len(self.evaluations)


class Optimizer:
    """Base class: option bookkeeping, the pixel-only check, and evaluation recording.

    Subclasses set ``name`` (the thesis name used by :func:`landscape.optim.build`)
    and implement :meth:`_start` and :meth:`_step`; quasi-Newton methods also
    :meth:`memory`.

    Args:
        **options: the optimizer's validated options, kept as ``options`` and recorded in traces
            (:meth:`config`).

    Attributes:
        name: the optimizer's name (a class attribute; :class:`Decomposed` sets it per instance).
        pixel_only: True for optimizers that work on pixel densities only (:meth:`start` checks it).
        options: the options given to the constructor.
        objective: the objective of the current run (None before :meth:`start`).
        steps_taken: accepted steps since :meth:`start`.
        evaluations: objective evaluations since :meth:`start`.
    """

    name = "optimizer"
    pixel_only = False

    def __init__(self, **options):
        self.options = dict(options)
        self.objective = None
        self.steps_taken = 0
        self.evaluations = 0
        self._pending: list[Evaluation] = []

    # -- the protocol ---------------------------------------------------------
    def start(self, objective, theta0=None, steps: int | None = None) -> Step:
        """Evaluate at ``theta0`` (default ``objective.theta0``) and return step 0.

        ``steps`` is the run's step budget, for optimizers whose own limits are
        tied to it (SciPy's ``maxfun``, the thesis's setting). Resets the step
        and evaluation counts, so an optimizer can be started again.

        Args:
            objective: the :class:`~landscape.Objective` to minimize (anything with ``theta0`` and
                ``value_and_grad``; pixel-only optimizers also need its ``model``).
            theta0: the starting point, converted to a float64 tensor (default ``objective.theta0``).
            steps: the run's step budget, or None when there is none.

        Returns:
            The :class:`Step` of the initial evaluation (step 0).

        Raises:
            OptimizerError: a pixel-only optimizer (OC, MMA) on an objective whose model is not a
                :class:`~landscape.models.PixelModel`.
        """
        if self.pixel_only:
            _require_pixel(self.name, objective)
        self.objective = objective
        self.steps_taken = 0
        self.evaluations = 0
        self._pending = []
        theta = objective.theta0 if theta0 is None else torch.as_tensor(theta0, dtype=torch.float64)
        return self._start(theta.detach().clone(), steps)

    def step(self) -> Step:
        """Advance by one accepted iterate; see :class:`Step` for what comes back.

        Returns:
            The :class:`Step`: a new iterate numbered ``steps_taken`` (counted up first), or, with
            ``accepted`` False, the reason the optimizer stopped.

        Raises:
            RuntimeError: called before :meth:`start`.
        """
        if self.objective is None:
            raise RuntimeError(f"{self.name}: call start(objective) before step()")
        record = self._step()
        if record.accepted:
            self.steps_taken += 1
            record.step = self.steps_taken
        return record

    def memory(self) -> Memory | None:
        """The curvature memory (S, Y, gamma) after the last step, or None if the method keeps none."""
        return None

    def close(self) -> None:
        """Release resources (worker threads of library-driven optimizers)."""

    def config(self) -> dict:
        """The optimizer's description for traces: ``{"name": name, **options}``."""
        return {"name": self.name, **self.options}

    def __repr__(self):
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"{self.name}({opts})"

    # -- for subclasses -------------------------------------------------------
    def _start(self, theta: torch.Tensor, steps: int | None) -> Step:   # pragma: no cover
        raise NotImplementedError

    def _step(self) -> Step:   # pragma: no cover
        raise NotImplementedError

    def _evaluate(self, theta: torch.Tensor, alpha: float = float("nan"),
                  direction: torch.Tensor | None = None) -> tuple[float, torch.Tensor]:
        """``objective.value_and_grad`` with the evaluation recorded for the current step."""
        loss, grad = self.objective.value_and_grad(theta)
        self._note(loss, grad, alpha, direction)
        return loss, grad

    def _note(self, loss, grad, alpha=float("nan"), direction=None):
        slope = float(grad @ direction) if direction is not None else float("nan")
        self._pending.append(Evaluation(float(loss), float(grad.norm()), float(alpha), slope))
        self.evaluations += 1

    def _take_evaluations(self) -> list[Evaluation]:
        pending, self._pending = self._pending, []
        return pending


def _require_pixel(name: str, objective) -> None:
    from ..models import PixelModel
    if not isinstance(objective.model, PixelModel):
        raise OptimizerError(
            f"optimizer {name!r} works on pixel densities only; the objective's model is "
            f"{type(objective.model).__name__} (use model 'pixel', or an optimizer such as "
            f"'lbfgs', 'gd' or 'adam')")


def check_positive(name: str, option: str, value, allow_zero: bool = False):
    """Validate a numeric option (a bool or a string is not a number); returns it as a float.

    Args:
        name: the optimizer's name, for the error message.
        option: the option's name, for the error message.
        value: the value to check.
        allow_zero: accept 0 as well (default False: the value must be > 0).

    Returns:
        ``value`` as a float.

    Raises:
        OptimizerError: ``value`` is a bool or a string, not convertible to float, nan, infinite, or
            below the bound (``> 0``, or ``>= 0`` with ``allow_zero``).
    """
    if isinstance(value, (bool, str)):
        raise OptimizerError(f"{name}: {option} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise OptimizerError(f"{name}: {option} must be a number, got {value!r}") from None
    ok = number >= 0 if allow_zero else number > 0
    if not ok or number != number or number == float("inf"):
        bound = ">= 0" if allow_zero else "> 0"
        raise OptimizerError(f"{name}: {option} must be a finite number {bound}, got {value!r}")
    return number


def check_count(name: str, option: str, value, minimum: int = 0):
    """Validate an integer option such as the memory size m; returns it as an int.

    Args:
        name: the optimizer's name, for the error message.
        option: the option's name, for the error message.
        value: the value to check: an int, or a float with an integral value (a bool is refused).
        minimum: the smallest accepted value (default 0).

    Returns:
        ``value`` as an int.

    Raises:
        OptimizerError: ``value`` is not an integer (or integral float), or is below ``minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, (int,)) and not (
            isinstance(value, float) and value.is_integer()):
        raise OptimizerError(f"{name}: {option} must be an integer >= {minimum}, got {value!r}")
    if int(value) < minimum:
        raise OptimizerError(f"{name}: {option} must be an integer >= {minimum}, got {value!r}")
    return int(value)
