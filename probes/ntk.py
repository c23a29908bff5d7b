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
    """``Theta = J J'`` of ``objective.logits`` (or ``design_graph``) at ``theta``, on flattened images."""

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
        block = torch.as_tensor(block, dtype=torch.float64)

        def single(u):
            (tangent,) = self._vjp(u)
            return torch.func.jvp(self._f, (self.theta,), (tangent,))[1]

        return torch.func.vmap(single, in_dims=1, out_dims=1)(block)


def ntk(objective, theta=None, output: str = "logits") -> NTKOperator:
    return NTKOperator(objective, objective.theta0 if theta is None else theta, output)


def kernel_row(operator: NTKOperator, row: int, col: int) -> np.ndarray:
    """``Theta e_(row, col)`` as an image."""
    height, width = operator.image_shape
    e = torch.zeros(height * width, dtype=torch.float64)
    e[row * width + col] = 1.0
    return operator.matvec(e).reshape(height, width).numpy()


def filter_radius(image: np.ndarray, row: int, col: int) -> float:
    """Radius (in elements) where the radially averaged kernel falls to half its centre value."""
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
    """Mean pairwise correlation of kernel rows cut to a (2 window + 1)^2 patch around their centres."""
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
    """Top eigenvalues, filter radius, translation-invariance score and the centre row of the empirical NTK."""

    name = "ntk"

    def __init__(self, k: int = 4, steps: int = 30, output: str = "logits", window: int = 4,
                 every: int | None = None, **schedule):
        schedule.setdefault("at", (0,))
        super().__init__(every=every, **schedule)
        self.k, self.steps, self.output, self.window = k, steps, output, window

    def options(self):
        return {"k": self.k, "steps": self.steps, "output": self.output, "window": self.window}

    def outputs(self, objective):
        shape = tuple(objective.problem.shape)
        k = min(self.k, self.steps, int(np.prod(shape)))
        return {"top": (k,), "radius": (), "invariance": (), "centre_row": shape}

    def __call__(self, context):
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
