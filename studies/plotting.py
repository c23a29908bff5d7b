"""Loss curves over seeds for the study figures: median and min-max band, per-seed lines, diverged runs clipped.

A run that diverged (a loss of 1e9 and more for a design that lost its load path)
would stretch a log axis over ten decades and flatten every other curve. So the
y-range is set by the runs that did not diverge, and a diverged run is drawn up to
where it leaves the axes, with a marker on the top edge at that step and a count
in the corner.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

_STATE = "_landscape_curves"


def _state(ax) -> dict:
    if not hasattr(ax, _STATE):
        setattr(ax, _STATE, {"low": np.inf, "high": 0.0, "diverged": []})
    return getattr(ax, _STATE)


def _note(ax, losses: pd.DataFrame, statuses: dict, color: str):
    state = _state(ax)
    for column in losses:
        values = losses[column].to_numpy()
        finite = values[np.isfinite(values) & (values > 0)]
        if statuses.get(column) == "diverged":
            state["diverged"].append((values, color))
            continue
        if finite.size:
            state["low"] = min(state["low"], finite.min())
            state["high"] = max(state["high"], finite.max())


def band(ax, losses: pd.DataFrame, statuses: dict, color: str, label: str):
    """Median over seeds (all runs, diverged ones included) and the min-max band."""
    _note(ax, losses, statuses, color)
    values = losses.to_numpy()
    steps = losses.index.to_numpy()
    ax.plot(steps, np.median(values, axis=1), color=color, lw=1.4,
            label=label if values.shape[1] > 1 else label.replace("median, min-max", "one seed"))
    if values.shape[1] > 1:
        ax.fill_between(steps, values.min(axis=1), values.max(axis=1), color=color, alpha=0.15, lw=0)


def per_seed(ax, losses: pd.DataFrame, statuses: dict, color: str = "C1"):
    """One thin line per seed; diverged seeds in red."""
    _note(ax, losses, statuses, color)
    steps = losses.index.to_numpy()
    for column in losses:
        diverged = statuses.get(column) == "diverged"
        ax.plot(steps, losses[column].to_numpy(), color="C3" if diverged else color, lw=0.8,
                alpha=0.9 if diverged else 0.6)


def clipped_log_axis(ax):
    """Log y-axis spanning the runs that did not diverge; diverged runs marked where they leave it."""
    state = _state(ax)
    ax.set_yscale("log")
    if not np.isfinite(state["low"]):        # every run diverged: show them all
        return
    top = state["high"] * 1.5
    ax.set_ylim(state["low"] / 1.15, top)
    count = 0
    for values, color in state["diverged"]:
        above = np.flatnonzero(~(values <= top))
        if above.size:
            count += 1
            ax.plot(above[0], top, marker="^", color="C3", ms=6, clip_on=False, zorder=5)
    if count:
        ax.text(0.98, 0.96, f"{count} diverged (clipped, ▲ where they leave)", transform=ax.transAxes,
                ha="right", va="top", fontsize=7, color="C3")
