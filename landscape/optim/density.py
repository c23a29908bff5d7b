"""Pixel densities as the design variable, for the baselines that work on them (OC, MMA).

Hoyer et al.'s pixel baselines optimize the densities ``x`` in ``[0, 1]``
directly, not logits: ``c(x) = compliance(cone_filter(x))`` subject to the
volume constraint, which OC meets exactly and MMA as an inequality. Here the
constraint is on the mean of ``x`` over the design region, the same constraint
the constrained sigmoid of :class:`~landscape.Objective` meets, so all
optimizers of a pixel problem solve one and the same problem. (Hoyer's code
constrains the mean of the *filtered* density instead; the two differ only
near the boundary, where the normalized filter does not preserve the mean.)

Iterates are reported to the run as logits ``theta = logit(x)`` (clipped to
``[1e-12, 1 - 1e-12]``), whose constrained sigmoid gives back ``x`` up to that
clipping, so probes and ``objective.loss(theta)`` see the same design. The
gradient reported with them is in the same space: ``dc/dtheta = J' dc/dx`` with
``J`` the Jacobian of the constrained sigmoid at ``theta`` (a vector-Jacobian
product, no extra solve), so anything that combines ``theta`` and ``grad`` (the
overlap and trajectory probes, gradient norms) sees one space. ``dc/dx`` stays
the optimizers' own business. (Where MMA's volume constraint is not active, the
constrained sigmoid rescales ``x`` and the two spaces describe slightly different
designs; both are exact for their own point.)
"""
from __future__ import annotations

import numpy as np
import torch


__all__ = ["DensitySpace"]

_CLIP = 1e-12


class DensitySpace:
    """Compliance of a pixel objective's problem as a function of its densities ``x`` (flat, h*w)."""

    def __init__(self, objective):
        self.objective = objective
        self.problem = objective.problem
        self.penal = objective.penal
        self.filter = objective.filter
        self.mask = torch.as_tensor(np.asarray(self.problem.design_mask).ravel())
        self.count = int(self.mask.sum())
        self.volfrac = float(self.problem.volfrac)

    def from_theta(self, theta: torch.Tensor) -> torch.Tensor:
        """Densities of the constrained sigmoid of the logits ``theta`` (before the filter)."""
        with torch.no_grad():
            return self.objective.densities(theta).reshape(-1)

    def to_theta(self, x: torch.Tensor) -> torch.Tensor:
        x = x.clamp(_CLIP, 1 - _CLIP)
        return torch.where(self.mask, torch.log(x) - torch.log1p(-x), 0.0)

    def value_and_grad(self, x: torch.Tensor) -> tuple[float, torch.Tensor]:
        x = x.detach().clone().requires_grad_(True)
        value = self.objective.density_loss(x.reshape(self.problem.shape))
        (grad,) = torch.autograd.grad(value, x)
        return float(value.detach()), grad

    def theta_and_grad(self, x: torch.Tensor, grad_x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``theta = logit(x)`` and the compliance gradient in theta space (see the module docstring)."""
        theta = self.to_theta(x).detach().requires_grad_(True)
        density = self.objective.densities(theta).reshape(-1)
        (grad,) = torch.autograd.grad(density, theta, grad_x)
        return theta.detach(), grad

    def design(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.objective.density_design(x.reshape(self.problem.shape))
