"""Thesis section 4.1, question 3: can GD be saved by an increasing step size or a simple preconditioner?

The thesis: "A simple and increasing step size schedule may also result in better solutions ...
rescaling the gradients using simple matrices ... may result in a better optimizer." Its GD needs a
step small enough for the first steps, while GD_LS later accepts far larger ones. This study builds
both remedies from ``pgd`` (``landscape.optim``) and compares them with GD_LS and L-BFGS at the same
number of objective evaluations and at the same wall time.

Protocol: problem A, p = 3, random-start pixels and the thesis's CNN (``cnn_transpose``), seeds 0-9
[quick: 2 seeds and short budgets].

1. GD_LS, 300 steps: the steps it accepts. ``late`` is the median over seeds of the median step over
   its last half of steps, in the same units as GD's ``lr`` (the direction is ``-g``).
2. Step sizes of the preconditioners: for each, ``lr`` in ``GRID`` (1 to 1e-4) on seed 0 for 100 steps; the
   lowest final loss of a run that did not diverge wins (the appendix B.7 idea on a coarse grid).
3. 700 evaluations each (HVPs of the Hutchinson diagonal are not counted as evaluations; the wall
   time shows their cost): GD at its B.7 step (``figures/tuned_step_sizes.csv``); GD with
   an exponential and a linear warm-up from that step to ``late`` over the first 350 steps; the
   preconditioners ``scaled_identity`` (L-BFGS's ``gamma I``), ``secant_diagonal`` (m = 10) and
   ``hutchinson_diagonal`` (4 probes every 10 steps) at their step; GD_LS (run for 700 steps, read at 700
   evaluations, since its line search spends one or more evaluations a step); SciPy's L-BFGS-B (m = 10).
4. Time to target: the first objective evaluation and the first wall second at which a run's loss is within
   5 % of L-BFGS's median loss at the budget (the per-wall-second comparison; a run that never gets there
   counts as not reached).

Rule, per model and optimizer against GD, GD_LS and L-BFGS, on the losses at 700 evaluations (each
run's last step within the budget; a run that stopped before it, diverged or by L-BFGS-B's own test, with
its last loss) over the seeds: one-sided Mann-Whitney U tests at 5 %: *better*, *worse*, or *no
significant difference*. A run *rose* when it did not diverge but ended no lower than its start.

    python studies/sec_4_1_schedules.py --quick
    python studies/sec_4_1_schedules.py --workers 2

Writes ``sec_4_1_schedules[_quick].csv`` (one row per run), ``_summary.csv``, ``.md`` (with the step sizes
found in stages 1 and 2) and ``.png`` (median loss against evaluations and against wall seconds; a run that
stopped early, e.g. diverged, keeps its last loss) into the output folder; traces in
``runs/sec_4_1_schedules_*``.
"""
from __future__ import annotations

# common first: it sets the output folder and pins the numerics before NumPy and torch load
from common import FIGURES, add_run_options, failure_counts, order_verdict, run_cases, setup, study_parser

import json

import numpy as np
import pandas as pd
from matrix import model_entry, tuned_step_size

import landscape as L
from landscape.plots import pyplot, save
from landscape.statuses import rose

PROBLEM, PENAL = "A", 3.0
MODELS = ("pixel", "cnn_transpose")
PRECONDITIONERS = ("scaled_identity", "secant_diagonal", "hutchinson_diagonal")
GRID = (1.0, 0.1, 0.01, 1e-3, 1e-4)
ALPHA = 0.05
REFERENCES = ("GD", "GD_LS", "L-BFGS")
TARGET = 1.05      # time to target: within 5 % of L-BFGS's median loss at the budget


def compare(a: np.ndarray, b: np.ndarray) -> tuple[str, float, float]:
    """``(verdict, p_lower, p_higher)``: a better (lower) or worse than b by one-sided Mann-Whitney U tests."""
    return order_verdict(a, b, "better", "worse", ALPHA)


def within_budget(steps: np.ndarray, evaluations: int) -> np.ndarray:
    """The steps whose cumulative evaluations are within ``evaluations`` (at least the first step)."""
    within = steps[steps["evaluations"] <= evaluations]
    return within if len(within) else steps[:1]


def at_budget(steps: np.ndarray, evaluations: int) -> float:
    """The loss at the last step whose cumulative evaluations are within ``evaluations``."""
    return float(within_budget(steps, evaluations)["loss"][-1])


def to_target(steps: np.ndarray, target: float) -> tuple[float, float]:
    """``(evaluations, wall seconds)`` at the first step whose loss is at most ``target``; NaN if none is."""
    hits = np.flatnonzero(steps["loss"] <= target)
    if not len(hits):
        return np.nan, np.nan
    return float(steps["evaluations"][hits[0]]), float(steps["wall_time"][hits[0]])


def late_step(index: pd.DataFrame) -> float:
    """Stage 1: the median over runs of the median step GD_LS accepted over its last half of steps."""
    medians = []
    for path in index["trace"]:
        with L.open_trace(path) as trace:
            alphas = trace.steps()["step_size"][1:]
        alphas = alphas[np.isfinite(alphas)]
        medians.append(np.median(alphas[len(alphas) // 2:]))
    return float(np.median(medians))


def options_of(index: pd.DataFrame) -> pd.Series:
    return index["optimizer_options"].map(lambda o: o if isinstance(o, dict) else json.loads(o))


def label(optimizer: str, options: dict) -> str:
    if optimizer == "gd_ls":
        return "GD_LS"
    if optimizer == "scipy_lbfgsb":
        return "L-BFGS"
    if options.get("preconditioner", "identity") != "identity":
        return options["preconditioner"]
    return f"GD, {options['shape']} warm-up" if "lr_end" in options else "GD"


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for model, group in runs.groupby("model", sort=False):
        references = {name: group[group["label"] == name]["loss_at_budget"].to_numpy() for name in REFERENCES}
        for name, cell in group.groupby("label", sort=False):
            losses = cell["loss_at_budget"].to_numpy()
            reached = cell["seconds_to_target"].dropna()
            row = {"model": model, "optimizer": name, "lr": cell["lr"].iloc[0], "seeds": len(losses),
                   "median": np.median(losses), "min": losses.min(), "max": losses.max(),
                   **failure_counts(cell),
                   "wall_median": cell["wall_time"].median(), "target": cell["target"].iloc[0],
                   "reached": len(reached), "evaluations_to_target": cell["evaluations_to_target"].median(),
                   "seconds_to_target": reached.median()}
            for reference, values in references.items():
                word, lower, higher = compare(losses, values) if name != reference else ("-", np.nan, np.nan)
                row[f"vs_{reference}"], row[f"p_{reference}"] = word, min(lower, higher)
            rows.append(row)
    return pd.DataFrame(rows)


def main(argv=None):
    parser = study_parser(__doc__, 2, 10)
    args = setup(add_run_options(parser).parse_args(argv))
    suffix = "_quick" if args.quick else ""
    seeds = list(range(args.seeds or (2 if args.quick else 10)))
    budget, ls_steps, grid_steps, ramp = (60, 30, 20, 30) if args.quick else (700, 300, 100, 350)
    common = {"workers": args.workers, "precision": args.precision, "threads": args.threads}
    frames, found = [], {}
    for model in MODELS:
        axes = {"problem": [PROBLEM], "model": [model_entry(model)], "penal": [PENAL]}
        gd_ls = run_cases(f"sec_4_1_schedules_gd_ls_{model}{suffix}", {**axes, "seed": seeds,
                          "optimizer": [{"name": "gd_ls"}]}, steps=ls_steps, **common)
        lr, late = tuned_step_size("gd", model, PENAL, PROBLEM), late_step(gd_ls)
        grid = run_cases(f"sec_4_1_schedules_grid_{model}{suffix}", {**axes, "seed": [0], "optimizer": [
            {"name": "pgd", "preconditioner": p, "lr": g} for p in PRECONDITIONERS for g in GRID]},
            steps=grid_steps, **common)
        grid["options"] = options_of(grid)
        best = {}
        for p in PRECONDITIONERS:
            rows = grid[(grid["options"].map(lambda o: o["preconditioner"]) == p) & (grid["status"] != "diverged")
                        & np.isfinite(grid["final_loss"])]
            best[p] = float(rows.loc[rows["final_loss"].idxmin(), "options"]["lr"]) if len(rows) else min(GRID)
        with L.open_trace(grid["trace"].iloc[0]) as trace:
            start = float(trace.steps()["loss"][0])     # seed 0's start, the same for every grid run
        losses = {(o["preconditioner"], o["lr"]): "div." if status == "diverged" else f"{loss:.4g}"
                  for o, status, loss in zip(grid["options"], grid["status"], grid["final_loss"])}
        found[model] = {"gd": lr, "gd_ls_late": late, **best, "grid": losses, "start": start}
        entries = [{"name": "pgd", "lr": lr}]
        entries += [{"name": "pgd", "lr": lr, "lr_end": late, "ramp": ramp, "shape": s}
                    for s in ("exponential", "linear")]
        entries += [{"name": "pgd", "preconditioner": p, "lr": best[p]} for p in PRECONDITIONERS]
        entries += [{"name": "scipy_lbfgsb", "m": 10, "maxfun": budget}, {"name": "gd_ls"}]
        index = run_cases(f"sec_4_1_schedules_{model}{suffix}", {**axes, "seed": seeds, "optimizer": entries},
                          steps=budget, **common)
        failed = index[index["status"] == "failed"]
        if len(failed):
            raise SystemExit(f"{len(failed)} runs failed, e.g. {failed.iloc[0]['name']}: {failed.iloc[0]['error']}")
        for row, options in zip(index.itertuples(), options_of(index)):
            with L.open_trace(row.trace) as trace:
                steps = within_budget(trace.steps(), budget)     # GD_LS's 700 steps take more evaluations
            frames.append({"model": model, "label": label(row.optimizer, options), "seed": row.seed,
                           "lr": options.get("lr", np.nan), "status": row.status, "start_loss": float(steps["loss"][0]),
                           "loss_at_budget": at_budget(steps, budget), "rose": rose(steps["loss"]),
                           "evaluations": int(steps["evaluations"][-1]),
                           "wall_time": float(steps["wall_time"][-1]), "curve": steps})
    runs = pd.DataFrame(frames)
    add_time_to_target(runs)
    summary = summarize(runs)
    runs.drop(columns="curve").to_csv(FIGURES / f"sec_4_1_schedules{suffix}.csv", index=False, float_format="%.6g")
    summary.to_csv(FIGURES / f"sec_4_1_schedules{suffix}_summary.csv", index=False, float_format="%.6g")
    text = markdown(summary, found, budget, len(seeds), ramp)
    (FIGURES / f"sec_4_1_schedules{suffix}.md").write_text(text)
    print(text)
    print(f"wrote {plot(runs, budget, len(seeds), FIGURES / f'sec_4_1_schedules{suffix}.png')} and its tables")


def add_time_to_target(runs: pd.DataFrame) -> None:
    """Per run, in place: ``target`` (``TARGET`` times L-BFGS's median loss at the budget, per model) and the
    evaluations and wall seconds at which the run first reaches it (NaN: never)."""
    lbfgs = runs[runs["label"] == "L-BFGS"].groupby("model")["loss_at_budget"].median()
    runs["target"] = TARGET * runs["model"].map(lbfgs)
    hits = [to_target(curve, target) for curve, target in zip(runs["curve"], runs["target"])]
    runs["evaluations_to_target"], runs["seconds_to_target"] = zip(*hits) if hits else ((), ())


def markdown(summary: pd.DataFrame, found: dict, budget: int, seeds: int, ramp: int) -> str:
    lines = [f"# Section 4.1: step-size schedules and simple preconditioners (problem {PROBLEM}, p = {PENAL:g}, "
             f"{seeds} seeds, {budget} evaluations)", "",
             "Step sizes: GD at its B.7 step (tuned_step_sizes.csv); GD_LS's late step (median of its accepted steps "
             "over the last half); "
             f"the preconditioners' best of {', '.join(f'{g:g}' for g in GRID)} on seed 0. Warm-ups go from GD's "
             f"step to GD_LS's late step over {ramp} steps.", "",
             "| model | GD | GD_LS late | " + " | ".join(PRECONDITIONERS) + " |", "|---|---|---|---|---|---|"]
    for model, f in found.items():
        lines.append(f"| {model} | {f['gd']:.3g} | {f['gd_ls_late']:.3g} | "
                     + " | ".join(f"{f[p]:g}" for p in PRECONDITIONERS) + " |")
    lines += ["", "The preconditioners' grid: seed 0's loss after the grid's steps at each step size (div.: diverged), "
              "and its loss at the start.", "",
              "| model | preconditioner | start | " + " | ".join(f"{g:g}" for g in GRID) + " |",
              "|---|---|---|" + "---|" * len(GRID)]
    for model, f in found.items():
        for p in PRECONDITIONERS:
            lines.append(f"| {model} | {p} | {f['start']:.4g} | "
                         + " | ".join(f["grid"].get((p, g), "") for g in GRID) + " |")
    lines += ["", f"Loss at {budget} evaluations (a run that stopped before, diverged or by L-BFGS-B's own test, "
              f"with its last loss): median [min, max] over seeds; rose: did not diverge but ended no lower than its "
              f"start; against GD, GD_LS and L-BFGS by one-sided Mann-Whitney U tests at {ALPHA:g}.", "",
              "| model | optimizer | step | loss | diverged | rose | median wall (s) | "
              + " | ".join(f"vs {ref}" for ref in REFERENCES) + " |",
              "|---|---|---|---|---|---|---|" + "---|" * len(REFERENCES)]
    for _, r in summary.iterrows():
        verdicts = [f"{r[f'vs_{ref}']}" + (f" (p = {r[f'p_{ref}']:.3g})" if np.isfinite(r[f"p_{ref}"]) else "")
                    for ref in REFERENCES]
        lines.append(f"| {r['model']} | {r['optimizer']} | {r['lr']:.3g} | {r['median']:.4g} [{r['min']:.4g}, "
                     f"{r['max']:.4g}] | {r['diverged']} | {r['rose']} | {r['wall_median']:.1f} | "
                     + " | ".join(verdicts) + " |")
    lines += ["", f"Time to target: the first evaluation and wall second at which a run's loss is within "
              f"{TARGET - 1:.0%} of L-BFGS's median loss at {budget} evaluations; medians over the runs that reach it.",
              "", "| model | optimizer | target | runs that reach it | evaluations | wall seconds |",
              "|---|---|---|---|---|---|"]
    for _, r in summary.iterrows():
        at = (f"{r['evaluations_to_target']:.0f} | {r['seconds_to_target']:.1f}" if r["reached"] else "- | -")
        lines.append(f"| {r['model']} | {r['optimizer']} | {r['target']:.4g} | {r['reached']} of {r['seeds']} | {at} |")
    return "\n".join(lines) + "\n"


def plot(runs: pd.DataFrame, budget: int, seeds: int, path):
    """Median loss against evaluations (top) and wall seconds (bottom), per model. The loss axis stops at 3 times
    the median start, so that the differences near the minima stay visible; the legend counts the diverged runs,
    whose curves leave the plot at the top."""
    plt = pyplot()
    fig, axes = plt.subplots(2, len(MODELS), figsize=(10, 8.6), squeeze=False)
    for j, model in enumerate(MODELS):
        group = runs[runs["model"] == model]
        lowest, start_loss = np.inf, np.median([c["loss"][0] for c in group["curve"]])
        for k, (name, cell) in enumerate(group.groupby("label", sort=False)):
            curves = list(cell["curve"])      # each run's steps table, read once by main()
            diverged = int((cell["status"] == "diverged").sum())
            text = f"{name} ({diverged} of {len(curves)} diverged)" if diverged else name
            for i, axis in enumerate(("evaluations", "wall_time")):
                start = max(c[axis][c[axis] > 0][0] for c in curves)      # every run has reached its first point
                grid = np.geomspace(start, max(start, max(c[axis][-1] for c in curves)), 200)
                # each run's loss at the last step reached by each point of the shared axis (a run that stopped,
                # e.g. diverged, keeps its last loss, as in the tables), then the median
                stack = np.array([c["loss"][np.searchsorted(c[axis], grid, side="right") - 1] for c in curves])
                median = np.median(stack, axis=0)
                lowest = min(lowest, median.min())
                style = "--" if name in PRECONDITIONERS else ":" if name in ("GD_LS", "L-BFGS") else "-"
                axes[i, j].plot(grid, median, color=f"C{k}", ls=style, lw=1.2 if style == "-" else 1.6, label=text)
        for i, xlabel in enumerate(("objective evaluations", "wall seconds")):
            axes[i, j].set(xscale="log", yscale="log", xlabel=xlabel, ylabel=f"loss, median of {seeds} seeds",
                           ylim=(0.8 * lowest, 3 * start_loss))
        axes[0, j].set_title(model, fontsize=9)
        axes[1, j].legend(*axes[0, j].get_legend_handles_labels(), fontsize=7, ncol=2, loc="upper center",
                          bbox_to_anchor=(0.5, -0.2))
    fig.suptitle(f"Section 4.1: schedules and preconditioners against GD_LS and L-BFGS, problem {PROBLEM}, "
                 f"p = {PENAL:g}, {budget} evaluations\n(the Hessian-vector products of hutchinson_diagonal are not "
                 "counted as evaluations; the wall seconds include them)", fontsize=10)
    fig.tight_layout()
    return save(fig, path)


if __name__ == "__main__":
    main()
