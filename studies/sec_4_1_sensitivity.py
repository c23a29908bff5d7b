"""Beyond the thesis (its section 4.1): how sensitive is a run to its start?

Pairs of runs whose starts differ by a relative 1e-8 (``probes.sensitivity.twin_runs``), per optimizer:
how their distance and their loss gap grow with the step, and the finite-time Lyapunov exponent
``lambda = ln(d_K / d_0) / K`` at the end. It says how much of a table's seed spread is chaos, and why runs
on two CPUs, whose rounding differs in the last bits, drift apart (the reason for the deterministic mode).

Problem A, p = 3, random-start pixels and the thesis's ``cnn_transpose``; GD at the step re-tuned here
(Appendix B.7), GD_LS, and SciPy's L-BFGS-B (m = 10; its budget of evaluations is the step budget); one
pair per seed (the model's or the pixel start's seed).

Rule, per (model, optimizer): **chaotic** when the exponent is above 0 on the seeds by a one-sided Wilcoxon
signed-rank test (p <= 0.05), **stable** when it is below 0 by the same test, **no significant
difference** otherwise. Beside it, the twins' median relative final loss gap ``|L_a - L_b| / min(L_a, L_b)``
against the seeds' relative spread ``(max - min) / median`` of the first runs' final losses: the share of
the spread that a perturbation of 1e-8 alone produces.

    python studies/sec_4_1_sensitivity.py --quick   # 3 seeds, 60 steps
    python studies/sec_4_1_sensitivity.py           # 5 seeds, 300 steps

Writes ``sec_4_1_sensitivity[_quick].csv`` (one row per pair), ``..._curves.csv`` (per step, the median, min
and max of ``d_k / d_0`` over the seeds), ``..._summary.csv`` and ``.md`` (per model and optimizer, with the
verdict) and ``.png`` into the output folder.
"""
from __future__ import annotations

# common first: it sets the output folder and pins the numerics before NumPy and torch load
from common import FIGURES, add_run_options, setup

import argparse

import numpy as np
import pandas as pd
from matrix import tuned_step_size
from scipy.stats import wilcoxon

import landscape as L
from landscape.plots import pyplot, save
from probes.sensitivity import twin_runs


def verdict(exponents: np.ndarray) -> tuple[str, float, float]:
    """``(verdict, p above 0, p below 0)`` of the module docstring's rule for the seeds' exponents."""
    exponents = exponents[np.isfinite(exponents)]
    if len(exponents) == 0 or not np.any(exponents != 0):
        return "no significant difference", 1.0, 1.0
    above = float(wilcoxon(exponents, alternative="greater").pvalue)
    below = float(wilcoxon(exponents, alternative="less").pvalue)
    return ("chaotic" if above <= 0.05 else "stable" if below <= 0.05 else "no significant difference"), above, below


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--problem", default="A")
    parser.add_argument("--model", default="cnn_transpose", help="the CNN kind (default the thesis's cnn_transpose)")
    parser.add_argument("--seeds", type=int, default=None, help="pairs per model and optimizer (3 quick, 5 full)")
    parser.add_argument("--steps", type=int, default=None, help="step budget (default 60 quick, 300 full)")
    parser.add_argument("--epsilon", type=float, default=1e-8, help="relative size of the perturbation (default 1e-8)")
    args = setup(add_run_options(parser).parse_args(argv))
    suffix = "_quick" if args.quick else ""
    seeds, steps = range(args.seeds or (3 if args.quick else 5)), args.steps or (60 if args.quick else 300)
    problem = L.problems.get(args.problem)
    rows, curves = [], []
    for model in ("pixel", args.model):
        optimizers = {"GD": ("gd", {"lr": tuned_step_size("gd", model, 3.0, args.problem)}),   # B.7, also quick
                      "GD_LS": ("gd_ls", {}), "L-BFGS": ("scipy_lbfgsb", {"m": 10, "maxfun": steps})}
        for label, (name, options) in optimizers.items():
            ratios = []
            for seed in seeds:
                extra = {"init": "random"} if model == "pixel" else {}
                built = L.models.build(model, problem, seed=seed, precision=args.precision, **extra)
                objective = L.Objective(problem, built, penal=3.0)
                twins = twin_runs(objective, name, steps, options, epsilon=args.epsilon, seed=seed)
                la, lb = twins.loss_a[-1], twins.loss_b[-1]
                rows.append({"model": model, "optimizer": label, "seed": seed, "steps_taken": int(twins.steps[-1]),
                             "status": twins.status, "d0": twins.distance[0], "d_final": twins.distance[-1],
                             "growth": twins.distance[-1] / twins.distance[0], "lyapunov": twins.lyapunov()[-1],
                             "loss_a": la, "loss_b": lb, "relative_gap": abs(la - lb) / min(la, lb)})
                ratios.append(pd.Series(twins.distance / twins.distance[0], index=twins.steps))
                print(f"{model:14s} {label:7s} seed {seed}: {twins.steps[-1]} steps, distance grew "
                      f"{rows[-1]['growth']:.3g} x, exponent {rows[-1]['lyapunov']:.3g}, loss gap "
                      f"{rows[-1]['relative_gap']:.3g}")
            table = pd.concat(ratios, axis=1)
            curves.append(pd.DataFrame({"model": model, "optimizer": label, "step": table.index,
                                        "median": table.median(axis=1), "min": table.min(axis=1),
                                        "max": table.max(axis=1)}))
    pairs, curves = pd.DataFrame(rows), pd.concat(curves, ignore_index=True)
    summary = []
    for (model, label), group in pairs.groupby(["model", "optimizer"], sort=False):
        word, above, below = verdict(group["lyapunov"].to_numpy())
        spread = (group["loss_a"].max() - group["loss_a"].min()) / group["loss_a"].median()
        summary.append({"model": model, "optimizer": label, "pairs": len(group),
                        "lyapunov_median": group["lyapunov"].median(), "p_above_0": above, "p_below_0": below,
                        "verdict": word, "growth_median": group["growth"].median(),
                        "relative_gap_median": group["relative_gap"].median(), "seed_spread": spread,
                        "gap_over_spread": group["relative_gap"].median() / spread if spread > 0 else np.nan})
    summary = pd.DataFrame(summary)
    out = FIGURES / f"sec_4_1_sensitivity{suffix}"
    pairs.to_csv(out.with_suffix(".csv"), index=False, float_format="%.6g")
    curves.to_csv(out.parent / f"{out.name}_curves.csv", index=False, float_format="%.6g")
    summary.to_csv(out.parent / f"{out.name}_summary.csv", index=False, float_format="%.6g")
    (out.parent / f"{out.name}.md").write_text(markdown(summary, len(seeds), steps, args.epsilon, args.problem))

    plt = pyplot()
    models = list(dict.fromkeys(curves["model"]))
    fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 3.8), squeeze=False)
    for ax, model in zip(axes[0], models):
        for i, (label, part) in enumerate(curves[curves["model"] == model].groupby("optimizer", sort=False)):
            ax.plot(part["step"], part["median"], color=f"C{i}", label=label)
            ax.fill_between(part["step"], part["min"], part["max"], color=f"C{i}", alpha=0.15, lw=0)
        ax.set_yscale("log")
        ax.set(xlabel="step", ylabel="distance / initial distance" if ax is axes[0, 0] else "",
               title=f"{model}, problem {args.problem}, p = 3: twin runs {args.epsilon:g} apart")
        ax.title.set_fontsize(9)
        ax.legend(fontsize=7)
    fig.suptitle(f"How perturbations of the start grow (median and min-max over {len(seeds)} seeds)", fontsize=10)
    fig.tight_layout()
    print(f"wrote {save(fig, out.with_suffix('.png'))}")
    print(summary.to_string(index=False))


def markdown(summary: pd.DataFrame, seeds: int, steps: int, epsilon: float, problem: str) -> str:
    """The summary as the Markdown table the results page links to."""
    lines = [f"Sensitivity to the start: {seeds} pairs of runs per model and optimizer, starts a relative {epsilon:g} "
             f"apart, {steps} steps, problem {problem}, p = 3. Exponent: ln(d_K / d_0) / K at the end. Rule: chaotic "
             f"when the exponents are above 0 by a one-sided Wilcoxon signed-rank test (p <= 0.05), stable when "
             f"below, no significant difference otherwise. Gap: the twins' median relative final loss gap; spread: "
             f"(max - min) / median of the first runs' final losses over the seeds.", "",
             "| model | optimizer | pairs | exponent (median) | growth of the distance (median) | verdict | gap | "
             "spread | gap / spread |", "|---|---|---|---|---|---|---|---|---|"]
    for row in summary.itertuples():
        lines.append(f"| {row.model} | {row.optimizer} | {row.pairs} | {row.lyapunov_median:.3g} | "
                     f"{row.growth_median:.3g} | **{row.verdict}** (p = {row.p_above_0:.3g} above 0, "
                     f"{row.p_below_0:.3g} below) | {row.relative_gap_median:.3g} | {row.seed_spread:.3g} | "
                     f"{row.gap_over_spread:.3g} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
