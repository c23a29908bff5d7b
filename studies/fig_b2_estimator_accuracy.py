"""Thesis Figure B.2: accuracy of the Hessian estimators against exact answers on a small CNN.

The thesis checked its tools on a CNNModel of 8,345 parameters without the dense
layer, where the Hessian can be formed and diagonalized. Here the same check,
with the error of each estimator against its budget:

* Hutchinson trace and Frobenius norm: error against the number of samples,
  mean and 3-sigma band over 6 seeds (the thesis's presentation); the trace
  error is divided by ``|H|_F`` (an indefinite Hessian's trace can be near 0);
* Lanczos: largest relative error of the top-5 eigenvalues against the steps;
* SLQ: L1 distance between the estimated and the exact smoothed density, and the
  errors of its first four moments divided by ``mean |lambda|^p`` (odd moments
  cancel), against the steps, for the
  thesis's (k = 3, sigma^2 = 1e-4) and Ghorbani's (k = 10, sigma^2 = 1e-5) settings.

Writes ``figures/fig_b2_estimator_accuracy.png`` and ``.csv``, and prints the
checks of the curvature issue: top-5 eigenvalues to 1e-6 with 50 steps, SLQ's
first four moments within 2 % at k = 10, o = 90.

    python studies/fig_b2_estimator_accuracy.py --quick     # 1,649 parameters on A at 8x16, ~10 s
    python studies/fig_b2_estimator_accuracy.py             # 7,187 parameters on A (near the thesis's 8,345)
    python studies/fig_b2_estimator_accuracy.py --plot-only # redraw the figure from the table (this run's or the
                                                            # reference's), without computing anything
"""
from __future__ import annotations

# common first: it sets the output folder and pins the numerics before NumPy and torch load
from common import FIGURES, add_run_options, find, setup

import argparse
import time

import numpy as np
import pandas as pd
import torch

from experiments.estimator_check import small_cnn
from probes import DenseOperator, extreme_eigenpairs, hutchinson, slq, smoothed_density


def relative(a, b):
    return abs(a - b) / abs(b)


def plot(table: pd.DataFrame, n: int, problem: str, png) -> None:
    """Draw the three panels (Hutchinson, Lanczos, SLQ) of ``table`` (the study's CSV) into ``png``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns
    sns.set_theme(style="whitegrid")
    fig, axes = plt.subplots(1, 3, figsize=(15, 5.2))
    for key, color in (("hutchinson_trace", "C0"), ("hutchinson_frobenius", "C1")):
        part = table[table.estimator == key]
        mean = part.groupby("budget")["error"].mean()
        axes[0].scatter(part.budget, part.error, color=color, s=10, alpha=0.5)
        axes[0].plot(mean.index, mean, marker="o", color=color, label=key.replace("hutchinson_",
             "") + " (mean of 6 seeds)")
    budgets = np.array(sorted(table[table.estimator == "hutchinson_trace"].budget.unique()))
    axes[0].plot(budgets, np.sqrt(2 / budgets), color="0.5", ls="--", lw=1, label="sqrt(2 / samples) (trace bound)")
    axes[0].set(xscale="log", yscale="log", xlabel="samples",
                ylabel="trace error / |H|_F; norm: relative error", title="Hutchinson")
    axes[0].legend()
    part = table[table.estimator == "lanczos_top5"]
    axes[1].semilogy(part.budget, np.maximum(part.error, 1e-17), marker="o")
    axes[1].axhline(1e-6, color="0.5", ls="--", lw=1, label="goal 1e-6")
    axes[1].legend()
    axes[1].set(xlabel="Lanczos steps", ylabel="max relative error, top-5 eigenvalues", title="Lanczos")
    # the two settings differ in line and marker (solid dots, dashed open squares), so the legend tells them apart
    for label, style, marker, face in (("slq_thesis", "-", "o", None), ("slq_ghorbani", "--", "s", "none")):
        for key, color in (("l1", "k"), ("moment1", "C0"), ("moment2", "C1"), ("moment3", "C2"), ("moment4", "C3")):
            part = table[table.estimator == f"{label}_{key}"]
            axes[2].semilogy(part.budget, np.maximum(part.error, 1e-17), ls=style, marker=marker, color=color, ms=4,
                             markerfacecolor=face,
                             label=f"{key} ({'k=3, s2=1e-4' if label == 'slq_thesis' else 'k=10, s2=1e-5'})")
    axes[2].axhline(0.02, color="0.5", ls=":", lw=1, label="2 % goal")
    axes[2].set(xlabel="Lanczos steps o", ylabel="L1 distance to the exact density;\nmoment p error / mean |lambda|^p",
                title="SLQ")
    axes[2].legend(fontsize=7, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False,
                   handlelength=3.5)
    fig.suptitle(f"Estimator accuracy on a small CNN ({n} parameters, {problem}, p = 3)", fontsize=10)
    fig.tight_layout()
    fig.savefig(png, dpi=130)
    plt.close(fig)



def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--plot-only", action="store_true",
                        help="redraw the figure from the table (this run's, else the reference's)")
    args = setup(add_run_options(parser, "float64").parse_args(argv))
    stem = FIGURES / ("fig_b2_estimator_accuracy" + ("_quick" if args.quick else ""))

    objective, theta = small_cnn(args.quick, args.precision)
    n = objective.num_params
    if args.plot_only:
        table = pd.read_csv(find(stem.with_suffix(".csv").name))
        plot(table, n, objective.problem.name, stem.with_suffix(".png"))
        print(f"figure: {stem.with_suffix('.png')}")
        return
    start = time.perf_counter()
    H = objective.hessian(theta).to_dense()
    H = 0.5 * (H + H.T)
    exact = torch.linalg.eigvalsh(H)
    print(f"small CNN on {objective.problem.name}, p = 3: {n} parameters; dense Hessian and eigh in "
          f"{time.perf_counter() - start:.1f} s; eigenvalues in [{float(exact[0]):.4g}, {float(exact[-1]):.4g}]")
    operator = DenseOperator(H)      # the exact same matrix for every estimator
    true_trace, true_frob = float(exact.sum()), float(torch.linalg.norm(H))
    top_exact = exact.flip(0)[:5]

    rows = []
    for samples in (5, 10, 20, 50, 100):
        for seed in range(6):
            r = hutchinson(operator, samples, seed=seed)
            # the trace of an indefinite Hessian can be near 0; its error is measured against |H|_F,
            # the scale of the estimator's standard deviation (sqrt(2) |H|_F / sqrt(samples) at most)
            rows.append({"estimator": "hutchinson_trace", "budget": samples, "seed": seed,
                         "error": abs(r.trace.value - true_trace) / true_frob})
            rows.append({"estimator": "hutchinson_frobenius", "budget": samples, "seed": seed,
                         "error": relative(r.frobenius.value, true_frob)})
    for steps in (5, 10, 20, 30, 50, 80):
        pairs = extreme_eigenpairs(operator, 5, steps, seed=0, vectors=False)
        rows.append({"estimator": "lanczos_top5", "budget": steps, "seed": 0,
                     "error": float(((pairs.top - top_exact).abs() / top_exact.abs()).max())})
    moments_exact = [float((exact ** p).mean()) for p in (1, 2, 3, 4)]
    moment_scales = [float((exact.abs() ** p).mean()) for p in (1, 2, 3, 4)]   # odd moments cancel
    for label, runs, sigma2 in (("slq_thesis", 3, 1e-4), ("slq_ghorbani", 10, 1e-5)):
        for steps in (10, 30, 50, 90):
            density = slq(operator, runs, steps, sigma2, grid_size=2000, seed=0)
            reference = smoothed_density(exact.numpy(), density.grid, density.sigma)
            l1 = float(np.trapezoid(np.abs(reference - density.density), density.grid))
            rows.append({"estimator": f"{label}_l1", "budget": steps, "seed": 0, "error": l1})
            for p, m, scale in zip((1, 2, 3, 4), moments_exact, moment_scales):
                rows.append({"estimator": f"{label}_moment{p}", "budget": steps, "seed": 0,
                             "error": abs(density.moment(p) - m) / scale})
    table = pd.DataFrame(rows)
    out = stem
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out.with_suffix(".csv"), index=False)

    plot(table, n, objective.problem.name, out.with_suffix(".png"))

    top50 = float(table[(table.estimator == "lanczos_top5") & (table.budget == 50)].error.iloc[0])
    moments = table[table.estimator.str.startswith("slq_ghorbani_moment") & (table.budget == 90)].error.to_numpy()
    print(f"Lanczos top-5 at 50 steps: max relative error {top50:.2e} (goal 1e-6): "
          f"{'met' if top50 <= 1e-6 else 'NOT met'}")
    print(f"SLQ k=10, o=90: first four moments' errors (relative to mean |lambda|^p) "
          f"{np.array2string(moments, precision=4)} "
          f"(goal 2 %): {'met' if moments.max() <= 0.02 else 'NOT met'}")
    hut = table[(table.estimator == "hutchinson_trace") & (table.budget == 50)].error
    frob = table[(table.estimator == "hutchinson_frobenius") & (table.budget == 50)].error
    print(f"Hutchinson, 50 samples, mean over 6 seeds: trace error {hut.mean():.3f} |H|_F "
          f"(tr H = {true_trace:.4g}, |H|_F = {true_frob:.4g}); Frobenius norm relative error {frob.mean():.3f}")
    print(f"wrote {out.with_suffix('.png')} and {out.with_suffix('.csv')}")


if __name__ == "__main__":
    main()
