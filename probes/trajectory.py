"""Trajectories: PCA of the iterates, and the metrics that explain how an optimizer moves.

PCA (Li et al. 2018): the rows ``theta_k - theta_final`` of the iterates,
their principal directions and explained variance ratios, computed from the
``k x k`` Gram matrix (so ``n`` may be millions). Thesis section 4.1 notes that
two components seem to explain ~100 % only because late steps are large;
:func:`explained_variance_by_prefix` recomputes the ratio for every prefix of
the trajectory (each prefix centred at its own last point), from one Gram
matrix of the iterates: ``(x_i - x_j)'(x_l - x_j) = G_il - G_ij - G_jl + G_jj``.

To test that mechanism, everything also works from the ``k x k`` Gram matrix
alone (:func:`iterate_gram`, so a run can keep it instead of ``k`` snapshots of
``n`` parameters): PCA of any window of the trajectory
(:func:`explained_variance_from_gram`), and of the *equalized* trajectory, whose
every step is rescaled to unit length (:func:`equalized_gram`): if the
iterates' two-dimensionality comes from a few large late steps, it disappears
there. The null model for both is a walk whose steps are mutually orthogonal
(:func:`orthogonal_walk_gram`: what random directions in ``n >> k`` dimensions
give): even it looks low-dimensional to PCA (Antognini and Sohl-Dickstein 2018),
so a trajectory's ratio means something only next to its walk's.

Metrics per iterate (thesis Figure 3.9, appendix A.2.1):

* distance from the initialization ``|theta_k - theta_0|`` and the gradient norm;
* cosine of successive gradients ``g_{k-1}'g_k / (|g_{k-1}| |g_k|)``;
* the gradient projected on the direction to the final point,
  ``-g_k'(theta_T - theta_k) / |theta_T - theta_k|`` (positive: descent points at the end);
* the star-convexity residual (Zhou et al. 2019) ``L(theta_k) - L(theta_T) + (theta_T - theta_k)'g_k``,
  negative wherever the path is star-convex towards ``theta_T``;
* step sizes ``|theta_{k+1} - theta_k|``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .base import Probe

__all__ = ["PCA", "trajectory_pca", "explained_variance_by_prefix", "iterate_gram", "explained_variance_from_gram",
           "equalized_gram", "step_lengths", "orthogonal_walk_gram", "TrajectoryMetrics", "trajectory_metrics",
           "TrajectoryProbe"]


@dataclass(frozen=True)
class PCA:
    """The principal directions of a trajectory, from :func:`trajectory_pca`.

    Attributes:
        components: ``(r, n)`` principal directions as unit rows, ``r <= components`` asked for
            (fewer when the centred iterates span fewer dimensions).
        singular_values: ``(r,)`` eigenvalues of the Gram matrix of the centred iterates, i.e. the
            squared singular values (unnormalized variances), descending.
        explained_variance_ratio: each direction's share of the total, for the first ``components``
            directions (or all of them if there are fewer iterates).
    """

    components: np.ndarray               # (r, n) unit rows
    singular_values: np.ndarray          # (r,) variances (eigenvalues of the Gram matrix)
    explained_variance_ratio: np.ndarray  # (r,)


def _gram(X: np.ndarray) -> np.ndarray:
    return X @ X.T


def trajectory_pca(thetas, final=None, components: int = 2) -> PCA:
    """PCA of ``thetas - final`` (rows are iterates; ``final`` defaults to the last row).

    The iterates are centred at the final point, not at their mean (Li et al. 2018).
    The eigen-decomposition is of the ``k x k`` Gram matrix, so ``n`` may be large;
    directions with eigenvalue at or below ``1e-14`` times the total are dropped
    (at least one is kept).

    Args:
        thetas: ``(k, n)`` iterates, one per row.
        final: the ``(n,)`` point to centre at; None (default) uses ``thetas[-1]``.
        components: how many principal directions to return (default 2).

    Returns:
        A :class:`PCA`.
    """
    X = np.asarray(thetas, dtype=np.float64)
    final = X[-1] if final is None else np.asarray(final, dtype=np.float64).reshape(-1)
    M = X - final
    values, vectors = np.linalg.eigh(_gram(M))
    order = np.argsort(values)[::-1]
    values, vectors = np.maximum(values[order], 0), vectors[:, order]
    total = values.sum()
    r = min(components, int((values > 1e-14 * max(total, 1e-300)).sum()) or 1)
    comps = (vectors[:, :r].T @ M) / np.sqrt(np.maximum(values[:r], 1e-300))[:, None]
    ratio = values / total if total > 0 else np.zeros_like(values)
    return PCA(comps, values[:r], ratio[:max(r, components)])


def explained_variance_by_prefix(thetas=None, components: int = 2, gram=None) -> np.ndarray:
    """Explained variance ratio of the top ``components`` for every prefix ``thetas[:j+1]``, j >= 1.

    Row ``j - 1`` holds the ratios for the prefix ending at iterate ``j``, centred at that iterate.
    All prefixes come from one Gram matrix of the iterates (see the module docstring).

    Args:
        thetas: ``(k, n)`` iterates, one per row (or None with ``gram``).
        components: how many leading ratios to return per prefix (default 2).
        gram: the ``(k, k)`` :func:`iterate_gram` of the iterates, instead of ``thetas``.

    Returns:
        A ``(k - 1, components)`` array; NaN where a prefix has fewer than ``components`` iterates
        or all its iterates coincide.
    """
    G = iterate_gram(thetas) if gram is None else np.asarray(gram, dtype=np.float64)
    out = np.full((G.shape[0] - 1, components), np.nan)
    for j in range(1, G.shape[0]):
        ratios = explained_variance_from_gram(G[:j + 1, :j + 1], components)
        out[j - 1, :ratios.size] = ratios
    return out


def iterate_gram(thetas) -> np.ndarray:
    """The Gram matrix ``G_ij = (theta_i - theta_0)'(theta_j - theta_0)`` of a trajectory.

    Taken relative to the first iterate, so that a small move of a large parameter vector keeps its
    digits; every centring below is invariant to that shift.

    Args:
        thetas: ``(k, n)`` iterates, one per row.

    Returns:
        The ``(k, k)`` float64 Gram matrix.
    """
    X = np.asarray(thetas, dtype=np.float64)
    X = X - X[0]
    return _gram(X)


def explained_variance_from_gram(gram, components: int = 2, center: int = -1) -> np.ndarray:
    """The explained variance ratios of the top ``components`` of a trajectory given by its Gram matrix.

    The iterates are centred at iterate ``center`` (default the last, as :func:`trajectory_pca`):
    ``C = G - G[:, c] - G[c, :] + G[c, c]``, whose eigenvalues are the squared singular values of the centred
    iterates. A window of a trajectory is the matching sub-matrix ``gram[a:b, a:b]``.

    Args:
        gram: ``(k, k)`` Gram matrix of the iterates (any common origin, e.g. :func:`iterate_gram`).
        components: how many leading ratios (default 2).
        center: the index of the iterate to centre at (default -1, the last).

    Returns:
        Up to ``components`` ratios (fewer when there are fewer iterates); NaN when every iterate coincides.
    """
    G = np.asarray(gram, dtype=np.float64)
    c = center % G.shape[0]
    centred = G - G[:, [c]] - G[[c], :] + G[c, c]
    values = np.sort(np.maximum(np.linalg.eigvalsh(centred), 0))[::-1][:components]
    total = float(np.trace(centred))
    return values / total if total > 0 else np.full(values.size, np.nan)


def equalized_gram(gram) -> np.ndarray:
    """The Gram matrix of the trajectory with every step rescaled to unit length.

    From the iterates' Gram ``G``, the steps' Gram is ``S_ij = G_{i+1,j+1} - G_{i+1,j} - G_{i,j+1} + G_{i,j}``;
    the unit steps have ``S_ij / sqrt(S_ii S_jj)`` (a step of length zero stays zero), and the equalized
    iterates ``p_k = sum_{j<k} s_j / |s_j|`` have the Gram ``L S' L'`` with ``L`` the ``k x (k-1)``
    lower-triangular matrix of ones (``L_kj = 1`` for ``j < k``). Same directions, equal lengths: what is
    left of a low-dimensional PCA there is the path's shape, not its step sizes.

    Args:
        gram: ``(k, k)`` Gram matrix of the iterates.

    Returns:
        The ``(k, k)`` Gram matrix of the equalized iterates (origin at the first).
    """
    G = np.asarray(gram, dtype=np.float64)
    S = G[1:, 1:] - G[1:, :-1] - G[:-1, 1:] + G[:-1, :-1]
    norms = np.sqrt(np.maximum(np.diag(S), 0))
    inverse = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    unit = S * inverse[:, None] * inverse[None, :]
    k = G.shape[0]
    L = np.tril(np.ones((k, k - 1)), -1)
    return L @ unit @ L.T


def step_lengths(gram) -> np.ndarray:
    """The step lengths ``|theta_{k+1} - theta_k|`` of a trajectory given by its Gram matrix.

    Args:
        gram: ``(k, k)`` Gram matrix of the iterates.

    Returns:
        ``(k - 1,)`` lengths.
    """
    G = np.asarray(gram, dtype=np.float64)
    squares = np.diag(G)[1:] + np.diag(G)[:-1] - 2 * np.diag(G, 1)
    return np.sqrt(np.maximum(squares, 0))


def orthogonal_walk_gram(lengths) -> np.ndarray:
    """The Gram matrix of a walk whose steps have the given ``lengths`` and are mutually orthogonal.

    ``L diag(l^2) L'`` with ``L`` as in :func:`equalized_gram`: the limit of a random walk with these step
    lengths in ``n >> k`` dimensions, the null model of trajectory PCA; with unit lengths it is the null of the
    equalized trajectory.

    Args:
        lengths: ``(k - 1,)`` step lengths.

    Returns:
        The ``(k, k)`` Gram matrix (origin at the first iterate).
    """
    lengths = np.asarray(lengths, dtype=np.float64)
    k = lengths.size + 1
    L = np.tril(np.ones((k, k - 1)), -1)
    return (L * lengths ** 2) @ L.T


@dataclass(frozen=True)
class TrajectoryMetrics:
    """Per-iterate metrics of a trajectory, each a (k,) array.

    The outputs of :func:`trajectory_metrics` (and, all but ``distance_to_final``, of
    :class:`TrajectoryProbe`), for iterates ``theta_0 .. theta_{k-1}`` and the final point
    ``theta_T``.

    Attributes:
        distance: ``|theta_i - theta_0|``, the distance from the first iterate.
        grad_norm: ``|g_i|``.
        grad_cosine: ``g_{i-1}'g_i / (|g_{i-1}| |g_i|)``; NaN at ``i = 0``.
        grad_to_final: ``-g_i'(theta_T - theta_i) / |theta_T - theta_i|``, positive when descent
            points at the final point; NaN where ``theta_i = theta_T``.
        star_convexity: ``L(theta_i) - L(theta_T) + (theta_T - theta_i)'g_i`` (Zhou et al. 2019),
            at most 0 where the path is star-convex towards ``theta_T``.
        step_norm: ``|theta_i - theta_{i-1}|``, the step that led to iterate ``i``; NaN at ``i = 0``.
        distance_to_final: ``|theta_T - theta_i|``.
    """

    distance: np.ndarray
    grad_norm: np.ndarray
    grad_cosine: np.ndarray
    grad_to_final: np.ndarray
    star_convexity: np.ndarray
    step_norm: np.ndarray
    distance_to_final: np.ndarray


def trajectory_metrics(thetas, grads, losses, final=None, final_loss=None) -> TrajectoryMetrics:
    """The metrics of the module docstring for iterates ``thetas`` (k, n), ``grads`` (k, n), ``losses`` (k,).

    Args:
        thetas: ``(k, n)`` iterates, one per row, in order.
        grads: ``(k, n)`` gradients at the iterates.
        losses: ``(k,)`` losses at the iterates.
        final: the final point ``theta_T`` ``(n,)``; None (default) uses ``thetas[-1]``.
        final_loss: ``L(theta_T)``; None (default) uses ``losses[-1]``.

    Returns:
        A :class:`TrajectoryMetrics` of ``(k,)`` arrays.
    """
    X = np.asarray(thetas, dtype=np.float64)
    G = np.asarray(grads, dtype=np.float64)
    f = np.asarray(losses, dtype=np.float64)
    final = X[-1] if final is None else np.asarray(final, dtype=np.float64).reshape(-1)
    final_loss = f[-1] if final_loss is None else float(final_loss)
    gnorm = np.linalg.norm(G, axis=1)
    to_final = final - X
    dist_final = np.linalg.norm(to_final, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.full(len(X), np.nan)
        cos[1:] = np.sum(G[1:] * G[:-1], axis=1) / (gnorm[1:] * gnorm[:-1])
        projection = np.where(dist_final > 0, -np.sum(G * to_final, axis=1) / dist_final, np.nan)
    steps = np.full(len(X), np.nan)
    steps[1:] = np.linalg.norm(np.diff(X, axis=0), axis=1)
    return TrajectoryMetrics(distance=np.linalg.norm(X - X[0], axis=1), grad_norm=gnorm, grad_cosine=cos,
                             grad_to_final=projection,
                             star_convexity=f - final_loss + np.sum(to_final * G, axis=1),
                             step_norm=steps, distance_to_final=dist_final)


class TrajectoryProbe(Probe):
    """Trajectory metrics every step, at the cost of a few vector operations.

    Distance from the initialization, gradient norm, cosine with the previous
    gradient and the step norm need nothing else. The two metrics that involve
    the final point need it in advance: pass ``reference`` (e.g. the final theta
    of an identical earlier run; runs are deterministic), otherwise they are NaN
    and :func:`trajectory_metrics` computes them afterwards from snapshots.
    ``grad_cosine`` and ``step_norm`` compare with this probe's previous call,
    i.e. with the step ``every`` steps back on a periodic schedule (NaN when
    there is no earlier call at a smaller step, as at the start of a run).

    Args:
        reference: the final point ``theta_T`` (n,) for ``grad_to_final`` and ``star_convexity``;
            None (default) leaves both NaN.
        reference_loss: ``L(theta_T)``, needed with ``reference`` for ``star_convexity``
            (default None: NaN).
        every: the periodic schedule of :class:`~probes.base.Probe` (default 1: every step).
        **schedule: ``at``, ``last``, ``seed`` of :class:`~probes.base.Probe`.

    Raises:
        ValueError: the schedule is invalid (see :class:`~probes.base.Probe`).
    """

    name = "trajectory"

    def __init__(self, reference=None, reference_loss: float | None = None, every: int | None = 1, **schedule):
        super().__init__(every=every, **schedule)
        self.reference = None if reference is None else torch.as_tensor(np.asarray(reference), dtype=torch.float64)
        self.reference_loss = reference_loss
        self._previous = None

    def options(self):
        """Whether a ``reference`` was given (not the vector itself) and the ``reference_loss``."""
        return {"reference": self.reference is not None, "reference_loss": self.reference_loss}

    def outputs(self, objective):
        """Six scalars: ``distance``, ``grad_norm``, ``grad_cosine``, ``step_norm``, ``grad_to_final``,
        ``star_convexity`` (see :class:`TrajectoryMetrics`); ``objective`` is not needed."""
        return {k: () for k in ("distance", "grad_norm", "grad_cosine", "step_norm", "grad_to_final",
                                "star_convexity")}

    def __call__(self, context):
        """The metrics at ``context.step``, and remember this step for the next call.

        Args:
            context: the run's probe context (``step``, ``theta``, ``grad``, ``loss`` and
                ``theta0``, the run's start point, are read; ``grad`` must not be None).

        Returns:
            ``{name: float}`` for the six outputs, NaN where a metric is not available.
        """
        theta, grad = context.theta, context.grad
        previous = self._previous if self._previous is not None and self._previous[0] < context.step else None
        out = {"distance": float(torch.dist(theta, context.theta0)), "grad_norm": float(grad.norm()),
               "grad_cosine": np.nan, "step_norm": np.nan, "grad_to_final": np.nan, "star_convexity": np.nan}
        if previous is not None:
            _, prev_theta, prev_grad = previous
            norms = float(grad.norm() * prev_grad.norm())   # 0 for a zero gradient, or two whose product underflows
            out["grad_cosine"] = float(grad @ prev_grad) / norms if norms > 0 else float("nan")
            out["step_norm"] = float(torch.dist(theta, prev_theta))
        if self.reference is not None:
            to_final = self.reference - theta
            distance = float(to_final.norm())
            out["grad_to_final"] = -float(grad @ to_final) / distance if distance > 0 else np.nan
            if self.reference_loss is not None:
                out["star_convexity"] = context.loss - self.reference_loss + float(to_final @ grad)
        self._previous = (context.step, theta, grad)
        return out
