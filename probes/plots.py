"""Plots of the geometry probes: interpolation curves, 2D surfaces with the projected path, PCA variance.

Functions return matplotlib figures; ``trace_*`` variants work from a saved
trace (they rebuild the objective from its config and use its snapshots) and
are registered as ``landscape plot TRACE KIND`` kinds through the
``landscape.plot_kinds`` entry points: ``pca``, ``surface``, ``interpolation``.
"""
from __future__ import annotations

import numpy as np

from landscape.plots import _title, pyplot

from .geometry import Interpolation, Surface, interpolate, pca_plane, surface
from .trajectory import explained_variance_by_prefix

__all__ = ["interpolation_figure", "surface_figure", "pca_figure", "trace_pca", "trace_surface",
           "trace_interpolation"]


def interpolation_figure(curves: Interpolation, title: str = "", xlabel: str = "alpha", log: bool = True):
    """The loss along one or more 1D interpolations, one line per curve.

    Args:
        curves: an :class:`~probes.geometry.Interpolation` (``losses`` of shape ``(len(alphas),)``
            or ``(curves, len(alphas))``); its ``labels``, if any, make a legend.
        title: the axes title (default none).
        xlabel: the x-axis label (default ``"alpha"``).
        log: a logarithmic loss axis (default True).

    Returns:
        The matplotlib figure.
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    values = np.atleast_2d(curves.losses)
    labels = curves.labels or [None] * len(values)
    for i, (row, label) in enumerate(zip(values, labels)):
        ax.plot(curves.alphas, row, lw=1.4, color=f"C{i % 10}", label=label)
    if log:
        ax.set_yscale("log")
    ax.set(xlabel=xlabel, ylabel="loss")
    if curves.labels:
        ax.legend(fontsize=7)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def surface_figure(s: Surface, title: str = "", log: bool = True, three_d: bool = True,
                   center_label: str = "center"):
    """Contour plot (and a 3D view) of a surface, with the projected path when there is one.

    The plane's centre is marked at ``(0, 0)``; with a path, the title also gives the
    largest distance of its points from the plane.

    Args:
        s: a :class:`~probes.geometry.Surface` (losses on the ``alphas x betas`` grid, optional ``path``).
        title: the title (default none).
        log: plot ``log10`` of the loss (default True).
        three_d: add a 3D surface view beside the contour plot (default True).
        center_label: the legend label of the centre marker (default ``"center"``).

    Returns:
        The matplotlib figure.
    """
    plt = pyplot()
    values = np.log10(s.losses) if log else s.losses
    A, B = np.meshgrid(s.alphas, s.betas, indexing="ij")
    fig = plt.figure(figsize=(12 if three_d else 6.5, 5))
    ax = fig.add_subplot(1, 2 if three_d else 1, 1)
    contour = ax.contourf(A, B, values, levels=30, cmap="viridis")
    ax.contour(A, B, values, levels=15, colors="k", linewidths=0.4, alpha=0.5)
    fig.colorbar(contour, ax=ax, label="log10 loss" if log else "loss")
    ax.plot(0, 0, "o", color="red", ms=6, label=center_label)
    if s.path is not None:
        ax.plot(s.path[:, 0], s.path[:, 1], ".-", color="white", lw=1, ms=3, label="projected path")
        ax.set_title(f"{title}\npath's largest distance from the plane: {np.max(s.path_residual):.3g}", fontsize=8)
    else:
        ax.set_title(title, fontsize=8)
    ax.set(xlabel="alpha (d1)", ylabel="beta (d2)")
    ax.legend(fontsize=7, loc="upper right")
    if three_d:
        ax3 = fig.add_subplot(1, 2, 2, projection="3d")
        ax3.plot_surface(A, B, values, cmap="viridis", linewidth=0, antialiased=True)
        ax3.set(xlabel="alpha", ylabel="beta", zlabel="log10 loss" if log else "loss")
    fig.tight_layout()
    return fig


def pca_figure(thetas, title: str = ""):
    """Explained variance of the top two PCA directions for every prefix of a trajectory (thesis 4.1).

    Plots PC 1 and PC 1 + PC 2 of :func:`~probes.trajectory.explained_variance_by_prefix`
    against the index ``j`` of the prefix's last iterate (the prefix holds ``j + 1`` iterates).

    Args:
        thetas: ``(k, n)`` iterates (e.g. snapshots), one per row, ``k >= 2``.
        title: the axes title (default none).

    Returns:
        The matplotlib figure.
    """
    plt = pyplot()
    prefix = explained_variance_by_prefix(thetas, components=2)
    fig, ax = plt.subplots(figsize=(7, 4))
    steps = np.arange(1, len(prefix) + 1)
    ax.plot(steps, prefix[:, 0], label="PC 1")
    ax.plot(steps, prefix[:, 0] + prefix[:, 1], label="PC 1 + PC 2")
    ax.set(xlabel="iterates in the prefix (snapshot index)", ylabel="explained variance ratio", ylim=(0, 1.02))
    ax.legend()
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def _snapshots(trace, minimum: int = 3):
    snaps = trace.snapshots()
    if len(snaps["step"]) < minimum:
        raise ValueError(f"{trace.path} has {len(snaps['step'])} snapshots; this plot needs at least {minimum} "
                         f"(run with --snapshot-every N)")
    return snaps


def trace_pca(trace):
    """:func:`pca_figure` of a trace's snapshots (plot kind ``pca``).

    Args:
        trace: an open trace (:func:`landscape.open_trace`) with at least three snapshots.

    Returns:
        The matplotlib figure.

    Raises:
        ValueError: the trace has fewer than three snapshots (run with ``--snapshot-every N``).
    """
    snaps = _snapshots(trace)
    fig = pca_figure(snaps["theta"], f"PCA of the trajectory, every prefix: {_title(trace)}")
    return fig


def trace_surface(trace, points: int = 11):
    """The loss on the plane of the top two PCA directions of the snapshots, with the path (Li et al.).

    Plot kind ``surface``. The plane is :func:`~probes.geometry.pca_plane` of the
    snapshots (centred at the last one); the grid spans 1.2 times the largest
    coordinate of a snapshot in the plane, the same in both directions. The objective
    is rebuilt from the trace and evaluated at ``points ** 2`` grid points.

    Args:
        trace: an open trace (:func:`landscape.open_trace`) with at least three snapshots.
        points: grid points per direction (default 11).

    Returns:
        The :func:`surface_figure`.

    Raises:
        ValueError: the trace has fewer than three snapshots (run with ``--snapshot-every N``).
    """
    snaps = _snapshots(trace)
    plane = pca_plane(snaps["theta"])
    coords_scale = np.abs(np.stack([snaps["theta"] - plane.center.numpy()]) @ np.stack(
        [plane.d1.numpy(), plane.d2.numpy()]).T).max() * 1.2
    grid = np.linspace(-coords_scale, coords_scale, points)
    s = surface(trace.objective(), plane, grid, grid, progress=False, trajectory=snaps["theta"])
    ratio = plane.info["explained_variance_ratio"]
    return surface_figure(s, f"PCA plane ({100 * sum(ratio):.1f} % of the variance)\n{_title(trace)}",
                          center_label="final point")


def trace_interpolation(trace, points: int = 41):
    """The loss on the segment from the first snapshot (initialization) to the final point, extended by 25 %.

    Plot kind ``interpolation``: ``alpha`` runs over ``[-0.25, 1.25]`` (25 % beyond
    each end). The final point is the trace's final theta, or the last snapshot if the
    run has not finished (final theta all NaN). The objective is rebuilt from the trace.

    Args:
        trace: an open trace (:func:`landscape.open_trace`) with at least one snapshot.
        points: the number of ``alpha`` values (default 41).

    Returns:
        The :func:`interpolation_figure`.

    Raises:
        ValueError: the trace has no snapshot (run with ``--snapshot-every N``).
    """
    snaps = _snapshots(trace, minimum=1)
    final = trace.final().theta
    if np.isnan(final).all():
        final = snaps["theta"][-1]
    curve = interpolate(trace.objective(), snaps["theta"][0], final, np.linspace(-0.25, 1.25, points))
    return interpolation_figure(curve, f"initialization (0) to final point (1): {_title(trace)}")
