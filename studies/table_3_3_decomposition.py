"""Thesis Figure 3.8 (C.6-C.8) and Table 3.3: L-BFGS taken apart.

GD, HD_M1, HD_M10 (constant steps: the thesis's tuned step sizes of tables
B.1-B.3), GD_LS (steepest descent + strong Wolfe), L-BFGS_M1 and L-BFGS (m = 10),
on PixelModel and CNNModel, reporting the median final loss over seeds and the
step at which the median curve converged (within 0.1 % of its final value), next
to the thesis's Table 3.3.

    python studies/table_3_3_decomposition.py --quick   # A and B, p = 3, 1 seed, 150 steps (a few minutes)
    python studies/table_3_3_decomposition.py           # A, B, D, E, p = 1 and 3, 10 seeds, 300 steps

Writes ``figures/table_3_3_decomposition.md`` / ``.csv`` and
``figures/fig_3_8_decomposition.png``.
"""
from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd

from common import FIGURES, converged_step, curves, finish_case_axes, plot_median, run_cases

from landscape.optim.thesis import step_size

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
LABELS = ("GD", "HD_M1", "HD_M10", "GD_LS", "L-BFGS_M1", "L-BFGS")


def optimizers(model: str, penal: float, code: str) -> dict[str, dict]:
    """The six decomposed optimizers with the thesis's tuned step sizes for this case."""
    return {"GD": {"name": "gd", "lr": step_size("gd", model, penal, code)},
            "HD_M1": {"name": "hd", "m": 1, "lr": step_size("hd", model, penal, code, m=1)},
            "HD_M10": {"name": "hd", "m": 10, "lr": step_size("hd", model, penal, code, m=10)},
            "GD_LS": {"name": "gd_ls"}, "L-BFGS_M1": {"name": "lbfgs", "m": 1}, "L-BFGS": {"name": "lbfgs", "m": 10}}


def label_of(optimizer: str, options: str) -> str:
    options = json.loads(options)
    if optimizer == "gd":
        return "GD"
    if optimizer == "hd":
        return f"HD_M{options['m']}"
    if optimizer == "gd_ls":
        return "GD_LS"
    return "L-BFGS_M1" if options.get("m") == 1 else "L-BFGS"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--model", default="cnn", help="the CNN kind: cnn (Hoyer) or cnn_transpose (thesis)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    codes = ("A", "B") if args.quick else ("A", "B", "D", "E")
    penals = (3,) if args.quick else (1, 3)
    seeds = [0] if args.quick else list(range(10))
    steps = 150 if args.quick else 300
    study = "table_3_3" + ("_quick" if args.quick else "")

    indexes = []
    for model in ("pixel", args.model):
        for penal in penals:
            for code in codes:
                thesis_model = "pixel" if model == "pixel" else "cnn"
                axes = {"problem": [code], "model": [model], "penal": [penal], "seed": seeds,
                        "optimizer": list(optimizers(thesis_model, penal, code).values())}
                indexes.append(run_cases(study, axes, steps, workers=args.workers))
    index = pd.concat(indexes, ignore_index=True)
    groups = curves(index)
    rows = []
    for (problem, model, penal, optimizer, options), (_, median, _, _, runs) in groups.items():
        label = label_of(optimizer, options)
        thesis_model = "pixel" if model == "pixel" else "cnn"
        thesis = THESIS.get((thesis_model, int(penal), problem), {}).get(label, (np.nan, np.nan))
        rows.append({"model": model, "penal": int(penal), "problem": problem, "optimizer": label,
                     "median_final": float(median[-1]), "converged_step": converged_step(median), "seeds": runs,
                     "thesis_final": thesis[0], "thesis_step": thesis[1]})
    table = pd.DataFrame(rows)
    table["optimizer"] = pd.Categorical(table["optimizer"], LABELS, ordered=True)
    table = table.sort_values(["model", "penal", "problem", "optimizer"])
    name = "table_3_3_decomposition" + ("_quick" if args.quick else "")
    table.to_csv(FIGURES / f"{name}.csv", index=False)
    lines = ["| model | p | problem | " + " | ".join(LABELS) + " |", "|---|---|---|" + "---|" * len(LABELS)]
    for (model, penal, problem), part in table.groupby(["model", "penal", "problem"], observed=True):
        cells = []
        for label in LABELS:
            row = part[part["optimizer"] == label]
            if row.empty:
                cells.append("")
                continue
            r = row.iloc[0]
            cells.append(f"{r.median_final:.2f} ({r.converged_step}) / {r.thesis_final:g} ({r.thesis_step:g})")
        lines.append(f"| {model} | {penal} | {problem} | " + " | ".join(cells) + " |")
    markdown = ("Median final loss (converged step) here / in the thesis's Table 3.3; "
                f"{steps} steps, {len(seeds)} seed(s).\n\n" + "\n".join(lines) + "\n")
    (FIGURES / f"{name}.md").write_text(markdown)
    print(markdown)

    from landscape.plots import _pyplot, save
    plt = _pyplot()
    cases = sorted({(m, p, c) for (c, m, p, _, _) in groups})
    fig, axes = plt.subplots(1, len(cases), figsize=(4.2 * len(cases), 3.8), squeeze=False)
    for ax, (model, penal, code) in zip(axes[0], cases):
        for (problem, m, p, optimizer, options), (steps_, median, low, high, runs) in groups.items():
            if (m, p, problem) != (model, penal, code):
                continue
            label = label_of(optimizer, options)
            plot_median(ax, (steps_, median, low, high, runs), f"C{LABELS.index(label)}", label)
        finish_case_axes(ax, f"{model}, p = {penal:g}, {code}")
    fig.tight_layout()
    out = save(fig, FIGURES / ("fig_3_8_decomposition" + ("_quick" if args.quick else "") + ".png"))
    print(f"wrote {out}, {FIGURES / (name + '.md')}")


if __name__ == "__main__":
    main()
