"""Stiffness matrix of the bilinear (Q4) plane-stress element on a unit square."""
from __future__ import annotations

import numpy as np

# Local node order, as in the 88-line code: (column, row) offsets of
# top-left, top-right, bottom-right, bottom-left; rows grow downwards.
NODE_OFFSETS = np.array([[0, 0], [1, 0], [1, 1], [0, 1]])


def element_stiffness(young: float = 1.0, poisson: float = 0.3) -> np.ndarray:
    """The 8x8 stiffness matrix of a unit-square Q4 element, unit thickness.

    Integrated with 2x2 Gauss points, which is exact for the bilinear element:
    ``KE = int B' D B dA`` with the plane-stress material matrix
    ``D = E / (1 - nu^2) [[1, nu, 0], [nu, 1, 0], [0, 0, (1 - nu) / 2]]``.
    Dofs are ordered ``(u0, v0, u1, v1, u2, v2, u3, v3)`` over
    :data:`NODE_OFFSETS`; the result equals the closed form of Andreassen et
    al. (2011), "Efficient topology optimization in MATLAB using 88 lines of
    code", which the tests check.

    Args:
        young: the Young's modulus ``E`` (default 1; the matrix is linear in it).
        poisson: Poisson's ratio ``nu`` in (-1, 0.5) (default 0.3).

    Returns:
        The (8, 8) float64 array.

    Raises:
        ValueError: ``poisson`` outside (-1, 0.5).
    """
    if not -1.0 < poisson < 0.5:
        raise ValueError(f"Poisson's ratio must lie in (-1, 0.5), got {poisson}")
    d = young / (1 - poisson ** 2) * np.array([[1, poisson, 0],
                                               [poisson, 1, 0],
                                               [0, 0, (1 - poisson) / 2]])
    xi_nodes = NODE_OFFSETS.astype(float)
    gauss = 0.5 + np.array([-1, 1]) / (2 * np.sqrt(3))   # on [0, 1], weights 1/4 each
    ke = np.zeros((8, 8))
    for x in gauss:
        for y in gauss:
            # bilinear shape functions N_a = (1 - |x - x_a|)(1 - |y - y_a|) on the unit square
            sx = 2 * xi_nodes[:, 0] - 1   # -1 or +1
            sy = 2 * xi_nodes[:, 1] - 1
            dndx = sx * (1 - np.abs(y - xi_nodes[:, 1]))
            dndy = sy * (1 - np.abs(x - xi_nodes[:, 0]))
            b = np.zeros((3, 8))
            b[0, 0::2] = dndx
            b[1, 1::2] = dndy
            b[2, 0::2] = dndy
            b[2, 1::2] = dndx
            ke += 0.25 * b.T @ d @ b
    return ke
