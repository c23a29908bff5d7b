"""Loss curves over seeds for the study figures: median and min-max band, per-seed lines, diverged runs clipped.

A run that diverged (a loss of 1e9 and more for a design that lost its load path)
would stretch a log axis over ten decades and flatten every other curve. So the
y-axis ends at three times the largest initial loss of the runs drawn; a run that
goes above it is drawn up to where it leaves the axes, with a marker on the top
edge at that step, and the corner says how many left and how many of those the
run itself called diverged.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

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


def band(ax, losses: pd.DataFrame, statuses: dict, color: str, label: str):
    """Median over seeds (all runs, diverged ones included) and the min-max band.

    A cell where half of the runs or more diverged or ended no lower than they started gets its
    median as a thin dashed line and no band: such bands span decades and hide the other curves.
    """
    _note(ax, losses, statuses, color)
    values = losses.to_numpy()
    steps = losses.index.to_numpy()
    failed = sum(statuses.get(column) == "diverged" or not losses[column].iloc[-1] < losses[column].iloc[0]
                 for column in losses)
    if values.shape[1] > 1 and 2 * failed >= values.shape[1]:
        ax.plot(steps, np.median(values, axis=1), color=color, lw=0.9, ls="--",
                label=label.replace("median, min-max", "median") + f" ({failed}/{values.shape[1]} diverged or rose)")
        return
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
    """Log y-axis up to 3 x the largest initial loss; runs above it marked where they leave the axes."""
    state = _state(ax)
    ax.set_yscale("log")
    if not np.isfinite(state["low"]) or state["start"] <= 0:
        return
    top = 3 * state["start"]
    ax.set_ylim(state["low"] / 1.3, top)
    left = diverged = 0
    for values, flagged in state["runs"]:
        above = np.flatnonzero(~(values <= top))
        if above.size:
            left += 1
            diverged += flagged
            ax.plot(above[0], top, marker="^", color="C3", ms=6, clip_on=False, zorder=5)
    if left:
        ax.text(0.02, 0.02, f"▲ {left} run(s) leave the axes ({diverged} diverged)", transform=ax.transAxes,
                ha="left", va="bottom", fontsize=7, color="C3",
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1})
