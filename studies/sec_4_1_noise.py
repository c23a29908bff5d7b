"""Thesis section 4.1, question 2: does gradient noise, SGD's ingredient, help GD and GD_LS?

The thesis suggests that the gap between the CNN's success with SGD-style training elsewhere and its
trouble here may be the missing gradient noise, testable "by adding noise of different structures
and magnitudes to the gradient calculation". The ``noisy`` optimizer (``landscape.optim.noise``) feeds
an optimizer ``g + n`` with ``E |n|^2 = scale^2 |g|^2`` and the loss exact, for three structures:
``gaussian`` (isotropic), ``multiplicative`` (``g * z``) and ``hessian_diagonal`` (shaped by Hutchinson's
estimate of the Hessian's diagonal).

Protocol: problem A, p = 3, random-start pixels and the thesis's CNN (``cnn_transpose``); GD at the
step re-tuned here (``figures/tuned_step_sizes.csv``, appendix B.7 protocol; the thesis's CNN step
diverges) for 700 steps, and GD_LS for 300 steps; noise scales 0 (the noise-free baseline, the
wrapped optimizer bit for bit), 0.1, 0.5 and 2 of each structure; seeds 0-9 (the start, and the seed of
the noise's own generator, so that each seed draws its own noise) [quick: 2 seeds, scale 0.5, 60 and 30
steps]. The noise reaches every evaluation, the line search's trials too: GD_LS's Wolfe tests compare
noisy slopes, so a GD_LS verdict measures what the noise does to the line search as well as to the path.

Rule, per (model, optimizer, structure, scale) against the baseline over the seeds: one-sided
Mann-Whitney U tests at 5 % on the final losses: *helps* when the noisy runs end lower, *hurts* when
they end higher, *no significant difference* otherwise; a diverged run counts with its last loss (a NaN one
as +inf), and so does a GD_LS run whose line search failed (noise can break the Wolfe conditions; the table
counts those runs). With 36 cells tested against their baselines, some verdicts come by chance: the table
also gives each cell's Benjamini-Hochberg q-value over all cells (from the two-sided p-value, twice the
smaller one-sided one), and the verdicts with q < 0.05 survive that correction.
A run *rose* when it did not diverge but ended no lower than its start (``landscape.statuses.rose``); the
table and the figure count those too.

    python studies/sec_4_1_noise.py --quick
    python studies/sec_4_1_noise.py --workers 2
    python studies/sec_4_1_noise.py --from-csv     # summary, table and figure again from the per-run CSV

Writes ``sec_4_1_noise[_quick].csv`` (one row per run; its ``rose`` column is the test of
``landscape.statuses.rose`` alone, true for a diverged run too, while the tables count a run once, as
diverged or as rose), ``_summary.csv``, ``.md`` and ``.png`` into the output folder; traces in
``runs/sec_4_1_noise_{gd,gd_ls}_{pixel,cnn_transpose}[_quick]/seed_<seed>/`` (one sweep per seed, since the
noise's seed follows the start's).
"""
from __future__ import annotations

# common first: it sets the output folder and pins the numerics before NumPy and torch load
from common import FIGURES, add_run_options, failure_counts, find, order_verdict, run_cases, setup, study_parser

import json

import numpy as np
import pandas as pd
from matrix import model_entry, tuned_step_size
from scipy.stats import false_discovery_control

import landscape as L
from landscape.optim.noise import NOISE_KINDS
from landscape.plots import pyplot, save
from landscape.statuses import rose

PROBLEM, PENAL = "A", 3.0
MODELS = ("pixel", "cnn_transpose")
ALPHA = 0.05


def verdict(noisy: np.ndarray, clean: np.ndarray) -> tuple[str, float, float]:
    """``(verdict, p_lower, p_higher)`` of the rule in the module docstring."""
    return order_verdict(noisy, clean, "helps", "hurts", ALPHA)


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per noisy configuration: median, quartiles and range of the final losses, the relative change of
    the median, the verdict, and the diverged, risen and line-search-failed runs of it and of the noise-free
    baseline (the ``clean_`` columns)."""
    rows = []
    for (model, optimizer), group in runs.groupby(["model", "optimizer"], sort=False):
        baseline = group[group["noise_scale"] == 0]
        clean = _ranked(baseline["final_loss"])
        clean_failures = {f"clean_{key}": value for key, value in failure_counts(baseline).items()}
        for (kind, scale), cell in group[group["noise_scale"] > 0].groupby(["noise", "noise_scale"], sort=False):
            losses = _ranked(cell["final_loss"])
            word, lower, higher = verdict(losses, clean)
            rows.append({"model": model, "optimizer": optimizer, "noise": kind, "noise_scale": scale,
                         "seeds": len(losses), "median": np.median(losses), "min": losses.min(),
                         "max": losses.max(), "q25": np.percentile(losses, 25), "q75": np.percentile(losses, 75),
                         **failure_counts(cell),
                         "search_failed": int((cell["status"] == "line_search_failed").sum()), **clean_failures,
                         "clean_search_failed": int((baseline["status"] == "line_search_failed").sum()),
                         "clean_median": np.median(clean), "clean_min": clean.min(), "clean_max": clean.max(),
                         "clean_q25": np.percentile(clean, 25), "clean_q75": np.percentile(clean, 75),
                         "change": np.median(losses) / np.median(clean) - 1, "p_lower": lower,
                         "p_higher": higher, "verdict": word})
    summary = pd.DataFrame(rows)
    if len(summary):
        two_sided = np.minimum(1.0, 2 * np.minimum(summary["p_lower"], summary["p_higher"]))
        summary["q"] = false_discovery_control(two_sided.to_numpy())
    return summary


def _ranked(losses: pd.Series) -> np.ndarray:
    """Final losses for the medians and the tests, a NaN one (a run whose loss became NaN) as +inf."""
    return np.nan_to_num(losses.to_numpy(dtype=float), nan=np.inf, posinf=np.inf)


def entries(optimizer: str, lr: float, scales, seed: int) -> list[dict]:
    """The sweep's optimizer entries for one seed: the noise-free baseline (scale 0) and every structure at
    every scale, the noise's generator seeded with the run's seed (so each seed draws its own noise)."""
    base = {"name": "noisy", "base": optimizer, **({"lr": lr} if optimizer == "gd" else {}), "noise_seed": seed}
    return [{**base, "noise": "gaussian", "noise_scale": 0.0}] + [
        {**base, "noise": kind, "noise_scale": scale} for kind in NOISE_KINDS for scale in scales]


def _rose(path) -> bool:
    """Whether the run of this trace rose (``landscape.statuses.rose`` on its losses)."""
    with L.open_trace(path) as trace:
        return rose(trace.steps()["loss"])


def markdown(summary: pd.DataFrame, steps: dict, seeds: int, lrs: dict) -> str:
    lines = [f"# Section 4.1: gradient noise (problem {PROBLEM}, p = {PENAL:g}, {seeds} seeds)", "",
             "GD at the re-tuned step (" + ", ".join(f"{m}: {lr:.3g}" for m, lr in lrs.items()) + f") for "
             f"{steps['gd']} steps, GD_LS for {steps['gd_ls']} steps. Final loss: median [min, max] over seeds; "
             "change: of the median against the noise-free runs; diverged and rose (did not diverge but ended no "
             "lower than its start), line search failed: runs of the noisy cell (of the noise-free runs in "
             f"brackets). Rule: one-sided Mann-Whitney U at {ALPHA:g} (helps / hurts / no significant difference); "
             "q: Benjamini-Hochberg over all cells (a verdict with q < 0.05 survives the correction).", "",
             "| model | optimizer | noise | scale | final loss | noise-free | change | diverged | rose | line "
             "search failed | verdict | q |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for _, r in summary.iterrows():
        lines.append(f"| {r['model']} | {r['optimizer']} | {r['noise']} | {r['noise_scale']:g} | "
                     f"{r['median']:.4g} [{r['min']:.4g}, {r['max']:.4g}] | {r['clean_median']:.4g} "
                     f"[{r['clean_min']:.4g}, {r['clean_max']:.4g}] | {100 * r['change']:+.1f} % | "
                     f"{r['diverged']} ({r['clean_diverged']}) | {r['rose']} ({r['clean_rose']}) | "
                     f"{r['search_failed']} ({r['clean_search_failed']}) | {r['verdict']} "
                     f"(p = {min(r['p_lower'], r['p_higher']):.3g}) | {r['q']:.3g} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = study_parser(__doc__, 2, 10)
    parser.add_argument("--from-csv", action="store_true",
                        help="run nothing: redo the summary, the table and the figure from the per-run CSV (this "
                             "output folder's, else the committed one)")
    args = setup(add_run_options(parser).parse_args(argv))
    suffix = "_quick" if args.quick else ""
    seeds = list(range(args.seeds or (2 if args.quick else 10)))
    scales = (0.5,) if args.quick else (0.1, 0.5, 2.0)
    steps = {"gd": 60, "gd_ls": 30} if args.quick else {"gd": 700, "gd_ls": 300}
    lrs = {model: tuned_step_size("gd", model, PENAL, PROBLEM) for model in MODELS}
    if args.from_csv:
        runs = pd.read_csv(find(f"sec_4_1_noise{suffix}.csv"))
        report(runs, suffix, steps, tuple(sorted(runs.loc[runs.noise_scale > 0, "noise_scale"].unique())),
               runs["seed"].nunique(), lrs)
        return
    frames = []
    for optimizer, budget in steps.items():
        for model in MODELS:
            index = pd.concat([run_cases(f"sec_4_1_noise_{optimizer}_{model}{suffix}_seed_{seed}", {
                "problem": [PROBLEM], "model": [model_entry(model)], "penal": [PENAL], "seed": [seed],
                "optimizer": entries(optimizer, lrs[model], scales, seed)}, steps=budget, workers=args.workers,
                precision=args.precision, threads=args.threads,
                folder=f"sec_4_1_noise_{optimizer}_{model}{suffix}/seed_{seed}") for seed in seeds], ignore_index=True)
            failed = index[index["status"] == "failed"]
            if len(failed):
                raise SystemExit(f"{len(failed)} runs failed, e.g. {failed.iloc[0]['name']}: "
                                 f"{failed.iloc[0]['error']}")
            options = index["optimizer_options"].map(lambda o: o if isinstance(o, dict) else json.loads(o))
            frames.append(pd.DataFrame({
                "model": model, "optimizer": optimizer, "seed": index["seed"], "status": index["status"],
                "noise": options.map(lambda o: o["noise"]), "noise_scale": options.map(lambda o: o["noise_scale"]),
                "final_loss": index["final_loss"], "steps_taken": index["steps_taken"],
                "evaluations": index["evaluations"], "wall_time": index["wall_time"],
                "rose": [_rose(path) for path in index["trace"]]}))
    report(pd.concat(frames, ignore_index=True), suffix, steps, scales, len(seeds), lrs)


def report(runs: pd.DataFrame, suffix: str, steps: dict, scales, seeds: int, lrs: dict) -> None:
    """Write the per-run CSV, the summary CSV, the Markdown table and the figure of ``runs`` (one row per run)."""
    summary = summarize(runs)
    runs.to_csv(FIGURES / f"sec_4_1_noise{suffix}.csv", index=False, float_format="%.10g")   # --from-csv: same table
    summary.to_csv(FIGURES / f"sec_4_1_noise{suffix}_summary.csv", index=False, float_format="%.6g")
    text = markdown(summary, steps, seeds, lrs)
    (FIGURES / f"sec_4_1_noise{suffix}.md").write_text(text)
    print(text)
    plot(summary, steps, scales, seeds, FIGURES / f"sec_4_1_noise{suffix}.png")
    print(f"wrote {FIGURES / f'sec_4_1_noise{suffix}.png'} and its tables")


LABELS = {"gaussian": "Gaussian", "multiplicative": "multiplicative", "hessian_diagonal": "Hessian-shaped"}


def _failure_text(diverged: int, risen: int, search_failed: int = 0) -> str:
    """``"2 div., 1 rose"``, the counts that are not zero, for the figure ("" when all are)."""
    counts = ((diverged, "div."), (risen, "rose"), (search_failed, "LS failed"))
    return ", ".join(f"{count} {text}" for count, text in counts if count)


def plot(summary: pd.DataFrame, steps: dict, scales, seeds: int, path) -> None:
    """One panel per model and optimizer: the final loss of each structure against the noise scale (median
    marker, filled when the verdict is significant; thick bar: quartiles; thin bar: range), the noise-free
    runs as a band, and the counts of failed runs above the bars."""
    plt = pyplot()
    fig, axes = plt.subplots(len(MODELS), len(steps), figsize=(9, 6.9), squeeze=False)
    for (i, model), (j, optimizer) in ((a, b) for a in enumerate(MODELS) for b in enumerate(steps)):
        ax = axes[i, j]
        cell = summary[(summary.model == model) & (summary.optimizer == optimizer)]
        clean = cell.iloc[0]
        ax.axhspan(clean["clean_q25"], clean["clean_q75"], color="0.85", label="noise-free, quartiles")
        ax.axhline(clean["clean_median"], color="0.3", lw=1, label="noise-free, median")
        for k, kind in enumerate(NOISE_KINDS):
            rows = cell[cell.noise == kind]
            x = np.searchsorted(scales, rows["noise_scale"].to_numpy()) + 0.18 * (k - 1)     # side by side
            low, q25, mid, q75, high = (rows[c].where(np.isfinite(rows[c]))                  # no inf bars
                                        for c in ("min", "q25", "median", "q75", "max"))
            ax.vlines(x, low, high, color=f"C{k}", lw=0.8)
            ax.vlines(x, q25, q75, color=f"C{k}", lw=3.5)
            significant = (rows["verdict"] != "no significant difference").to_numpy()
            ax.scatter(x, mid, s=28, zorder=3, color=f"C{k}", label=LABELS[kind])
            ax.scatter(x[~significant], mid[~significant], s=12, zorder=4, color="white")   # hollow: n.s.
            for xi, top, (_, r) in zip(x, high.fillna(mid), rows.iterrows()):
                if (failures := _failure_text(r["diverged"], r["rose"], r["search_failed"])) and np.isfinite(top):
                    ax.annotate(failures, (xi, top), xytext=(0, 3), textcoords="offset points", rotation=90,
                                fontsize=6, color=f"C{k}", ha="center", va="bottom")   # upright: no overlap
        finite = cell[["min", "max", "clean_min", "clean_max"]].to_numpy()
        finite = finite[np.isfinite(finite)]
        if finite.max() / finite.min() > 10:
            ax.set_yscale("log")
            bottom, top = ax.get_ylim()
            ax.set_ylim(bottom, top * (top / bottom) ** 0.3)   # room for the upright counts above the bars
        else:
            bottom, top = ax.get_ylim()
            ax.set_ylim(bottom, top + 0.3 * (top - bottom))
        ax.set_xticks(range(len(scales)), [f"{scale:g}" for scale in scales])
        ax.set(xlim=(-0.6, len(scales) - 0.4),
               xlabel="noise scale (rms, relative to |g|)" if i == len(MODELS) - 1 else "")
        clean_failures = _failure_text(clean["clean_diverged"], clean["clean_rose"], clean["clean_search_failed"])
        ax.set_title(f"{model}, {optimizer.upper()}" + (f" (noise-free: {clean_failures})" if clean_failures else ""),
                     fontsize=9)
        if j == 0:
            ax.set_ylabel("final loss")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    fig.suptitle(f"Section 4.1: gradient noise, problem {PROBLEM}, p = {PENAL:g}, GD {steps['gd']} steps, GD_LS "
                 f"{steps['gd_ls']}; {seeds} seeds: median (filled: significant by the rule), quartiles, range\n"
                 "div.: diverged; rose: ended no lower than the start without diverging; LS failed: line search "
                 "failed", fontsize=9)
    fig.tight_layout(rect=(0, 0.04, 1, 1))                     # the legend below the panels
    save(fig, path)


if __name__ == "__main__":
    main()
