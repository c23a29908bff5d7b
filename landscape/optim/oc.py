"""Optimality criteria (OC), the update of the 88-line code (Andreassen et al. 2011), pixel only.

From densities ``x`` with compliance gradient ``dc``:

    x+ = clip(x * (max(-dc, 0) / lambda)^eta,  max(0, x - move),  min(1, x + move))

with ``eta = 1/2``, ``move = 0.2``, and the Lagrange multiplier ``lambda`` found
by root finding (Brent's method on ``log lambda``) so that the mean of ``x+``
over the design region equals the volume fraction. One step is one update and
one evaluation. See :mod:`landscape.optim.density` for the design variable.
"""
from __future__ import annotations

import math

import scipy.optimize
import torch

from .base import Optimizer, Step, check_positive
from .density import DensitySpace

__all__ = ["OC", "oc_update"]


def oc_update(x, dc, mask, volfrac, move=0.2, eta=0.5) -> torch.Tensor:
    """One OC update of the densities ``x`` (flat) with the multiplier meeting the volume exactly.

    ``x+ = clip(x * (max(-dc, 0) / lambda)^eta, max(0, x - move), min(1, x + move))`` inside the design region
    and 0 outside it, with ``log lambda`` found by Brent's method in [-200, 200] so that the mean of ``x+``
    over the design region equals ``volfrac`` (the update of Andreassen et al. 2011). When no multiplier in
    that range meets it, the upper limits (the volume cannot be reached) or the lower limits (it cannot be
    kept below) are returned.

    Args:
        x: the current densities, flat, shape (h*w,).
        dc: the compliance gradient ``dc/dx``, the shape of ``x``.
        mask: the design region, a boolean tensor the shape of ``x``.
        volfrac: the target mean density over the design region.
        move: the move limit, the largest change of a density in one update (default 0.2).
        eta: the damping exponent (default 0.5).

    Returns:
        The updated densities, the shape of ``x``.
    """
    lower = torch.where(mask, (x - move).clamp(min=0.0), 0.0)
    upper = torch.where(mask, (x + move).clamp(max=1.0), 0.0)
    push = x * dc.neg().clamp(min=0.0) ** eta
    count = float(mask.sum())

    def candidate(log_lambda):
        return torch.minimum(torch.maximum(push * math.exp(-eta * log_lambda), lower), upper)

    def excess(log_lambda):
        return float(candidate(log_lambda)[mask].sum()) / count - volfrac

    low, high = -200.0, 200.0
    if excess(low) <= 0:      # even the largest allowed densities stay below the volume
        return upper
    if excess(high) >= 0:     # even the smallest allowed densities exceed it
        return lower
    log_lambda = scipy.optimize.brentq(excess, low, high, xtol=1e-14, rtol=1e-15, maxiter=500)
    return candidate(log_lambda)


class OC(Optimizer):
    """Optimality criteria with move limit ``move`` (0.2) and damping ``eta`` (0.5); pixel models only.

    Each step is one :func:`oc_update` of the densities and one evaluation; theta and the gradient are
    reported in logit space (:class:`~landscape.optim.density.DensitySpace`), and ``extra`` holds the mean
    density over the design region (``volume``) and the norm of ``dc/dx`` (``density_grad_norm``). OC has no
    stopping test of its own: it steps until the run's budget ends.

    Args:
        move: the move limit, a finite number > 0 (default 0.2).
        eta: the damping exponent, a finite number > 0 (default 0.5).

    Raises:
        OptimizerError: ``move`` or ``eta`` not a finite number > 0.
    """

    name = "oc"
    pixel_only = True

    def __init__(self, move: float = 0.2, eta: float = 0.5):
        move = check_positive(self.name, "move", move)
        eta = check_positive(self.name, "eta", eta)
        super().__init__(move=move, eta=eta)

    def _start(self, theta, steps):
        self.space = DensitySpace(self.objective)
        self.x = self.space.from_theta(theta)
        self.loss, self.grad = self.space.value_and_grad(self.x)
        theta, grad = self.space.theta_and_grad(self.x, self.grad)
        self._note(self.loss, grad)
        return Step(0, theta, self.loss, grad, float(grad.norm()), evaluations=self._take_evaluations())

    def _step(self):
        space = self.space
        x = oc_update(self.x, self.grad, space.mask, space.volfrac, self.options["move"], self.options["eta"])
        step_norm = float((x - self.x).norm())
        self.x = x
        self.loss, self.grad = space.value_and_grad(x)
        theta, grad = space.theta_and_grad(x, self.grad)
        self._note(self.loss, grad)
        return Step(self.steps_taken + 1, theta, self.loss, grad, float(grad.norm()),
                    step_norm=step_norm, evaluations=self._take_evaluations(),
                    extra={"volume": float(x[space.mask].mean()), "density_grad_norm": float(self.grad.norm())})
