"""Thesis Table 3.3 and Figures 3.8, C.6-C.8: L-BFGS taken apart into its direction and its step.

GD, HD_M1, HD_M10 (constant steps, from the thesis's tables B.1-B.3 or re-tuned
here), GD_LS (steepest descent with a strong-Wolfe search), L-BFGS_M1 and L-BFGS
(SciPy's L-BFGS-B, m = 1 and 10), on random-start pixels and the thesis's
``cnn_transpose``, under the protocol of ``studies/matrix.py``. The table gives the
median final loss over seeds with [min, max], the number of diverged runs, and the
step at which the median curve converged (within 5 % of its final value, the rule that fits
the thesis's steps best; "-" when it was still moving in the last 10 % of the budget, or when
the median is a diverged or risen run; "stalled (k of n)" when half the runs or more made all their
progress in the first step), next to the thesis's Table 3.3. GD is read at step 700
(the value the thesis's Table 3.3 takes from its Table 3.2), and every constant-step cell is
shown at the thesis's step size and, where it has run, at the step size re-tuned here.

    python studies/table_3_3_decomposition.py --quick              # A, B; p = 3; 3 seeds; short budgets
    python studies/table_3_3_decomposition.py                      # A, B, D, E; p = 1 and 3; 10 seeds
    python studies/table_3_3_decomposition.py --step-sizes tuned   # GD and HD with the re-tuned step sizes
    python studies/table_3_3_decomposition.py --tables-only        # tabulate what has run; the rest "not run yet"

Writes ``figures/table_3_3_decomposition[_quick].md/.csv`` (every cell asked for, the 96 of the
thesis's table at full settings, each constant-step cell at both step-size policies; the quick table
made with ``--step-sizes tuned`` is ``..._quick_tuned``, since the quick thesis-step one is made
before the re-tuning and shows the thesis's steps only), and the loss curves under the thesis's
figure numbers: the small problems A and B in ``fig_c6_decomposition[...].png`` (its Figure C.6)
and the large ones D and E in ``fig_3_8_decomposition[...].png`` (its Figure 3.8), p = 1 and 3 side
by side.
"""
from __future__ import annotations

# common first: it sets the output folder and pins the numerics before NumPy and torch load
from common import FIGURES, add_run_options, setup

import argparse

import numpy as np
import pandas as pd
from matrix import (
    CONSTANT,
    LABELS,
    add_matrix_options,
    cell_path_at,
    converged_step,
    difference_text,
    failures_text,
    figure_suffix,
    matrix_cases,
    read_cell,
    read_cell_at,
    read_wall_seconds,
    run_labels,
    run_matrix,
    stalled_runs,
    summarize,
    tuned_step_size,
)
from plotting import band, clipped_log_axis, panel_title, seed_range

from experiments.thesis import step_size

# Table 3.3 of the thesis: (model, penal, problem) -> {optimizer: (median final loss, converged step)}
THESIS = {
    ("cnn", 3, "A"): {"GD": (79.67, 573), "HD_M1": (362.93, 215), "HD_M10": (113.55, 473), "GD_LS": (53.6, 140),
                      "L-BFGS_M1": (54.36, 23), "L-BFGS": (54.61, 22)},
    ("cnn", 3, "B"): {"GD": (13.62, 522), "HD_M1": (24.38, 149), "HD_M10": (9.11, 452), "GD_LS": (8.57, 154),
                      "L-BFGS_M1": (8.52, 25), "L-BFGS": (8.54, 24)},
    ("cnn", 3, "D"): {"GD": (61.36, 586), "HD_M1": (93.05, 230), "HD_M10": (70.11, 204), "GD_LS": (36.15, 588),
                      "L-BFGS_M1": (31.46, 35), "L-BFGS": (30.68, 36)},
    ("cnn", 3, "E"): {"GD": (275.93, 549), "HD_M1": (215.96, 205), "HD_M10": (154.77, 286),
                      "GD_LS": (149.34, 548), "L-BFGS_M1": (147.67, 29), "L-BFGS": (148.47, 29)},
    ("cnn", 1, "A"): {"GD": (21.29, 6), "HD_M1": (21.27, 10), "HD_M10": (21.27, 10), "GD_LS": (21.6, 6),
                      "L-BFGS_M1": (21.28, 6), "L-BFGS": (21.27, 6)},
    ("cnn", 1, "B"): {"GD": (6.14, 2), "HD_M1": (6.13, 4), "HD_M10": (6.13, 5), "GD_LS": (6.29, 16),
                      "L-BFGS_M1": (6.13, 18), "L-BFGS": (6.13, 14)},
    ("cnn", 1, "D"): {"GD": (18.47, 4), "HD_M1": (18.43, 5), "HD_M10": (18.43, 8), "GD_LS": (18.81, 6),
                      "L-BFGS_M1": (18.46, 8), "L-BFGS": (18.44, 9)},
    ("cnn", 1, "E"): {"GD": (96.79, 6), "HD_M1": (96.64, 6), "HD_M10": (96.63, 9), "GD_LS": (100.03, 9),
                      "L-BFGS_M1": (96.72, 25), "L-BFGS": (96.64, 23)},
    ("pixel", 3, "A"): {"GD": (89.49, 531), "HD_M1": (68.23, 37), "HD_M10": (67.8, 46), "GD_LS": (67.56, 172),
                        "L-BFGS_M1": (74.94, 117), "L-BFGS": (76.12, 181)},
    ("pixel", 3, "B"): {"GD": (9.88, 432), "HD_M1": (8.98, 18), "HD_M10": (9.2, 24), "GD_LS": (8.77, 61),
                        "L-BFGS_M1": (8.98, 31), "L-BFGS": (9.16, 23)},
    ("pixel", 3, "D"): {"GD": (46.53, 536), "HD_M1": (36.19, 25), "HD_M10": (34.55, 42), "GD_LS": (32.52, 139),
                        "L-BFGS_M1": (44.57, 39), "L-BFGS": (39.72, 31)},
    ("pixel", 3, "E"): {"GD": (175.36, 463), "HD_M1": (158.99, 19), "HD_M10": (152.0, 122),
                        "GD_LS": (146.74, 57), "L-BFGS_M1": (168.55, 19), "L-BFGS": (169.07, 19)},
    ("pixel", 1, "A"): {"GD": (21.46, 25), "HD_M1": (21.27, 6), "HD_M10": (21.27, 6), "GD_LS": (21.28, 18),
                        "L-BFGS_M1": (21.27, 7), "L-BFGS": (21.27, 7)},
    ("pixel", 1, "B"): {"GD": (6.33, 72), "HD_M1": (6.13, 11), "HD_M10": (6.13, 9), "GD_LS": (6.13, 26),
                        "L-BFGS_M1": (6.13, 9), "L-BFGS": (6.13, 9)},
    ("pixel", 1, "D"): {"GD": (20.67, 424), "HD_M1": (18.44, 8), "HD_M10": (18.44, 8), "GD_LS": (18.44, 37),
                        "L-BFGS_M1": (18.44, 11), "L-BFGS": (18.44, 10)},
    ("pixel", 1, "E"): {"GD": (106.77, 172), "HD_M1": (96.63, 5), "HD_M10": (96.63, 6), "GD_LS": (96.65, 17),
                        "L-BFGS_M1": (96.63, 6), "L-BFGS": (96.63, 6)},
}




def _cell_row(model, penal, code, label, policy, budgets, quick) -> dict:
    """One cell of Table 3.3 under one step-size policy (``thesis``, ``tuned``, or ``-`` for line searches)."""
    thesis = THESIS.get(("pixel" if model == "pixel" else "cnn", int(penal), code), {}).get(label, (np.nan, np.nan))
    read_at = budgets.gd_short if label == "GD" else None        # the thesis's GD column is its 700-step value
    row = {"model": model, "penal": penal, "problem": code, "optimizer": label, "step_sizes": policy,
           "lr": lr_of(label, model, penal, code, policy, quick), "read_at": np.nan, "median": np.nan,
           "min": np.nan, "max": np.nan, "seeds": 0, "diverged": 0, "rose": 0, "converged_step": None,
           "stalled": 0, "thesis": thesis[0], "thesis_step": thesis[1], "difference": np.nan, "wall_hours": np.nan,
           "timed_seeds": 0}
    found = read_cell_at(model, penal, code, label, policy, quick, at=read_at)
    if found is None:
        return row
    losses, statuses = found
    walls = read_wall_seconds(cell_path_at(model, penal, code, label, policy, quick))
    timed = [walls[seed] for seed in statuses if seed in walls]   # runs made before 1 December 2026 did not record it
    if timed:
        row.update(wall_hours=sum(timed) / 3600, timed_seeds=len(timed))
    s = summarize(losses, statuses)
    # no converged step for a median that is a diverged run or one that ended no lower than its start
    step = None if 2 * s["rose"] >= s["seeds"] else converged_step(np.median(losses.to_numpy(), axis=1))
    row.update(s, read_at=len(losses) - 1, converged_step=step, stalled=stalled_runs(losses, statuses),
               difference=s["median"] / thesis[0] - 1)
    return row


def lr_of(label, model, penal, code, policy, quick) -> float:
    """The constant step size of a GD/HD cell under a policy (NaN for the line-search cells or when unknown)."""
    if label not in CONSTANT:
        return np.nan
    entry_name, m = ("gd", None) if label == "GD" else ("hd", int(label[4:]))
    try:
        if policy == "thesis":
            return step_size(entry_name, "pixel" if model == "pixel" else "cnn", penal, code, m=m)
        return tuned_step_size(entry_name, model, penal, code, m=m, quick=quick)
    except (KeyError, FileNotFoundError):
        return np.nan


def decomposition_table(cases, budgets, quick: bool, retuned: bool = True) -> pd.DataFrame:
    """Every cell of ``cases``: the line-search cells once, the constant-step cells at the thesis's step size
    and (if ``retuned``), where it has run, at the step size re-tuned here, each with the thesis's value and
    the difference."""
    rows = []
    for model, penal, code in cases:
        for label in LABELS:
            if label not in CONSTANT:
                rows.append(_cell_row(model, penal, code, label, "-", budgets, quick))
                continue
            rows.append(_cell_row(model, penal, code, label, "thesis", budgets, quick))
            tuned = _cell_row(model, penal, code, label, "tuned", budgets, quick) if retuned else {"seeds": 0}
            if tuned["seeds"]:
                rows.append(tuned)
    return pd.DataFrame(rows)


def _status(r) -> str:
    return failures_text({"diverged": r.diverged, "rose": r.rose, "seeds": r.seeds}, of_seeds=False) or "-"


def decomposition_markdown(table: pd.DataFrame, budgets, cnn: str, precision: str) -> str:
    """Table 3.3 as Markdown: one section per (model, p), one row per cell and step-size policy."""
    out = [f"Table 3.3, like for like: the median loss over seeds [min, max] at the step the thesis reads "
           f"(GD at step {budgets.gd_short}, its Table 3.2 value; HD and GD_LS after {budgets.descent} steps; "
           f"L-BFGS after {budgets.lbfgs} evaluations; the last step of the longest run when every run stopped "
           f"earlier, as diverged runs do), the runs that diverged and those that ended no lower than they "
           f"started without diverging (rose; the CSV's rose column counts the diverged runs too), the "
           f"converged step (the first step after which the median stays within 5 % of "
           f"its final value, the rule that fits the thesis's steps best, see converged_step_rules.md; '-' when "
           f"the median is a diverged or risen run or was still moving in the last 10 % of the budget; 'stalled "
           f"(k of n)' when half the runs or more ended lower but were within 5 % of their final value from step "
           f"1 on: they made their progress in their first step and hardly moved after, as HD does at the "
           f"re-tuned CNN steps, whose first step, along -g, is large and whose later ones, scaled by the "
           f"curvature pairs, are not), and the thesis's median (10 seeds; 6 for GD_LS on D and E, its appendix "
           f"B.2.4) with its converged step and the relative difference (a ratio 'n x' where the median is "
           f"more than ten times the thesis's). Constant-step cells (GD, HD) at the "
           f"thesis's step size (tables B.1-B.3) and, where run, at the step size re-tuned here (by appendix "
           f"B.7's search; for the D and E cases B.7 has not tuned, by the cheaper grid search that "
           f"grid_protocol_check.md compares with it; tuned_step_sizes.csv names each step's search). "
           f"Pixel from random starts, {cnn} in {precision} precision.", ""]
    for (model, penal), part in table.groupby(["model", "penal"], sort=False):
        out += [f"### {model}, p = {penal:g}", "",
                "| problem | optimizer | step size | step read | median [min, max] | seeds | diverged, rose | "
                "converged step | thesis (step) | difference |", "|---|---|---|---|---|---|---|---|---|---|"]
        for r in part.itertuples():
            policy = {"thesis": f"thesis {r.lr:.3g}", "tuned": f"re-tuned {r.lr:.3g}"}.get(r.step_sizes, "line search")
            thesis = f"{r.thesis:g} ({r.thesis_step:g})" if np.isfinite(r.thesis) else "-"
            if not r.seeds:
                out.append(f"| {r.problem} | {r.optimizer} | {policy} | - | not run yet | 0 | - | - | {thesis} | - |")
                continue
            step = f"stalled ({r.stalled} of {r.seeds})" if 2 * r.stalled >= r.seeds else \
                "-" if r.converged_step is None or pd.isna(r.converged_step) else int(r.converged_step)
            difference = difference_text(r.median, r.thesis)
            out.append(f"| {r.problem} | {r.optimizer} | {policy} | {int(r.read_at)} | **{r.median:.4g}** "
                       f"[{r.min:.4g}, {r.max:.4g}] | {r.seeds} | {_status(r)} | {step} | {thesis} | {difference} |")
        out.append("")
    timed = table[table["wall_hours"].notna()] if "wall_hours" in table else table.iloc[:0]
    if timed.empty:         # the quick cells and those made before 1 December 2026 do not record it
        return "\n".join(out)
    every = timed["timed_seeds"] == timed["seeds"]
    partly = timed[~every]
    out.append(f"Wall time: recorded for every run of {int(every.sum())} of {int((table['seeds'] > 0).sum())} "
               f"cells and for {int(partly['timed_seeds'].sum())} runs of {len(partly)} more (the runs made since "
               f"1 December 2026; older runs did not record it), {timed['wall_hours'].sum():.1f} hours of runs in "
               f"all (the sum over those runs, each on one thread; per cell in the CSV's wall_hours column, over its "
               f"timed_seeds runs). Runs made before 13:30 UTC on "
               f"1 December 2026 took about 1.8 times as long as they needed: their sweep workers ran with Dask's "
               f"malloc setting (docs/reference/performance.md, bench_sweep_malloc.py).")
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_matrix_options(parser, "A,B|A,B,D,E", "3|1,3")
    parser.add_argument("--labels", default=None, type=run_labels,
                        help=f"comma-separated optimizers to run (default all: {', '.join(LABELS)}); the tables "
                             "still show every cell whose curves exist")
    parser.add_argument("--tables-only", action="store_true",
                        help="run nothing: tabulate the cells whose curves exist, mark the others 'not run'")
    args = setup(add_run_options(parser).parse_args(argv))
    cases, budgets = matrix_cases(args)
    if not args.tables_only:
        run_matrix(cases, args.labels or LABELS, budgets, args.step_sizes, args.workers, args.precision, args.threads,
                   args.quick)


    # make run tabulates the quick cells before it re-tunes: its thesis-step table shows the thesis's steps only
    table = decomposition_table(cases, budgets, args.quick, retuned=not args.quick or args.step_sizes == "tuned")
    suffix = figure_suffix(args) + ("_tuned" if args.step_sizes == "tuned" else "")
    # at full settings the table shows both policies whichever ran, so there is one table; the quick one
    # made before the re-tuning (thesis's steps only) and after it are two
    table_suffix = suffix if args.quick else figure_suffix(args)
    table.to_csv(FIGURES / f"table_3_3_decomposition{table_suffix}.csv", index=False)
    markdown = decomposition_markdown(table, budgets, args.model, args.precision)
    (FIGURES / f"table_3_3_decomposition{table_suffix}.md").write_text(markdown)
    print(markdown)

    for number, name, codes in FIGURES_BY_SIZE:
        group = [case for case in cases if case[2] in codes]
        if group:
            path = decomposition_figure(group, budgets, args, number, FIGURES / f"{name}{suffix}.png")
            print(f"wrote {path}")


# the thesis's figure of each problem size: its number, our file name, and the problems it shows
FIGURES_BY_SIZE = (("Figure C.6", "fig_c6_decomposition", ("A", "B")),
                   ("Figure 3.8", "fig_3_8_decomposition", ("D", "E")))


def decomposition_figure(cases, budgets, args, number: str, path):
    """The loss curves of every cell of ``cases`` (median and min-max band per optimizer), pixels above the CNN,
    one column per (p, problem); a panel whose cells have not run says so. Returns the path written."""
    from landscape.plots import pyplot, save
    plt = pyplot()
    rows = 2 if len({model for model, _, _ in cases}) > 1 else 1    # pixel above the CNN when both ran
    columns = -(-len(cases) // rows)
    fig, axes = plt.subplots(rows, columns, figsize=(3.8 * columns, 3.3 * rows + 0.4), squeeze=False)
    seeds = set()
    for ax, (model, penal, code) in zip(axes.ravel(), cases):
        for i, label in enumerate(LABELS):
            found = read_cell(model, penal, code, label, args.step_sizes, args.quick)
            if found is not None:
                band(ax, *found, f"C{i}", label)
                seeds.add(found[0].shape[1])
        clipped_log_axis(ax)
        ax.set_xscale("symlog", linthresh=10)
        ax.set_xlim(left=0)
        panel_title(ax, f"{model}, p = {penal:g}, {code}")
        ax.set_xlabel("step")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6)
        else:
            ax.text(0.5, 0.5, "not run yet", transform=ax.transAxes, ha="center", va="center", color="0.5")
            ax.set_xticks([])
            ax.set_yticks([], minor=False)
            ax.set_yticks([], minor=True)
            ax.set_xlabel("")
    for ax in axes[:, 0]:
        ax.set_ylabel("loss")
    over = seed_range(seeds) if seeds else "0"
    fig.suptitle(f"{number}: L-BFGS taken apart\n(median and min-max over {over} seeds, dashed where half the "
                 f"runs or more diverged or rose; GD/HD step sizes: {args.step_sizes})", fontsize=10)
    fig.tight_layout()
    return save(fig, path)


if __name__ == "__main__":
    main()
