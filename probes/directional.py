"""Curvature along directions: the gradient-Hessian overlap and the Rayleigh quotient.

    overlap(g) = g'Hg / (|g| |Hg|)      (1: g is an eigenvector of a positive eigenvalue,
                                          near 0: the gradient sees little curvature)
    curvature(d) = d'Hd / d'd           (second derivative of the loss along d, per unit length)

The overlap is the cosine between ``g`` and ``Hg`` (Gur-Ari et al. 2018 track
how the gradient lives in the top Hessian subspace); each costs one product.
"""
from __future__ import annotations

import torch

__all__ = ["gradient_hessian_overlap", "curvature_along"]


def gradient_hessian_overlap(operator, grad: torch.Tensor, product: torch.Tensor | None = None) -> float:
    """The cosine between the gradient and its Hessian product, ``g'Hg / (|g| |Hg|)``.

    1 when ``g`` is an eigenvector of a positive eigenvalue, -1 of a negative one, near 0 when the
    gradient sees little curvature (see the module docstring; Gur-Ari et al. 2018). Costs one product.

    Args:
        operator: the Hessian (or any symmetric operator) with ``matvec``, e.g. ``objective.hessian(theta)``.
        grad: the gradient ``g`` (n,), converted to float64.
        product: ``Hg`` when the caller has it already (then no product is computed; ``operator`` may be
            None); default None.

    Returns:
        The overlap as a float in [-1, 1], or NaN when ``g`` or ``Hg`` is zero.
    """
    grad = torch.as_tensor(grad, dtype=torch.float64)
    hg = operator.matvec(grad) if product is None else torch.as_tensor(product, dtype=torch.float64)
    denominator = float(grad.norm() * hg.norm())
    return float(grad @ hg) / denominator if denominator > 0 else float("nan")


def curvature_along(operator, direction: torch.Tensor) -> float:
    """The curvature along a direction, the Rayleigh quotient ``d'Hd / d'd``.

    The second derivative of the loss along ``d`` per unit length: thesis eq. 2.12,
    ``Curv(d) = d'(Hd)``, divided by ``d'd`` so that ``d`` need not be a unit vector. Costs one product.

    Args:
        operator: the Hessian (or any symmetric operator) with ``matvec``, e.g. ``objective.hessian(theta)``.
        direction: the direction ``d`` (n,), converted to float64; any nonzero length.

    Returns:
        ``d'Hd / d'd`` as a float.

    Raises:
        ValueError: ``direction`` is zero.
    """
    direction = torch.as_tensor(direction, dtype=torch.float64)
    squared = float(direction @ direction)
    if squared == 0:
        raise ValueError("the direction is zero")
    return float(direction @ operator.matvec(direction)) / squared
