"""The empirical neural tangent kernel of a parameterization, as an operator on images.

With ``f(theta)`` the logits (or the physical density) on the grid, flattened,
and ``J = df/dtheta`` (grid points x parameters), the empirical NTK Gram matrix
is ``Theta = J J'`` (Jacot, Gabriel and Hongler 2018). A gradient step on theta
moves the output by ``-lr Theta df`` to first order: the kernel acts on the
density sensitivities like a filter (NTK paper, seed 000, section 2), so its
rows are the filter's footprint. Products ``Theta u = J (J' u)`` take one VJP
and one JVP and never form ``J``; blocks of ``u`` go through ``vmap``.

* top eigenvalues and eigen-images: Lanczos on ``Theta`` (:mod:`probes.linalg`);
* a kernel row ``Theta e_i`` as an image;
* the filter radius at half maximum: where the radially averaged row centred at
  ``i`` first falls below half its value at ``i`` (linear interpolation between
  rings; the NTK paper's section 4.3 measures the filter size this way);
* a translation-invariance score: rows centred at several interior points, cut to
  a common window around their centres, mean removed and normalized, compared
  pairwise by cosine similarity (a correlation); 1 means the same footprint everywhere.

For the pixel model ``J`` is the identity on the grid and ``Theta = I``.
"""
from __future__ import annotations

import itertools

import numpy as np
import torch

from landscape.operators import LinearOperator

from .base import Probe
from .linalg import extreme_eigenpairs

__all__ = ["NTKOperator", "ntk", "kernel_row", "filter_radius", "translation_invariance", "NTKProbe"]


class NTKOperator(LinearOperator):
    """``Theta = J J'`` of ``objective.logits`` (or ``design_graph``) at ``theta``, on flattened images.

    An ``(n, n)`` operator with ``n`` the number of grid elements (images flattened
    row by row). The VJP of the output at ``theta`` is set up once here (one forward
    pass); each product ``J (J' u)`` then takes that VJP and one JVP.

    Args:
        objective: a :class:`landscape.Objective` (with ``logits``, ``design_graph`` and
            ``problem.shape``, the ``(height, width)`` grid).
        theta: the parameters at which the kernel is taken (copied, float64).
        output: ``"logits"`` (default) for the model's logits, or ``"density"`` for the physical
            density ``objective.design_graph(theta)``.

    Attributes:
        image_shape: the grid ``(height, width)``.
        shape: ``(n, n)`` with ``n = height * width``.

    Raises:
        ValueError: ``output`` is neither ``"logits"`` nor ``"density"``.
    """

    def __init__(self, objective, theta, output: str = "logits"):
        if output not in ("logits", "density"):
            raise ValueError(f"output must be 'logits' or 'density', got {output!r}")
        self.objective = objective
        self.theta = torch.as_tensor(theta, dtype=torch.float64).detach().clone()
        self.image_shape = tuple(objective.problem.shape)
        graph = objective.logits if output == "logits" else objective.design_graph
        self._f = lambda t: graph(t).reshape(-1)
        n = int(np.prod(self.image_shape))
        self.shape = (n, n)
        _, self._vjp = torch.func.vjp(self._f, self.theta)

    def matmat(self, block):
        """``Theta @ block``: ``J (J' u)`` for every column ``u``, vmapped over the columns.

        Args:
            block: an ``(n, k)`` array or tensor of flattened images as columns (converted to float64).

        Returns:
            The ``(n, k)`` tensor ``Theta block``.
        """
        block = torch.as_tensor(block, dtype=torch.float64)

        def single(u):
            (tangent,) = self._vjp(u)
            return torch.func.jvp(self._f, (self.theta,), (tangent,))[1]

        return torch.func.vmap(single, in_dims=1, out_dims=1)(block)


def ntk(objective, theta=None, output: str = "logits") -> NTKOperator:
    """The empirical NTK operator of ``objective`` at ``theta`` (default: its initialization).

    Args:
        objective: a :class:`landscape.Objective`.
        theta: the parameters; None (default) uses ``objective.theta0``.
        output: ``"logits"`` (default) or ``"density"``, see :class:`NTKOperator`.

    Returns:
        An :class:`NTKOperator`.

    Raises:
        ValueError: ``output`` is neither ``"logits"`` nor ``"density"``.
    """
    return NTKOperator(objective, objective.theta0 if theta is None else theta, output)


def kernel_row(operator: NTKOperator, row: int, col: int) -> np.ndarray:
    """``Theta e_(row, col)`` as an image: the kernel's footprint around grid element ``(row, col)``.

    One operator product.

    Args:
        operator: the :class:`NTKOperator` (its ``image_shape`` gives the grid).
        row: the row of the element (0 at the top of the array).
        col: the column of the element.

    Returns:
        A NumPy array of shape ``image_shape``.
    """
    height, width = operator.image_shape
    e = torch.zeros(height * width, dtype=torch.float64)
    e[row * width + col] = 1.0
    return operator.matvec(e).reshape(height, width).numpy()


def filter_radius(image: np.ndarray, row: int, col: int) -> float:
    """Radius (in elements) where the radially averaged kernel falls to half its centre value.

    Elements are grouped into rings by their distance from ``(row, col)`` rounded to
    the nearest integer; the ring means, divided by the centre value, form a profile
    (1 at ring 0). The radius is found by linear interpolation between the last ring
    at or above one half and the first below it (the NTK paper's section 4.3
    measures the filter size this way).

    Args:
        image: a 2-D kernel row, e.g. from :func:`kernel_row`.
        row: the row of the centre element.
        col: the column of the centre element.

    Returns:
        The radius in elements (a float); NaN when the centre value is not positive, ``inf`` when
        the profile never falls below one half inside the image.
    """
    height, width = image.shape
    y, x = np.mgrid[:height, :width]
    distance = np.hypot(y - row, x - col)
    ring = np.rint(distance).astype(int)
    peak = image[row, col]
    if peak <= 0:
        return float("nan")
    profile = np.bincount(ring.ravel(), weights=image.ravel()) / np.maximum(np.bincount(ring.ravel()), 1)
    profile = profile / peak
    below = np.flatnonzero(profile < 0.5)
    if below.size == 0:
        return float("inf")
    k = below[0]
    if k == 0:
        return 0.0
    a, b = profile[k - 1], profile[k]
    return float(k - 1 + (a - 0.5) / (a - b))


def translation_invariance(operator: NTKOperator, centres=None, window: int = 4) -> float:
    """Mean pairwise correlation of kernel rows cut to a (2 window + 1)^2 patch around their centres.

    Each patch has its mean removed and is scaled to unit norm, so the dot product of
    two patches is their correlation; 1 means the same footprint at every centre.
    Takes one operator product per centre.

    Args:
        operator: the :class:`NTKOperator`.
        centres: ``(row, col)`` pairs, each at least ``window`` elements from every edge; None
            (default) takes the 9 points of rows ``linspace(window, height - 1 - window, 3)`` and
            columns ``linspace(window, width - 1 - window, 3)`` (rounded).
        window: the half-width of the patch in elements (default 4).

    Returns:
        The mean over all pairs of centres of the patches' correlation (NaN with fewer than two
        centres).

    Raises:
        ValueError: a centre is closer than ``window`` to an edge of the grid.
    """
    height, width = operator.image_shape
    if centres is None:
        rows = np.linspace(window, height - 1 - window, 3).round().astype(int)
        cols = np.linspace(window, width - 1 - window, 3).round().astype(int)
        centres = [(int(r), int(c)) for r in rows for c in cols]
    patches = []
    for r, c in centres:
        if not (window <= r < height - window and window <= c < width - window):
            raise ValueError(f"centre {(r, c)} is closer than window={window} to the edge of a {height}x{width} grid")
        image = kernel_row(operator, r, c)
        patch = image[r - window:r + window + 1, c - window:c + window + 1].ravel()
        patch = patch - patch.mean()          # the shape of the footprint, not its constant floor
        patches.append(patch / np.linalg.norm(patch))
    return float(np.mean([a @ b for a, b in itertools.combinations(patches, 2)]))


class NTKProbe(Probe):
    """Top eigenvalues, filter radius, translation-invariance score and the centre row of the empirical NTK.

    Registered as ``ntk``. At each scheduled step it builds the :class:`NTKOperator`
    at the current ``theta`` and records ``top`` (the largest eigenvalues from one
    Lanczos run, padded with NaN if Lanczos stops early), ``centre_row`` (the kernel
    row of the element ``(height // 2, width // 2)``), ``radius`` (its
    :func:`filter_radius`) and ``invariance`` (:func:`translation_invariance` with the
    window shrunk to ``(min(height, width) - 1) // 2 - 1`` on small grids; NaN if that
    is below 1).

    Args:
        k: how many top eigenvalues (default 4); capped at ``steps`` and at the grid size.
        steps: Lanczos iterations for the eigenvalues (default 30).
        output: ``"logits"`` (default) or ``"density"``, see :class:`NTKOperator`.
        window: the patch half-width of the translation-invariance score (default 4).
        every: the periodic schedule of :class:`~probes.base.Probe` (default None: only the
            ``at`` steps and the last step).
        **schedule: ``at``, ``last``, ``seed`` of :class:`~probes.base.Probe`; ``at`` defaults to
            ``(0,)`` (the initialization).

    Raises:
        ValueError: the schedule is invalid (see :class:`~probes.base.Probe`).
    """

    name = "ntk"

    def __init__(self, k: int = 4, steps: int = 30, output: str = "logits", window: int = 4,
                 every: int | None = None, **schedule):
        schedule.setdefault("at", (0,))
        super().__init__(every=every, **schedule)
        self.k, self.steps, self.output, self.window = k, steps, output, window

    def options(self):
        """The options ``k``, ``steps``, ``output`` and ``window`` for the trace's config."""
        return {"k": self.k, "steps": self.steps, "output": self.output, "window": self.window}

    def outputs(self, objective):
        """``top`` ``(k,)``, ``radius`` and ``invariance`` scalars, ``centre_row`` of the grid's shape.

        Args:
            objective: the run's objective (its ``problem.shape`` is the grid).

        Returns:
            ``{name: shape}``, with ``k = min(self.k, self.steps, height * width)``.
        """
        shape = tuple(objective.problem.shape)
        k = min(self.k, self.steps, int(np.prod(shape)))
        return {"top": (k,), "radius": (), "invariance": (), "centre_row": shape}

    def __call__(self, context):
        """Measure the kernel at ``context.theta``.

        Args:
            context: the run's probe context (``objective``, ``theta``, and the seed via
                :meth:`~probes.base.Probe.seed_for` for Lanczos's start vector).

        Returns:
            ``{"top", "radius", "invariance", "centre_row"}`` as declared by :meth:`outputs`.
        """
        operator = NTKOperator(context.objective, context.theta, self.output)
        height, width = operator.image_shape
        k = self.outputs(context.objective)["top"][0]
        pairs = extreme_eigenpairs(operator, k, self.steps, seed=self.seed_for(context), vectors=False)
        top = np.pad(pairs.top.numpy(), (0, k - pairs.top.numel()), constant_values=np.nan)
        row = kernel_row(operator, height // 2, width // 2)
        window = min(self.window, (min(height, width) - 1) // 2 - 1)
        invariance = translation_invariance(operator, window=window) if window >= 1 else np.nan
        return {"top": top, "radius": filter_radius(row, height // 2, width // 2), "invariance": invariance,
                "centre_row": row}
