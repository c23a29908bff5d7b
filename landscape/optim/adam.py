"""Adam (Kingma and Ba 2015) through ``torch.optim.Adam`` on the flat parameter vector."""
from __future__ import annotations

import torch

from .base import Optimizer, OptimizerError, Step, check_positive

__all__ = ["Adam"]


class Adam(Optimizer):
    """``torch.optim.Adam`` with learning rate ``lr`` (Hoyer's default 1e-2), ``betas`` and ``eps``.

    Each step hands the gradient at the current iterate to ``torch.optim.Adam`` as the parameter's
    ``.grad``, lets it update, and evaluates the objective at the new iterate: one evaluation per step. The
    step's ``step_size`` is recorded as ``lr`` (Adam's actual per-coordinate steps differ).

    Args:
        lr: the learning rate, a finite number > 0 (default 1e-2).
        betas: the two decay rates of the moment estimates, each in [0, 1) (default (0.9, 0.999)).
        eps: the denominator's safeguard, a finite number > 0 (default 1e-8).

    Raises:
        OptimizerError: ``lr`` or ``eps`` not a finite number > 0, or ``betas`` not two numbers in [0, 1).
    """

    name = "adam"

    def __init__(self, lr: float = 1e-2, betas=(0.9, 0.999), eps: float = 1e-8):
        lr = check_positive(self.name, "lr", lr)
        eps = check_positive(self.name, "eps", eps)
        betas = tuple(float(b) for b in betas)
        if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
            raise OptimizerError(f"adam: betas must be two numbers in [0, 1), got {betas!r}")
        super().__init__(lr=lr, betas=list(betas), eps=eps)

    def _start(self, theta, steps):
        self.param = torch.nn.Parameter(theta.clone())
        self.torch_optimizer = torch.optim.Adam([self.param], lr=self.options["lr"],
                                                betas=tuple(self.options["betas"]), eps=self.options["eps"])
        self.loss, self.grad = self._evaluate(theta)
        return Step(0, theta.clone(), self.loss, self.grad, float(self.grad.norm()),
                    evaluations=self._take_evaluations())

    def _step(self):
        old = self.param.detach().clone()
        self.param.grad = self.grad.clone()
        self.torch_optimizer.step()
        theta = self.param.detach().clone()
        self.loss, self.grad = self._evaluate(theta)
        return Step(self.steps_taken + 1, theta, self.loss, self.grad, float(self.grad.norm()),
                    step_size=self.options["lr"], step_norm=float((theta - old).norm()),
                    evaluations=self._take_evaluations())
