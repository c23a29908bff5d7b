"""Modified SIMP interpolation and compliance."""
from __future__ import annotations

import torch

from .assembly import E0, EMIN, fe_system
from .solve import solve

__all__ = ["young_modulus", "displacement", "compliance"]


def young_modulus(x_phys: torch.Tensor, penal: float, e0: float = E0, emin: float = EMIN) -> torch.Tensor:
    """Modified SIMP: ``E = Emin + x^p (E0 - Emin)`` (Sigmund 2007; Andreassen et al. 2011)."""
    return emin + x_phys ** penal * (e0 - emin)


def _check(system, x_phys, penal):
    if tuple(x_phys.shape[-2:]) != (system.nely, system.nelx):
        raise ValueError(f"x_phys must have shape {(system.nely, system.nelx)}, got {tuple(x_phys.shape)}")
    if not penal >= 1.0:
        raise ValueError(f"penalization must be >= 1 (1 gives the convex problem), got {penal}")


def displacement(problem, x_phys: torch.Tensor, penal: float = 3.0) -> torch.Tensor:
    """Free-dof displacements ``U = K(x)^{-1} f`` (differentiable)."""
    system = fe_system(problem)
    _check(system, x_phys, penal)
    return solve(system, young_modulus(x_phys, penal).reshape(-1), system.forces.to(x_phys.dtype))


def compliance(problem, x_phys: torch.Tensor, penal: float = 3.0) -> torch.Tensor:
    """Compliance ``c = f' U = U' K(x) U`` of the physical density ``x_phys`` (height, width).

    Exact first and higher derivatives through :class:`~landscape.physics.solve.SparseSolve`.
    """
    system = fe_system(problem)
    u = displacement(problem, x_phys, penal)
    return torch.dot(system.forces.to(u.dtype), u)
