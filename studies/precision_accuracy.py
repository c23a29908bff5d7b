"""How much a float32 network changes the numbers: mixed precision against float64 end to end.

Three measurements, all against the float64 path as truth:

1. One point per case (cnn, cnn_transpose, mlp on problems A and D, p = 3, seed 0,
   theta = theta0 + 0.01 N(0, 1) rounded to float32 so both paths see the same
   point): loss relative error, gradient cosine and relative error, HVP relative
   error (one standard-normal direction).
2. Curvature at one point (cnn_transpose on A at theta0): the 5 largest Hessian
   eigenvalues (Lanczos, 40 steps) and Hutchinson's trace (50 Rademacher samples).
3. Optimization: SciPy's L-BFGS-B (maxfun 300, factr 1, pgtol 1e-14) on A and B,
   p = 3, cnn and cnn_transpose, 5 seeds, in both precisions: final-loss
   distributions.

    python studies/precision_accuracy.py            # about 15 minutes on 2 cores
    python studies/precision_accuracy.py --quick    # one seed, 60 evaluations, no D

Writes ``figures/precision_accuracy[_quick].md`` and ``.csv`` and
``figures/precision_accuracy_lbfgs[_quick].png``.
"""
from __future__ import annotations

# common first: it sets the output folder and pins the numerics before NumPy and torch load
from common import FIGURES, add_run_options, run_cases, setup

import argparse

import numpy as np
import pandas as pd
import torch

import landscape as L
from probes import extreme_eigenpairs, hutchinson

NETWORKS = ("cnn", "cnn_transpose", "mlp")


def point_errors(code: str, kind: str) -> dict:
    problem = L.problems.get(code)
    exact = L.Objective(problem, L.models.build(kind, problem, seed=0, precision="float64"), penal=3.0)
    mixed = L.Objective(problem, L.models.build(kind, problem, seed=0, precision="mixed"), penal=3.0)
    g = torch.Generator().manual_seed(0)
    theta = exact.theta0 + 0.01 * torch.randn(exact.num_params, generator=g, dtype=torch.float64)
    theta = theta.to(torch.float32).to(torch.float64)
    v = torch.randn(exact.num_params, generator=g, dtype=torch.float64)
    loss64, grad64 = exact.value_and_grad(theta)
    loss32, grad32 = mixed.value_and_grad(theta)
    hv64, hv32 = exact.hvp(theta, v), mixed.hvp(theta, v)
    return {"problem": code, "model": kind, "params": exact.num_params, "loss": loss64,
            "loss_rel_error": abs(loss32 - loss64) / abs(loss64),
            "grad_cosine": float(grad32 @ grad64 / (grad32.norm() * grad64.norm())),
            "grad_rel_error": float((grad32 - grad64).norm() / grad64.norm()),
            "hvp_rel_error": float((hv32 - hv64).norm() / hv64.norm())}


def curvature(code: str, kind: str, steps: int, samples: int) -> list[dict]:
    problem = L.problems.get(code)
    rows = []
    for precision in ("float64", "mixed"):
        objective = L.Objective(problem, L.models.build(kind, problem, seed=0, precision=precision), penal=3.0)
        H = objective.hessian(objective.theta0)
        top = extreme_eigenpairs(H, k=5, steps=steps, vectors=False).top
        est = hutchinson(H, samples=samples, seed=0)
        rows.append({"precision": precision, **{f"lambda_{i + 1}": float(t) for i, t in enumerate(top)},
                     "trace": est.trace.value, "trace_stderr": est.trace.stderr})
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = setup(add_run_options(parser).parse_args(argv))
    codes = ("A",) if args.quick else ("A", "D")
    suffix = "_quick" if args.quick else ""

    points = pd.DataFrame([point_errors(code, kind) for code in codes for kind in NETWORKS])
    print(points.to_string(index=False))
    curv = pd.DataFrame(curvature("A", "cnn_transpose", steps=20 if args.quick else 40,
                                  samples=10 if args.quick else 50))
    print(curv.to_string(index=False))

    seeds = [0] if args.quick else list(range(5))
    evaluations = 60 if args.quick else 300
    index = run_cases("precision_accuracy" + suffix,
                      {"problem": ["A", "B"], "model": ["cnn", "cnn_transpose"], "penal": [3.0],
                       "optimizer": [{"name": "scipy_lbfgsb", "maxfun": evaluations}], "seed": seeds,
                       "precision": ["mixed", "float64"]},
                      evaluations, workers=args.workers, threads=args.threads)
    index["final_loss"] = index["final_loss"].astype(float)
    summary = (index.groupby(["problem", "model", "precision"])["final_loss"]
               .agg(["median", "min", "max", "count"]).reset_index())
    wall = index.groupby(["problem", "model", "precision"])["wall_time"].median().reset_index()
    summary = summary.merge(wall, on=["problem", "model", "precision"])
    print(summary.to_string(index=False))

    points.to_csv(FIGURES / f"precision_accuracy{suffix}.csv", index=False)
    curv.to_csv(FIGURES / f"precision_accuracy_curvature{suffix}.csv", index=False)
    summary.to_csv(FIGURES / f"precision_accuracy_lbfgs{suffix}.csv", index=False)
    lines = [f"Mixed precision (float32 network, float64 physics) against float64, "
             f"{'quick settings' if args.quick else 'full settings'}; see studies/precision_accuracy.py.", "",
             "One point (p = 3, seed 0, theta0 + 0.01 N(0, 1)):", "",
             "| problem | model | params | loss rel. error | gradient cosine | gradient rel. error | HVP rel. error |",
             "|---|---|---|---|---|---|---|"]
    for r in points.itertuples():
        lines.append(f"| {r.problem} | {r.model} | {r.params:,} | {r.loss_rel_error:.1e} | "
                     f"1 - {1 - r.grad_cosine:.1e} | {r.grad_rel_error:.1e} | {r.hvp_rel_error:.1e} |")
    lines += ["", "Curvature of cnn_transpose on A at theta0 (Lanczos top 5, Hutchinson trace):", "",
              "| precision | lambda_1 | lambda_2 | lambda_3 | lambda_4 | lambda_5 | trace (± stderr) |",
              "|---|---|---|---|---|---|---|"]
    for r in curv.itertuples():
        lines.append(f"| {r.precision} | {r.lambda_1:.6g} | {r.lambda_2:.6g} | {r.lambda_3:.6g} | {r.lambda_4:.6g} | "
                     f"{r.lambda_5:.6g} | {r.trace:.4g} ± {r.trace_stderr:.2g} |")
    lines += ["", f"SciPy L-BFGS-B, {evaluations} evaluations, p = 3, {len(seeds)} seed(s): final loss", "",
              "| problem | model | precision | median | min | max | runs | median wall time (s) |",
              "|---|---|---|---|---|---|---|---|"]
    for r in summary.itertuples():
        lines.append(f"| {r.problem} | {r.model} | {r.precision} | {r.median:.4g} | {r.min:.4g} | {r.max:.4g} | "
                     f"{r.count} | {r.wall_time:.1f} |")
    text = "\n".join(lines) + "\n"
    (FIGURES / f"precision_accuracy{suffix}.md").write_text(text)
    print(text)

    from landscape.plots import pyplot, save
    plt = pyplot()
    cases = [(p, m) for p in ("A", "B") for m in ("cnn", "cnn_transpose")]
    fig, axes = plt.subplots(1, len(cases), figsize=(3.2 * len(cases), 3.4))
    for ax, (problem, model) in zip(axes, cases):
        part = index[(index.problem == problem) & (index.model == model)]
        for x, precision in enumerate(("float64", "mixed")):
            values = part[part.precision == precision]["final_loss"].to_numpy()
            ax.scatter(np.full(len(values), x) + np.linspace(-0.08, 0.08, len(values)), values,
                       color=f"C{x}", s=18, zorder=3)
            if len(values) > 1:
                ax.hlines(np.median(values), x - 0.25, x + 0.25, color=f"C{x}", lw=2)
        ax.set_xticks([0, 1], ["float64", "mixed"])
        ax.set_xlim(-0.6, 1.6)
        ax.set_title(f"{problem}, {model}", fontsize=9)
        ax.set_ylabel("final loss" if ax is axes[0] else "")
    fig.suptitle(f"L-BFGS-B, {evaluations} evaluations, p = 3, {len(seeds)} seed(s): one dot per seed, "
                 "bar = median", fontsize=9)
    fig.tight_layout()
    print(f"wrote {save(fig, FIGURES / f'precision_accuracy_lbfgs{suffix}.png')}")


if __name__ == "__main__":
    main()
