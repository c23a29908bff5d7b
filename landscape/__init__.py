"""A loss-landscape and optimizer diagnostics toolkit for neurally reparameterized topology optimization.

The twice-differentiable graph: parameters -> logits (:mod:`landscape.models`)
-> constrained, filtered density (:mod:`landscape.design`) -> SIMP finite
elements and compliance (:mod:`landscape.physics`), composed by
:class:`landscape.Objective`.
"""
from . import design, models, physics, problems
from .objective import HessianOperator, LinearOperator, Objective

__version__ = "0.1.0"

__all__ = ["Objective", "HessianOperator", "LinearOperator", "design", "models", "physics",
           "problems", "__version__"]
