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
    """An explicit symmetric matrix as an operator (for tests and small problems).

    Args:
        matrix: a square ``(n, n)`` array or tensor, converted to float64. Symmetry is assumed,
            not checked.

    Raises:
        ValueError: ``matrix`` is not 2-D and square.
    """

    def __init__(self, matrix):
        self.matrix = torch.as_tensor(matrix, dtype=torch.float64)
        if self.matrix.dim() != 2 or self.matrix.shape[0] != self.matrix.shape[1]:
            raise ValueError(f"a square matrix is needed, got shape {tuple(self.matrix.shape)}")
        self.shape = tuple(self.matrix.shape)

    def matmat(self, block):
        """``matrix @ block`` for a float64 block ``(n, k)`` (also a vector ``(n,)``)."""
        return self.matrix @ block


def rademacher(n: int, k: int | None, generator: torch.Generator) -> torch.Tensor:
    """Random signs (Rademacher vectors): entries +1 or -1 with equal probability, in float64.

    Args:
        n: the length of each vector.
        k: the number of vectors (columns), or None for a single vector.
        generator: the ``torch.Generator`` the signs are drawn from (seeded by the caller).

    Returns:
        A float64 tensor of shape ``(n,)`` when ``k`` is None, else ``(n, k)``.
    """
    shape = (n,) if k is None else (n, k)
    return torch.randint(0, 2, shape, generator=generator, dtype=torch.int8).to(torch.float64).mul_(2).sub_(1)


@dataclass(frozen=True)
class Lanczos:
    """The outcome of :func:`lanczos`: ``T``'s diagonal and off-diagonal, ``Q``, and the Ritz pairs of ``T``.

    ``m`` below is the number of iterations run (at most the ``steps`` asked for, fewer
    after a breakdown).

    Attributes:
        alpha: ``(m,)`` diagonal of ``T``, ``alpha_j = q_j' A q_j``.
        beta: ``(m,)`` norms of the orthogonalized new vectors: ``beta[j]`` couples ``q_j`` and
            ``q_{j+1}`` (the off-diagonal of ``T`` is ``beta[:-1]``), and ``beta[-1]`` is the residual
            norm of the last iteration.
        Q: the ``(n, m)`` orthonormal Lanczos basis, or None when it was not kept.
        ritz_values: ``(m,)`` eigenvalues ``theta_i`` of ``T``, ascending.
        ritz_coefficients: ``(m, m)`` eigenvectors ``s_i`` of ``T`` as columns, in the order of
            ``ritz_values``.
    """

    alpha: torch.Tensor          # (m,)
    beta: torch.Tensor           # (m,): beta[j] couples q_j and q_{j+1}; beta[-1] is the residual norm
    Q: torch.Tensor | None       # (n, m), None when not kept
    ritz_values: torch.Tensor    # (m,) ascending
    ritz_coefficients: torch.Tensor   # (m, m): eigenvectors of T, columns

    @property
    def steps(self) -> int:
        """The number of Lanczos iterations run, ``m``."""
        return self.alpha.numel()

    @property
    def T(self) -> torch.Tensor:
        """The ``(m, m)`` symmetric tridiagonal matrix ``Q' A Q`` (diagonal ``alpha``, off-diagonal ``beta[:-1]``)."""
        off = self.beta[:-1]
        return torch.diag(self.alpha) + torch.diag(off, 1) + torch.diag(off, -1)

    @property
    def residuals(self) -> torch.Tensor:
        """``|A y_i - theta_i y_i|`` of every Ritz pair, ``(m,)``: ``beta[-1] |s_{m,i}|`` (last coefficient of each)."""
        return (self.beta[-1] * self.ritz_coefficients[-1, :]).abs()

    @property
    def quadrature_weights(self) -> torch.Tensor:
        """Squared first components of T's eigenvectors: Gauss quadrature weights for ``q_1``."""
        return self.ritz_coefficients[0, :] ** 2

    def ritz_vectors(self, which: torch.Tensor | slice | None = None) -> torch.Tensor:
        """Ritz vectors ``y_i = Q s_i``, approximate eigenvectors of ``A``.

        Args:
            which: the Ritz pairs to form, as an index tensor or slice into ``ritz_values``
                (ascending order); None (default) forms all ``m``.

        Returns:
            The ``(n, len(which))`` float64 tensor of Ritz vectors as columns (unit norm to rounding).

        Raises:
            ValueError: the basis ``Q`` was not kept (``lanczos(..., keep_basis=False)``).
        """
        if self.Q is None:
            raise ValueError("Ritz vectors need Q: run lanczos(..., keep_basis=True)")
        coefficients = self.ritz_coefficients if which is None else self.ritz_coefficients[:, which]
        return self.Q @ coefficients


def lanczos(operator, steps: int, start: torch.Tensor | None = None, seed: int = 0,
            keep_basis: bool = True) -> Lanczos:
    """``steps`` Lanczos iterations (at most n) from ``start`` (default: random signs from ``seed``).

    Full reorthogonalization (twice per iteration) and the breakdown rule of the
    module docstring; the run stops early, with fewer than ``steps`` iterations,
    when ``beta_j`` falls below 1e-10 times the largest ``|A q_j|`` seen. The basis
    is held in memory during the run (``n x steps`` floats) whatever ``keep_basis``.

    Args:
        operator: a symmetric operator with ``shape`` ``(n, n)`` and ``matvec`` (e.g. a
            ``landscape.LinearOperator``); one ``matvec`` per iteration.
        steps: the number of iterations, a positive integer; capped at ``n``.
        start: the start vector (any shape with ``n`` entries, normalized here); None (default)
            draws random signs with :func:`rademacher` from ``seed``.
        seed: seed of the random start vector (default 0); unused when ``start`` is given.
        keep_basis: keep ``Q`` in the result (default True), needed for Ritz vectors.

    Returns:
        A :class:`Lanczos` with ``alpha``, ``beta``, ``Q`` (None unless ``keep_basis``) and the
        eigen-decomposition of ``T``.

    Raises:
        ValueError: ``steps`` is not a positive integer, ``start`` does not have ``n`` entries, or
            ``start`` is zero.
    """
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
    """Extreme eigenvalues (top descending, bottom ascending), vectors and residual norms.

    The outcome of :func:`extreme_eigenpairs`, with ``k`` its (capped) number of pairs.

    Attributes:
        top: ``(k,)`` largest Ritz values, descending.
        bottom: ``(k,)`` smallest Ritz values, ascending.
        top_vectors: ``(n, k)`` Ritz vectors of ``top`` as columns, or None when not asked for.
        bottom_vectors: ``(n, k)`` Ritz vectors of ``bottom`` as columns, or None.
        top_residuals: ``(k,)`` residual norms ``|A y - theta y|`` of the ``top`` pairs.
        bottom_residuals: ``(k,)`` residual norms of the ``bottom`` pairs.
        steps: the number of Lanczos iterations run.
    """

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
    from ``|A y - theta y|`` computed with 2k more products. ``k`` is capped at
    the number of iterations run; when ``2 k`` exceeds it, the top and bottom
    sets share Ritz pairs.

    Args:
        operator: a symmetric operator with ``shape``, ``matvec`` and (for ``explicit_residuals``)
            ``matmat``, such as a ``landscape.LinearOperator``.
        k: how many eigenpairs at each end, an integer >= 1 (default 5).
        steps: Lanczos iterations (default 50; at most ``n``), see :func:`lanczos`.
        seed: seed of Lanczos's random start vector (default 0).
        vectors: return the Ritz vectors (default True).
        explicit_residuals: compute the residual norms from ``|A y - theta y|`` instead of the
            Lanczos relation (default False).

    Returns:
        An :class:`Eigenpairs` (vectors None unless ``vectors``).

    Raises:
        ValueError: k < 1 or not an ``int`` (no eigenpair to return), or :func:`lanczos` refuses
            ``steps``.
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
