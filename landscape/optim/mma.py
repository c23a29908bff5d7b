"""The method of moving asymptotes (Svanberg 1987) through NLopt's ``LD_MMA``, pixel only.

Hoyer et al.'s MMA baseline: densities ``x`` in ``[0, 1]`` (0 outside the
design region), minimize ``c(x)`` subject to ``mean(x) - volfrac <= 0`` over
the design region (tolerance 1e-8), from the pixel model's initial design.
NLopt does not expose MMA's outer iterations, so, as Hoyer counted them, one
step is one objective evaluation; ``maxeval`` is the run's step budget plus
the initial evaluation. See :mod:`landscape.optim.density` for the variable.
"""
from __future__ import annotations

import importlib.util

import numpy as np
import torch

from .base import Optimizer, OptimizerError, Step
from .density import DensitySpace
from .external import ExternalLoop

__all__ = ["MMA"]

_RESULTS = {1: "success", 2: "stopval reached", 3: "ftol reached", 4: "xtol reached",
            5: "maxeval reached", 6: "maxtime reached", -1: "failure", -2: "invalid arguments",
            -3: "out of memory", -4: "roundoff limited", -5: "forced stop"}


class MMA(Optimizer):
    """NLopt's MMA with bounds [0, 1] and the volume inequality; one step per evaluation.

    The upper bound is 0 outside the design region. Every evaluation is reported as a step, with theta and the
    gradient in logit space (:class:`~landscape.optim.density.DensitySpace`); ``extra`` holds the mean density
    over the design region (``volume``) and the norm of ``dc/dx`` (``density_grad_norm``). When NLopt ends,
    the step reports ``max_evaluations`` (NLopt's ``maxeval`` reached) or ``completed``.

    Args:
        constraint_tol: NLopt's tolerance on the volume inequality (default 1e-8), converted to float.

    Raises:
        OptimizerError: NLopt is not installed.
    """

    name = "mma"
    pixel_only = True

    def __init__(self, constraint_tol: float = 1e-8):
        if importlib.util.find_spec("nlopt") is None:
            raise OptimizerError("optimizer 'mma' needs nlopt, which is not installed: "
                                 "pip install 'nrto-landscape[mma]' (or pip install nlopt)")
        super().__init__(constraint_tol=float(constraint_tol))
        self._loop = None

    def _start(self, theta, steps):
        self.close()
        self.space = DensitySpace(self.objective)
        self.x = self.space.from_theta(theta)
        self.maxeval = (steps + 1) if steps is not None else 100000
        self._loop = ExternalLoop(self._drive, self.name)
        return self._loop.next()[1]

    def _step(self):
        kind, value = self._loop.next()
        if kind == "item":
            return value
        theta, grad = self.space.theta_and_grad(self.x, self.grad)
        return Step(self.steps_taken, theta, self.loss, grad,
                    float(grad.norm()), evaluations=self._take_evaluations(), accepted=False,
                    status="max_evaluations" if value == 5 else "completed",
                    message=f"NLopt MMA: {_RESULTS.get(value, value)}")

    def close(self):
        """Stop NLopt's loop in its worker thread, if one is running."""
        if self._loop is not None:
            self._loop.close()
            self._loop = None

    def _drive(self, pause):
        import nlopt
        space = self.space
        mask = space.mask.numpy()
        first = [True]

        def objective(x, grad):
            x = torch.tensor(x, dtype=torch.float64)
            loss, dc = space.value_and_grad(x)
            if grad.size:
                grad[:] = dc.numpy()
            theta, dtheta = space.theta_and_grad(x, dc)
            self._note(loss, dtheta)
            step_norm = float((x - self.x).norm())
            self.x, self.loss, self.grad = x, loss, dc
            number = 0 if first[0] else self.steps_taken + 1
            pause(Step(number, theta, loss, dtheta, float(dtheta.norm()),
                       step_norm=float("nan") if first[0] else step_norm,
                       evaluations=self._take_evaluations(),
                       extra={"volume": float(x[space.mask].mean()), "density_grad_norm": float(dc.norm())}))
            first[0] = False
            return loss

        def volume(x, grad):
            if grad.size:
                grad[:] = mask / space.count
            return float(x[mask].sum()) / space.count - space.volfrac

        opt = nlopt.opt(nlopt.LD_MMA, mask.size)
        opt.set_lower_bounds(np.zeros(mask.size))
        opt.set_upper_bounds(mask.astype(np.float64))
        opt.set_min_objective(objective)
        opt.add_inequality_constraint(volume, self.options["constraint_tol"])
        opt.set_maxeval(self.maxeval)
        opt.optimize(self.x.numpy().copy())
        return opt.last_optimize_result()
