"""Thesis Figures 3.4 and C.2 and Table 3.2: L-BFGS against GD, PixelModel and CNNModel.

L-BFGS is SciPy's L-BFGS-B as the thesis ran it (maxfun = steps, factr 1,
pgtol 1e-14); GD uses the thesis's tuned step sizes (table B.1). Median loss
curves over seeds, and the table of median final losses: L-BFGS after its
budget, GD after a short and a long budget, next to the thesis's Table 3.2.

    python studies/table_3_2_lbfgs_vs_gd.py --quick   # A and B, p = 3, 1 seed; L-BFGS 150, GD 300 steps
    python studies/table_3_2_lbfgs_vs_gd.py           # A, B, D, E; p = 1 and 3; 10 seeds; 300 / 700 / 2000

Writes ``figures/table_3_2_lbfgs_vs_gd[_quick].md/.csv`` and ``figures/fig_3_4_lbfgs_vs_gd[_quick].png``.
"""
from __future__ import annotations

import argparse

import pandas as pd

from common import FIGURES, curves, finish_case_axes, plot_median, run_cases

from landscape.optim.thesis import step_size

# Table 3.2 (p = 3): problem -> {row: (CNNModel, PixelModel)}
THESIS = {"A": {"L-BFGS": (54.61, 76.12), "GD 700": (79.67, 89.49), "GD 2000": (73.9, 78.04)},
          "B": {"L-BFGS": (8.54, 9.16), "GD 700": (13.62, 9.88), "GD 2000": (11.74, 9.28)},
          "D": {"L-BFGS": (30.68, 39.72), "GD 700": (61.36, 46.53), "GD 2000": (49.34, 40.34)},
          "E": {"L-BFGS": (148.47, 169.07), "GD 700": (275.93, 175.36), "GD 2000": (231.65, 163.01)}}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--model", default="cnn", help="the CNN kind: cnn (Hoyer) or cnn_transpose (thesis)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    codes, penals, seeds = (("A", "B"), (3,), [0]) if args.quick else (("A", "B", "D", "E"), (1, 3), list(range(10)))
    lbfgs_steps, gd_short, gd_long = (150, 300, None) if args.quick else (300, 700, 2000)
    study = "table_3_2" + ("_quick" if args.quick else "")
    rows, groups = [], {}
    for model in ("pixel", args.model):
        thesis_model = "pixel" if model == "pixel" else "cnn"
        for penal in penals:
            for code in codes:
                base = {"problem": [code], "model": [model], "penal": [penal], "seed": seeds}
                lbfgs = run_cases(study, {**base, "optimizer": ["scipy_lbfgsb"]}, lbfgs_steps, workers=args.workers)
                gd = run_cases(study, {**base, "optimizer": [{"name": "gd", "lr": step_size("gd", thesis_model, penal,
                                                                                          code)}]},
                               gd_long or gd_short, workers=args.workers)
                lb = next(iter(curves(lbfgs).values()))
                g = next(iter(curves(gd).values()))
                groups[(model, penal, code)] = (lb, g)
                thesis = THESIS.get(code, {}) if penal == 3 else {}
                column = 0 if thesis_model == "cnn" else 1
                entries = [("L-BFGS", lb[1][-1], lbfgs_steps), (f"GD {gd_short}", g[1][min(gd_short, len(g[1]) - 1)],
                                                                  gd_short)]
                if gd_long:
                    entries.append((f"GD {gd_long}", g[1][-1], gd_long))
                for label, value, steps in entries:
                    key = label if label == "L-BFGS" else ("GD 700" if steps == gd_short else "GD 2000")
                    rows.append({"model": model, "penal": penal, "problem": code, "optimizer": label,
                                 "median_loss": float(value), "seeds": lb[4],
                                 "thesis": thesis.get(key, (float("nan"),) * 2)[column]})
    table = pd.DataFrame(rows)
    name = "table_3_2_lbfgs_vs_gd" + ("_quick" if args.quick else "")
    table.to_csv(FIGURES / f"{name}.csv", index=False)
    lines = ["| problem | optimizer | " + " | ".join(f"{m} (here / thesis)" for m in ("pixel", args.model)) + " |",
             "|---|---|---|---|"]
    for (penal, code, optimizer), part in table.groupby(["penal", "problem", "optimizer"], sort=False):
        cells = []
        for model in ("pixel", args.model):
            r = part[part["model"] == model]
            cells.append(f"{r.median_loss.iloc[0]:.4g} / {r.thesis.iloc[0]:g}" if len(r) else "")
        lines.append(f"| {code} (p = {penal}) | {optimizer} | " + " | ".join(cells) + " |")
    markdown = (f"Median loss over {len(seeds)} seed(s); L-BFGS after {lbfgs_steps} steps, GD after {gd_short}"
                f"{f' and {gd_long}' if gd_long else ''} steps. Thesis values: Table 3.2 (p = 3 only; L-BFGS 300 steps, "
                "the short GD row against its 700 steps, the long one against 2000).\n\n" + "\n".join(lines) + "\n")
    (FIGURES / f"{name}.md").write_text(markdown)
    print(markdown)

    from landscape.plots import _pyplot, save
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(groups), figsize=(4.2 * len(groups), 3.8), squeeze=False)
    for ax, ((model, penal, code), (lb, g)) in zip(axes[0], groups.items()):
        plot_median(ax, lb, "C0", "L-BFGS")
        plot_median(ax, g, "C1", "GD")
        finish_case_axes(ax, f"{model}, p = {penal:g}, {code}")
    fig.tight_layout()
    out = save(fig, FIGURES / ("fig_3_4_lbfgs_vs_gd" + ("_quick" if args.quick else "") + ".png"))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
