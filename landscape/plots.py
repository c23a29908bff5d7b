"""Plots of traces (matplotlib and seaborn, PNG): curves, designs, comparisons across seeds.

Each function takes opened :class:`~landscape.trace.Trace` objects and returns
the matplotlib ``Figure``; :func:`save` writes it. The command line's ``plot``
and ``compare`` are thin wrappers around these. More kinds come from
:func:`register_kind` or from :mod:`landscape.registry` (``pca``, ``surface``
and ``interpolation`` from the ``probes`` package, and other packages' entry points),
and every recorded probe can be plotted by its name.
"""
from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

__all__ = ["pyplot", "curve", "design", "compare", "median_band", "group_label", "optimizer_label", "probe_curves",
           "probe_densities", "density_scale", "save", "KINDS", "register_kind", "figure_for"]

_LABELS = {"loss": "compliance (loss)", "grad_norm": "gradient norm |g|", "distance": "|theta - theta0|",
           "step_size": "step size alpha", "step_norm": "|theta_k+1 - theta_k|",
           "evaluations": "objective evaluations"}


def pyplot():
    """matplotlib's pyplot on the file backend (Agg) with this package's seaborn theme.

    Switches matplotlib to the non-interactive ``Agg`` backend and sets seaborn's ``whitegrid`` style in the
    ``notebook`` context; every plotting function here calls it first.

    Returns:
        The ``matplotlib.pyplot`` module.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns
    sns.set_theme(style="whitegrid", context="notebook")
    return plt


def _title(trace) -> str:
    s = trace.summary()
    return f"{s['optimizer']} - {s['model']} - {s['problem']} - p={s['penal']} - seed {s['seed']} ({s['status']})"


def curve(trace, column: str = "loss", log: bool | None = None):
    """One per-step column against the step, with the loss curve behind it in grey when it is not the loss.

    The loss, when drawn behind another column, is a dashed grey line on a second y axis with a log scale.

    Args:
        trace: an opened :class:`~landscape.trace.Trace`; its :meth:`~landscape.trace.Trace.frame` is plotted.
        column: a column of the steps table, e.g. ``loss``, ``grad_norm``, ``distance``, ``step_size``,
            ``step_norm`` or ``evaluations`` (default ``"loss"``).
        log: a log y axis; ``None`` (the default) chooses one when the finite values are positive and the
            largest is more than 100 times the smallest.

    Returns:
        The matplotlib ``Figure``.

    Raises:
        ValueError: ``column`` is not a column of the trace's steps table.
    """
    plt = pyplot()
    frame = trace.frame()
    if column not in frame.columns:
        raise ValueError(f"no column {column!r} in the step table; columns: {', '.join(frame.columns)}")
    fig, ax = plt.subplots(figsize=(7, 4))
    values = frame[column].to_numpy()
    if log is None:
        finite = values[np.isfinite(values)]
        log = finite.size > 0 and finite.min() > 0 and finite.max() / finite.min() > 100
    ax.plot(frame.index, values, color="C0", lw=1.6, label=_LABELS.get(column, column))
    ax.set_xlabel("step (accepted iterate)")
    ax.set_ylabel(_LABELS.get(column, column))
    if log:
        ax.set_yscale("log")
    if column != "loss":
        twin = ax.twinx()
        twin.plot(frame.index, frame["loss"], color="0.6", lw=1, ls="--", label="loss")
        twin.set_ylabel("loss", color="0.45")
        twin.set_yscale("log")
        twin.grid(False)
    ax.set_title(_title(trace), fontsize=9)
    fig.tight_layout()
    return fig


def design(trace, best: bool = False):
    """The final (or best) design as a grey-scale image, with its compliance.

    Densities are drawn on ``[0, 1]`` (1 black). While the run has not finished (no final design stored),
    the last snapshot's design is drawn instead and labelled with its step; the compliance in the title is
    still the best loss (``best=True``) or the loss of the last recorded step.

    Args:
        trace: an opened :class:`~landscape.trace.Trace`.
        best: draw the design at the best step instead of the final one (default False).

    Returns:
        The matplotlib ``Figure``.

    Raises:
        ValueError: the trace holds neither a final design nor a snapshot with a design.
    """
    plt = pyplot()
    image = trace.best_design if best else trace.design
    if image is None:
        snaps = trace.snapshots(theta=False)
        if "design" not in snaps or not len(snaps["step"]):
            raise ValueError(f"{trace.path} holds no design yet (the run has not finished and took no snapshots)")
        image, label = snaps["design"][-1], f"snapshot at step {snaps['step'][-1]}"
    else:
        label = "best" if best else "final"
    height, width = image.shape
    fig, ax = plt.subplots(figsize=(min(10, 2 + 6 * width / max(height, width)),
                                    min(10, 1.2 + 6 * height / max(height, width))))
    ax.imshow(image, cmap="Greys", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    loss = trace.best_loss if best else float(trace.steps()["loss"][-1])
    ax.set_title(f"{label} design, compliance {loss:.4g}\n{_title(trace)}", fontsize=8)
    fig.tight_layout()
    return fig


def use_log(values) -> bool:
    """A log axis when the finite values are positive and span more than a decade (the report's rule too).

    Args:
        values: an array-like of numbers; NaN and infinite entries are ignored.

    Returns:
        True when there is at least one finite value, all finite values are positive and the largest is more
        than 10 times the smallest.
    """
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    return bool(finite.size and finite.min() > 0 and finite.max() / finite.min() > 10)


def probe_curves(trace, name: str):
    """A probe's outputs against the step, by the report's rules: scalars as curves (with one-standard-error bars
    where the probe records ``KEY_se``), short vectors (k <= 10) as k labelled curves, a log axis where the
    values are positive and span more than a decade; outputs that are never finite are named in the title.

    Probes with a ``grid`` output (eigenvalue densities) are drawn by :func:`probe_densities`. Each drawn
    output gets its own panel, sharing the step axis.

    Args:
        trace: an opened :class:`~landscape.trace.Trace`.
        name: the probe's name (one of the trace's ``probe_names``).

    Returns:
        The matplotlib ``Figure``.

    Raises:
        ValueError: the probe records nothing drawable (its outputs are listed).
    """
    data = trace.probe(name)
    if "grid" in data:
        return probe_densities(trace, name)
    plt = pyplot()
    candidates = [k for k, v in data.items() if k != "step" and not (k.endswith("_se") and k[:-3] in data)
                  and (v.ndim == 1 or (v.ndim == 2 and v.shape[1] <= 10))]
    never = [k for k in candidates if not np.isfinite(data[k]).any()]
    series = [k for k in candidates if k not in never]
    if not series:
        raise ValueError(f"probe {name!r} has no finite scalar or short vector outputs to plot; outputs: "
                         f"{', '.join(k for k in data if k != 'step')}")
    fig, axes = plt.subplots(len(series), 1, figsize=(7, 2.4 * len(series) + 0.6), sharex=True, squeeze=False)
    for ax, key in zip(axes[:, 0], series):
        values = data[key]
        if values.ndim == 1 and f"{key}_se" in data:
            ax.errorbar(data["step"], values, yerr=data[f"{key}_se"], marker="o", ms=3, capsize=2,
                        label=f"{key} (bars: one standard error)")
        elif values.ndim == 1:
            ax.plot(data["step"], values, marker="o", ms=3, label=key)
        else:
            for j in range(values.shape[1]):
                ax.plot(data["step"], values[:, j], marker="o", ms=2, lw=1, color=f"C{j % 10}", label=f"{key}[{j}]")
        if use_log(values):
            ax.set_yscale("log")
        ax.set_ylabel(key)
        ax.legend(fontsize=6, ncol=min(5, values.shape[1]) if values.ndim == 2 else 1, loc="best")
    axes[-1, 0].set_xlabel("step")
    note = f"; never finite: {', '.join(never)}" if never else ""
    axes[0, 0].set_title(f"probe {name}: {_title(trace)}{note}", fontsize=9)
    fig.tight_layout()
    return fig


def density_scale(*densities) -> tuple[float, tuple[float, float]]:
    """How every eigenvalue density here is drawn on a log axis: ``(floor, (low, high))``.

    An outlier eigenvalue carries a weight of about 1/n, so the axis shows ten
    decades below the largest value of ``densities`` (``low = peak * 1e-10``,
    ``high = peak * 3``); values are drawn as ``max(value, floor)`` with the floor
    two decades below the axis, so zeros leave the plot instead of vanishing.

    Args:
        *densities: arrays of density values; those without any finite value are ignored.

    Returns:
        ``(floor, (low, high))`` with ``floor = peak * 1e-12``; ``peak`` is the largest finite value, or 1.0
        when no array has one.
    """
    finite = [np.nanmax(d) for d in map(np.asarray, densities) if np.isfinite(d).any()]
    peak = float(max(finite)) if finite else 1.0
    return peak * 1e-12, (peak * 1e-10, peak * 3)


def probe_densities(trace, name: str):
    """Every density-like output (same length as ``grid``) of a probe, one line per recorded step, log scale.

    One panel per output, each against the eigenvalue ``grid`` of its step; the log axis and the floor
    come from :func:`density_scale`, and steps whose row is never finite are skipped.

    Args:
        trace: an opened :class:`~landscape.trace.Trace`.
        name: the name of a probe that records a ``grid`` output (e.g. an SLQ eigenvalue density).

    Returns:
        The matplotlib ``Figure``.
    """
    plt = pyplot()
    data = trace.probe(name)
    length = data["grid"].shape[1]
    keys = [k for k, v in data.items() if k not in ("step", "grid") and v.ndim == 2 and v.shape[1] == length]
    fig, axes = plt.subplots(1, len(keys), figsize=(5.5 * len(keys), 4), squeeze=False)
    for ax, key in zip(axes[0], keys):
        floor, limits = density_scale(data[key])
        for i, step in enumerate(data["step"]):
            if np.isfinite(data[key][i]).any():
                ax.semilogy(data["grid"][i], np.maximum(data[key][i], floor), lw=1.2, label=f"step {step}")
        ax.set_ylim(*limits)
        ax.set_xlabel("eigenvalue")
        ax.set_title(key, fontsize=9)
        ax.legend(fontsize=7)
    axes[0, 0].set_ylabel("density")
    fig.suptitle(f"probe {name}: {_title(trace)}", fontsize=9)
    fig.tight_layout()
    return fig


def optimizer_label(summary: dict) -> str:
    """``OPTIMIZER (m=.., lr=..)``: the optimizer with the options that tell its runs apart, or the run's ``label``
    (the Recorder's: ``torch.optim.LBFGS(lr=1, ...)`` or the one the user gave).

    Only the options ``m`` and ``lr`` are shown (floats to 5 significant digits), sorted by name.

    Args:
        summary: a run's :meth:`~landscape.trace.Trace.summary`; its ``label``, ``optimizer`` and
            ``optimizer_options`` are used.

    Returns:
        The ``label`` when it is set, else the optimizer's name with the shown options in parentheses.
    """
    if summary.get("label"):
        return str(summary["label"])
    options = summary.get("optimizer_options") or {}
    if not isinstance(options, dict):
        options = {}
    shown = ", ".join(f"{k}={v:.5g}" if isinstance(v, float) else f"{k}={v}"
                      for k, v in sorted(options.items()) if k in ("m", "lr"))
    return summary["optimizer"] + (f" ({shown})" if shown else "")


def group_label(summary: dict) -> str:
    """The base label ``OPTIMIZER (m=.., lr=..) | MODEL | p=P`` of a run (see :func:`grouped` for the groups).

    Args:
        summary: a run's :meth:`~landscape.trace.Trace.summary`; its ``model`` and ``penal`` are used, and
            what :func:`optimizer_label` reads.

    Returns:
        The label string.
    """
    return f"{optimizer_label(summary)} | {summary['model']} | p={summary['penal']}"


#: config entries that do not make one configuration another: the seed, and what only records or locates
NOT_CONFIGURATION = ("seed", "model_seed", "probes", "snapshot_every", "sweep_task", "num_params", "spec", "label")


def configuration(config: dict) -> dict:
    """A run's configuration without its seed: its :class:`~landscape.RunSpec` fields when the trace holds one,
    else the recorded config; entries that only record (probes, snapshots) are left out.

    Args:
        config: a trace's recorded config (anything else counts as an empty one). When it has a ``spec``
            dict, that spec (plus the config's ``label``) is used.

    Returns:
        The configuration dict without the keys in ``NOT_CONFIGURATION``.
    """
    config = config if isinstance(config, dict) else {}
    spec = config.get("spec")
    base = {**spec, **{k: config[k] for k in ("label",) if k in config}} if isinstance(spec, dict) else config
    return {k: v for k, v in base.items() if k not in NOT_CONFIGURATION}


def grouped(runs: Sequence[tuple[dict, dict]], base: Callable[[dict], str] | None = None) -> dict[str, list[int]]:
    """Group runs that differ only in their seed: ``{label: [indices into runs]}`` for ``runs`` of
    ``(summary, config)``.

    Two runs are in one group when their whole configuration but the seed is the same
    (:func:`configuration`). A group's label is :func:`group_label`, followed by the fields in which
    its configuration differs from other groups of the same base label (e.g. ``precision=float64``),
    so that a sweep over precisions, model options or filter draws one band per setting.

    Args:
        runs: ``(summary, config)`` pairs, one per run (a trace's :meth:`~landscape.trace.Trace.summary`
            and its config).
        base: the function giving a run's base label from its summary (default :func:`group_label`).

    Returns:
        ``{label: [indices into runs]}``, the groups in the order of their first run.
    """
    keys = [json.dumps(configuration(config), sort_keys=True, default=str) for _, config in runs]
    bases = [(base or group_label)(summary) for summary, _ in runs]
    first = {}
    for i, key in enumerate(keys):
        first.setdefault(key, i)
    by_base: dict[str, list[str]] = {}
    for key, i in first.items():
        by_base.setdefault(bases[i], []).append(key)
    labels = {}
    for name, members in by_base.items():
        configs = [json.loads(k) for k in members]
        fields = sorted({f for c in configs for f in c if len({json.dumps(d.get(f), sort_keys=True, default=str)
                                                               for d in configs}) > 1})
        for key, config in zip(members, configs):
            extra = ", ".join(f"{f}={_short(config.get(f))}" for f in fields)
            labels[key] = f"{name} | {extra}" if extra else name
    out: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        out.setdefault(labels[key], []).append(i)
    return out


def _short(value) -> str:
    text = json.dumps(value, sort_keys=True, default=str) if isinstance(value, (dict, list)) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def median_band(series: Sequence[np.ndarray]):
    """``(steps, median, min, max)`` across runs at each step, over the runs that reached it
    (shorter runs, e.g. diverged ones, are padded with NaN).

    Args:
        series: one 1-d array per run (a per-step column); there must be at least one.

    Returns:
        A tuple of four arrays of the length of the longest series: the step indices ``0 .. n - 1`` and the
        NaN-ignoring median, minimum and maximum across runs (NaN where no run has a value).
    """
    length = max(len(s) for s in series)
    table = np.full((len(series), length), np.nan)
    for row, s in zip(table, series):
        row[:len(s)] = s
    with warnings.catch_warnings():      # columns where every run has a NaN loss (diverged)
        warnings.simplefilter("ignore", RuntimeWarning)
        return (np.arange(length), np.nanmedian(table, axis=0), np.nanmin(table, axis=0),
                np.nanmax(table, axis=0))


def compare(traces: Sequence, column: str = "loss", log: bool = True):
    """Curves of several runs; runs of the same configuration (all but the seed) are one median line with its spread.

    The runs are grouped by :func:`grouped`; each group is drawn as its :func:`median_band` median, with
    the min-max band shaded when the group has more than one run. The legend gives each group's label and
    number of runs, the title the problems.

    Args:
        traces: opened :class:`~landscape.trace.Trace` objects (a sequence, indexed).
        column: a column of the steps table other than ``step`` (default ``"loss"``).
        log: a log y axis (default True).

    Returns:
        The matplotlib ``Figure``.

    Raises:
        ValueError: ``column`` is not a column of the steps table.
    """
    from .trace import STEP_DTYPE
    columns = [name for name in STEP_DTYPE.names if name != "step"]
    if column not in columns:
        raise ValueError(f"no column {column!r} in a trace's steps table; choose one of {', '.join(columns)}")
    plt = pyplot()
    runs = [(trace.summary(), trace.config) for trace in traces]
    groups = {label: [traces[i].frame()[column] for i in members] for label, members in grouped(runs).items()}
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i, (label, series) in enumerate(groups.items()):
        steps, median, low, high = median_band([s.to_numpy() for s in series])
        color = f"C{i % 10}"
        ax.plot(steps, median, color=color, lw=1.8, label=f"{label} (n={len(series)})")
        if len(series) > 1:
            ax.fill_between(steps, low, high, color=color, alpha=0.2, lw=0)
    ax.set_xlabel("step (accepted iterate)")
    ax.set_ylabel(_LABELS.get(column, column) + (" (median, min-max band)" if len(traces) > len(groups) else ""))
    if log:
        ax.set_yscale("log")
    problems = sorted({t.summary()["problem"] for t in traces})
    ax.set_title(", ".join(problems), fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def save(fig, path) -> Path:
    """Write a figure as an image (130 dpi) and close it.

    Args:
        fig: a matplotlib ``Figure``.
        path: the file to write; its format follows matplotlib's reading of the suffix (``.png`` here).
            Missing parent directories are created.

    Returns:
        The path written, as a ``Path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    import matplotlib.pyplot as plt
    plt.close(fig)
    return path


KINDS: dict[str, Callable] = {
    "loss": lambda trace: curve(trace, "loss"),
    "grad_norm": lambda trace: curve(trace, "grad_norm", log=True),
    "distance": lambda trace: curve(trace, "distance"),
    "step_size": lambda trace: curve(trace, "step_size"),
    "design": lambda trace: design(trace),
    "best_design": lambda trace: design(trace, best=True),
}


def register_kind(kind: str, function: Callable) -> None:
    """Make ``landscape plot TRACE kind`` call ``function(trace) -> Figure``.

    Args:
        kind: the plot kind's name; an existing kind of that name is replaced.
        function: called with an opened trace, returns a matplotlib ``Figure``.
    """
    KINDS[kind] = function


def figure_for(trace, kind: str):
    """The figure of ``kind`` for ``trace``: a built-in kind, a registered one, or the name of a recorded probe.

    Looked up in this order: :data:`KINDS` (built-in and :func:`register_kind`), the trace's probes
    (:func:`probe_curves`), then the plot kinds of :mod:`landscape.registry`.

    Args:
        trace: an opened :class:`~landscape.trace.Trace`.
        kind: the plot kind's name, or a probe's name.

    Returns:
        The matplotlib ``Figure``.

    Raises:
        ValueError: ``kind`` is none of these (the kinds known for this trace are listed).
    """
    if kind in KINDS:
        return KINDS[kind](trace)
    if kind in trace.probe_names:
        return probe_curves(trace, kind)
    from .registry import plot_kind, plot_kind_names
    function = plot_kind(kind)
    if function is not None:
        return function(trace)
    known = sorted(KINDS) + plot_kind_names() + [f"{p} (probe)" for p in trace.probe_names]
    raise ValueError(f"unknown plot kind {kind!r}; for this trace: {', '.join(known)}")
