"""Loss curves over seeds for the study figures: median and min-max band, per-seed lines, diverged runs clipped.

A run that diverged (a loss of 1e9 and more for a design that lost its load path)
would stretch a log axis over ten decades and flatten every other curve. So the
y-axis ends at three times the largest initial loss of the runs drawn; a run that
goes above it is drawn up to where it leaves the axes, with a marker on the top
edge at that step. How many left the axes goes into the panel's title
(:func:`panel_title`), not onto the plot, where it would hide the converged tails,
and every legend entry and per-seed title counts the runs that diverged and those
that ended no lower than they started ("rose").
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matrix import failures_text, summarize

_STATE = "_landscape_curves"


def _state(ax) -> dict:
    if not hasattr(ax, _STATE):
        setattr(ax, _STATE, {"low": np.inf, "start": 0.0, "runs": []})
    return getattr(ax, _STATE)


def _note(ax, losses: pd.DataFrame, statuses: dict, color: str):
    state = _state(ax)
    for column in losses:
        values = losses[column].to_numpy()
        finite = values[np.isfinite(values) & (values > 0)]
        state["runs"].append((values, statuses.get(column) == "diverged"))
        if np.isfinite(values[0]):
            state["start"] = max(state["start"], values[0])
        if finite.size:
            state["low"] = min(state["low"], finite.min())


def status_text(losses: pd.DataFrame, statuses: dict) -> str:
    """``"2 diverged, 1 rose of 10"``: the runs of a cell that diverged and those that ended no lower than they
    started without diverging, as :func:`matrix.summarize` counts them; ``""`` when every run descended."""
    return failures_text(summarize(losses, statuses))


def seed_range(counts) -> str:
    """``"3-10"`` (or ``"10"``): the fewest and most seeds of the cells a figure draws."""
    return "-".join(str(n) for n in sorted({min(counts), max(counts)}))


def band(ax, losses: pd.DataFrame, statuses: dict, color: str, label: str):
    """Median over seeds (all runs, diverged ones included) and the min-max band of the runs that did not
    diverge (those leave the axes, where :func:`clipped_log_axis` marks them), labelled ``label, n seeds``, or
    ``label: k diverged, r rose of n`` when some runs diverged or rose (:func:`status_text`).

    A cell where half of the runs or more diverged or ended no lower than they started gets its
    median as a thin dashed line and no band: such bands span decades and hide the other curves.
    """
    _note(ax, losses, statuses, color)
    values = losses.to_numpy()
    steps = losses.index.to_numpy()
    status = status_text(losses, statuses)
    if values.shape[1] > 1 and 2 * summarize(losses, statuses)["rose"] >= values.shape[1]:   # diverged or rose
        ax.plot(steps, np.median(values, axis=1), color=color, lw=0.9, ls="--", label=f"{label}: {status}")
        return
    seeds = f"{values.shape[1]} seeds" if values.shape[1] > 1 else "one seed"
    ax.plot(steps, np.median(values, axis=1), color=color, lw=1.4,
            label=f"{label}: {status}" if status else f"{label}, {seeds}")
    kept = values[:, [statuses.get(column) != "diverged" for column in losses]]
    if kept.shape[1] > 1:       # diverged runs leave the axes (marked there) and would stretch the band over it
        ax.fill_between(steps, kept.min(axis=1), kept.max(axis=1), color=color, alpha=0.15, lw=0)


def per_seed(ax, losses: pd.DataFrame, statuses: dict, color: str = "C1"):
    """One thin line per seed; diverged seeds in red. The runs that diverged or rose go into the panel's title
    (:func:`panel_title`)."""
    _note(ax, losses, statuses, color)
    _state(ax)["status"] = status_text(losses, statuses) or f"all {losses.shape[1]} descended"
    steps = losses.index.to_numpy()
    for column in losses:
        diverged = statuses.get(column) == "diverged"
        ax.plot(steps, losses[column].to_numpy(), color="C3" if diverged else color, lw=0.8,
                alpha=0.9 if diverged else 0.6)


def clipped_log_axis(ax):
    """Log y-axis up to 3 x the largest initial loss; runs above it marked where they leave the axes."""
    state = _state(ax)
    ax.set_yscale("log")
    if not np.isfinite(state["low"]) or state["start"] <= 0:
        return
    top = 3 * state["start"]
    ax.set_ylim(state["low"] / 1.3, top)
    left = 0
    for values, _ in state["runs"]:
        above = np.flatnonzero(~(values <= top))
        if above.size:
            left += 1
            ax.plot(above[0], top, marker="^", color="C3", ms=6, clip_on=False, zorder=5)
    _state(ax)["note"] = f"▲ {left} run(s) leave the axes" if left else ""


def panel_title(ax, text: str, fontsize: float = 9):
    """The panel's title, with a second line for what the plot cannot show: the runs that diverged or rose (of a
    per-seed panel) and the runs that leave the clipped axis (:func:`clipped_log_axis`, called before)."""
    state = _state(ax)
    extra = "; ".join(t for t in (state.get("status", ""), state.get("note", "")) if t)
    ax.set_title(text + (f"\n{extra}" if extra else ""), fontsize=fontsize)
