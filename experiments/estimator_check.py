"""The small CNN on problem A on which the thesis checks its curvature estimators against a dense Hessian
(appendix B.5, Figure B.2), shared by ``studies/fig_b2_estimator_accuracy.py`` and the tests.

Hoyer's CNN without its dense layer and with few filters: about 7,200 parameters on A itself (the thesis's
size), or about 1,600 on a coarse 8x16 A for quick checks; small enough to form and diagonalize the Hessian.
"""
from __future__ import annotations

import torch

import landscape as L

__all__ = ["QUICK", "FULL", "small_cnn"]

#: (grid of problem A, CNN options)
QUICK = ((8, 16), dict(dense=False, dense_channels=4, resizes=(1, 2, 1), conv_filters=(8, 4, 1), kernel_size=3))
FULL = ((32, 64), dict(dense=False, dense_channels=4, resizes=(2, 2, 1), conv_filters=(4, 1, 1), kernel_size=5))


def small_cnn(quick: bool = False, precision: str = "float64") -> tuple[L.Objective, torch.Tensor]:
    """``(objective, theta)``: the small CNN on A (p = 3) and a point near its initialization
    (``theta0 + 0.1 N(0, 1)``, seeded), where the Hessian is indefinite."""
    size, options = QUICK if quick else FULL
    problem = L.problems.resized("A", *size)
    model = L.models.build("cnn", problem, seed=0, **options, precision=precision)
    objective = L.Objective(problem, model, penal=3.0)
    g = torch.Generator().manual_seed(1)
    theta = objective.theta0 + 0.1 * torch.randn(objective.num_params, generator=g, dtype=torch.float64)
    return objective, theta
