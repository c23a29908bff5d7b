"""Does the cheap grid search find steps as good as appendix B.7's? A check on the cases B.7 has tuned.

``tune_step_sizes.py --protocol grid`` re-tunes the step sizes of the large problems D and E with a
cheaper search than the thesis's (see ``experiments.tuning.grid_step_size``): seed 0 instead of the
table's seeds, at most 17 runs instead of 30 trials, in a window of +-2 decades around the steps B.7
tuned on other problems. This script measures what that costs in quality on the pixel cases where B.7
has run (p = 3 and 1 on A and B; GD, HD_M1, HD_M10), under the grid's own conditions:

* the window is centred on the B.7 step of the *other* small problem (B for A, A for B), as D and E
  are centred on steps tuned elsewhere;
* the grid sees seed 0 and the case's step budget (tables B.1-B.3);
* its pick is then scored as B.7 scores: the median final loss over the table's seeds and budget.

The table gives, per case, both steps and both scores and the ratio grid / B.7 of the scores (1 = as
good; below 1, the grid found a better step than B.7's 30 trials). The CNN cases are left out: one
check would cost about as much as the D and E searches it checks.

    python studies/grid_protocol_check.py --quick      # P3A and P3B, GD only, 40 steps
    python studies/grid_protocol_check.py              # the 12 pixel cases; writes grid_protocol_check.csv/.md
"""
from __future__ import annotations

# common first: it sets the output folder and pins the numerics before NumPy and torch load
from common import FIGURES, add_run_options, find, setup

import argparse
import math
import shutil

import numpy as np
import pandas as pd
from tune_step_sizes import VARIANTS, b7_rows

from experiments.thesis import STEP_SIZES
from experiments.tuning import THESIS_RANGES, grid_step_size, score_step_size, seed_objectives

SIBLING = {"A": "B", "B": "A"}


def check_case(tuned: pd.DataFrame, case: str, variant: str, quick: bool, precision: str) -> dict:
    """The grid's step for one pixel case against B.7's, both scored by B.7's rule.

    Args:
        tuned: the rows of ``tuned_step_sizes.csv``; the B.7 (``tpe``) rows of this case and of its sibling
            (B for A, A for B) are used.
        case: a thesis code such as ``P3A``.
        variant: ``gd``, ``hd1`` or ``hd10``.
        quick: 40 steps and seeds 0 and 1 instead of the table's budget and seeds.
        precision: the network's precision (pixels ignore it).

    Returns:
        one row: both steps, the grid's number of runs, both scores (the median final loss over the table's
        seeds after its budget, each computed here the same way) and their ratio grid / B.7.

    Raises:
        KeyError: when B.7 has not tuned the case or its sibling.
    """
    optimizer, m = VARIANTS[variant]
    family, code = case[:-1], case[-1]

    def b7_row(which: str) -> pd.Series:
        rows = b7_rows(tuned, which, "pixel", optimizer, m)
        if rows.empty:
            raise KeyError(f"no B.7 step for {which} pixel {variant} in tuned_step_sizes.csv")
        return rows.iloc[-1]

    own, sibling = b7_row(case), b7_row(family + SIBLING[code])
    table = "gd" if optimizer == "gd" else f"hd_m{m}"
    budget, n_seeds, _ = STEP_SIZES[table][case]
    steps, seeds = (40, (0, 1)) if quick else (budget, tuple(range(n_seeds)))
    options = dict(penal=float(family[-1]), steps=steps, m=m or 10, precision=precision,
                   model_options={"init": "random"}, search_range=THESIS_RANGES["pixel"])
    name = f"tuning/grid_check_{case}_{variant}_pixel{'_quick' if quick else ''}.jsonl"
    journal = FIGURES / name
    journal.parent.mkdir(parents=True, exist_ok=True)
    if not journal.exists() and find(name).exists():     # the reference's search: nothing to rerun
        shutil.copyfile(find(name), journal)
    grid = grid_step_size(code, "pixel", optimizer, center=math.log10(sibling["tuned_lr"]), seeds=seeds[:1],
                          journal=journal, progress=False, **options)
    objectives = seed_objectives(code, "pixel", options["penal"], seeds, options["model_options"], precision)
    grid_score = score_step_size(objectives, optimizer, grid.best_lr, m or 10, steps)[0]
    b7_score = (grid_score if own["tuned_lr"] == grid.best_lr
                else score_step_size(objectives, optimizer, own["tuned_lr"], m or 10, steps)[0])
    return {"case": case, "optimizer": "GD" if optimizer == "gd" else f"HD_M{m}", "penal": options["penal"],
            "steps": steps, "seeds": len(seeds), "centre_from": family + SIBLING[code], "grid_runs": len(grid.trials),
            "b7_lr": own["tuned_lr"], "grid_lr": grid.best_lr,
            "log10_lr_gap": abs(math.log10(grid.best_lr) - math.log10(own["tuned_lr"])),
            "b7_median_final": b7_score, "grid_median_final": grid_score, "ratio": grid_score / b7_score}


def markdown(frame: pd.DataFrame, quick: bool) -> str:
    """The check as Markdown: the table, then a summary per p.

    Args:
        frame: the rows of :func:`check_case`.
        quick: whether the rows are the quick check's (said in the caption).

    Returns:
        the page's text.
    """
    lines = ["Cheap grid search (seed 0, window +-2 decades around the other small problem's B.7 step) against "
             "appendix B.7's TPE search, both picks scored by B.7's rule (median final loss over the table's seeds "
             "and budget, both computed by this script). Pixels from random starts."
             + (" Quick: 40 steps, 2 seeds." if quick else ""), "",
             "| case | optimizer | steps, seeds | grid runs | B.7 lr | grid lr | B.7 score | grid score | grid / B.7 |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in frame.itertuples():
        lines.append(f"| {r.case} | {r.optimizer} | {r.steps}, {r.seeds} | {r.grid_runs} | {r.b7_lr:.3g} | "
                     f"{r.grid_lr:.3g} | {r.b7_median_final:.4g} | {r.grid_median_final:.4g} | {r.ratio:.4f} |")
    lines.append("")
    for penal, part in frame.groupby("penal", sort=False):
        ratio = part["ratio"].to_numpy()
        lines.append(f"- p = {penal:g}, {len(part)} cases: median ratio {np.median(ratio):.4f}, best "
                     f"{ratio.min():.4f}, worst {ratio.max():.4f}; {int((ratio <= 1.01).sum())} within 1 % of B.7's "
                     f"score or better, {int((ratio <= 1.05).sum())} within 5 %.")
    if (frame["penal"] == 1.0).any():
        lines.append("- At p = 1 the densities' problem is convex: every stable step reaches the same optimum within "
                     "the budget, so these cases cannot tell a good search from a poor one; the p = 3 cases can.")
    return "\n".join(lines) + "\n"


def main(argv=None):
    """Check the cases (all 12, or 2 with ``--quick``) and write ``grid_protocol_check[_quick].csv/.md``."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = setup(add_run_options(parser).parse_args(argv))
    tuned = pd.read_csv(find("tuned_step_sizes.csv"))
    cases = (["P3A", "P3B"], ["gd"]) if args.quick else (["P3A", "P3B", "P1A", "P1B"], ["gd", "hd1", "hd10"])
    rows = [check_case(tuned, case, variant, args.quick, args.precision) for case in cases[0] for variant in cases[1]]
    frame = pd.DataFrame(rows)
    stem = FIGURES / ("grid_protocol_check" + ("_quick" if args.quick else ""))
    frame.to_csv(stem.with_suffix(".csv"), index=False)
    stem.with_suffix(".md").write_text(markdown(frame, args.quick))
    print(stem.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
