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
    """Hessian of ``x -> compliance(x)`` at the design of ``theta`` (design-region elements).

    The operator of thesis appendix B.3 (see the module docstring). At construction the full
    density field of ``theta`` is computed once without gradients: the constrained sigmoid of the
    logits (:meth:`landscape.Objective.densities`), then, unless ``before_filter``, the objective's
    filter (:meth:`landscape.Objective.density_design`). The variable ``x`` is that field on the
    design-region elements (row-major order); elements outside the design region stay fixed.
    Products are exact forward-over-reverse Hessian-vector products
    (:func:`landscape.operators.hessian_vector_products`) of :meth:`loss`.

    Args:
        objective: a :class:`landscape.Objective` (it needs ``problem``, ``densities``,
            ``density_design``, ``density_loss`` and ``filter``).
        theta: the parameter vector whose design is the expansion point, converted to float64.
        before_filter: False (default): ``x`` is the density after the objective's cone filter (if
            it filters), the one that enters the SIMP model. True: ``x`` is the density before the
            filter, and the filter is applied inside :meth:`loss` (when the objective filters).

    Attributes:
        objective: the objective.
        problem: ``objective.problem``.
        mask: the problem's design mask as a tensor.
        index: the flat (row-major) indices of the design-region elements.
        base: the full density field at ``theta``, flattened.
        apply_filter: whether :meth:`loss` passes its densities through the objective's filter.
        point: ``base`` on the design region, the point the Hessian is taken at, ``(n,)``.
        shape: ``(n, n)`` with ``n`` the number of design-region elements.
    """

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
        """The differentiable compliance with the design-region densities set to ``x``.

        Args:
            x: the densities of the design-region elements, a float64 tensor ``(n,)`` in the order of
                :attr:`index`; the other elements keep their values from :attr:`base`.

        Returns:
            The compliance as a 0-d tensor (:meth:`landscape.Objective.density_loss`, filtered when
            :attr:`apply_filter` is set).
        """
        full = self.base.index_put((self.index,), x).reshape(self.problem.shape)
        return self.objective.density_loss(full, apply_filter=self.apply_filter)

    def matmat(self, block):
        """Exact Hessian products ``H block`` at :attr:`point`.

        Args:
            block: an ``(n, k)`` block of vectors as columns (or one vector ``(n,)``), converted to
                float64.

        Returns:
            The float64 tensor ``H block``, of the same shape as ``block``.
        """
        return hessian_vector_products(self.loss, self.point, torch.as_tensor(block, dtype=torch.float64))


def density_hessian(objective, theta=None, before_filter: bool = False) -> DensityHessian:
    """The density-space Hessian at ``theta`` (default ``objective.theta0``).

    Args:
        objective: a :class:`landscape.Objective`, see :class:`DensityHessian`.
        theta: the parameter vector whose design is the expansion point; None (default) takes
            ``objective.theta0``.
        before_filter: take the Hessian with respect to the densities before the cone filter instead
            of after it (default False), see :class:`DensityHessian`.

    Returns:
        The :class:`DensityHessian` operator, ``(n, n)`` over the design-region elements.
    """
    return DensityHessian(objective, objective.theta0 if theta is None else theta, before_filter)
