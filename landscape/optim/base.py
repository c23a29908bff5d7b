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
    """One objective evaluation: where along the search line it was made, and what it returned."""

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
    """

    S: torch.Tensor
    Y: torch.Tensor
    gamma: float

    @property
    def size(self) -> int:
        return self.S.shape[1]


@dataclass
class Step:
    """One call of :meth:`Optimizer.step` (or the initial evaluation, step 0).

    ``accepted`` is False when the optimizer could not (or would not) move: then
    ``status`` says why (one of :data:`STOP_STATUSES`), ``theta`` is the last
    accepted iterate, and ``evaluations`` still lists the trials it spent.
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
        return len(self.evaluations)


class Optimizer:
    """Base class: option bookkeeping, the pixel-only check, and evaluation recording.

    Subclasses set ``name`` (the thesis name used by :func:`landscape.optim.build`)
    and implement :meth:`_start` and :meth:`_step`; quasi-Newton methods also
    :meth:`memory`.
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
        tied to it (SciPy's ``maxfun``, the thesis's setting).
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
        """Advance by one accepted iterate; see :class:`Step` for what comes back."""
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
    """Validate a numeric option (a bool or a string is not a number); returns it as a float."""
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
    """Validate an integer option such as the memory size m; returns it as an int."""
    if isinstance(value, bool) or not isinstance(value, (int,)) and not (
            isinstance(value, float) and value.is_integer()):
        raise OptimizerError(f"{name}: {option} must be an integer >= {minimum}, got {value!r}")
    if int(value) < minimum:
        raise OptimizerError(f"{name}: {option} must be an integer >= {minimum}, got {value!r}")
    return int(value)
