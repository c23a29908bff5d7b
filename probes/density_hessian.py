"""The Hessian of the compliance with respect to the physical densities (thesis appendix B.3).

With ``x`` the density that enters the modified SIMP model (the output of the
constrained sigmoid, mask and cone filter), ``c(x) = f' K(x)^{-1} f``. For
``p = 1`` the stiffness ``K(x)`` is affine in ``x`` and ``c`` is convex
(a matrix-fractional function), so this Hessian is positive semi-definite;
the thesis confirmed it with the eigenvalue density of Figure B.1. With
``before_filter=True`` the variable is the density before the (linear) cone
filter instead, which keeps convexity.

The operator acts on the design-region elements only (flattened in row-major
order); products are exact forward-over-reverse Hessian-vector products.
"""
from __future__ import annotations

import numpy as np
import torch

from landscape.operators import LinearOperator, hessian_vector_products

__all__ = ["DensityHessian", "density_hessian"]


class DensityHessian(LinearOperator):
    """Hessian of ``x -> compliance(x)`` at the design of ``theta`` (design-region elements)."""

    def __init__(self, objective, theta, before_filter: bool = False):
        problem = objective.problem
        self.objective, self.problem = objective, problem
        self.mask = torch.as_tensor(np.asarray(problem.design_mask))
        self.index = torch.as_tensor(np.flatnonzero(problem.design_mask))
        theta = torch.as_tensor(theta, dtype=torch.float64)
        with torch.no_grad():
            unfiltered = objective.densities(theta)
            full = unfiltered if before_filter else objective.density_design(unfiltered)
        self.base = full.reshape(-1).clone()
        self.apply_filter = before_filter and objective.filter
        self.point = self.base[self.index].clone()
        n = self.index.numel()
        self.shape = (n, n)

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        full = self.base.index_put((self.index,), x).reshape(self.problem.shape)
        return self.objective.density_loss(full, apply_filter=self.apply_filter)

    def matmat(self, block):
        return hessian_vector_products(self.loss, self.point, torch.as_tensor(block, dtype=torch.float64))


def density_hessian(objective, theta=None, before_filter: bool = False) -> DensityHessian:
    """The density-space Hessian at ``theta`` (default ``objective.theta0``)."""
    return DensityHessian(objective, objective.theta0 if theta is None else theta, before_filter)
