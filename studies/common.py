"""What the study scripts share: running a grid of cases through the sweep runner, and reading them back.

Every study describes its runs as a sweep config (see :mod:`landscape.sweep`):
traces land in ``runs/<study>/traces/``, finished traces are reused on a rerun,
and cases run in parallel on a local Dask cluster. ``curves`` reads the loss
curves back and takes medians over seeds.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ROOT / "figures"
RUNS = ROOT / "runs"
sys.path.insert(0, str(ROOT))


def add_run_options(parser, precision: str = "mixed"):
    """The options every study takes: ``--precision``, ``--threads`` (see landscape.threads) and ``--workers``."""
    parser.add_argument("--precision", choices=("mixed", "float64"), default=precision,
                        help=f"network precision (default {precision}): mixed = float32 network over float64 "
                             "physics, as Hoyer and the thesis ran it; float64 = everything in float64")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="torch and BLAS threads per run (default: the thread policy, 1)")
    parser.add_argument("--workers", type=int, default=2, help="runs in parallel (local Dask workers)")
    return parser


def setup(args):
    """Apply the thread policy to this process (the study's own evaluations outside the sweep runner)."""
    from landscape import threads
    threads.apply(args.threads)
    return args


def run_cases(study: str, axes: dict, steps: int, workers: int = 2, progress: bool = True, precision: str = "mixed",
              threads: int | None = None, **extra):
    """Run (or reuse) the product of ``axes`` for ``steps`` steps; returns the sweep index DataFrame."""
    from landscape import sweep
    config = {"name": study, "out": str(RUNS / study), "steps": steps,
              "axes": {"precision": [precision], **axes}, "threads": threads, **extra}
    return sweep.run_sweep(sweep.expand(config), workers=workers, progress=progress)


def curves(index, by=("problem", "model", "penal", "optimizer", "optimizer_options"), column: str = "loss"):
    """``{configuration: (steps, median curve, min curve, max curve, runs)}`` from the traces of an index."""
    from landscape.trace import open_trace
    groups = {}
    for _, row in index[index["status"] != "failed"].iterrows():
        with open_trace(row["trace"]) as trace:
            values = trace.steps()[column]
        groups.setdefault(tuple(row[k] for k in by), []).append(values)
    out = {}
    for key, series in groups.items():
        length = max(len(s) for s in series)
        table = np.full((len(series), length), np.nan)
        for row, s in zip(table, series):
            row[:len(s)] = s
            row[len(s):] = s[-1]          # a run that stopped early keeps its last value
        out[key] = (np.arange(length), np.median(table, axis=0), table.min(axis=0), table.max(axis=0), len(series))
    return out


def converged_step(curve: np.ndarray, tolerance: float = 1e-3) -> int:
    """The first step after which the loss stays within ``tolerance`` (relative) of its final value."""
    final = curve[-1]
    far = np.flatnonzero(np.abs(curve - final) > tolerance * abs(final))
    return int(far[-1] + 1) if far.size else 0


def plot_median(ax, curve, color: str, label: str):
    """Draw one ``curves`` entry: the median on a log scale, and the min-max band when there are several runs."""
    steps, median, low, high, runs = curve
    ax.semilogy(steps, median, color=color, lw=1.4, label=label)
    if runs > 1:
        ax.fill_between(steps, low, high, color=color, alpha=0.15, lw=0)


def finish_case_axes(ax, title: str, ylabel: str = "loss (median over seeds)"):
    ax.set(title=title, xlabel="step", ylabel=ylabel)
    ax.title.set_fontsize(9)
    ax.legend(fontsize=7)
