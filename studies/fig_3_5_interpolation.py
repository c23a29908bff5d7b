"""Thesis Figure 3.5 (and C.13, C.14): the four kinds of linear interpolation.

Problem A with the CNN, p = 3 (``--problem``/``--model`` for the other panels):

1. between random initializations (seeds 0..4), extrapolated to [-0.5, 1.5];
2. from iterates of an L-BFGS run (seed 0) to its final point;
3. from random initializations (seeds 1..4) to that final point;
4. between successive iterates of the run, joined end to end.

The L-BFGS run is recorded in ``runs/fig_3_5/`` with snapshots. Every curve is
written beside the figure as a CSV (panel, curve, alpha, loss), and the study writes
(``..._summary.csv``) and prints, per panel, the highest barrier: how far a line climbs above
the higher of its two ends, relative to it (``probes.geometry.barrier``; per segment for the
path through successive iterates), the number of monotone lines and the largest loss, and the
run's first and last loss. The summary is computed from the curve CSV as written, so
``--summary-only`` gives it again from a committed CSV without running anything.

    python studies/fig_3_5_interpolation.py --quick    # 60 L-BFGS steps, coarse curves (~1 minute)
    python studies/fig_3_5_interpolation.py            # 300 steps (the thesis's budget), finer curves
    python studies/fig_3_5_interpolation.py --problem D --summary-only   # the summary of a written CSV
"""
from __future__ import annotations

# common first: it sets the output folder and pins the numerics before NumPy and torch load
from common import FIGURES, RUNS, add_run_options, find, setup

import argparse

import numpy as np
import pandas as pd

import landscape as L
from landscape.plots import pyplot, save
from probes.geometry import (
    Interpolation,
    along_trajectory,
    barrier,
    between_initializations,
    initializations_to_final,
    iterates_to_final,
)

PATH = "between successive iterates"


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """Per panel of a curve table (panel, curve, alpha, loss): lines, monotone lines, highest barrier, largest
    loss; the path's first and last loss are the run's start and end."""
    rows = []
    for panel, part in table.groupby("panel", sort=False):
        lines = [group for _, group in part.groupby("curve", sort=False)]
        alphas = lines[0]["alpha"].to_numpy()
        values = np.stack([group["loss"].to_numpy() for group in lines])
        curve = Interpolation(alphas, values)
        if panel == PATH:                                 # one barrier per segment between iterates
            heights = np.array([barrier(curve, k, k + 1)[0] for k in range(int(alphas[-1]))])
        else:
            heights = barrier(curve)
        monotone = np.all(np.diff(values, axis=1) <= 1e-9 * np.abs(values[:, :-1]), axis=1)
        rows.append({"panel": panel, "lines": len(lines), "monotone": int(monotone.sum()),
                     "highest_barrier": float(np.nanmax(heights)), "max_loss": float(np.nanmax(values)),
                     "first_loss": float(values[0, 0]), "last_loss": float(values[0, -1])})
    return pd.DataFrame(rows)


def write_summary(csv) -> pd.DataFrame:
    """Summarize the curve CSV ``csv`` into ``<stem>_summary.csv`` beside it, print it, and return it."""
    summary = summarize(pd.read_csv(csv))
    summary.to_csv(csv.with_name(csv.stem + "_summary.csv"), index=False, float_format="%.6g")
    for row in summary.itertuples():
        print(f"{row.panel}: {row.lines} curve(s), monotone decreasing: {row.monotone}/{row.lines}, highest barrier "
              f"{row.highest_barrier:.3g} x the higher end, max loss {row.max_loss:.4g}")
    path = summary[summary["panel"] == PATH]
    if len(path):
        print(f"the run: loss {path['first_loss'].iloc[0]:.5g} -> {path['last_loss'].iloc[0]:.5g}")
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--problem", default="A")
    parser.add_argument("--model", default="cnn_transpose", help="default: the thesis's CNN")
    parser.add_argument("--penal", type=float, default=3.0)
    parser.add_argument("--summary-only", action="store_true",
                        help="summarize the figure's curve CSV (this run's, else the reference's); run nothing")
    args = setup(add_run_options(parser).parse_args(argv))
    stem = f"fig_3_5_interpolation_{args.problem}_{args.model}_p{args.penal:g}" + ("_quick" if args.quick else "")
    if args.summary_only:
        source = find(f"{stem}.csv")
        target = FIGURES / f"{stem}.csv"
        if source != target:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
        write_summary(target)
        return
    steps = 60 if args.quick else 300
    points = 11 if args.quick else 41
    extrapolated = np.linspace(-0.5, 1.5, 21 if args.quick else 41)     # steps of 0.1 / 0.05: a = 0 and 1 included
    problem = L.problems.get(args.problem)

    def objective_for(seed):
        return L.Objective(problem, L.models.build(args.model, problem, seed=seed, precision=args.precision),
                           penal=args.penal)

    objective = objective_for(0)
    every = max(steps // 10, 1)
    trace_path = RUNS / "fig_3_5" / f"{args.problem}_{args.model}_p{args.penal:g}_lbfgs_{steps}.h5"
    result = L.run(objective, "lbfgs", steps=steps, trace=L.TraceWriter(trace_path, overwrite=True,
                                                                         snapshot_every=every))
    print(f"L-BFGS on {problem.name}, {args.model}: {result.status}, loss {result.losses[0]:.5g} -> "
          f"{result.final_loss:.5g} in {result.steps} steps")
    snaps = L.open_trace(trace_path).snapshots()
    inits = [objective_for(seed).theta0 for seed in range(5)]
    final = result.theta
    curves = [
        ("between random initializations", between_initializations(objective, inits, extrapolated),
         "alpha"),
        ("iterates to the final point", iterates_to_final(objective, list(snaps["theta"][:-1]),
         list(snaps["step"][:-1]),
                                                          final, np.linspace(0, 1, points)), "alpha"),
        ("random initializations to the final point",
         initializations_to_final(objective, inits[1:], final, np.linspace(0, 1, points)), "alpha"),
        (PATH, along_trajectory(objective, list(snaps["theta"]), 4 if args.quick else 8),
         f"snapshot index (every {every} steps)"),
    ]
    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    rows = []
    for ax, (title, curve, xlabel) in zip(axes.ravel(), curves):
        values = np.atleast_2d(curve.losses)
        labels = curve.labels or ["path"]
        for i, row in enumerate(values):
            ax.semilogy(curve.alphas, row, lw=1.2, color=f"C{i % 10}", label=labels[i])
            rows.append(pd.DataFrame({"panel": title, "curve": labels[i], "alpha": curve.alphas, "loss": row}))
        ax.set(title=title, xlabel=xlabel, ylabel="loss")
        if curve.labels and len(curve.labels) <= 10:
            ax.legend(fontsize=6)
    fig.suptitle(f"Linear interpolations, {problem.name}, {args.model}, p = {args.penal:g}", fontsize=10)
    fig.tight_layout()
    out = save(fig, FIGURES / f"{stem}.png")
    pd.concat(rows, ignore_index=True).to_csv(out.with_suffix(".csv"), index=False, float_format="%.8g")
    write_summary(out.with_suffix(".csv"))
    print(f"wrote {out}, {out.with_suffix('.csv').name} and its summary")


if __name__ == "__main__":
    main()
