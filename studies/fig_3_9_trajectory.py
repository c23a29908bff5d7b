"""Thesis Figure 3.9: distance from the initialization and gradient norm along L-BFGS and GD.

Protocol (``studies/matrix.py``): p = 3 (``--penal 1`` for Figure C.16), seeds 0-2
(the thesis: "median over 3 seeds"), the thesis's CNN (``cnn_transpose``) and the
random-start PixelModel; L-BFGS is SciPy's L-BFGS-B (m = 10) with the step budget
as its evaluation budget; GD takes the step size re-tuned here
(``figures/tuned_step_sizes.csv``: appendix B.7's search, or on D and E the grid search) where that exists, and
otherwise the CNN value ``--lr-cnn`` (default 3e-7, below the stable threshold
measured on A; the thesis's tuned values diverge on the CNN) or the thesis's
table B.1 value for pixels; each panel's title says which. Each panel draws the
median over seeds of the distance and of the gradient norm with min-max bands
(over the seeds that did not diverge; the title counts the others),
and the median loss behind them (the thesis draws the loss over 10 seeds; here it
is over the same seeds as the rest of the panel). Runs go through the sweep runner
into ``runs/fig_3_9/`` (``runs/fig_3_9_p1/`` at p = 1) and are reused on a rerun.

    python studies/fig_3_9_trajectory.py --quick   # problem A, 150 steps
    python studies/fig_3_9_trajectory.py           # problems A and D, 700 steps (the thesis's GD budget)
    python studies/fig_3_9_trajectory.py --penal 1 # Figure C.16: the same at p = 1
"""
from __future__ import annotations

# common first: it sets the output folder and pins the numerics before NumPy and torch load
from common import FIGURES, add_run_options, run_cases, setup

import argparse

import numpy as np
import pandas as pd
from matrix import CNN, loss_table, model_entry, tuned_step_size

from experiments.thesis import step_size
from landscape.plots import pyplot, save


def gd_step(model: str, code: str, lr_cnn: float, penal: float = 3.0) -> tuple[float, str]:
    """The GD step size of a panel and where it comes from."""
    try:
        return tuned_step_size("gd", model, penal, code), "re-tuned"
    except (FileNotFoundError, KeyError):
        if model == "pixel":
            return step_size("gd", "pixel", penal, code), "thesis B.1"
        return lr_cnn, "--lr-cnn"


def draw_median(ax, table: pd.DataFrame, color: str, **style):
    values = table.to_numpy()
    ax.plot(table.index, np.median(values, axis=1), color=color, **style)
    if values.shape[1] > 1:
        ax.fill_between(table.index, values.min(axis=1), values.max(axis=1), color=color, alpha=0.15, lw=0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--model", default=CNN, help=f"the CNN kind (default {CNN}, the thesis's)")
    parser.add_argument("--problem", default=None, help="comma-separated thesis codes (default A quick, A,D full)")
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds (default 3, the thesis's)")
    parser.add_argument("--lr-cnn", type=float, default=3e-7, help="CNN GD step where none is re-tuned")
    parser.add_argument("--penal", type=float, default=3.0, help="penalization (3: Figure 3.9; 1: Figure C.16)")
    args = setup(add_run_options(parser).parse_args(argv))
    steps = 150 if args.quick else 700
    seeds = list(range(args.seeds))
    codes = (args.problem or ("A" if args.quick else "A,D")).split(",")
    panels = [(model, code) for code in codes for model in (args.model, "pixel")]
    plt = pyplot()
    fig, axes = plt.subplots(len(panels), 2, figsize=(11, 3.3 * len(panels)), squeeze=False)
    summary = []
    for row, (model, code) in enumerate(panels):
        lr, source = gd_step(model, code, args.lr_cnn, args.penal)
        optimizers = (({"name": "scipy_lbfgsb", "m": 10, "maxfun": steps}, "L-BFGS"),
                      ({"name": "gd", "lr": lr}, f"GD {lr:.3g} ({source})"))
        study = "fig_3_9" + ("" if args.penal == 3 else f"_p{args.penal:g}")
        index = run_cases(study, {"problem": [code], "model": [model_entry(model)], "penal": [args.penal],
                                  "seed": seeds, "optimizer": [entry for entry, _ in optimizers]},
                          steps, workers=args.workers, precision=args.precision, threads=args.threads)
        for col, (entry, label) in enumerate(optimizers):
            runs = index[index["optimizer"] == entry["name"]]
            drawn = runs[runs["status"] != "diverged"]    # a diverged seed's distance (1e9) flattens the rest
            drawn = runs if drawn.empty else drawn
            loss, distance = loss_table(drawn), loss_table(drawn, "distance")
            ax = axes[row, col]
            draw_median(ax, distance, "C0", lw=1.4)
            ax.set_yscale("log")   # pixel logits run off to 1e7 on saturated designs: distances span decades
            ax.set_ylabel("distance from init (log)", color="C0")
            twin = ax.twinx()
            draw_median(twin, loss_table(drawn, "grad_norm"), "C1", lw=1.4)
            draw_median(twin, loss, "0.5", ls="--", lw=1)
            twin.set_yscale("log")
            twin.set_ylabel("|g| (orange), loss (grey)")
            twin.grid(False)
            start, end = np.median(loss.iloc[0]), np.median(loss.iloc[-1])
            unfinished = runs[~runs["status"].isin(("completed", "max_evaluations"))]["status"].value_counts()
            note = "".join(f", {n} {s}" + (" (undrawn)" if s == "diverged" and len(drawn) < len(runs) else "")
                           for s, n in unfinished.items())
            ax.set_title(f"{code}, {model}, {label}: median loss {start:.4g} -> {end:.4g}{note}", fontsize=8)
            summary.append({"problem": code, "model": model, "optimizer": label.split(" ")[0],
                            "step_size": entry.get("lr"), "seeds": len(runs), "drawn": len(drawn),
                            "median_distance": float(np.median(distance.iloc[-1])), "median_loss_start": start,
                            "median_loss_end": end,
                            "diverged": int((runs["status"] == "diverged").sum())})
            print(f"{code} {model:13s} {label:28s}: median distance {np.median(distance.iloc[-1]):.4g}, "
                  f"loss {start:.4g} -> {end:.4g}; statuses {runs['status'].value_counts().to_dict()}")
    for ax in axes[-1]:
        ax.set_xlabel("step (accepted iterate)")
    number = "3.9" if args.penal == 3 else "C.16" if args.penal == 1 else "3.9 (other p)"
    over = f"median, min-max over seeds 0-{seeds[-1]}" if len(seeds) > 1 else "seed 0"
    fig.suptitle(f"Figure {number}: distance from the initialization and gradient norm (p = {args.penal:g}, "
                 f"{over}, {steps} steps)", fontsize=10)
    fig.tight_layout()
    suffix = ("" if args.penal == 3 else f"_p{args.penal:g}") + ("_quick" if args.quick else "")
    out = save(fig, FIGURES / f"fig_3_9_trajectory{suffix}.png")
    # the numbers the results page quotes: per panel, the median distance moved and the median loss
    pd.DataFrame(summary).to_csv(out.with_suffix(".csv"), index=False, float_format="%.6g")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
