"""Plotly figures of a report, as plain ``{"data": [...], "layout": {...}}`` dictionaries.

Plotly.js draws them in the page; building the dictionaries directly (instead of
``plotly.graph_objects``, which validates every attribute) keeps a 300-run report
fast to build. Tests check them against Plotly's schema. Numbers are rounded to
six significant digits and non-finite values become ``null`` (a gap in the line),
so a diverged run does not break the JSON.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..plots import density_scale, use_log

__all__ = ["numbers", "decimate", "curve_figure", "run_curves", "probe_figures", "median_figure", "CURVES",
           "use_log"]

#: the per-step columns a run's section draws, with their axis titles
CURVES = {"loss": "compliance (loss)", "grad_norm": "gradient norm |g|", "step_size": "step size alpha",
          "distance": "|theta - theta0|"}

_HEIGHT = 300
_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf"]


def numbers(values) -> list:
    """A JSON-ready list: floats to 6 significant digits, NaN and infinities as None, integers kept.

    Args:
        values: a 1-D array-like of numbers; integer and boolean arrays are returned as they are
            (``tolist``).

    Returns:
        A list of Python numbers (None for each non-finite float).
    """
    array = np.asarray(values)
    if array.dtype.kind in "iub":
        return array.tolist()
    array = array.astype(float)
    rounded = [float(f"{v:.6g}") for v in array.tolist()]
    return [None if not np.isfinite(v) else r for v, r in zip(array, rounded)]


def decimate(y: np.ndarray, max_points: int) -> np.ndarray:
    """Indices of at most about ``max_points`` points of ``y`` that keep its shape.

    The first and last point and, in each of ``max_points // 2`` equal buckets, the smallest and the
    largest value (so a spike of a diverging run survives the downsampling). Non-finite values are never
    chosen as extremes (a bucket of only non-finite values gives its first index).

    Args:
        y: the 1-D values to downsample.
        max_points: the target number of points; ``y`` is kept whole when it has no more than that.

    Returns:
        Sorted unique indices into ``y`` (at most ``2 * max(max_points // 2, 1) + 2``).
    """
    n = len(y)
    if n <= max_points:
        return np.arange(n)
    buckets = max(max_points // 2, 1)
    size = -(-n // buckets)
    padded = np.full(buckets * size, np.nan)
    padded[:n] = np.where(np.isfinite(y), y, np.nan)
    table = padded.reshape(buckets, size)
    starts = np.arange(buckets) * size
    low = np.argmin(np.where(np.isnan(table), np.inf, table), axis=1) + starts
    high = np.argmax(np.where(np.isnan(table), -np.inf, table), axis=1) + starts
    keep = np.unique(np.concatenate([[0, n - 1], low, high]))
    return keep[keep < n]


def _whole_steps(layout: dict, steps) -> dict:
    """Ticks at whole steps on a short step axis (Plotly would put some at 0.5)."""
    steps = np.asarray(steps)
    if steps.size and steps.dtype.kind in "iu" and steps.max() - steps.min() <= 12:
        layout["xaxis"]["dtick"] = 1
    return layout


def _layout(title: str, xtitle: str, ytitle: str, log: bool, **extra) -> dict:
    layout = {"title": {"text": title, "font": {"size": 13}}, "height": _HEIGHT,
              "margin": {"l": 60, "r": 20, "t": 40, "b": 45},
              "xaxis": {"title": {"text": xtitle}}, "yaxis": {"title": {"text": ytitle}},
              "hovermode": "closest", "template": "plotly_white"}
    if log:
        layout["yaxis"].update(type="log", exponentformat="power")
    layout.update(extra)
    return layout


def curve_figure(x, y, title: str, ytitle: str, log: bool | None = None, max_points: int = 500,
                 xtitle: str = "step") -> dict:
    """One line, downsampled to about ``max_points`` points with its extremes kept.

    Args:
        x: the x values (steps), same length as ``y``.
        y: the y values.
        title: the figure's title.
        ytitle: the y axis title (also the line's name).
        log: a log y axis; ``None`` (the default) decides by :func:`use_log` (positive finite values
            spanning more than a decade).
        max_points: the target number of points (default 500), see :func:`decimate`.
        xtitle: the x axis title (default ``"step"``).

    Returns:
        A Plotly figure as a ``{"data", "layout"}`` dict.
    """
    y = np.asarray(y, dtype=float)
    keep = decimate(y, max_points)
    log = use_log(y) if log is None else log
    return {"data": [{"type": "scatter", "mode": "lines", "x": numbers(np.asarray(x)[keep]), "y": numbers(y[keep]),
                      "line": {"width": 1.6, "color": _COLORS[0]}, "name": ytitle}],
            "layout": _whole_steps(_layout(title, xtitle, ytitle, log), np.asarray(x))}


def run_curves(steps: np.ndarray, max_points: int = 500) -> list[dict]:
    """Loss, gradient norm, step size and distance from the start against the step, one figure each.

    A column without any finite value is left out. The y axis is logarithmic by :func:`use_log`, and
    always for the gradient norm and the step size when their finite values are positive.

    Args:
        steps: a trace's steps table (structured array with ``step`` and the columns of ``CURVES``).
        max_points: the target number of points per curve (default 500).

    Returns:
        A list of Plotly figure dicts, in the order of ``CURVES``.
    """
    figures = []
    for column, title in CURVES.items():
        values = steps[column].astype(float)
        if not np.isfinite(values).any():
            continue
        log = use_log(values) or (column in ("grad_norm", "step_size") and np.nanmin(values[np.isfinite(values)]) > 0)
        figures.append(curve_figure(steps["step"], values, title, title, log=log, max_points=max_points))
    return figures


# -- probes -------------------------------------------------------------------------------------
def _density_figures(name: str, data: Mapping[str, np.ndarray]) -> tuple[list[dict], list[str]]:
    """Every output as long as ``grid``: one line per recorded step on a log axis spanning ten decades
    (eigenvalue outliers carry weight ~1/n), as :func:`landscape.plots.probe_densities` draws them."""
    length = data["grid"].shape[1]
    keys = [k for k, v in data.items() if k not in ("step", "grid") and v.ndim == 2 and v.shape[1] == length]
    figures = []
    for key in keys:
        values = data[key]
        floor, (low, high) = density_scale(values)
        lines = []
        for i, step in enumerate(data["step"]):
            if np.isfinite(values[i]).any():
                lines.append({"type": "scatter", "mode": "lines", "x": numbers(data["grid"][i]),
                              "y": numbers(np.maximum(values[i], floor)), "name": f"step {int(step)}",
                              "line": {"width": 1.4, "color": _COLORS[len(lines) % 10]}})
        if not lines:
            continue
        layout = _layout(f"{name}: {key}", "eigenvalue", "density", log=True)
        layout["yaxis"]["range"] = [np.log10(low), np.log10(high)]
        figures.append({"data": lines, "layout": layout})
    shown = set(keys) | {"step", "grid"}
    return figures, [k for k in data if k not in shown and data[k].ndim > 1]


def _series_figures(name: str, data: Mapping[str, np.ndarray], image_shape) -> tuple[list[dict], list[str]]:
    """Scalars against the step (with error bars from a ``KEY_se`` output), short vectors (k <= 10) as
    k lines, images (the design's shape) as the heat map of the last recorded step."""
    steps = numbers(data["step"])
    figures, skipped = [], []
    for key, values in data.items():
        if key in ("step", "grid") or (key.endswith("_se") and key[:-3] in data):
            continue
        if not np.isfinite(values).any():
            skipped.append(f"{key} (never finite)")
        elif values.ndim == 1:
            trace = {"type": "scatter", "mode": "lines+markers", "x": steps, "y": numbers(values),
                     "marker": {"size": 5}, "line": {"color": _COLORS[0]}, "name": key}
            if f"{key}_se" in data:
                trace["error_y"] = {"type": "data", "array": numbers(data[f"{key}_se"]), "visible": True}
                title = f"{name}: {key} (error bars: one standard error)"
            else:
                title = f"{name}: {key}"
            figures.append({"data": [trace], "layout": _whole_steps(_layout(title, "step", key, use_log(values)),
                                                                    data["step"])})
        elif values.ndim == 2 and values.shape[1] <= 10:
            lines = [{"type": "scatter", "mode": "lines+markers", "x": steps, "y": numbers(values[:, j]),
                      "name": f"{key}[{j}]", "marker": {"size": 4}, "line": {"width": 1.2, "color": _COLORS[j % 10]}}
                     for j in range(values.shape[1])]
            figures.append({"data": lines, "layout": _whole_steps(_layout(f"{name}: {key}", "step", key,
                                                                          use_log(values)), data["step"])})
        elif values.ndim == 3 and (image_shape is None or tuple(values.shape[1:]) == tuple(image_shape)):
            last = np.flatnonzero(np.isfinite(values).reshape(len(values), -1).any(axis=1))
            if not last.size:
                continue
            i = int(last[-1])
            layout = _layout(f"{name}: {key} at step {int(data['step'][i])}", "column", "row", False,
                             height=max(_HEIGHT, 80 + 260 * values.shape[1] / max(values.shape[2], 1)))
            layout["yaxis"].update(scaleanchor="x", autorange="reversed")     # row 0 on top, as in the designs
            figures.append({"data": [{"type": "heatmap", "z": [numbers(r) for r in values[i]],
                                      "colorscale": "RdBu", "zmid": 0, "reversescale": True}],
                            "layout": layout})
        else:
            skipped.append(key)
    return figures, skipped


def probe_figures(name: str, data: Mapping[str, np.ndarray], image_shape=None) -> tuple[list[dict], list[str]]:
    """The figures of one recorded probe and the outputs it records but they do not draw.

    Density probes (with a ``grid`` output: ``hessian_density``, ``lbfgs_density``, ``b_vs_h``)
    are drawn as densities, their scalar outputs (traces of H and B) as curves; any other probe
    by the shape of its outputs (:func:`_series_figures`), so third-party probes are drawn too.

    Densities: every output as long as ``grid``, one line per recorded step on a log axis spanning ten
    decades (:func:`landscape.plots.density_scale`). Other outputs: scalars against the step (with
    one-standard-error bars from a ``KEY_se`` output), vectors of at most 10 entries as one line each,
    and images as the heat map of the last step with a finite value.

    Args:
        name: the probe's name (used in the titles).
        data: the probe's recorded data, ``{"step": (k,), output: (k, *shape)}`` as
            :meth:`landscape.trace.Trace.probe` returns it.
        image_shape: the design's (height, width), or ``None`` (the default) to draw every 3-D output as
            an image.

    Returns:
        ``(figures, not_drawn)``: Plotly figure dicts, and the names of the outputs left out (with
        ``" (never finite)"`` appended for outputs that have no finite value). Both are empty when the
        probe recorded no step.
    """
    if not len(data.get("step", ())):
        return [], []
    if "grid" in data and data["grid"].ndim == 2:
        figures, skipped = _density_figures(name, data)
        scalars = {k: v for k, v in data.items() if k == "step" or (k != "grid" and v.ndim == 1)}
        more, _ = _series_figures(name, scalars, image_shape)
        return figures + more, skipped
    return _series_figures(name, data, image_shape)


def median_figure(title: str, groups: Mapping[str, Sequence], max_points: int = 400) -> dict:
    """Median loss per step with its min-max band, one colour per group.

    ``groups`` maps ``label -> (steps, median, low, high, runs)``; clicking a legend entry hides the
    group's line and band together. The band is drawn only for groups of more than one run.

    Args:
        title: the figure's title.
        groups: ``{label: (steps, median, low, high, runs)}``, with the arrays of
            :func:`landscape.plots.median_band` and ``runs`` the number of runs in the group.
        max_points: the target number of points of each median (default 400); the band's edges keep a
            quarter of that each.

    Returns:
        A Plotly figure as a ``{"data", "layout"}`` dict, with a log y axis when the medians' finite values
        are positive and span more than a decade.
    """
    data = []
    values = []
    for i, (label, (steps, median, low, high, runs)) in enumerate(groups.items()):
        color = _COLORS[i % 10]
        keep = np.unique(np.concatenate([decimate(median, max_points), decimate(high, max_points // 4),
                                         decimate(low, max_points // 4)]))
        x = numbers(np.asarray(steps)[keep])
        if runs > 1:
            data.append({"type": "scatter", "mode": "lines", "x": x, "y": numbers(high[keep]), "line": {"width": 0},
                         "legendgroup": label, "showlegend": False, "hoverinfo": "skip"})
            data.append({"type": "scatter", "mode": "lines", "x": x, "y": numbers(low[keep]), "line": {"width": 0},
                         "fill": "tonexty", "fillcolor": _rgba(color, 0.18), "legendgroup": label,
                         "showlegend": False, "hoverinfo": "skip"})
        data.append({"type": "scatter", "mode": "lines", "x": x, "y": numbers(median[keep]),
                     "line": {"width": 2, "color": color}, "legendgroup": label, "name": f"{label} (n={runs})"})
        values.append(np.asarray(median, dtype=float))
    log = use_log(np.concatenate(values)) if values else False
    layout = _layout(title, "step", "loss: median, min-max band", log, height=460,
                     legend={"font": {"size": 11}, "orientation": "h", "y": -0.16, "yanchor": "top"},
                     margin={"l": 60, "r": 20, "t": 40, "b": 30})
    layout["xaxis"].update(automargin=True)
    _whole_steps(layout, np.concatenate([np.asarray(g[0]) for g in groups.values()]) if groups else [])
    return {"data": data, "layout": layout}


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"
