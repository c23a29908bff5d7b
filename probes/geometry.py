"""Geometry of the loss landscape: 1D interpolations, filter-normalized directions, 2D surfaces, planes.

* Linear interpolation (Goodfellow, Vinyals and Saxe 2015): ``L((1 - a) x + a y)``
  for any ``a`` (outside [0, 1] extrapolates). The thesis's four uses (Figures 3.5,
  C.13, C.14) are :func:`between_initializations`, :func:`iterates_to_final`,
  :func:`initializations_to_final` and :func:`along_trajectory`. The height of a
  bump is :func:`barrier`: ``max L(a) / max(L(a0), L(a1)) - 1`` over ``a0 <= a <= a1``,
  the rise above the higher end (the loss barrier of Garipov et al. 2018 and Draxler
  et al. 2018, relative); 0 when the curve never climbs above its ends.
* Filter-normalized random directions (Li, Xu, Taylor, Studer and Goldstein 2018):
  a Gaussian direction shaped like the parameters, each filter ``d_i`` (slice along
  the output dimension of a weight with two or more dimensions) rescaled to
  ``d_i / |d_i| * |theta_i|``. Rules for the other tensors (biases, offsets, the
  latent vector, pixel logits): ``"ignore"`` (zero, Li et al.'s choice for biases)
  or ``"tensor"`` (the whole tensor rescaled to the norm of theta's tensor).
* 2D surfaces ``L(c + a d1 + b d2)`` on a grid, evaluated in batches (the network
  part of a batch runs as one vmapped forward pass), resumable from a checkpoint
  file, with a progress bar; planes from random filter-normalized directions, from
  the top two PCA directions of a trajectory, or from the top two Hessian
  eigenvectors; a trajectory is projected onto a plane by least squares, with the
  residual reported.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from tqdm.auto import tqdm

__all__ = ["Projection", "interpolate", "Interpolation", "between_initializations", "iterates_to_final",
           "initializations_to_final", "along_trajectory", "barrier", "filter_normalized_direction", "losses",
           "Surface", "surface", "Plane", "random_plane", "pca_plane", "hessian_plane", "project"]


def _flat(theta) -> torch.Tensor:
    return torch.as_tensor(np.asarray(theta) if not torch.is_tensor(theta) else theta,
                           dtype=torch.float64).reshape(-1)


def losses(objective, thetas: torch.Tensor, batch: int = 8) -> np.ndarray:
    """Losses at the rows of ``thetas`` (k, n), without gradients.

    :meth:`landscape.Objective.losses` sends ``batch`` rows through the network
    as one vmapped forward pass; other objectives are evaluated row by row.

    Args:
        objective: anything with ``loss(theta) -> float``; its ``losses(thetas, batch)`` is used when
            it has one and ``batch > 1``.
        thetas: the parameter vectors as the rows of a ``(k, n)`` array or tensor (converted to
            float64).
        batch: rows per vmapped forward pass (default 8); 1 or less evaluates row by row with
            ``objective.loss``.

    Returns:
        The ``k`` losses as a NumPy array ``(k,)``.
    """
    thetas = torch.as_tensor(thetas, dtype=torch.float64)
    if hasattr(objective, "losses") and batch > 1:
        return objective.losses(thetas, batch)
    return np.array([objective.loss(theta) for theta in thetas])


# -- 1D -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Interpolation:
    """Loss values along one or more straight lines in parameter space.

    Attributes:
        alphas: the line coordinates ``a`` of the points, ``(m,)`` (0 at the first end, 1 at the second).
        losses: the losses, ``(m,)`` for one line or ``(curves, m)`` for several.
        labels: one label per curve (e.g. ``"init 0 -> final"``), or None.
    """

    alphas: np.ndarray
    losses: np.ndarray        # (len(alphas),) or (curves, len(alphas))
    labels: list[str] | None = None


def interpolate(objective, theta_x, theta_y, alphas=None, batch: int = 8) -> Interpolation:
    """``L((1 - a) theta_x + a theta_y)`` for every ``a`` in ``alphas`` (default 51 points on [0, 1]).

    Linear interpolation (Goodfellow, Vinyals and Saxe 2015; thesis eq. 2.7 with the roles of the two
    points swapped, so that ``a = 0`` is ``theta_x`` and ``a = 1`` is ``theta_y``); values of ``a``
    outside [0, 1] extrapolate.

    Args:
        objective: the objective, evaluated with :func:`losses`.
        theta_x: the point at ``a = 0`` (flattened, float64).
        theta_y: the point at ``a = 1``, same size.
        alphas: the coordinates ``a`` (array-like); None (default) gives ``np.linspace(0, 1, 51)``.
        batch: points per batched evaluation, see :func:`losses` (default 8).

    Returns:
        An :class:`Interpolation` with ``alphas`` and the losses ``(len(alphas),)``, no labels.
    """
    alphas = np.linspace(0, 1, 51) if alphas is None else alphas
    x, y = _flat(theta_x), _flat(theta_y)
    a = torch.as_tensor(np.asarray(alphas, dtype=np.float64))
    points = (1 - a)[:, None] * x[None, :] + a[:, None] * y[None, :]
    return Interpolation(np.asarray(alphas, dtype=np.float64), losses(objective, points, batch))


def _curves(objective, pairs, alphas, labels, batch):
    values = np.stack([interpolate(objective, x, y, alphas, batch).losses for x, y in pairs])
    return Interpolation(np.asarray(alphas, dtype=np.float64), values, labels)


def between_initializations(objective, thetas0: Sequence, alphas=None, batch=8):
    """Between successive pairs of random initializations (thesis Figure 3.5, first kind; ``alphas`` default 41
    points on [-0.5, 1.5]).

    Curve ``i`` is :func:`interpolate` from ``thetas0[i]`` (``a = 0``) to ``thetas0[i + 1]`` (``a = 1``).

    Args:
        objective: the objective, evaluated with :func:`losses`.
        thetas0: the initializations, at least two parameter vectors (a sequence).
        alphas: the coordinates ``a``; None (default) gives ``np.linspace(-0.5, 1.5, 41)``.
        batch: points per batched evaluation (default 8).

    Returns:
        An :class:`Interpolation` with losses ``(len(thetas0) - 1, len(alphas))`` and labels
        ``"init i -> init i+1"``.
    """
    alphas = np.linspace(-0.5, 1.5, 41) if alphas is None else alphas
    if len(thetas0) < 2:
        raise ValueError(f"between_initializations needs at least two initializations, got {len(thetas0)}")
    pairs = list(zip(thetas0[:-1], thetas0[1:]))
    return _curves(objective, pairs, alphas, [f"init {i} -> init {i + 1}" for i in range(len(pairs))], batch)


def iterates_to_final(objective, iterates: Sequence, steps: Sequence[int], final, alphas=None, batch=8):
    """From chosen iterates of a run to its final point (thesis Figure 3.5, second kind; ``alphas`` default 26
    points on [0, 1]).

    Curve ``i`` is :func:`interpolate` from ``iterates[i]`` (``a = 0``) to ``final`` (``a = 1``).

    Args:
        objective: the objective, evaluated with :func:`losses`.
        iterates: the chosen iterates (parameter vectors), a sequence.
        steps: the step number of each iterate, in the same order; used only for the labels.
        final: the run's final point.
        alphas: the coordinates ``a``; None (default) gives ``np.linspace(0, 1, 26)``.
        batch: points per batched evaluation (default 8).

    Returns:
        An :class:`Interpolation` with losses ``(len(iterates), len(alphas))`` and labels
        ``"step s -> final"``.
    """
    alphas = np.linspace(0, 1, 26) if alphas is None else alphas
    return _curves(objective, [(t, final) for t in iterates], alphas, [f"step {s} -> final" for s in steps], batch)


def initializations_to_final(objective, thetas0: Sequence, final, alphas=None, batch=8):
    """From several random initializations to one final point (thesis Figure 3.5, third kind; ``alphas`` default
    26 points on [0, 1]).

    Curve ``i`` is :func:`interpolate` from ``thetas0[i]`` (``a = 0``) to ``final`` (``a = 1``).

    Args:
        objective: the objective, evaluated with :func:`losses`.
        thetas0: the initializations (parameter vectors), a sequence.
        final: the final point all curves end at.
        alphas: the coordinates ``a``; None (default) gives ``np.linspace(0, 1, 26)``.
        batch: points per batched evaluation (default 8).

    Returns:
        An :class:`Interpolation` with losses ``(len(thetas0), len(alphas))`` and labels
        ``"init i -> final"``.
    """
    alphas = np.linspace(0, 1, 26) if alphas is None else alphas
    return _curves(objective, [(t, final) for t in thetas0], alphas,
                   [f"init {i} -> final" for i in range(len(thetas0))], batch)


def along_trajectory(objective, iterates: Sequence, points_per_segment: int = 5, batch=8) -> Interpolation:
    """Between successive iterates, segments joined end to end (thesis Figure 3.5, fourth kind).

    ``alphas`` runs from 0 to ``len(iterates) - 1``: integers are the iterates themselves.

    Args:
        objective: the objective, evaluated with :func:`losses` (the last iterate with
            ``objective.loss``).
        iterates: the iterates of a run in order (parameter vectors), a non-empty sequence.
        points_per_segment: points per segment between two successive iterates, counting the
            segment's start but not its end (default 5); the last iterate is added once at the end.
        batch: points per batched evaluation (default 8).

    Returns:
        An :class:`Interpolation` with ``(len(iterates) - 1) * points_per_segment + 1`` points on
        one curve, no labels.
    """
    pieces, axis = [], []
    inner = np.linspace(0, 1, points_per_segment + 1)[:-1]
    for k in range(len(iterates) - 1):
        pieces.append(interpolate(objective, iterates[k], iterates[k + 1], inner, batch).losses)
        axis.append(k + inner)
    pieces.append(np.array([objective.loss(_flat(iterates[-1]))]))
    axis.append(np.array([len(iterates) - 1.0]))
    return Interpolation(np.concatenate(axis), np.concatenate(pieces))


def barrier(curve: Interpolation, start: float = 0.0, end: float = 1.0) -> np.ndarray:
    """Per curve, ``max L(a) / max(L(start), L(end)) - 1`` over ``start <= a <= end``.

    How far the loss climbs above the higher of the two ends, relative to it: 0 for a
    curve that stays at or below its ends (a monotone or convex-looking line), 2.0 for a
    bump three times as high as the higher end. ``start`` and ``end`` must be points of
    ``curve.alphas`` (for :func:`along_trajectory`, successive integers give one segment).

    Args:
        curve: an :class:`Interpolation` of one or several curves.
        start: the ``a`` of the segment's first end, matched to ``curve.alphas`` with ``np.isclose``
            (default 0.0).
        end: the ``a`` of its second end, after ``start`` (default 1.0).

    Returns:
        The relative barrier of each curve, a float array ``(curves,)`` (``(1,)`` for a single curve).

    Raises:
        ValueError: ``start`` or ``end`` is not a point of ``curve.alphas``, or ``start`` does not come
            before ``end`` there.
    """
    values = np.atleast_2d(curve.losses)
    i, j = (int(np.flatnonzero(np.isclose(curve.alphas, a))[0]) if np.isclose(curve.alphas, a).any() else None
            for a in (start, end))
    if i is None or j is None or i >= j:
        raise ValueError(f"start={start} and end={end} must be points of the curve, start first; "
                         f"its alphas run {curve.alphas[0]:g} .. {curve.alphas[-1]:g} in {len(curve.alphas)} points")
    ends = np.maximum(values[:, i], values[:, j])
    return np.max(values[:, i:j + 1], axis=1) / ends - 1


# -- directions ------------------------------------------------------------------------------
def _output_dims(model) -> dict[str, int]:
    """``{parameter name: output-channel dimension}`` where it is not the first."""
    if model is None:
        return {}
    dims = {}
    for prefix, module in model.named_modules():
        if isinstance(module, torch.nn.modules.conv._ConvTransposeNd):
            dims[f"{prefix}.weight" if prefix else "weight"] = 1
    if hasattr(model, "filter_dims"):
        dims.update(model.filter_dims())
    return dims



def filter_normalized_direction(objective, theta=None, seed: int = 0, biases: str = "ignore",
                                others: str = "tensor") -> torch.Tensor:
    """A Gaussian direction with Li et al.'s filter normalization, as a flat vector like ``theta``.

    Tensors whose name contains ``weight`` and that have two or more dimensions
    (convolution kernels, the dense layer) are normalized filter by filter: slices
    along the *output* dimension, which is the first for convolutions and linear
    layers (out, in, ...) and the second for transposed convolutions (in, out, ...).
    The output dimension comes from the module: ``torch.nn`` transposed-convolution
    layers are recognized, and a model may say it for its own tensors with
    ``filter_dims() -> {parameter name: dimension}`` (``CNNModel`` does). One-dimensional tensors follow ``biases``, all
    others (offsets, the latent vector ``z``, pixel logits) follow ``others``:
    ``"ignore"`` gives them zero direction, ``"tensor"`` rescales the whole tensor
    to the norm of theta's, ``"filter"`` treats the first dimension as filters.

    Each filter ``d_i`` of the Gaussian draw becomes ``d_i / |d_i| * |theta_i|`` (Frobenius norms;
    Li et al. 2018, thesis section 2.4.1). A Gaussian tensor is drawn for every parameter tensor, in
    the objective's order, even for ignored ones. Zero-dimensional tensors follow ``biases`` too,
    and are rescaled as a whole unless ignored.

    Args:
        objective: the objective (it needs ``names``, ``shapes``, ``sizes`` and ``theta0``, and may
            have a ``model`` for the output dimensions).
        theta: the point whose tensor and filter norms are matched, flattened; None (default) takes
            ``objective.theta0``.
        seed: seed of the ``torch.Generator`` of the Gaussian draw (default 0).
        biases: the rule for one- (and zero-) dimensional tensors: ``"ignore"`` (default), ``"tensor"``
            or ``"filter"``.
        others: the rule for tensors with two or more dimensions whose name has no ``weight``:
            ``"tensor"`` (default), ``"ignore"`` or ``"filter"``.

    Returns:
        The direction as a flat float64 tensor ``(n,)`` in the order of ``theta``.

    Raises:
        ValueError: ``biases`` or ``others`` is not one of the three rules, or the direction is zero
            (every tensor ignored or zero).
    """
    for label, rule in (("biases", biases), ("others", others)):
        if rule not in ("ignore", "tensor", "filter"):
            raise ValueError(f"{label} must be 'ignore', 'tensor' or 'filter', got {rule!r}")
    theta = objective.theta0 if theta is None else _flat(theta)
    generator = torch.Generator().manual_seed(seed)
    output_dims = _output_dims(getattr(objective, "model", None))
    pieces = []
    for name, shape, chunk in zip(objective.names, objective.shapes, torch.split(theta, objective.sizes)):
        weight = chunk.view(shape)
        d = torch.randn(shape, generator=generator, dtype=torch.float64)
        is_filter_weight = any("weight" in part for part in name.split(".")) and len(shape) >= 2
        rule = "filter" if is_filter_weight else (biases if len(shape) <= 1 else others)
        if rule == "ignore":
            d.zero_()
        elif rule == "tensor" or len(shape) == 0:
            norm = d.norm()
            d = d * (weight.norm() / norm) if norm > 0 else d
        else:
            dim = output_dims.get(name, 0) if is_filter_weight else 0
            moved_d, moved_w = d.movedim(dim, 0), weight.movedim(dim, 0)
            flat_d, flat_w = moved_d.reshape(shape[dim], -1), moved_w.reshape(shape[dim], -1)
            scale = flat_w.norm(dim=1) / flat_d.norm(dim=1).clamp_min(1e-300)
            d = (flat_d * scale[:, None]).reshape(moved_d.shape).movedim(0, dim)
        pieces.append(d.reshape(-1))
    direction = torch.cat(pieces)
    if not bool(direction.abs().sum() > 0):
        raise ValueError("the filter-normalized direction is zero (every tensor was ignored or is zero); "
                         "use others='tensor' for pixel models")
    return direction


# -- 2D ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Plane:
    """A plane ``center + a d1 + b d2`` and how it was chosen.

    Args:
        center: the point at ``a = b = 0``, a flat float64 tensor ``(n,)``.
        d1: the direction of the ``a`` axis, ``(n,)``.
        d2: the direction of the ``b`` axis, ``(n,)``.
        kind: how the plane was chosen: ``"random"`` (:func:`random_plane`), ``"pca"``
            (:func:`pca_plane`) or ``"hessian"`` (:func:`hessian_plane`).
        info: what else the constructor recorded (the seed; the explained variance ratios and scales;
            the eigenvalues).
    """

    center: torch.Tensor
    d1: torch.Tensor
    d2: torch.Tensor
    kind: str
    info: dict


def random_plane(objective, center=None, seed: int = 0, **rules) -> Plane:
    """Two filter-normalized random directions around ``center`` (default theta0), thesis Figure 3.3.

    The 2D projection of Li et al. (2018): ``d1`` and ``d2`` are :func:`filter_normalized_direction`
    at ``center`` with the seeds ``seed`` and ``seed + 1``.

    Args:
        objective: the objective, see :func:`filter_normalized_direction`.
        center: the centre of the plane, flattened; None (default) takes ``objective.theta0``.
        seed: the seed of ``d1`` (``d2`` uses ``seed + 1``; default 0).
        **rules: ``biases`` and ``others`` of :func:`filter_normalized_direction`.

    Returns:
        A :class:`Plane` of kind ``"random"`` with ``info = {"seed": seed}``.

    Raises:
        ValueError: from :func:`filter_normalized_direction` (an unknown rule, a zero direction).
    """
    center = objective.theta0 if center is None else _flat(center)
    return Plane(center, filter_normalized_direction(objective, center, seed, **rules),
                 filter_normalized_direction(objective, center, seed + 1, **rules), "random", {"seed": seed})


def pca_plane(thetas: np.ndarray, final=None) -> Plane:
    """The top two PCA directions of a trajectory, centred at its final point (Li et al. 2018).

    The directions are the top two principal components of ``thetas - final``
    (:func:`probes.trajectory.trajectory_pca`), unit vectors.

    Args:
        thetas: the iterates as the rows of a ``(k, n)`` array.
        final: the centre; None (default) takes the last row of ``thetas``.

    Returns:
        A :class:`Plane` of kind ``"pca"`` with ``info`` holding ``explained_variance_ratio`` of the two
        components and ``scale``, the square roots of their variances (the Gram matrix's eigenvalues).
    """
    from .trajectory import trajectory_pca
    thetas = np.asarray(thetas, dtype=np.float64)
    final = thetas[-1] if final is None else np.asarray(final, dtype=np.float64).reshape(-1)
    pca = trajectory_pca(thetas, final)
    if len(pca.components) < 2:
        raise ValueError(f"a PCA plane needs a trajectory spanning two directions; these {len(thetas)} iterates "
                         f"span {len(pca.components)} (give more, non-collinear iterates)")
    scale = np.sqrt(np.maximum(pca.singular_values[:2], 0))
    return Plane(torch.from_numpy(final.copy()), torch.from_numpy(pca.components[0].copy()),
                 torch.from_numpy(pca.components[1].copy()), "pca",
                 {"explained_variance_ratio": pca.explained_variance_ratio[:2].tolist(), "scale": scale.tolist()})


def hessian_plane(objective, center=None, steps: int = 30, seed: int = 0) -> Plane:
    """The top two Hessian eigenvectors at ``center`` (unit vectors).

    The Ritz vectors of the two largest Ritz values of one Lanczos run
    (:func:`probes.linalg.extreme_eigenpairs`).

    Args:
        objective: the objective; ``objective.hessian(center)`` gives the operator.
        center: the centre of the plane, flattened; None (default) takes ``objective.theta0``.
        steps: the Lanczos steps (default 30).
        seed: the seed of Lanczos's start vector (default 0).

    Returns:
        A :class:`Plane` of kind ``"hessian"`` (``d1`` for the largest eigenvalue) with ``info``
        holding the two ``eigenvalues``, largest first.
    """
    from .linalg import extreme_eigenpairs
    center = objective.theta0 if center is None else _flat(center)
    pairs = extreme_eigenpairs(objective.hessian(center), k=2, steps=steps, seed=seed)
    if pairs.top_vectors is None or pairs.top_vectors.shape[1] < 2:
        raise ValueError(f"a Hessian plane needs two eigenvectors; Lanczos found {len(pairs.top)} "
                         f"(n = {center.numel()}, steps = {steps})")
    return Plane(center, pairs.top_vectors[:, 0].clone(), pairs.top_vectors[:, 1].clone(), "hessian",
                 {"eigenvalues": pairs.top.tolist()})


class Projection(NamedTuple):
    """Points seen in a plane: least-squares ``coordinates`` (k, 2) and each point's ``residual`` distance."""

    coordinates: np.ndarray
    residual: np.ndarray


def project(plane: Plane, thetas) -> Projection:
    """Least-squares coordinates (k, 2) of points in the plane, and each point's residual distance.

    For each point ``x``, the ``(a, b)`` minimizing ``|x - center - a d1 - b d2|``, and that minimum.

    Args:
        plane: the :class:`Plane`.
        thetas: the points, reshaped to the rows of a ``(k, n)`` array (one point may be given flat).

    Returns:
        A :class:`Projection`: ``coordinates`` ``(k, 2)`` and ``residual`` ``(k,)``, NumPy arrays.
    """
    A = torch.stack([plane.d1, plane.d2], dim=1)
    X = torch.as_tensor(np.asarray(thetas), dtype=torch.float64).reshape(-1, A.shape[0]) - plane.center
    coords = torch.linalg.lstsq(A, X.T).solution.T
    residual = (X - coords @ A.T).norm(dim=1)
    return Projection(coords.numpy(), residual.numpy())


@dataclass(frozen=True)
class Surface:
    """The losses of a plane on a grid, with an optionally projected trajectory (from :func:`surface`).

    Attributes:
        alphas: the ``a`` coordinates (along ``plane.d1``), ``(A,)``.
        betas: the ``b`` coordinates (along ``plane.d2``), ``(B,)``.
        losses: ``L(center + a d1 + b d2)``, ``(A, B)``.
        plane: the :class:`Plane`, or None.
        path: the projected trajectory's coordinates ``(k, 2)``, or None.
        path_residual: each iterate's distance from the plane ``(k,)``, or None.
    """

    alphas: np.ndarray
    betas: np.ndarray
    losses: np.ndarray             # (len(alphas), len(betas))
    plane: Plane | None = None
    path: np.ndarray | None = None           # projected trajectory (k, 2)
    path_residual: np.ndarray | None = None  # distance of each iterate from the plane


def _surface_key(objective, plane: Plane, alphas: np.ndarray, betas: np.ndarray) -> str:
    """What a surface checkpoint belongs to: a hash of the grid, the plane's vectors bit for bit, the objective,
    and the numerics mode.

    Filter-normalized directions from different seeds have the same norms, so
    anything short of the vectors themselves would resume another plane's values; values computed in the
    other numerics mode (:mod:`landscape.numerics`) differ in their last bits and are not resumed either.
    """
    from landscape import numerics
    digest = hashlib.sha256()
    for array in (alphas, betas, plane.center, plane.d1, plane.d2):
        digest.update(np.ascontiguousarray(np.asarray(array, dtype=np.float64)).tobytes())
    problem = getattr(objective, "problem", None)
    digest.update(json.dumps({"problem": getattr(problem, "name", None), "penal": getattr(objective, "penal", None),
                              "precision": getattr(objective, "precision", None),
                              "filter": getattr(objective, "filter", None),
                              "model": type(getattr(objective, "model", None)).__name__,
                              "objective": repr(objective), "numerics": numerics.mode()}, sort_keys=True).encode())
    return digest.hexdigest()


def surface(objective, plane: Plane, alphas=None, betas=None,
            batch: int = 8, checkpoint=None, progress: bool = True, trajectory=None) -> Surface:
    """``L(center + a d1 + b d2)`` on the grid ``alphas x betas`` (each 21 points on [-1, 1] by default).

    With ``checkpoint`` (a .npz path) finished rows of the grid are saved as they
    complete, and a rerun with the same grid and plane picks up where it stopped.
    ``trajectory`` (k, n) is projected onto the plane.

    A checkpoint is reused only when its key (a hash of the grid, the plane's vectors and the
    objective's settings) matches; a row counts as finished when none of its values is NaN.

    Args:
        objective: the objective, evaluated with :func:`losses`.
        plane: the :class:`Plane` (``center``, ``d1``, ``d2``).
        alphas: the coordinates along ``d1``; None (default) gives ``np.linspace(-1, 1, 21)``.
        betas: the coordinates along ``d2``; None (default) gives ``np.linspace(-1, 1, 21)``.
        batch: points per batched evaluation, see :func:`losses` (default 8).
        checkpoint: a ``.npz`` path to save finished rows to and resume from, or None (default).
        progress: show a ``tqdm`` progress bar (default True).
        trajectory: iterates ``(k, n)`` to project onto the plane with :func:`project`, or None.

    Returns:
        A :class:`Surface` with the losses ``(len(alphas), len(betas))``, the plane, and the projected
        path and residuals when ``trajectory`` is given.
    """
    alphas = np.linspace(-1, 1, 21) if alphas is None else alphas
    betas = np.linspace(-1, 1, 21) if betas is None else betas
    alphas, betas = np.asarray(alphas, dtype=np.float64), np.asarray(betas, dtype=np.float64)
    values = np.full((alphas.size, betas.size), np.nan)
    key = _surface_key(objective, plane, alphas, betas)
    path = Path(checkpoint) if checkpoint is not None else None
    if path is not None and path.exists():
        saved = np.load(path, allow_pickle=False)
        if str(saved["key"]) == key:
            values = saved["losses"].copy()
    rows = [i for i in range(alphas.size) if np.isnan(values[i]).any()]
    bar = tqdm(total=values.size, initial=values.size - len(rows) * betas.size, desc="surface", unit="point",
               disable=not progress, leave=False)
    b = torch.as_tensor(betas)
    for i in rows:
        points = plane.center[None, :] + alphas[i] * plane.d1[None, :] + b[:, None] * plane.d2[None, :]
        values[i] = losses(objective, points, batch)
        bar.update(betas.size)
        bar.set_postfix(row=f"{i + 1}/{alphas.size}", loss=f"{np.nanmin(values):.4g}", refresh=False)
        if path is not None:
            tmp = path.with_name(path.name + ".tmp.npz")
            np.savez(tmp, losses=values, key=np.array(key))
            tmp.replace(path)
    bar.close()
    if trajectory is None:
        return Surface(alphas, betas, values, plane)
    seen = project(plane, trajectory)
    return Surface(alphas, betas, values, plane, seen.coordinates, seen.residual)
