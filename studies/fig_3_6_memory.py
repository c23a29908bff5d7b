"""Thesis Figures 3.6 and C.5: L-BFGS with m = 1 against m = 10.

The protocol of ``studies/matrix.py`` (its traces are shared with Table 3.3): SciPy's
L-BFGS-B with m = 1 and m = 10, 300 evaluations, random-start pixels and
``cnn_transpose``, 10 seeds; median curves with min-max bands, and the ratio of the
median final losses.

    python studies/fig_3_6_memory.py --quick   # A and B, p = 3, 3 seeds, 100 evaluations
    python studies/fig_3_6_memory.py           # A and B, p = 1 and 3, 10 seeds, 300 evaluations
    python studies/fig_3_6_memory.py --problem D,E --penal 3 --seeds 3 --plot-only   # from committed curves

Writes ``fig_3_6_memory[...].png`` and ``.csv`` (per panel: the median, min and max final loss for m = 1 and
m = 10, the ratio of the medians, the per-seed ratios' median, min and max, and the thesis's Table 3.3 medians).
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
from plotting import band, clipped_log_axis, panel_title, seed_range
from table_3_3_decomposition import THESIS as TABLE_3_3

from landscape.plots import pyplot, save


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_matrix_options(parser, "A,B|A,B", "3|1,3", step_sizes=False)
    add_plot_only_option(parser)
    args = setup(add_run_options(parser).parse_args(argv))
    cases, budgets = matrix_cases(args)
    if not args.plot_only:
        run_matrix(cases, ("L-BFGS_M1", "L-BFGS"), budgets, "thesis", args.workers, args.precision, args.threads,
                   args.quick)
    plt = pyplot()
    columns = len(cases) // 2
    fig, axes = plt.subplots(2, columns, figsize=(3.8 * columns, 6.4), squeeze=False)
    rows = []
    for ax, (model, penal, code) in zip(axes.ravel(), cases):
        summaries, ends = {}, {}
        for color, label in (("C3", "L-BFGS_M1"), ("C0", "L-BFGS")):
            losses, statuses = require_cell(model, penal, code, label, "thesis", args.quick)
            band(ax, losses, statuses, color, label)
            summaries[label], ends[label] = summarize(losses, statuses), losses.iloc[-1]
        m1, m10 = summaries["L-BFGS_M1"], summaries["L-BFGS"]
        per_seed = (ends["L-BFGS_M1"] / ends["L-BFGS"]).dropna()
        thesis = TABLE_3_3.get(("pixel" if model == "pixel" else "cnn", int(penal), code), {})   # Table 3.3's medians
        clipped_log_axis(ax)
        ratio = m1["median"] / m10["median"]
        panel_title(ax, f"{model}, p = {penal:g}, {code}: m=1 / m=10 = {ratio:.3f}")
        ax.set_xlabel("step")
        ax.legend(fontsize=7)
        rows.append({"model": model, "penal": penal, "problem": code, "seeds": min(len(ends["L-BFGS_M1"]),
                                                                                    len(ends["L-BFGS"])),
                     "median_m1": m1["median"], "min_m1": m1["min"], "max_m1": m1["max"],
                     "median_m10": m10["median"], "min_m10": m10["min"], "max_m10": m10["max"],
                     "ratio": ratio, "per_seed_ratio_median": per_seed.median(), "per_seed_ratio_min": per_seed.min(),
                     "per_seed_ratio_max": per_seed.max(), "thesis_m1": thesis.get("L-BFGS_M1", (None,))[0],
                     "thesis_m10": thesis.get("L-BFGS", (None,))[0]})
        print(f"{model:14s} p={penal:g} {code}: median final m = 1 {m1['median']:.4g}, "
              f"m = 10 {m10['median']:.4g}, ratio {ratio:.3f}")
    # the thesis's Figure 3.6 shows the large problems, its C.5 the small ones
    number = "Figure 3.6" if {code for _, _, code in cases} <= {"D", "E"} else \
        "Figure C.5" if {code for _, _, code in cases} <= {"A", "B"} else "Figures 3.6 and C.5"
    fig.suptitle(f"{number}: L-BFGS memory m = 1 vs m = 10, median and min-max band over "
                 f"{seed_range([row['seeds'] for row in rows])} seeds, {budgets.lbfgs} evaluations", fontsize=10)
    fig.tight_layout()
    out = save(fig, FIGURES / f"fig_3_6_memory{figure_suffix(args)}.png")
    pd.DataFrame(rows).to_csv(out.with_suffix(".csv"), index=False, float_format="%.6g")   # the page's numbers
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
