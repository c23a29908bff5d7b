"""Beyond the thesis (its section 4.1): are the minima reached from different initializations connected?

The thesis found that every initialization reaches about the same loss, on a landscape it showed to be
non-convex. Are those minima separate basins, or points of one connected low-loss region? For each model
(random-start pixels and the thesis's ``cnn_transpose``) and penalization, SciPy's L-BFGS-B (the matrix's
protocol: m = 10, 300 evaluations) runs from several seeds; for every pair of final iterates the loss is
measured along the straight line between them and along a quadratic Bezier curve whose control point is
trained to lower the mean of log L along it (``probes.connectivity``; Garipov et al. 2018; the logarithm,
because a path's compliance spans decades). The measure is the
barrier, how far a path climbs above its higher end (``probes.geometry.barrier``; 0 = never above).

Rule, per (model, p): over the pairs, a one-sided Wilcoxon signed-rank test that the curve's barrier is
below the line's (p <= 0.05); the minima count as **connected** when every pair's curve barrier is below
1 %, **separated** when some pair's curve still climbs 10 % or more, and **partly** otherwise.

    python studies/sec_4_1_connectivity.py --quick   # A, p = 3, 3 seeds (3 pairs), 100 evaluations
    python studies/sec_4_1_connectivity.py           # A, p = 1 and 3, 5 seeds (10 pairs), 300 evaluations

The curve is trained by Adam for 30 steps of 2 samples (quick) or 100 steps of 4 (full), relative step 0.01.

Writes ``sec_4_1_connectivity[_quick].csv`` (one row per pair), ``..._summary.csv`` and ``.md`` (one row per
model and p, with the verdict) and ``.png`` (every pair's line and curve) into the output folder; the runs'
traces go to ``runs/sec_4_1_connectivity[_quick]/``.
"""
from __future__ import annotations

# common first: it sets the output folder and pins the numerics before NumPy and torch load
from common import FIGURES, add_run_options, run_cases, setup

import argparse
import itertools

import numpy as np
import pandas as pd
from matrix import model_entry
from scipy.stats import wilcoxon

from landscape.plots import pyplot, save
from probes.connectivity import connect_traces

CONNECTED, SEPARATED = 0.01, 0.10       # the curve barrier below which a pair is joined, above which it is not


def verdict(pairs: pd.DataFrame) -> dict:
    """One (model, p)'s summary: medians of both barriers, the largest curve barrier, the Wilcoxon test and the
    verdict of the module docstring."""
    line, curve = pairs["line_barrier"].to_numpy(), pairs["curve_barrier"].to_numpy()
    differs = line - curve
    p = float(wilcoxon(differs, alternative="greater").pvalue) if np.any(differs != 0) else 1.0
    largest = float(curve.max())
    word = "connected" if largest < CONNECTED else "separated" if largest >= SEPARATED else "partly"
    return {"pairs": len(pairs), "line_barrier_median": float(np.median(line)), "line_barrier_max": float(line.max()),
            "curve_barrier_median": float(np.median(curve)), "curve_barrier_max": largest,
            "wilcoxon_p": p, "curve_lower": p <= 0.05, "verdict": word}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--problem", default="A")
    parser.add_argument("--model", default="cnn_transpose", help="the CNN kind (default the thesis's cnn_transpose)")
    parser.add_argument("--penal", default=None, help="comma-separated penalizations (default 3 quick, 1,3 full)")
    parser.add_argument("--seeds", type=int, default=None, help="seeds per cell (default 3 quick, 5 full)")
    args = setup(add_run_options(parser).parse_args(argv))
    suffix = "_quick" if args.quick else ""
    penals = [float(p) for p in (args.penal or ("3" if args.quick else "1,3")).split(",")]
    seeds = list(range(args.seeds or (3 if args.quick else 5)))
    evaluations, fit = (100, {"steps": 30, "samples": 2, "points": 11}) if args.quick else \
        (300, {"steps": 100, "samples": 4, "points": 41})
    fit.update(log=True, progress=False)      # compliance spans decades along a path: train on log L
    models = ("pixel", args.model)
    index = run_cases(f"sec_4_1_connectivity{suffix}", {
        "problem": [args.problem], "model": [model_entry(m) for m in models], "penal": penals, "seed": seeds,
        "optimizer": [{"name": "scipy_lbfgsb", "m": 10, "maxfun": evaluations}]}, steps=evaluations,
        workers=args.workers, precision=args.precision, threads=args.threads)
    failed = index[index["status"] == "failed"]
    if len(failed):
        raise SystemExit(f"{len(failed)} runs failed, e.g. {failed.iloc[0]['name']}: {failed.iloc[0]['error']}")
    rows, curves = [], []
    for model, penal in itertools.product(models, penals):
        cell = index[(index["model"] == model) & (index["penal"] == penal)].set_index("seed")
        for k, (i, j) in enumerate(itertools.combinations(seeds, 2)):
            found = connect_traces(cell.loc[i, "trace"], cell.loc[j, "trace"], seed=k, **fit)
            rows.append({"model": model, "penal": penal, "problem": args.problem, "seed_a": i, "seed_b": j,
                         "loss_a": found.line.losses[0], "loss_b": found.line.losses[-1], "distance": found.distance,
                         "line_barrier": found.line_barrier, "curve_barrier": found.curve_barrier,
                         "line_max": found.line.losses.max(), "curve_max": found.curve.losses.max(),
                         "fit_evaluations": found.fit.evaluations})
            curves.append((model, penal, i, j, found))
            print(f"{model:14s} p={penal:g} seeds {i}-{j}: distance {found.distance:.4g}, barrier line "
                  f"{found.line_barrier:.3g}, curve {found.curve_barrier:.3g}")
    pairs = pd.DataFrame(rows)
    summary = pd.DataFrame([{"model": model, "penal": penal, "problem": args.problem, **verdict(group)}
                            for (model, penal), group in pairs.groupby(["model", "penal"], sort=False)])
    out = FIGURES / f"sec_4_1_connectivity{suffix}"
    pairs.to_csv(out.with_suffix(".csv"), index=False, float_format="%.6g")
    summary.to_csv(out.parent / f"{out.name}_summary.csv", index=False, float_format="%.6g")
    (out.parent / f"{out.name}.md").write_text(markdown(summary, len(seeds), evaluations, fit))

    plt = pyplot()
    cells = list(itertools.product(models, penals))
    fig, axes = plt.subplots(1, len(cells), figsize=(4.2 * len(cells), 3.6), squeeze=False)
    for ax, (model, penal) in zip(axes[0], cells):
        for n, (_, _, i, j, found) in enumerate(c for c in curves if c[:2] == (model, penal)):
            ax.plot(found.line.alphas, found.line.losses, color=f"C{n % 10}", ls="--", lw=1)
            ax.plot(found.curve.alphas, found.curve.losses, color=f"C{n % 10}", lw=1.4, label=f"seeds {i}-{j}")
        row = summary[(summary["model"] == model) & (summary["penal"] == penal)].iloc[0]
        ax.set_yscale("log")
        ax.set(xlabel="t (0 and 1: the two minima)", ylabel="loss" if ax is axes[0, 0] else "",
               title=f"{model}, p = {penal:g}: barrier line {row.line_barrier_median:.2g}, "
                     f"curve {row.curve_barrier_median:.2g} (medians)")
        ax.title.set_fontsize(8)
    axes[0, 0].legend(fontsize=6, ncol=2)
    fig.suptitle(f"Straight lines (dashed) and trained Bezier curves (solid) between the minima of {len(seeds)} "
                 f"L-BFGS runs, problem {args.problem}", fontsize=9)
    fig.tight_layout()
    print(f"wrote {save(fig, out.with_suffix('.png'))}")
    print(summary.to_string(index=False))


def markdown(summary: pd.DataFrame, seeds: int, evaluations: int, fit: dict) -> str:
    """The summary as the Markdown table the results page links to."""
    lines = [f"Mode connectivity: {seeds} seeds of SciPy's L-BFGS-B (m = 10, {evaluations} evaluations) per model "
             f"and p; every pair's straight line against a quadratic Bezier curve trained by Adam on the mean of "
             f"log L along it ({fit['steps']} steps of {fit['samples']} samples), both measured at {fit['points']} "
             f"points. Barrier: how far a path "
             f"climbs above its higher end. Rule: one-sided Wilcoxon signed-rank test that the curve's barrier is "
             f"below the line's (p <= 0.05); connected when every curve barrier is below {CONNECTED:.0%}, separated "
             f"when one reaches {SEPARATED:.0%}, partly otherwise.", "",
             "| model | p | pairs | line barrier: median (max) | curve barrier: median (max) | Wilcoxon p | "
             "curve lower | verdict |", "|---|---|---|---|---|---|---|---|"]
    for row in summary.itertuples():
        lines.append(f"| {row.model} | {row.penal:g} | {row.pairs} | {row.line_barrier_median:.3g} "
                     f"({row.line_barrier_max:.3g}) | {row.curve_barrier_median:.3g} ({row.curve_barrier_max:.3g}) | "
                     f"{row.wilcoxon_p:.3g} | {'yes' if row.curve_lower else 'no'} | **{row.verdict}** |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
