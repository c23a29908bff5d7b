"""Finite-element physics: Q4 elements, modified SIMP, sparse Cholesky solves, compliance.

Knows problems (boundary conditions) and densities, nothing of models,
optimizers, runs or traces.
"""
from .assembly import E0, EMIN, POISSON, FESystem, fe_system
from .compliance import compliance, displacement, young_modulus
from .element import element_stiffness
from .solve import SingularStiffnessError, SparseSolve, backend, factorization_count, solve

__all__ = ["E0", "EMIN", "POISSON", "FESystem", "fe_system", "compliance", "displacement",
           "young_modulus", "element_stiffness", "SingularStiffnessError", "SparseSolve",
           "backend", "factorization_count", "solve"]
