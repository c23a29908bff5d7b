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
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from .linalg import lanczos, rademacher

__all__ = ["Density", "Quadrature", "slq", "quadrature", "smooth", "kernel_width", "smoothed_density", "THESIS",
           "GHORBANI"]

_trapezoid = getattr(np, "trapezoid", None) or np.trapz   # NumPy 2 renamed it

THESIS = {"runs": 3, "steps": 50, "sigma2": 1e-4}
GHORBANI = {"runs": 10, "steps": 90, "sigma2": 1e-5}


@dataclass(frozen=True)
class Density:
    """Nodes and weights (runs, steps), the grid, the smoothed density on it, and the kernel width used.

    Built by :func:`smooth` (and so by :func:`slq`).

    Args:
        nodes: the Gauss quadrature nodes (Ritz values), ``(runs, steps)``; NaN where a Lanczos run
            ended early.
        weights: the matching quadrature weights, ``(runs, steps)``; each run's weights sum to 1 (0
            where a run ended early).
        grid: the points ``t`` the density is evaluated at, ``(G,)``.
        density: the smoothed density ``phi_sigma(t)`` on ``grid``, ``(G,)``.
        sigma: the Gaussian kernel's standard deviation, in the operator's units.
    """

    nodes: np.ndarray
    weights: np.ndarray
    grid: np.ndarray
    density: np.ndarray
    sigma: float               # kernel standard deviation in the operator's units

    def moment(self, p: int) -> float:
        """Estimate of ``(1/n) tr(H^p)`` from the quadrature (no smoothing).

        ``(1/runs) sum_r sum_j w_rj theta_rj^p``, the Gauss-quadrature estimate of ``v' H^p v`` averaged
        over the start vectors (exact per run for ``p <= 2 steps - 1``, see the module docstring);
        padded (NaN) nodes count as 0.

        Args:
            p: the power (``p = 1`` gives the mean eigenvalue, ``tr(H) / n``).

        Returns:
            The estimate as a float.
        """
        runs = self.nodes.shape[0]
        return float(np.nansum(self.weights * np.nan_to_num(self.nodes) ** p) / runs)

    def integral(self) -> float:
        """The trapezoid-rule integral of :attr:`density` over :attr:`grid` (close to 1 when the grid
        covers the spectrum)."""
        return float(_trapezoid(self.density, self.grid))

    @property
    def extremes(self) -> tuple[float, float]:
        """The smallest and largest Ritz value over all runs, ``(min, max)``, ignoring NaN padding."""
        return float(np.nanmin(self.nodes)), float(np.nanmax(self.nodes))


def _kernel(grid: np.ndarray, centers: np.ndarray, weights: np.ndarray, sigma: float) -> np.ndarray:
    z = (grid[:, None] - centers[None, :]) / sigma
    return (np.exp(-0.5 * z * z) @ weights) / (sigma * math.sqrt(2 * math.pi))


def default_grid(low: float, high: float, sigma: float, size: int = 1000) -> np.ndarray:
    """``size`` equally spaced points from ``low - 5 sigma`` to ``high + 5 sigma``.

    Args:
        low: the smallest node (eigenvalue) to cover.
        high: the largest node to cover.
        sigma: the kernel standard deviation; the grid extends five of them past each end.
        size: the number of points (default 1000).

    Returns:
        The grid as a float64 array ``(size,)``.
    """
    pad = 5 * sigma
    return np.linspace(low - pad, high + pad, size)


class Quadrature(NamedTuple):
    """Gauss quadrature rules of SLQ: ``nodes`` and ``weights``, each (runs, steps).

    Attributes:
        nodes: the Ritz values of each run (ascending), NaN where a run ended early.
        weights: the squared first components of T's eigenvectors, 0 where a run ended early.
    """

    nodes: np.ndarray
    weights: np.ndarray


def quadrature(operator, runs: int = 3, steps: int = 50, seed: int = 0) -> Quadrature:
    """Gauss quadrature nodes and weights (runs, steps) from ``runs`` Lanczos runs (NaN/0 padding if a run ends
    early).

    Each run starts :func:`probes.linalg.lanczos` (full reorthogonalization) from a Rademacher vector
    ``v_r`` (normalized there) and takes ``steps`` steps; the Ritz values ``theta_rj`` of ``T`` and the
    squared first components ``w_rj`` of its eigenvectors are the Gauss quadrature rule for
    ``v_r' f(H) v_r`` (Golub and Meurant; the ``(theta, w)`` of thesis eq. 2.14). A run stops early
    when Lanczos finds an invariant subspace. All runs draw their start vectors from one generator
    seeded with ``seed``.

    Args:
        operator: a symmetric operator with ``shape`` ``(n, n)`` and ``matvec`` (the Hessian, a
            :class:`probes.lbfgs_matrix.CompactLBFGS`, ...).
        runs: the number of random start vectors ``k`` (default 3, the thesis's).
        steps: the Lanczos steps per run ``o`` (default 50, the thesis's); capped at ``n``.
        seed: seed of the ``torch.Generator`` of the start vectors (default 0).

    Returns:
        A :class:`Quadrature` with ``nodes`` and ``weights``, each ``(runs, min(steps, n))``.

    Raises:
        ValueError: ``runs`` or ``steps`` is below 1.
    """
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
    """Kernel standard deviation for ``sigma2`` given on the spectrum [low, high] rescaled to [-1, 1].

    ``sigma = sqrt(sigma2) * (high - low) / 2``, as in Ghorbani et al. (2019), who set the width on
    the rescaled spectrum; when ``high == low`` the half-width is ``max(|high|, 1)`` instead.

    Args:
        sigma2: the kernel variance in rescaled units (the thesis uses 1e-4, Ghorbani et al. 1e-5).
        low: the smallest eigenvalue (Ritz value) found.
        high: the largest eigenvalue (Ritz value) found.

    Returns:
        The kernel standard deviation in the operator's units.

    Raises:
        ValueError: ``sigma2`` is not > 0.
    """
    if not sigma2 > 0:
        raise ValueError(f"sigma2 must be > 0, got {sigma2!r}")
    half = (high - low) / 2 or max(abs(high), 1.0)
    return math.sqrt(sigma2) * half


def smooth(nodes: np.ndarray, weights: np.ndarray, sigma: float, grid: np.ndarray | None = None,
           grid_size: int = 1000) -> Density:
    """The Gaussian-smoothed density of quadrature nodes and weights on ``grid`` (default: around the nodes).

    ``phi_sigma(t) = (1/runs) sum_r sum_j w_rj g_sigma(t - theta_rj)`` with ``g_sigma`` the normal
    density of standard deviation ``sigma`` (thesis eqs. 2.14-2.15); NaN (padding) nodes are left out.

    Args:
        nodes: the quadrature nodes, ``(runs, steps)`` (see :func:`quadrature`).
        weights: the quadrature weights, same shape.
        sigma: the kernel standard deviation, in the operator's units (see :func:`kernel_width`).
        grid: the points to evaluate the density at; None (default) takes :func:`default_grid` over
            the finite nodes' range.
        grid_size: the number of points of the default grid (default 1000); unused when ``grid`` is
            given.

    Returns:
        A :class:`Density` holding the nodes, weights, grid, density and ``sigma``.
    """
    if grid is None:
        grid = default_grid(float(np.nanmin(nodes)), float(np.nanmax(nodes)), sigma, grid_size)
    grid = np.asarray(grid, dtype=np.float64)
    keep = np.isfinite(nodes)
    density = _kernel(grid, nodes[keep], weights[keep] / nodes.shape[0], sigma)
    return Density(nodes, weights, grid, density, sigma)


def slq(operator, runs: int = 3, steps: int = 50, sigma2: float = 1e-4, grid: np.ndarray | None = None,
        grid_size: int = 1000, seed: int = 0) -> Density:
    """SLQ eigenvalue density of ``operator`` (see the module docstring for the parameters).

    Stochastic Lanczos quadrature (Ghorbani et al. 2019, after Lin, Saad and Yang 2016; thesis
    eqs. 2.13-2.15): :func:`quadrature`, then the kernel width from ``sigma2`` on the range of the
    Ritz values found (:func:`kernel_width`), then :func:`smooth`.

    Args:
        operator: a symmetric operator with ``shape`` ``(n, n)`` and ``matvec``.
        runs: the number of random start vectors ``k`` (default 3, thesis appendix B.5).
        steps: the Lanczos steps per run ``o`` (default 50, thesis appendix B.5); capped at ``n``.
        sigma2: the kernel variance on the spectrum rescaled to [-1, 1] (default 1e-4, thesis
            appendix B.5).
        grid: the points to evaluate the density at; None (default) takes :func:`default_grid`
            around the Ritz values.
        grid_size: the number of points of the default grid (default 1000), an integer >= 2 when
            ``grid`` is None; unused otherwise.
        seed: seed of the start vectors (default 0).

    Returns:
        A :class:`Density` (nodes and weights ``(runs, min(steps, n))``, grid, density, ``sigma``).

    Raises:
        ValueError: ``grid_size`` < 2 when no ``grid`` is given (a density needs at least two points);
            ``runs`` or ``steps`` below 1 (:func:`quadrature`); ``sigma2`` not > 0
            (:func:`kernel_width`).
    """
    if grid is None and (isinstance(grid_size, bool) or not isinstance(grid_size, int) or grid_size < 2):
        raise ValueError(f"slq: grid_size must be an integer >= 2, got {grid_size!r}")
    nodes, weights = quadrature(operator, runs, steps, seed)
    sigma = kernel_width(sigma2, float(np.nanmin(nodes)), float(np.nanmax(nodes)))
    return smooth(nodes, weights, sigma, grid, grid_size)


def smoothed_density(eigenvalues, grid: np.ndarray, sigma: float) -> np.ndarray:
    """The exact spectral density convolved with the same Gaussian kernel (for checking SLQ).

    ``phi_sigma(t) = (1/n) sum_i g_sigma(t - lambda_i)`` (thesis eq. 2.13).

    Args:
        eigenvalues: all ``n`` eigenvalues ``lambda_i`` of the operator (array-like).
        grid: the points ``t`` to evaluate at, ``(G,)``.
        sigma: the kernel standard deviation, in the operator's units.

    Returns:
        The density on ``grid``, a float64 array ``(G,)``.
    """
    eigenvalues = np.asarray(eigenvalues, dtype=np.float64)
    return _kernel(np.asarray(grid, dtype=np.float64), eigenvalues,
                   np.full(eigenvalues.size, 1.0 / eigenvalues.size), sigma)
