"""Stochastic Lanczos quadrature (SLQ): the eigenvalue density of a symmetric operator.

Ghorbani, Krishnan and Xiao (2019), after Lin, Saad and Yang (2016). The
spectral density ``phi(t) = (1/n) sum_i delta(t - lambda_i)`` is smoothed with
a Gaussian kernel ``g_sigma`` and estimated as

    phi_sigma(t) ~ (1/k) sum_{runs r} sum_{j=1..o} w_rj g_sigma(t - theta_rj)

where each run starts Lanczos from a random unit vector ``v_r``, takes ``o``
steps, and ``(theta_rj, w_rj)`` are the Gauss quadrature nodes (Ritz values)
and weights (squared first components of T's eigenvectors) for ``v_r' f(H)
v_r``. Weights of a run sum to 1, so the density integrates to 1; its moments
``sum w theta^p`` are exact for ``p <= 2o - 1`` up to the Monte-Carlo error of
the ``k`` start vectors.

As in Ghorbani et al., the kernel width is set on the spectrum rescaled to
[-1, 1] (by the extreme Ritz values found): ``sigma^2`` is in those units, so
the same value suits operators of any scale. Settings:

* thesis (appendix B.5): ``runs=3, steps=50, sigma2=1e-4`` (the defaults here)
* Ghorbani et al.: ``runs=10, steps=90, sigma2=1e-5``
"""
from __future__ import annotations

import math
from typing import NamedTuple
from dataclasses import dataclass

import numpy as np
import torch

from .linalg import lanczos, rademacher

__all__ = ["Density", "Quadrature", "slq", "quadrature", "smooth", "kernel_width", "smoothed_density", "THESIS", "GHORBANI"]

_trapezoid = getattr(np, "trapezoid", None) or np.trapz   # NumPy 2 renamed it

THESIS = {"runs": 3, "steps": 50, "sigma2": 1e-4}
GHORBANI = {"runs": 10, "steps": 90, "sigma2": 1e-5}


@dataclass(frozen=True)
class Density:
    """Nodes and weights (runs, steps), the grid, the smoothed density on it, and the kernel width used."""

    nodes: np.ndarray
    weights: np.ndarray
    grid: np.ndarray
    density: np.ndarray
    sigma: float               # kernel standard deviation in the operator's units

    def moment(self, p: int) -> float:
        """Estimate of ``(1/n) tr(H^p)`` from the quadrature (no smoothing)."""
        runs = self.nodes.shape[0]
        return float(np.nansum(self.weights * np.nan_to_num(self.nodes) ** p) / runs)

    def integral(self) -> float:
        return float(_trapezoid(self.density, self.grid))

    @property
    def extremes(self) -> tuple[float, float]:
        return float(np.nanmin(self.nodes)), float(np.nanmax(self.nodes))


def _kernel(grid: np.ndarray, centers: np.ndarray, weights: np.ndarray, sigma: float) -> np.ndarray:
    z = (grid[:, None] - centers[None, :]) / sigma
    return (np.exp(-0.5 * z * z) @ weights) / (sigma * math.sqrt(2 * math.pi))


def default_grid(low: float, high: float, sigma: float, size: int = 1000) -> np.ndarray:
    pad = 5 * sigma
    return np.linspace(low - pad, high + pad, size)


class Quadrature(NamedTuple):
    """Gauss quadrature rules of SLQ: ``nodes`` and ``weights``, each (runs, steps)."""

    nodes: np.ndarray
    weights: np.ndarray


def quadrature(operator, runs: int = 3, steps: int = 50, seed: int = 0) -> Quadrature:
    """Gauss quadrature nodes and weights (runs, steps) from ``runs`` Lanczos runs (NaN/0 padding if a run ends early)."""
    if runs < 1 or steps < 1:
        raise ValueError(f"runs and steps must be positive, got runs={runs}, steps={steps}")
    n = operator.shape[0]
    generator = torch.Generator().manual_seed(seed)
    width = min(steps, n)
    nodes = np.full((runs, width), np.nan)
    weights = np.zeros((runs, width))
    for r in range(runs):
        run = lanczos(operator, steps, start=rademacher(n, None, generator), keep_basis=False)
        m = run.steps
        nodes[r, :m] = run.ritz_values.numpy()
        weights[r, :m] = run.quadrature_weights.numpy()
    return Quadrature(nodes, weights)


def kernel_width(sigma2: float, low: float, high: float) -> float:
    """Kernel standard deviation for ``sigma2`` given on the spectrum [low, high] rescaled to [-1, 1]."""
    if not sigma2 > 0:
        raise ValueError(f"sigma2 must be > 0, got {sigma2!r}")
    half = (high - low) / 2 or max(abs(high), 1.0)
    return math.sqrt(sigma2) * half


def smooth(nodes: np.ndarray, weights: np.ndarray, sigma: float, grid: np.ndarray | None = None,
           grid_size: int = 1000) -> Density:
    """The Gaussian-smoothed density of quadrature nodes and weights on ``grid`` (default: around the nodes)."""
    if grid is None:
        grid = default_grid(float(np.nanmin(nodes)), float(np.nanmax(nodes)), sigma, grid_size)
    grid = np.asarray(grid, dtype=np.float64)
    keep = np.isfinite(nodes)
    density = _kernel(grid, nodes[keep], weights[keep] / nodes.shape[0], sigma)
    return Density(nodes, weights, grid, density, sigma)


def slq(operator, runs: int = 3, steps: int = 50, sigma2: float = 1e-4, grid: np.ndarray | None = None,
        grid_size: int = 1000, seed: int = 0) -> Density:
    """SLQ eigenvalue density of ``operator`` (see the module docstring for the parameters).

    Raises:
        ValueError: ``grid_size`` < 2 when no ``grid`` is given (a density needs at least two points).
    """
    if grid is None and (isinstance(grid_size, bool) or not isinstance(grid_size, int) or grid_size < 2):
        raise ValueError(f"slq: grid_size must be an integer >= 2, got {grid_size!r}")
    nodes, weights = quadrature(operator, runs, steps, seed)
    sigma = kernel_width(sigma2, float(np.nanmin(nodes)), float(np.nanmax(nodes)))
    return smooth(nodes, weights, sigma, grid, grid_size)


def smoothed_density(eigenvalues, grid: np.ndarray, sigma: float) -> np.ndarray:
    """The exact spectral density convolved with the same Gaussian kernel (for checking SLQ)."""
    eigenvalues = np.asarray(eigenvalues, dtype=np.float64)
    return _kernel(np.asarray(grid, dtype=np.float64), eigenvalues,
                   np.full(eigenvalues.size, 1.0 / eigenvalues.size), sigma)
