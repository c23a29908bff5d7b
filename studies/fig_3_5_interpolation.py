"""Thesis Figure 3.5 (and C.13, C.14): the four kinds of linear interpolation.

Problem A with the CNN, p = 3 (``--problem``/``--model`` for the other panels):

1. between random initializations (seeds 0..4), extrapolated to [-0.5, 1.5];
2. from iterates of an L-BFGS run (seed 0) to its final point;
3. from random initializations (seeds 1..4) to that final point;
4. between successive iterates of the run, joined end to end.

The L-BFGS run is recorded in ``runs/fig_3_5/`` with snapshots. Every curve is
written beside the figure as a CSV (panel, curve, alpha, loss), and the study prints,
per panel, the highest barrier: how far a line climbs above the higher of its two
ends, relative to it (``probes.geometry.barrier``; per segment for the path through
successive iterates).

    python studies/fig_3_5_interpolation.py --quick    # 60 L-BFGS steps, coarse curves (~1 minute)
    python studies/fig_3_5_interpolation.py            # 300 steps (the thesis's budget), finer curves
"""
from __future__ import annotations

# common first: it sets the output folder and pins the numerics before NumPy and torch load
from common import FIGURES, RUNS, add_run_options, setup

import argparse

import numpy as np
import pandas as pd

import landscape as L
from landscape.plots import pyplot, save
from probes.geometry import (
    along_trajectory,
    barrier,
    between_initializations,
    initializations_to_final,
    iterates_to_final,
)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--problem", default="A")
    parser.add_argument("--model", default="cnn_transpose", help="default: the thesis's CNN")
    parser.add_argument("--penal", type=float, default=3.0)
    args = setup(add_run_options(parser).parse_args(argv))
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
        ("between successive iterates", along_trajectory(objective, list(snaps["theta"]), 4 if args.quick else 8),
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
        if curve.labels:
            heights = barrier(curve)
        else:                                             # the path: one barrier per segment between iterates
            heights = np.array([barrier(curve, k, k + 1)[0] for k in range(int(curve.alphas[-1]))])
        monotone = np.all(np.diff(values, axis=1) <= 1e-9 * np.abs(values[:, :-1]), axis=1)
        print(f"{title}: {len(values)} curve(s), monotone decreasing: {int(monotone.sum())}/{len(values)}, "
              f"highest barrier {np.nanmax(heights):.3g} x the higher end, max loss {np.nanmax(values):.4g}")
    fig.suptitle(f"Linear interpolations, {problem.name}, {args.model}, p = {args.penal:g}", fontsize=10)
    fig.tight_layout()
    stem = f"fig_3_5_interpolation_{args.problem}_{args.model}_p{args.penal:g}" + ("_quick" if args.quick else "")
    out = save(fig, FIGURES / f"{stem}.png")
    pd.concat(rows, ignore_index=True).to_csv(out.with_suffix(".csv"), index=False, float_format="%.8g")
    print(f"wrote {out} and {out.with_suffix('.csv').name}")


if __name__ == "__main__":
    main()
