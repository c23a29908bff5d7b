"""Thesis Table 3.2 and Figures 3.4, C.1, C.2: L-BFGS against GD, PixelModel and the thesis's CNN.

The protocol of ``studies/matrix.py``: ``cnn_transpose`` and random-start pixels, 10
seeds, SciPy's L-BFGS-B with 300 evaluations, GD for 2000 steps read at 700 and 2000,
GD's step size from the thesis's table B.1 or re-tuned here. The table gives median
[min, max] over seeds and how many runs diverged, next to the thesis's medians.

    python studies/table_3_2_lbfgs_vs_gd.py --quick          # A, B; p = 3; 3 seeds; 100 evaluations / 300 steps
    python studies/table_3_2_lbfgs_vs_gd.py                  # A, B, D, E; p = 3; 10 seeds (D, E: --seeds 3)
    python studies/table_3_2_lbfgs_vs_gd.py --step-sizes tuned

Writes ``figures/table_3_2_lbfgs_vs_gd[_quick][_tuned].md/.csv``, ``fig_3_4_lbfgs_vs_gd[...].png``
(median and min-max band; at full settings with rows for p = 1 too, as the thesis's 3.4 and C.2) and
``fig_c1_gd_per_seed[...].png`` (every GD seed of the CNN and of pixels, divergence marked).
"""
from __future__ import annotations

# common first: it sets the output folder and pins the numerics before NumPy and torch load
from common import FIGURES, add_run_options, setup

import argparse

import numpy as np
import pandas as pd
from matrix import add_matrix_options, difference_text, figure_suffix, matrix_cases, read_cell, run_matrix, summarize
from plotting import band, clipped_log_axis, panel_title, per_seed

from experiments.thesis import TABLE_3_2 as THESIS


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_matrix_options(parser, "A,B|A,B,D,E", "3|3")
    parser.add_argument("--tables-only", action="store_true",
                        help="run nothing: tabulate the cells whose curves exist, mark the others 'not run'")
    args = setup(add_run_options(parser).parse_args(argv))
    cases, budgets = matrix_cases(args)
    if len({p for _, p, _ in cases}) > 1:
        parser.error(f"Table 3.2 compares at one penalization; got --penal {args.penal}")
    codes = list(dict.fromkeys(code for _, _, code in cases))
    penal = cases[0][1]
    if not args.tables_only:
        run_matrix(cases, ("L-BFGS", "GD"), budgets, args.step_sizes, args.workers, args.precision, args.threads,
                   args.quick)


    rows = []
    # make run tabulates the quick cells before it re-tunes: its thesis-step table shows the thesis's steps only
    policies = ("tuned",) if args.step_sizes == "tuned" else ("thesis",) if args.quick else ("thesis", "tuned")
    for model, _, code in cases:
        for label, path_label, at in (("L-BFGS", "L-BFGS", None), ("GD short", "GD", budgets.gd_short),
                                      ("GD long", "GD", None)):
            thesis = THESIS.get(code, {}).get(label, (np.nan, np.nan))[0 if model != "pixel" else 1]
            for policy in (policies if path_label == "GD" else ("-",)):
                found = read_cell(model, penal, code, path_label, policy if policy != "-" else "thesis", args.quick)
                row = {"problem": code, "model": model, "penal": penal, "optimizer": label, "step_sizes": policy,
                       "steps": at or (budgets.gd if path_label == "GD" else budgets.lbfgs), "median": np.nan,
                       "min": np.nan, "max": np.nan, "seeds": 0, "diverged": 0, "rose": 0,
                       "thesis": thesis if penal == 3 else np.nan}
                if found is None:
                    if policy != "tuned" or args.step_sizes == "tuned":
                        rows.append(row)          # a re-tuned cell that never ran is left out of the thesis table
                    continue
                losses, statuses = found
                row.update(summarize(losses, statuses, at), steps=len(losses) - 1 if at is None else at)
                rows.append(row)
    table = pd.DataFrame(rows)
    table["difference"] = table["median"] / table["thesis"] - 1
    suffix = figure_suffix(args) + ("_tuned" if args.step_sizes == "tuned" else "")
    table.to_csv(FIGURES / f"table_3_2_lbfgs_vs_gd{suffix}.csv", index=False)
    lines = [f"| problem | optimizer (budget) | step size | pixel: median [min, max] (diverged, rose / seeds) | "
             f"thesis | {args.model}: median [min, max] (diverged, rose / seeds) | thesis |",
             "|---|---|---|---|---|---|---|"]
    for (code, label, policy), part in table.groupby(["problem", "optimizer", "step_sizes"], sort=False):
        cells = []
        for model in ("pixel", args.model):
            chosen = part[part.model == model]
            if chosen.empty:          # left out with --models, or no re-tuned cell
                cells += ["-", "-"]
                continue
            r = chosen.iloc[0]
            difference = f" ({difference_text(r['median'], r.thesis)})" if np.isfinite(r.difference) else ""
            cells += [f"{r['median']:.4g} [{r['min']:.4g}, {r['max']:.4g}] ({r.diverged}, {r.rose - r.diverged} "
                      f"/ {r.seeds}){difference}" if r.seeds else "not run yet", f"{r.thesis:g}"]
        budget = (f"{budgets.lbfgs} evaluations" if label == "L-BFGS"
                  else f"step {part.iloc[0]['steps']}")
        policy = {"thesis": "thesis (B.1)", "tuned": "re-tuned here"}.get(policy, "line search")
        lines.append(f"| {code} | {label.replace(' short', '').replace(' long', '')} ({budget}) | {policy} | "
                     + " | ".join(cells) + " |")
    gd_lr = "re-tuned here (figures/tuned_step_sizes.csv)" if args.step_sizes == "tuned" else "the thesis's table B.1"
    counts = sorted(set(table.loc[table.seeds > 0, "seeds"]))
    seeds = ("nothing run yet" if not counts else f"{counts[0]} seeds per cell" if len(counts) == 1
             else f"{counts[0]} to {counts[-1]} seeds per cell (each entry's '/ n')")
    markdown = (f"p = {penal:g}; {seeds}; pixel from random starts, {args.model} ({args.precision} "
                f"precision); SciPy L-BFGS-B with {budgets.lbfgs} evaluations; GD step sizes from {gd_lr}. "
                "Loss at the listed step: median [min, max] over seeds (runs that diverged, runs that ended no lower "
                "than they started without diverging ('rose') / all runs), and the relative difference to the thesis. "
                "GD at the thesis's step size and, where run, at the one re-tuned here. "
                "Thesis: Table 3.2 medians (10 seeds; GD rows at 700 and 2000 steps).\n\n" + "\n".join(lines) + "\n")
    (FIGURES / f"table_3_2_lbfgs_vs_gd{suffix}.md").write_text(markdown)
    print(markdown)

    from landscape.plots import pyplot, save
    plt = pyplot()
    # the thesis's Figure 3.4 and C.2 also show p = 1: at full settings its rows follow where their cells ran
    panels = [(model, penal) for model in ("pixel", args.model)]
    if not args.quick and penal == 3:
        panels += [(model, 1.0) for model in ("pixel", args.model)]
    fig, axes = plt.subplots(len(panels), len(codes), figsize=(3.6 * len(codes), 3.2 * len(panels)), squeeze=False,
                             sharex="col")
    for col, code in enumerate(codes):
        for row, (model, p) in enumerate(panels):
            ax = axes[row, col]
            missing = []
            for color, label in (("C0", "L-BFGS"), ("C1", "GD")):
                found = read_cell(model, p, code, label, args.step_sizes, args.quick)
                if found is not None:
                    band(ax, *found, color, label)
                else:
                    missing.append(label)
            if missing:
                ax.text(0.5, 0.5, f"{' and '.join(missing)} not run yet", transform=ax.transAxes, ha="center",
                        va="center", color="0.4", fontsize=8)
            if len(missing) == 2:
                ax.set(xticks=[], yticks=[])
            else:
                clipped_log_axis(ax)
                ax.set_xscale("symlog", linthresh=10)     # L-BFGS's 300 evaluations and GD's 2000 steps both show
                ax.set_xlim(left=0)
            panel_title(ax, f"{code}, {model}, p = {p:g}")
            ax.set_xlabel("step" if row == len(panels) - 1 else "")
            ax.set_ylabel("loss" if col == 0 else "")
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7)
    fig.suptitle("Figure 3.4 / C.2: L-BFGS vs GD, median and min-max band over the seeds in the legend (dashed: "
                 "half the runs or more diverged or rose); GD step sizes: "
                 f"{'re-tuned here' if args.step_sizes == 'tuned' else 'the thesis tables'}", fontsize=10)
    fig.tight_layout()
    print(f"wrote {save(fig, FIGURES / f'fig_3_4_lbfgs_vs_gd{suffix}.png')}")

    # C.1 contrasts the CNN (top) with pixels (bottom): every GD seed, divergence in red
    fig, axes = plt.subplots(2, len(codes), figsize=(3.6 * len(codes), 6.4), squeeze=False)
    for row, model in enumerate((args.model, "pixel")):
        for ax, code in zip(axes[row], codes):
            found = read_cell(model, penal, code, "GD", args.step_sizes, args.quick)
            if found is not None:
                per_seed(ax, *found)
                clipped_log_axis(ax)
            else:
                ax.text(0.5, 0.5, "not run yet", transform=ax.transAxes, ha="center", va="center", color="0.4")
            panel_title(ax, f"GD on {code}, {model}, p = {penal:g}")
            ax.set_xlabel("step" if row else "")
        axes[row, 0].set_ylabel("loss (one line per seed)")
    fig.suptitle("Figure C.1: every GD seed (diverged in red; counts under each title); step sizes: "
                 f"{'re-tuned here' if args.step_sizes == 'tuned' else 'the thesis tables'}", fontsize=10)
    fig.tight_layout()
    print(f"wrote {save(fig, FIGURES / f'fig_c1_gd_per_seed{suffix}.png')}")


if __name__ == "__main__":
    main()
