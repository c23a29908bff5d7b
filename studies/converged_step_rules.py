"""Which "converged step" rule matches the thesis's Table 3.3? Several stated rules against its bracketed steps.

The thesis gives, next to each median of Table 3.3, "the approximate step at which the optimizer
converged", without a rule. This script applies candidate rules to the median loss curve of every
full-setting cell that has run (GD read over its first 700 steps, as the table reads it; GD and HD at
the thesis's step sizes) and compares each with the thesis's step:

* ``final_0.1%`` ... ``final_10%``: the first step after which the median stays within 0.1, 1, 2, 5
  or 10 % of its final value;
* ``drop_1%``: the first step after which the median never falls by more than 1 % of its value
  within the next 10 steps (a plateau rule);
* ``decrease_1%``, ``decrease_5%``: the first step after which the median stays within 1 % or 5 %
  of its total decrease (start minus final) of the final value.

Cells whose median is a diverged run or one that ended no lower than it started have no converged
step and are left out. The score of a rule is the median over cells of
``|log10((step + 1) / (thesis step + 1))|`` (0 = the thesis's step; 0.3 = a factor of 2), and the share
of cells within a factor of 2. ``matrix.converged_step`` uses the best rule.

    python studies/converged_step_rules.py       # writes converged_step_rules.csv and .md
"""
from __future__ import annotations

# common first: it sets the output folder and pins the numerics before NumPy and torch load
from common import FIGURES, add_output_options

import argparse

import numpy as np
import pandas as pd
from matrix import FULL, LABELS, read_cell, summarize
from table_3_3_decomposition import THESIS


def _after(mask: np.ndarray) -> int:
    """The first index after the last True of ``mask`` (0 if none)."""
    far = np.flatnonzero(mask)
    return int(far[-1] + 1) if far.size else 0


def rules(median: np.ndarray) -> dict[str, int]:
    """The converged step of one median curve under each candidate rule."""
    final, start = median[-1], median[0]
    out = {f"final_{t:g}%": _after(np.abs(median - final) > t / 100 * abs(final)) for t in (0.1, 1, 2, 5, 10)}
    ahead = np.concatenate([median[10:], np.full(min(10, len(median)), final)])[:len(median)]
    out["drop_1%"] = _after((median - ahead) > 0.01 * np.abs(median))
    total = max(start - final, 1e-300)
    out.update({f"decrease_{t:g}%": _after((median - final) > t / 100 * total) for t in (1, 5)})
    return out


def compare() -> pd.DataFrame:
    """One row per cell with a thesis step: the thesis's step and each rule's step; ``attrs["not_run"]`` counts
    the cells with no committed curves."""
    rows, not_run = [], 0
    for (tm, penal, code), cells in THESIS.items():
        model = "pixel" if tm == "pixel" else "cnn_transpose"
        for label in LABELS:
            found = read_cell(model, float(penal), code, label, "thesis", quick=False)
            if found is None:
                not_run += 1
                continue
            losses, statuses = found
            if label == "GD":
                losses = losses.iloc[:FULL.gd_short + 1]
            s = summarize(losses, statuses)
            if 2 * s["rose"] >= s["seeds"]:
                continue
            median = np.median(losses.to_numpy(), axis=1)
            rows.append({"model": model, "penal": penal, "problem": code, "optimizer": label,
                         "seeds": s["seeds"], "thesis_step": cells[label][1], **rules(median)})
    table = pd.DataFrame(rows)
    table.attrs["not_run"] = not_run
    return table


def score(table: pd.DataFrame) -> pd.DataFrame:
    """Per rule: cells, median |log10 ratio| to the thesis's step, and the share within a factor of 2."""
    names = [c for c in table.columns if c.startswith(("final_", "drop_", "decrease_"))]
    out = []
    for name in names:
        error = np.abs(np.log10((table[name] + 1) / (table["thesis_step"] + 1)))
        out.append({"rule": name, "cells": len(table), "median_abs_log10_ratio": float(np.median(error)),
                    "within_factor_2": float(np.mean(error <= np.log10(2)))})
    return pd.DataFrame(out).sort_values("median_abs_log10_ratio", kind="stable")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_output_options(parser)
    parser.parse_args(argv)
    table = compare()
    if table.empty:
        print("no full-setting cells with thesis steps have run yet")
        return 1
    scores = score(table)
    FIGURES.mkdir(parents=True, exist_ok=True)
    table.to_csv(FIGURES / "converged_step_rules.csv", index=False)
    lines = ["| rule | cells | median abs log10(step / thesis step) | within a factor of 2 |", "|---|---|---|---|"]
    lines += [f"| {r.rule} | {r.cells} | {r.median_abs_log10_ratio:.3f} | {r.within_factor_2:.0%} |"
              for r in scores.itertuples()]
    total = sum(len(cells) for cells in THESIS.values())
    most = scores.sort_values("within_factor_2", ascending=False, kind="stable").iloc[0]
    text = ("Converged-step rules against the thesis's Table 3.3 steps (studies/converged_step_rules.py; "
            f"per-cell steps in converged_step_rules.csv), over {len(table)} of the {total} cells of the table: "
            "the others have a median that diverged or rose, which has no converged step"
            + (f", or ({table.attrs['not_run']}) have not run" if table.attrs.get("not_run") else "") + ". "
            "Ranked by the median |log10 ratio| alone, best first"
            + (f"; by the share within a factor of 2, {most.rule} leads ({most.within_factor_2:.0%})"
               if most.rule != scores.iloc[0].rule else "") + ".\n\n" + "\n".join(lines) + "\n")
    (FIGURES / "converged_step_rules.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
