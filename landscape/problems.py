"""The topology-optimization problem suite of Hoyer et al. (2019).

A :class:`Problem` holds the boundary conditions of a compliance problem on a
``width x height`` grid of unit square elements:

* ``normals``: array of shape ``(width + 1, height + 1, 2)``; a non-zero entry
  fixes that displacement component of that node (index 0 is x, 1 is y),
* ``forces``: array of the same shape with the applied nodal forces,
* ``volfrac``: the fraction of the design region filled with material,
* ``mask``: 1, or an array of shape ``(height, width)``; elements where it is 0
  are kept empty.

Node ``(i, j)`` sits in column ``i`` and row ``j`` (rows grow downwards), and
its degrees of freedom are ``2 * ((height + 1) * i + j) + {0, 1}``: the
numbering of the 88-line code that Hoyer's physics uses.

The suite reproduces the boundary conditions of the public code behind the
paper (``neural_structural_optimization/problems.py``) exactly, quirks
included, because the published compliance values depend on them:

* ``crane`` places its load at row ``round(1 - aspect * height)``, a negative
  index that counts from the bottom edge (row 66 of 129 at 128x128);
* ``thin_support_bridge`` uses its mask without transposing it (harmless on
  the square grids of the suite);
* ``two_level_bridge`` sizes its arrays with ``width`` in both directions;
* ``hoop`` and ``staircase`` spread their loads with anti-aliased circles and
  lines from scikit-image.

Names follow that code: ``{category}_{width}x{height}_{volfrac}``, e.g.
``michell_centered_both_32x64_0.12``. The thesis codes ``A``, ``B``, ``D``
and ``E`` name its four problems.
"""
from __future__ import annotations

import dataclasses
import difflib
import os
import re
import unicodedata
from collections.abc import Callable

import numpy as np

X, Y = 0, 1

__all__ = ["Problem", "get", "names", "categories", "THESIS_CODES", "ProblemError",
           "UnknownProblemError"]


class ProblemError(ValueError):
    """A problem definition that cannot describe a well-posed compliance problem."""


class UnknownProblemError(KeyError):
    """A problem name that is neither in the suite nor a thesis code."""

    def __str__(self):
        return str(self.args[0])


@dataclasses.dataclass(eq=False)
class Problem:
    """Boundary conditions, design mask and volume fraction of one problem.

    The layout of Hoyer et al.'s problems: node arrays of shape ``(width + 1, height + 1, 2)``, the
    last axis being the x and y components. A problem is checked when it is made.

    Args:
        normals: 1 where a node's displacement component is fixed (a support), else 0.
        forces: the load on each node's components (same shape as ``normals``).
        volfrac: the volume fraction in (0, 1): the mean density the constraint imposes.
        mask: the design region, a positive scalar (the whole grid, default 1.0) or an array of shape
            ``(height, width)`` whose positive entries may hold material.
        name: the problem's name (the suite's, e.g. ``mbb_beam_32x16_0.5``), or None.

    Raises:
        ProblemError: arrays of the wrong shape, a volume fraction outside (0, 1), a mask of the wrong
            shape or without a design element, supports that leave a rigid-body motion free, or no load
            on a free dof.
    """

    normals: np.ndarray
    forces: np.ndarray
    volfrac: float
    mask: np.ndarray | float = 1.0
    name: str | None = None

    def __post_init__(self):
        self.normals = np.asarray(self.normals, dtype=np.float64)
        self.forces = np.asarray(self.forces, dtype=np.float64)
        if self.normals.ndim != 3 or self.normals.shape[2] != 2:
            raise ProblemError(
                f"normals must have shape (width+1, height+1, 2), got {self.normals.shape}")
        if self.normals.shape[0] < 2 or self.normals.shape[1] < 2:
            raise ProblemError(f"the grid needs at least one element, normals shape {self.normals.shape}")
        if self.forces.shape != self.normals.shape:
            raise ProblemError(
                f"forces has shape {self.forces.shape}, but normals has {self.normals.shape}; "
                "both must be (width+1, height+1, 2)")
        if not np.all(np.isfinite(self.forces)):
            raise ProblemError("forces contain NaN or inf")
        volfrac = float(self.volfrac)
        if not 0.0 < volfrac < 1.0:
            raise ProblemError(f"volume fraction must lie in (0, 1), got {self.volfrac!r}")
        self.volfrac = volfrac
        if np.ndim(self.mask) == 0:
            self.mask = float(self.mask)
            if self.mask <= 0:
                raise ProblemError(f"a scalar mask must be positive, got {self.mask!r}")
        else:
            self.mask = np.asarray(self.mask, dtype=np.float64)
            if self.mask.shape != (self.height, self.width):
                raise ProblemError(
                    f"mask has shape {self.mask.shape}; expected (height, width) = "
                    f"{(self.height, self.width)} or a scalar")
            if not np.any(self.mask > 0):
                raise ProblemError("mask leaves no element to design")
        self._check_supports()
        free_load = np.abs(self.forces) * (self.normals == 0)
        if not np.any(free_load > 0):
            raise ProblemError("no force acts on a free degree of freedom: compliance would be 0")

    @property
    def width(self) -> int:
        """The number of elements along x (``nelx``)."""
        return self.normals.shape[0] - 1

    @property
    def height(self) -> int:
        """The number of elements along y (``nely``)."""
        return self.normals.shape[1] - 1

    @property
    def shape(self) -> tuple[int, int]:
        """The design grid shape ``(height, width)`` = ``(nely, nelx)``."""
        return (self.height, self.width)

    @property
    def design_mask(self) -> np.ndarray:
        """Boolean array of shape ``(height, width)``: the elements that may hold material."""
        return np.broadcast_to(np.asarray(self.mask) > 0, self.shape).copy()

    @property
    def num_dofs(self) -> int:
        """The number of degrees of freedom, fixed ones included: ``2 (width + 1) (height + 1)``."""
        return self.normals.size

    def _check_supports(self):
        """The fixed dofs must remove both rigid translations and the rotation.

        A rigid motion moves node ``(i, j)`` by ``(tx - r j, ty + r i)``; the
        supports remove it exactly when the fixed components, as linear
        functions of ``(tx, ty, r)``, have rank 3.
        """
        i, j, d = np.nonzero(self.normals)
        rows = np.where(d[:, None] == X,
                        np.stack([np.ones_like(j), np.zeros_like(j), -j], axis=1),
                        np.stack([np.zeros_like(i), np.ones_like(i), i], axis=1))
        rank = np.linalg.matrix_rank(rows.astype(np.float64)) if len(rows) else 0
        if rank < 3:
            missing = 3 - rank
            raise ProblemError(
                f"the supports leave {missing} rigid-body mode(s) free "
                f"({len(rows)} fixed dofs); the stiffness matrix would be singular. "
                "Fix at least one x and one y displacement and one more that stops rotation.")

    def __repr__(self):
        return (f"Problem(name={self.name!r}, width={self.width}, height={self.height}, "
                f"volfrac={self.volfrac})")


def _grid(width, height):
    shape = (width + 1, height + 1, 2)
    return np.zeros(shape), np.zeros(shape)


# ---------------------------------------------------------------------------
# Problem families. Each returns (normals, forces, mask); positions follow the
# reference code's rounding (Python's round, i.e. half to even).
# ---------------------------------------------------------------------------

def mbb_beam(width=60, height=20):
    normals, forces = _grid(width, height)
    normals[0, :, X] = 1          # symmetry line on the left
    normals[-1, -1, Y] = 1        # roller at the bottom right
    forces[0, 0, Y] = -1
    return normals, forces, 1.0


def cantilever_beam_full(width=60, height=60, force_position=0):
    normals, forces = _grid(width, height)
    normals[0, :, :] = 1
    forces[-1, round((1 - force_position) * height), Y] = -1
    return normals, forces, 1.0


def cantilever_beam_two_point(width=60, height=60, support_position=0.25, force_position=0.5):
    normals, forces = _grid(width, height)
    for row in (round(height * (1 - support_position)), round(height * support_position)):
        normals[0, row, :] = 1
    forces[-1, round((1 - force_position) * height), Y] = -1
    return normals, forces, 1.0


def pure_bending_moment(width=60, height=60, support_position=0.45):
    normals, forces = _grid(width, height)
    upper, lower = round(height * (1 - support_position)), round(height * support_position)
    normals[-1, :, X] = 1
    normals[0, upper, Y] = 1
    normals[0, lower, Y] = 1
    forces[0, upper, X] = 1
    forces[0, lower, X] = -1
    return normals, forces, 1.0


def michell_centered_both(width=32, height=32, position=0.05):
    normals, forces = _grid(width, height)
    normals[round(position * width), round(height / 2), Y] = 1
    normals[-1, :, X] = 1
    forces[-1, round(height / 2), Y] = -1
    return normals, forces, 1.0


def michell_centered_below(width=32, height=32, position=0.25):
    normals, forces = _grid(width, height)
    normals[round(position * width), 0, Y] = 1
    normals[-1, :, X] = 1
    forces[-1, 0, Y] = -1
    return normals, forces, 1.0


def ground_structure(width=32, height=32, force_position=0.5):
    normals, forces = _grid(width, height)
    normals[-1, :, X] = 1
    normals[0, -1, :] = 1
    forces[round(force_position * height), -1, Y] = -1
    return normals, forces, 1.0


def l_shape(width=32, height=32, aspect=0.4, force_position=0.5):
    normals, forces = _grid(width, height)
    normals[:round(aspect * width), 0, :] = 1
    forces[-1, round((1 - aspect * force_position) * height), Y] = -1
    mask = np.ones((width, height))
    mask[round(height * aspect):, :round(width * (1 - aspect))] = 0
    return normals, forces, mask.T


def crane(width=32, height=32, aspect=0.5, force_position=0.9):
    normals, forces = _grid(width, height)
    normals[:, -1, :] = 1
    # round(1 - aspect * height) is negative: the row counts from the bottom.
    forces[round(force_position * width), round(1 - aspect * height), Y] = -1
    mask = np.ones((width, height))
    mask[round(aspect * width):, round(height * aspect) + 2:] = 0
    return normals, forces, mask.T


def center_support(width=32, height=32):
    normals, forces = _grid(width, height)
    normals[-1, -1, Y] = 1
    normals[-1, :, X] = 1
    forces[:, 0, Y] = -1 / width
    return normals, forces, 1.0


def column(width=32, height=32):
    normals, forces = _grid(width, height)
    normals[:, -1, Y] = 1
    normals[-1, :, X] = 1
    forces[:, 0, Y] = -1 / width
    return normals, forces, 1.0


def roof(width=32, height=32):
    normals, forces = _grid(width, height)
    normals[0, :, X] = 1
    normals[-1, :, X] = 1
    normals[:, -1, Y] = 1
    forces[:, 0, Y] = -1 / width
    return normals, forces, 1.0


def causeway_bridge(width=60, height=20, deck_level=1):
    normals, forces = _grid(width, height)
    normals[-1, -1, Y] = 1
    normals[-1, :, X] = 1
    normals[0, :, X] = 1
    forces[:, round(height * (1 - deck_level)), Y] = -1 / width
    return normals, forces, 1.0


def two_level_bridge(width=32, height=32, deck_height=0.2):
    normals, forces = _grid(width, width)   # sized by width in both directions
    normals[0, -1, :] = 1
    normals[0, :, X] = 1
    normals[-1, :, X] = 1
    for level in (1 - deck_height, 1 + deck_height):
        forces[:, round(height * level / 2), :] = -1 / (2 * width)
    return normals, forces, 1.0


def suspended_bridge(width=60, height=20, span_position=0.2, anchored=False):
    normals, forces = _grid(width, height)
    span = round(span_position * width)
    normals[-1, :, X] = 1
    normals[:span, -1, Y] = 1
    if anchored:
        normals[:span, -1, X] = 1
    forces[:, -1, Y] = -1 / width
    return normals, forces, 1.0


def canyon_bridge(width=60, height=20, deck_level=1):
    deck = round(height * (1 - deck_level))
    normals, forces = _grid(width, height)
    normals[-1, deck:, :] = 1
    normals[0, :, X] = 1
    forces[:, deck, Y] = -1 / width
    return normals, forces, 1.0


def thin_support_bridge(width=32, height=32, design_width=0.25):
    normals, forces = _grid(width, height)
    normals[:, -1, Y] = 1
    normals[0, :, X] = 1
    normals[-1, :, X] = 1
    forces[:, 0, Y] = -1 / width
    mask = np.ones((width, height))
    mask[-round(width * (1 - design_width)):, :round(height * (1 - design_width))] = 0
    return normals, forces, mask   # not transposed, as in the reference code


def drawbridge(width=32, height=32):
    normals, forces = _grid(width, height)
    normals[0, :, :] = 1
    forces[:, -1, Y] = -1 / width
    return normals, forces, 1.0


def _skimage_draw(feature: str):
    from .optional import require
    return require("skimage.draw", feature)


def hoop(width=32, height=32):
    skimage = _skimage_draw("the hoop problem")
    if 2 * width != height:
        raise ProblemError(f"hoop needs height == 2 * width, got {width}x{height}")
    normals, forces = _grid(width, height)
    normals[-1, :, X] = 1
    normals[:, -1, Y] = 1
    i, j, value = skimage.circle_perimeter_aa(width, width, width, forces.shape[:2])
    forces[i, j, Y] = -value / (2 * np.pi * width)
    return normals, forces, 1.0


def dam(width=32, height=32):
    normals, forces = _grid(width, height)
    normals[:, -1, :] = 1
    forces[0, :, X] = 2 * np.arange(1, height + 2) / height ** 2
    return normals, forces, 1.0


def staircase(width=32, height=32, num_stories=2):
    skimage = _skimage_draw("the staircase problem")
    normals, forces = _grid(width, height)
    normals[:, -1, :] = 1
    for story in range(num_stories):
        parity = story % 2
        start = (0, (story + parity) * height // num_stories)
        stop = (width, (story + 1 - parity) * height // num_stories)
        i, j, value = skimage.line_aa(*start, *stop)
        forces[i, j, Y] = np.minimum(forces[i, j, Y], -value / (width * num_stories))
    return normals, forces, 1.0


def ramp(width=32, height=32):
    return staircase(width, height, num_stories=1)


def staggered_points(width=32, height=32, interval=16, break_symmetry=False):
    normals, forces = _grid(width, height)
    normals[:, -1, Y] = 1
    normals[0, :, X] = 1
    normals[-1, :, X] = 1
    load = interval ** 2 / (width * height)
    shift = int(break_symmetry)
    forces[interval // 2 + shift::interval, ::interval, Y] = -load
    forces[shift::interval, interval // 2::interval, Y] = -load
    return normals, forces, 1.0


def multistory_building(width=32, height=32, interval=16):
    normals, forces = _grid(width, height)
    normals[:, -1, Y] = 1
    normals[-1, :, X] = 1
    forces[:, ::interval, Y] = -1 / width
    return normals, forces, 1.0


# ---------------------------------------------------------------------------
# The suite: category -> list of (family, width, height, volfrac, options).
# ---------------------------------------------------------------------------

_SUITE: dict[str, list[tuple[Callable, int, int, float, dict]]] = {
    "mbb_beam": [(mbb_beam, 96, 32, 0.5, {}), (mbb_beam, 192, 64, 0.4, {}),
                 (mbb_beam, 384, 128, 0.3, {}), (mbb_beam, 192, 32, 0.5, {}),
                 (mbb_beam, 384, 64, 0.4, {})],
    "cantilever_beam_full": [(cantilever_beam_full, 96, 32, 0.4, {}),
                             (cantilever_beam_full, 192, 64, 0.3, {}),
                             (cantilever_beam_full, 384, 128, 0.2, {}),
                             (cantilever_beam_full, 384, 128, 0.15, {})],
    "cantilever_beam_two_point": [(cantilever_beam_two_point, 64, 48, 0.4, {}),
                                  (cantilever_beam_two_point, 128, 96, 0.3, {}),
                                  (cantilever_beam_two_point, 256, 192, 0.2, {}),
                                  (cantilever_beam_two_point, 256, 192, 0.15, {})],
    "pure_bending_moment": [(pure_bending_moment, 32, 64, 0.15, {}),
                            (pure_bending_moment, 64, 128, 0.125, {}),
                            (pure_bending_moment, 128, 256, 0.1, {})],
    "ground_structure": [(ground_structure, 64, 64, 0.12, {}),
                         (ground_structure, 128, 128, 0.1, {}),
                         (ground_structure, 256, 256, 0.07, {}),
                         (ground_structure, 256, 256, 0.05, {})],
    "michell_centered_both": [(michell_centered_both, 32, 64, 0.12, {}),
                              (michell_centered_both, 64, 128, 0.12, {}),
                              (michell_centered_both, 128, 256, 0.12, {}),
                              (michell_centered_both, 128, 256, 0.06, {})],
    "michell_centered_below": [(michell_centered_below, 64, 64, 0.12, {}),
                               (michell_centered_below, 128, 128, 0.12, {}),
                               (michell_centered_below, 256, 256, 0.12, {}),
                               (michell_centered_below, 256, 256, 0.06, {})],
    "l_shape_0.2": [(l_shape, 64, 64, 0.4, {"aspect": 0.2}),
                    (l_shape, 128, 128, 0.3, {"aspect": 0.2}),
                    (l_shape, 256, 256, 0.2, {"aspect": 0.2})],
    "l_shape_0.4": [(l_shape, 64, 64, 0.4, {"aspect": 0.4}),
                    (l_shape, 128, 128, 0.3, {"aspect": 0.4}),
                    (l_shape, 256, 256, 0.2, {"aspect": 0.4})],
    "crane": [(crane, 64, 64, 0.3, {}), (crane, 128, 128, 0.2, {}),
              (crane, 256, 256, 0.15, {}), (crane, 256, 256, 0.1, {})],
    "center_support": [(center_support, 64, 64, 0.15, {}), (center_support, 128, 128, 0.1, {}),
                       (center_support, 256, 256, 0.1, {}), (center_support, 256, 256, 0.05, {})],
    "column": [(column, 32, 128, 0.3, {}), (column, 64, 256, 0.3, {}),
               (column, 128, 512, 0.1, {}), (column, 128, 512, 0.3, {}),
               (column, 128, 512, 0.5, {})],
    "roof": [(roof, 64, 64, 0.2, {}), (roof, 128, 128, 0.15, {}), (roof, 256, 256, 0.4, {}),
             (roof, 256, 256, 0.2, {}), (roof, 256, 256, 0.1, {})],
    "causeway_bridge_top": [(causeway_bridge, 64, 64, 0.3, {}),
                            (causeway_bridge, 128, 128, 0.2, {}),
                            (causeway_bridge, 256, 256, 0.1, {}),
                            (causeway_bridge, 128, 64, 0.3, {}),
                            (causeway_bridge, 256, 128, 0.2, {})],
    "causeway_bridge_middle": [(causeway_bridge, 64, 64, 0.12, {"deck_level": 0.5}),
                               (causeway_bridge, 128, 128, 0.1, {"deck_level": 0.5}),
                               (causeway_bridge, 256, 256, 0.08, {"deck_level": 0.5})],
    "causeway_bridge_low": [(causeway_bridge, 64, 64, 0.12, {"deck_level": 0.3}),
                            (causeway_bridge, 128, 128, 0.1, {"deck_level": 0.3}),
                            (causeway_bridge, 256, 256, 0.08, {"deck_level": 0.3})],
    "two_level_bridge": [(two_level_bridge, 64, 64, 0.2, {}),
                         (two_level_bridge, 128, 128, 0.16, {}),
                         (two_level_bridge, 256, 256, 0.12, {})],
    "free_suspended_bridge": [(suspended_bridge, 64, 64, 0.15, {}),
                              (suspended_bridge, 128, 128, 0.1, {}),
                              (suspended_bridge, 256, 256, 0.075, {}),
                              (suspended_bridge, 256, 256, 0.05, {})],
    "anchored_suspended_bridge": [
        (suspended_bridge, 64, 64, 0.15, {"span_position": 0.1, "anchored": True}),
        (suspended_bridge, 128, 128, 0.1, {"span_position": 0.1, "anchored": True}),
        (suspended_bridge, 256, 256, 0.075, {"span_position": 0.1, "anchored": True}),
        (suspended_bridge, 256, 256, 0.05, {"span_position": 0.1, "anchored": True})],
    "canyon_bridge": [(canyon_bridge, 64, 64, 0.16, {}), (canyon_bridge, 128, 128, 0.12, {}),
                      (canyon_bridge, 256, 256, 0.1, {}), (canyon_bridge, 256, 256, 0.05, {})],
    "thin_support_bridge": [(thin_support_bridge, 64, 64, 0.3, {}),
                            (thin_support_bridge, 128, 128, 0.2, {}),
                            (thin_support_bridge, 256, 256, 0.15, {}),
                            (thin_support_bridge, 256, 256, 0.1, {})],
    "drawbridge": [(drawbridge, 64, 64, 0.2, {}), (drawbridge, 128, 128, 0.15, {}),
                   (drawbridge, 256, 256, 0.1, {})],
    "hoop": [(hoop, 32, 64, 0.25, {}), (hoop, 64, 128, 0.2, {}), (hoop, 128, 256, 0.15, {})],
    "dam": [(dam, 64, 64, 0.2, {}), (dam, 128, 128, 0.15, {}), (dam, 256, 256, 0.05, {}),
            (dam, 256, 256, 0.1, {}), (dam, 256, 256, 0.2, {})],
    "ramp": [(ramp, 64, 64, 0.3, {}), (ramp, 128, 128, 0.2, {}), (ramp, 256, 256, 0.2, {}),
             (ramp, 256, 256, 0.1, {})],
    "staircase": [(staircase, 64, 64, 0.3, {"num_stories": 3}),
                  (staircase, 128, 128, 0.2, {"num_stories": 3}),
                  (staircase, 256, 256, 0.15, {"num_stories": 3}),
                  (staircase, 128, 512, 0.15, {"num_stories": 6})],
    "staggered_points": [(staggered_points, 64, 64, 0.3, {}),
                         (staggered_points, 128, 128, 0.3, {}),
                         (staggered_points, 256, 256, 0.3, {}),
                         (staggered_points, 256, 256, 0.5, {}),
                         (staggered_points, 64, 128, 0.3, {}),
                         (staggered_points, 128, 256, 0.3, {}),
                         (staggered_points, 32, 128, 0.3, {}),
                         (staggered_points, 64, 256, 0.3, {}),
                         (staggered_points, 128, 512, 0.3, {}),
                         (staggered_points, 128, 512, 0.15, {"interval": 32})],
    "multistory_building": [(multistory_building, 32, 64, 0.5, {}),
                            (multistory_building, 64, 128, 0.4, {"interval": 32}),
                            (multistory_building, 128, 256, 0.3, {"interval": 64}),
                            (multistory_building, 128, 512, 0.25, {"interval": 64}),
                            (multistory_building, 128, 512, 0.2, {"interval": 128})],
}

# Problems outside Hoyer's suite that the papers use.
_EXTRA = {
    "mbb_beam_60x20_0.5": ("mbb_beam", mbb_beam, 60, 20, 0.5, {}),  # Hoyer et al., Figure 3
}

THESIS_CODES = {
    "A": "michell_centered_both_32x64_0.12",
    "B": "pure_bending_moment_32x64_0.15",
    "D": "causeway_bridge_middle_128x128_0.1",
    "E": "crane_128x128_0.2",
}


def _catalogue():
    entries = {}
    for category, rows in _SUITE.items():
        for family, width, height, volfrac, options in rows:
            entries[f"{category}_{width}x{height}_{volfrac}"] = (category, family, width, height,
                                                                  volfrac, options)
    entries.update(_EXTRA)
    return entries


_CATALOGUE = _catalogue()


def names(category: str | None = None) -> list[str]:
    """All problem names, in suite order (optionally of one category).

    The names are those of Hoyer et al.'s suite plus ``mbb_beam_60x20_0.5`` (their Figure 3); thesis codes
    are not included.

    Args:
        category: a category of :func:`categories`, or None (the default) for every problem. An unknown
            category gives an empty list.

    Returns:
        The names, ``{category}_{width}x{height}_{volfrac}``.
    """
    return [n for n, entry in _CATALOGUE.items() if category is None or entry[0] == category]


def categories() -> list[str]:
    """The 28 categories of the suite, in order.

    Returns:
        The category names (e.g. ``mbb_beam``, ``l_shape_0.2``), as a new list.
    """
    return list(_SUITE)


_SIZED = re.compile(r"^(?P<category>.+)_(?P<width>\d+)x(?P<height>\d+)_(?P<volfrac>[0-9.]+)$")


def _from_pattern(name: str) -> Problem | None:
    """``<category>_<W>x<H>_<volfrac>`` for a known category at any size (the first suite entry's options)."""
    match = _SIZED.match(str(name))
    if match is None or match["category"] not in _SUITE:
        return None
    family, _, _, _, options = _SUITE[match["category"]][0]
    try:
        volfrac = float(match["volfrac"])
    except ValueError:
        raise ProblemError(f"{name!r}: the volume fraction {match['volfrac']!r} is not a number; "
                           f"write <category>_<W>x<H>_<volfrac> with 0 < volfrac < 1") from None
    width, height = int(match["width"]), int(match["height"])
    if min(width, height) < MIN_SIDE:
        raise ProblemError(f"{name!r}: a {width}x{height} grid is too small; each side needs at least "
                           f"{MIN_SIDE} elements")
    need, have = memory_estimate(width, height), _physical_memory()
    if have and need > 0.8 * have:
        raise ProblemError(f"{name!r}: a {width}x{height} grid needs about {need / 2**30:.3g} GiB "
                           f"(stiffness matrix and its Cholesky factor), more than this machine's "
                           f"{have / 2**30:.3g} GiB allows")
    normals, forces, mask = family(width, height, **options)
    return Problem(normals, forces, volfrac, mask, name=str(name))


MIN_SIDE = 2


def memory_estimate(width: int, height: int) -> float:
    """Bytes a problem of this size needs, roughly: the assembled K and a nested-dissection Cholesky factor.

    ``n = 2 (W + 1)(H + 1)`` dofs; K holds about 18 n nonzeros, the factor of a 2D
    grid about 31 n log2(n) (George's nested dissection bound, with the constant
    measured here on 128x128: 8.9 M nonzeros for 33 k dofs); 12 bytes per nonzero
    plus the problem's own arrays.

    Args:
        width: the number of elements along x.
        height: the number of elements along y.

    Returns:
        The estimate in bytes, ``12 (18 n + 31 n log2(n)) + 64 n``.
    """
    import math
    dofs = 2 * (width + 1) * (height + 1)
    return 12.0 * (18 * dofs + 31 * dofs * math.log2(max(dofs, 2))) + 64.0 * dofs


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def canonical_name(name: str, keep_codes: bool = False) -> str:
    """The one name of a problem: thesis codes resolved, surrounding blanks dropped, Unicode digits (full-width
    and others) read as ASCII, and ``<category>_<W>x<H>_<volfrac>`` written with plain integers and the
    shortest volume fraction (``mbb_beam_08x4_.50`` -> ``mbb_beam_8x4_0.5``), so one problem has one name
    in specs, traces and sweeps. ``keep_codes`` leaves a thesis code (``A``) as it is.

    Names of another form (and sized names of an unknown category) are returned normalized and stripped
    but otherwise unchanged; the name is not checked against the suite.

    Args:
        name: a problem name or thesis code (anything, converted with ``str``).
        keep_codes: return a thesis code unresolved (default False).

    Returns:
        The canonical name.
    """
    text = unicodedata.normalize("NFKC", str(name)).strip()
    if keep_codes and text in THESIS_CODES:
        return text
    text = THESIS_CODES.get(text, text)
    match = _SIZED.match(text)
    if match is None or match["category"] not in _SUITE:
        return text
    try:
        volfrac = float(match["volfrac"])
    except ValueError:
        return text
    return f"{match['category']}_{int(match['width'])}x{int(match['height'])}_{volfrac!r}"


def get(name: str) -> Problem:
    """A fresh :class:`Problem` by suite name or thesis code (``A``, ``B``, ``D``, ``E``).

    Names of the form ``<category>_<W>x<H>_<volfrac>`` outside the suite build the
    category's problem at that size and volume fraction (e.g.
    ``michell_centered_both_8x16_0.12``, a coarse problem A). Every spelling of a name
    gives the problem of its :func:`canonical_name`, which the problem carries.

    Args:
        name: a suite name (:func:`names`), a thesis code (:data:`THESIS_CODES`) or a sized name
            ``<category>_<W>x<H>_<volfrac>`` of a suite category.

    Returns:
        A new :class:`Problem`, named by the canonical name. A sized name outside the suite takes the
        options of the category's first suite entry.

    Raises:
        UnknownProblemError: a name that is none of these (a ``KeyError``; the message lists close names).
        ProblemError: a sized name whose volume fraction is not a number or lies outside (0, 1), whose grid
            has a side below 2 elements or would need more than 80 % of the machine's memory
            (:func:`memory_estimate`), or a problem its family rejects (``hoop`` needs
            ``height == 2 * width``).
        MissingDependency: ``hoop`` or ``staircase``/``ramp`` without scikit-image
            (:func:`landscape.optional.require`).
    """
    key = canonical_name(name)
    if key not in _CATALOGUE:
        sized = _from_pattern(key)
        if sized is not None:
            return sized
        close = difflib.get_close_matches(str(name), list(_CATALOGUE) + list(THESIS_CODES), n=5,
                                          cutoff=0.4)
        hint = f"; closest: {', '.join(close)}" if close else ""
        raise UnknownProblemError(f"unknown problem {name!r}{hint} (see landscape.problems.names())")
    _, family, width, height, volfrac, options = _CATALOGUE[key]
    normals, forces, mask = family(width, height, **options)
    return Problem(normals, forces, volfrac, mask, name=key)


def resized(name: str, width: int, height: int) -> Problem:
    """The problem ``name`` (or thesis code) rebuilt at another grid size, same family, options and volfrac.

    For quick checks on coarse versions of the thesis problems; the name says the new size.

    Args:
        name: a suite name (:func:`names`), a thesis code, or a sized name ``<category>_<W>x<H>_<volfrac>``.
        width: the new number of elements along x.
        height: the new number of elements along y.

    Returns:
        A new :class:`Problem` named ``{category}_{width}x{height}_{volfrac}``.

    Raises:
        UnknownProblemError: ``name`` is not known (raised by :func:`get`).
        ProblemError: the family rejects the size (e.g. ``hoop`` without ``height == 2 * width``).
    """
    key = THESIS_CODES.get(name, name)
    if key not in _CATALOGUE:
        key = canonical_name(name)
    if key not in _CATALOGUE:
        source = get(name)          # raises the helpful error for an unknown name
        match = _SIZED.match(source.name)   # a sized name outside the suite: its category at the new size
        return get(f"{match['category']}_{int(width)}x{int(height)}_{source.volfrac!r}")
    category, family, _, _, volfrac, options = _CATALOGUE[key]
    normals, forces, mask = family(int(width), int(height), **options)
    return Problem(normals, forces, volfrac, mask, name=f"{category}_{int(width)}x{int(height)}_{volfrac}")
