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


def gradient_hessian_overlap(operator, grad: torch.Tensor) -> float:
    grad = torch.as_tensor(grad, dtype=torch.float64)
    hg = operator.matvec(grad)
    denominator = float(grad.norm() * hg.norm())
    return float(grad @ hg) / denominator if denominator > 0 else float("nan")


def curvature_along(operator, direction: torch.Tensor) -> float:
    direction = torch.as_tensor(direction, dtype=torch.float64)
    squared = float(direction @ direction)
    if squared == 0:
        raise ValueError("the direction is zero")
    return float(direction @ operator.matvec(direction)) / squared
