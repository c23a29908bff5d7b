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
    """Compliance of a pixel objective's problem as a function of its densities ``x`` (flat, h*w).

    The space OC and MMA work in (see the module docstring): values and gradients with respect to ``x``,
    and the way back to logits ``theta`` for reporting.

    Args:
        objective: the :class:`~landscape.Objective` of a pixel model; its problem, ``penal`` and
            ``filter`` define the compliance.

    Attributes:
        mask: the design region, a flat boolean tensor of shape (h*w,).
        count: the number of elements in the design region.
        volfrac: the problem's volume fraction.
    """

    def __init__(self, objective):
        self.objective = objective
        self.problem = objective.problem
        self.penal = objective.penal
        self.filter = objective.filter
        self.mask = torch.as_tensor(np.asarray(self.problem.design_mask).ravel())
        self.count = int(self.mask.sum())
        self.volfrac = float(self.problem.volfrac)

    def from_theta(self, theta: torch.Tensor) -> torch.Tensor:
        """Densities of the constrained sigmoid of the logits ``theta`` (before the filter).

        Args:
            theta: the pixel model's logits, shape (h*w,).

        Returns:
            The densities, flat, shape (h*w,), without gradient tracking.
        """
        with torch.no_grad():
            return self.objective.densities(theta).reshape(-1)

    def to_theta(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``theta = log(x) - log(1 - x)`` of the densities ``x``, 0 outside the design region.

        ``x`` is clipped to ``[1e-12, 1 - 1e-12]`` first, so saturated densities give finite logits.

        Args:
            x: flat densities, shape (h*w,).

        Returns:
            The logits, shape (h*w,).
        """
        x = x.clamp(_CLIP, 1 - _CLIP)
        return torch.where(self.mask, torch.log(x) - torch.log1p(-x), 0.0)

    def value_and_grad(self, x: torch.Tensor) -> tuple[float, torch.Tensor]:
        """Compliance at the densities ``x`` and its gradient ``dc/dx``.

        The compliance is :meth:`~landscape.Objective.density_loss`: ``x`` filtered as the objective
        filters, with no volume constraint applied, and SIMP penalization ``penal``.

        Args:
            x: flat densities, shape (h*w,).

        Returns:
            ``(c, dc/dx)``: the compliance as a float and its gradient, shape (h*w,).
        """
        x = x.detach().clone().requires_grad_(True)
        value = self.objective.density_loss(x.reshape(self.problem.shape))
        (grad,) = torch.autograd.grad(value, x)
        return float(value.detach()), grad

    def theta_and_grad(self, x: torch.Tensor, grad_x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``theta = logit(x)`` and the compliance gradient in theta space (see the module docstring).

        The gradient is the vector-Jacobian product ``J' grad_x`` with ``J`` the Jacobian of the
        constrained sigmoid at ``theta``; no extra solve.

        Args:
            x: flat densities, shape (h*w,).
            grad_x: the compliance gradient with respect to ``x`` (from :meth:`value_and_grad`), shape (h*w,).

        Returns:
            ``(theta, dc/dtheta)``, both of shape (h*w,).
        """
        theta = self.to_theta(x).detach().requires_grad_(True)
        density = self.objective.densities(theta).reshape(-1)
        (grad,) = torch.autograd.grad(density, theta, grad_x)
        return theta.detach(), grad

    def design(self, x: torch.Tensor) -> torch.Tensor:
        """The physical density of the densities ``x``: filtered as the objective filters, no volume constraint.

        Args:
            x: flat densities, shape (h*w,).

        Returns:
            The physical density, shape (h, w).
        """
        with torch.no_grad():
            return self.objective.density_design(x.reshape(self.problem.shape))
