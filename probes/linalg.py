"""Lanczos in float64 with full reorthogonalization, and extreme eigenpairs of symmetric operators.

An operator is anything with ``shape`` and ``matvec`` (``landscape.LinearOperator``:
the Hessian, the L-BFGS matrix, :class:`DenseOperator` for tests).

Lanczos (Golub and Van Loan, Matrix Computations, section 10.1): from a unit
``q_1``, ``beta_j q_{j+1} = A q_j - alpha_j q_j - beta_{j-1} q_{j-1}``, giving
``Q' A Q = T`` tridiagonal with diagonal ``alpha`` and off-diagonal ``beta``.
Each new vector is orthogonalized twice against all previous ones ("twice is
enough", Parlett), so ``Q`` stays orthonormal to rounding and no spurious
copies of converged Ritz values appear. Ritz pairs are ``(theta_i, Q s_i)``
from ``T = S diag(theta) S'``; the residual ``|A y_i - theta_i y_i|`` equals
``beta_m |s_{m,i}|``. The run stops early if ``beta_j`` vanishes (an invariant
subspace: the Ritz values are then eigenvalues); "vanishes" means below 1e-10
times the largest ``|A q_j|`` seen, because past that point the new vector is
rounding noise that reorthogonalization cannot make orthogonal.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from landscape.operators import LinearOperator

BREAKDOWN = 1e-10   # beta below this fraction of |A| ends the run

__all__ = ["DenseOperator", "Lanczos", "lanczos", "Eigenpairs", "extreme_eigenpairs", "rademacher"]


class DenseOperator(LinearOperator):
    """An explicit symmetric matrix as an operator (for tests and small problems)."""

    def __init__(self, matrix):
        self.matrix = torch.as_tensor(matrix, dtype=torch.float64)
        if self.matrix.dim() != 2 or self.matrix.shape[0] != self.matrix.shape[1]:
            raise ValueError(f"a square matrix is needed, got shape {tuple(self.matrix.shape)}")
        self.shape = tuple(self.matrix.shape)

    def matmat(self, block):
        return self.matrix @ block


def rademacher(n: int, k: int | None, generator: torch.Generator) -> torch.Tensor:
    """Random signs, shape (n,) or (n, k)."""
    shape = (n,) if k is None else (n, k)
    return torch.randint(0, 2, shape, generator=generator, dtype=torch.int8).to(torch.float64).mul_(2).sub_(1)


@dataclass(frozen=True)
class Lanczos:
    """The outcome of :func:`lanczos`: ``T``'s diagonal and off-diagonal, ``Q``, and the Ritz pairs of ``T``."""

    alpha: torch.Tensor          # (m,)
    beta: torch.Tensor           # (m,): beta[j] couples q_j and q_{j+1}; beta[-1] is the residual norm
    Q: torch.Tensor | None       # (n, m), None when not kept
    ritz_values: torch.Tensor    # (m,) ascending
    ritz_coefficients: torch.Tensor   # (m, m): eigenvectors of T, columns

    @property
    def steps(self) -> int:
        return self.alpha.numel()

    @property
    def T(self) -> torch.Tensor:
        off = self.beta[:-1]
        return torch.diag(self.alpha) + torch.diag(off, 1) + torch.diag(off, -1)

    @property
    def residuals(self) -> torch.Tensor:
        """``|A y_i - theta_i y_i|`` of every Ritz pair (from the last coefficient of each)."""
        return (self.beta[-1] * self.ritz_coefficients[-1, :]).abs()

    @property
    def quadrature_weights(self) -> torch.Tensor:
        """Squared first components of T's eigenvectors: Gauss quadrature weights for ``q_1``."""
        return self.ritz_coefficients[0, :] ** 2

    def ritz_vectors(self, which: torch.Tensor | slice | None = None) -> torch.Tensor:
        if self.Q is None:
            raise ValueError("Ritz vectors need Q: run lanczos(..., keep_basis=True)")
        coefficients = self.ritz_coefficients if which is None else self.ritz_coefficients[:, which]
        return self.Q @ coefficients


def lanczos(operator, steps: int, start: torch.Tensor | None = None, seed: int = 0,
            keep_basis: bool = True) -> Lanczos:
    """``steps`` Lanczos iterations (at most n) from ``start`` (default: random signs from ``seed``)."""
    n = operator.shape[0]
    if not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    steps = int(min(steps, n))
    if start is None:
        start = rademacher(n, None, torch.Generator().manual_seed(seed))
    q = torch.as_tensor(start, dtype=torch.float64).reshape(-1)
    if q.numel() != n:
        raise ValueError(f"start vector has {q.numel()} entries, the operator {n}")
    norm = float(q.norm())
    if norm == 0:
        raise ValueError("the start vector is zero")
    Q = torch.empty((n, steps), dtype=torch.float64)
    q = q / norm
    alphas, betas = [], []
    norm_estimate = 0.0
    for j in range(steps):
        Q[:, j] = q
        w = operator.matvec(q)
        norm_estimate = max(norm_estimate, float(w.norm()))
        alpha = float(q @ w)
        alphas.append(alpha)
        basis = Q[:, :j + 1]
        for _ in range(2):    # full reorthogonalization, twice
            w = w - basis @ (basis.T @ w)
        beta = float(w.norm())
        betas.append(beta)
        # Invariant subspace (to working precision): what is left of w is rounding noise,
        # which Gram-Schmidt can no longer make orthogonal; T's eigenvalues are exact to beta.
        if beta <= BREAKDOWN * norm_estimate:
            break
        q = w / beta
    m = len(alphas)
    alpha_t = torch.tensor(alphas, dtype=torch.float64)
    beta_t = torch.tensor(betas, dtype=torch.float64)
    off = beta_t[:-1]
    T = torch.diag(alpha_t) + torch.diag(off, 1) + torch.diag(off, -1)
    values, coefficients = torch.linalg.eigh(T)
    return Lanczos(alpha_t, beta_t, Q[:, :m] if keep_basis else None, values, coefficients)


@dataclass(frozen=True)
class Eigenpairs:
    """Extreme eigenvalues (top descending, bottom ascending), vectors and residual norms."""

    top: torch.Tensor
    bottom: torch.Tensor
    top_vectors: torch.Tensor | None
    bottom_vectors: torch.Tensor | None
    top_residuals: torch.Tensor
    bottom_residuals: torch.Tensor
    steps: int


def extreme_eigenpairs(operator, k: int = 5, steps: int = 50, seed: int = 0, vectors: bool = True,
                       explicit_residuals: bool = False) -> Eigenpairs:
    """Top-k and bottom-k eigenpairs of a symmetric operator from one Lanczos run of ``steps``.

    Residuals come from the Lanczos relation, or, with ``explicit_residuals``,
    from ``|A y - theta y|`` computed with 2k more products.

    Raises:
        ValueError: k < 1 (no eigenpair to return).
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"extreme_eigenpairs: k must be an integer >= 1, got {k!r}")
    run = lanczos(operator, steps, seed=seed, keep_basis=vectors or explicit_residuals)
    m = run.steps
    k = min(k, m)
    top_index = torch.arange(m - 1, m - 1 - k, -1)
    bottom_index = torch.arange(0, k)
    top_vectors = run.ritz_vectors(top_index) if run.Q is not None else None
    bottom_vectors = run.ritz_vectors(bottom_index) if run.Q is not None else None
    top_res, bottom_res = run.residuals[top_index], run.residuals[bottom_index]
    if explicit_residuals:
        def residual(vectors, values):
            return (operator.matmat(vectors) - vectors * values).norm(dim=0)
        top_res = residual(top_vectors, run.ritz_values[top_index])
        bottom_res = residual(bottom_vectors, run.ritz_values[bottom_index])
    return Eigenpairs(run.ritz_values[top_index], run.ritz_values[bottom_index],
                      top_vectors if vectors else None, bottom_vectors if vectors else None,
                      top_res, bottom_res, m)
