"""Thesis Figures C.3 and C.4: every seed's loss curve, L-BFGS and GD, for the CNN (C.3) and pixels (C.4).

The thesis showed that all initializations end at about the same loss on both
models, although the CNN's landscape is not convex. Under the protocol of
``studies/matrix.py`` (shared cells with Table 3.2): SciPy's L-BFGS-B and GD with
the thesis's step sizes, one line per seed; diverged seeds in red, clipped at the
top of the axes.

    python studies/fig_c3_c4_per_seed.py --quick    # A and B, p = 3, 3 seeds
    python studies/fig_c3_c4_per_seed.py            # A and B, p = 1 and 3, 10 seeds
    python studies/fig_c3_c4_per_seed.py --problem D --seeds 3 --penal 3 --plot-only   # from committed curves

Writes ``fig_c3_c4_per_seed[_quick].png`` and ``.csv`` (per panel: the initial loss's min and max, the final loss's
median, min, max and max/min over seeds, and the diverged and risen runs) into the output folder.
"""
from __future__ import annotations

# common first: it sets the output folder and pins the numerics before NumPy and torch load
from common import FIGURES, add_run_options, setup

import argparse

import pandas as pd
from matrix import (
    add_matrix_options,
    add_plot_only_option,
    figure_suffix,
    matrix_cases,
    require_cell,
    run_matrix,
    summarize,
)
from plotting import clipped_log_axis, panel_title, per_seed, seed_range

from landscape.plots import pyplot, save


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_matrix_options(parser, "A,B|A,B", "3|1,3")
    add_plot_only_option(parser)
    args = setup(add_run_options(parser).parse_args(argv))
    cases, budgets = matrix_cases(args)
    if not args.plot_only:
        run_matrix(cases, ("L-BFGS", "GD"), budgets, args.step_sizes, args.workers, args.precision, args.threads,
                   args.quick)
    plt = pyplot()
    summary = []
    fig, axes = plt.subplots(len(cases), 2, figsize=(9, 2.9 * len(cases)), squeeze=False)
    for row, (model, penal, code) in enumerate(cases):
        for col, (label, color) in enumerate((("L-BFGS", "C0"), ("GD", "C1"))):
            losses, statuses = require_cell(model, penal, code, label, args.step_sizes, args.quick)
            ax = axes[row, col]
            per_seed(ax, losses, statuses, color)
            clipped_log_axis(ax)
            s = summarize(losses, statuses)
            spread = s["max"] / s["min"] if s["min"] > 0 else float("nan")
            summary.append({"model": model, "penal": penal, "problem": code, "optimizer": label,
                            "step_sizes": args.step_sizes if label == "GD" else "-", "seeds": s["seeds"],
                            "start_min": losses.iloc[0].min(), "start_max": losses.iloc[0].max(),
                            "median": s["median"], "min": s["min"], "max": s["max"], "max_over_min": spread,
                            "diverged": s["diverged"], "rose": s["rose"]})
            panel_title(ax, f"{label}, {model}, p = {penal:g}, {code}: final max/min over seeds {spread:.6g}",
                        fontsize=8)
            ax.set_xlabel("step" if row == len(cases) - 1 else "")
            print(f"{label:6s} {model:14s} p={penal:g} {code}: final median {s['median']:.4g}, "
                  f"[{s['min']:.4g}, {s['max']:.4g}], diverged {s['diverged']}/{s['seeds']}")
        axes[row, 0].set_ylabel("loss (one line per seed)")
    fig.suptitle(f"Figures C.3 (CNN) and C.4 (pixel): every seed, {seed_range([row['seeds'] for row in summary])} "
                 "seeds per panel", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()))   # room for the title
    print(f"wrote {save(fig, FIGURES / f'fig_c3_c4_per_seed{figure_suffix(args)}.png')}")
    pd.DataFrame(summary).to_csv(FIGURES / f"fig_c3_c4_per_seed{figure_suffix(args)}.csv", index=False,
                                 float_format="%.6g")


if __name__ == "__main__":
    main()
