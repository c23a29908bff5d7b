"""Modified SIMP interpolation and compliance."""
from __future__ import annotations

import torch

from .assembly import E0, EMIN, fe_system
from .solve import solve

__all__ = ["young_modulus", "displacement", "compliance"]


def young_modulus(x_phys: torch.Tensor, penal: float, e0: float = E0, emin: float = EMIN) -> torch.Tensor:
    """Modified SIMP: ``E = Emin + x^p (E0 - Emin)`` (Sigmund 2007; Andreassen et al. 2011).

    Args:
        x_phys: physical densities in [0, 1], any shape.
        penal: the penalization ``p`` (1 gives the convex problem; the thesis uses 1 and 3).
        e0: the modulus of solid material (default 1).
        emin: the modulus of void, which keeps ``K`` non-singular (default 1e-9).

    Returns:
        The moduli, the shape of ``x_phys``.
    """
    return emin + x_phys ** penal * (e0 - emin)


def _check(system, x_phys, penal):
    if tuple(x_phys.shape[-2:]) != (system.nely, system.nelx):
        raise ValueError(f"x_phys must have shape {(system.nely, system.nelx)}, got {tuple(x_phys.shape)}")
    if not penal >= 1.0:
        raise ValueError(f"penalization must be >= 1 (1 gives the convex problem), got {penal}")


def displacement(problem, x_phys: torch.Tensor, penal: float = 3.0) -> torch.Tensor:
    """Free-dof displacements ``U = K(x)^{-1} f`` (differentiable to any order).

    Args:
        problem: the :class:`~landscape.problems.Problem`.
        x_phys: the physical densities, shape ``(height, width)`` (a leading batch dimension is allowed
            under ``torch.func.vmap``).
        penal: the SIMP penalization ``p >= 1`` (default 3).

    Returns:
        The displacements of the free dofs, shape ``(num_free,)``.

    Raises:
        ValueError: ``x_phys`` of the wrong shape, or ``penal < 1``.
        SingularStiffnessError: the stiffness matrix cannot be factored (see
            :func:`~landscape.physics.solve.solve`).
    """
    system = fe_system(problem)
    _check(system, x_phys, penal)
    return solve(system, young_modulus(x_phys, penal).reshape(-1), system.forces.to(x_phys.dtype))


def compliance(problem, x_phys: torch.Tensor, penal: float = 3.0) -> torch.Tensor:
    """Compliance ``c = f' U = U' K(x) U`` of the physical density ``x_phys`` (height, width).

    Exact first and higher derivatives through :class:`~landscape.physics.solve.SparseSolve`
    (Hoyer et al. 2019 and the thesis minimize this under the volume constraint).

    Args:
        problem: the :class:`~landscape.problems.Problem`.
        x_phys: the physical densities, shape ``(height, width)``.
        penal: the SIMP penalization ``p >= 1`` (default 3).

    Returns:
        A 0-d tensor, the compliance.

    Raises:
        ValueError: ``x_phys`` of the wrong shape, or ``penal < 1``.
        SingularStiffnessError: the stiffness matrix cannot be factored (see
            :func:`~landscape.physics.solve.solve`).
    """
    system = fe_system(problem)
    u = displacement(problem, x_phys, penal)
    return torch.dot(system.forces.to(u.dtype), u)
