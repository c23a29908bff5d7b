"""The worked example of the probes page (docs/concepts/probes.md): trace, extreme eigenvalues and eigenvalue
density of the CNN at initialization.

Problem A (michell_centered_both_32x64_0.12), Hoyer's CNN (567,553 parameters),
float64 end to end (exact curvature), p = 3, at theta0: Hutchinson (50 samples, one block), Lanczos top and bottom 5,
and the SLQ density with the thesis's settings (k = 3, o = 50, sigma^2 = 1e-4).
Writes ``example_cnn_A_hessian_density.png`` and ``.csv`` (every number printed: the trace estimate, |H|_F, their
ratio, the extreme eigenvalues and the range of the density's quadrature nodes) into the output folder (``--out``,
default ``runs/figures``).

    python studies/example_cnn_curvature.py
"""
# common first: it sets the output folder and pins the numerics before NumPy and torch load
from common import FIGURES, add_run_options, setup

import argparse
import time

import pandas as pd

import landscape as L
from landscape.plots import density_scale
from probes import THESIS, extreme_eigenpairs, hutchinson, slq


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    args = setup(add_run_options(parser, "float64").parse_args(argv))
    start = time.perf_counter()
    problem = L.problems.get("A")
    objective = L.Objective(problem, L.models.build("cnn", problem, seed=0, precision=args.precision), penal=3.0)
    H = objective.hessian(objective.theta0)                 # a LinearOperator of exact HVPs

    est = hutchinson(H, samples=50, seed=0)                  # 50 products, one block
    print(f"trace {est.trace}, |H|_F {est.frobenius}, trace/|H|_F {est.ratio:.3g}")
    pairs = extreme_eigenpairs(H, k=5, steps=50, vectors=False)
    print("top eigenvalues   ", pairs.top.numpy().round(2))
    print("bottom eigenvalues", pairs.bottom.numpy().round(2))
    density = slq(H, **THESIS)                               # k = 3, o = 50, sigma^2 = 1e-4
    print(f"density integrates to {density.integral():.4f}; {time.perf_counter() - start:.0f} s in all")
    rows = [("trace", est.trace.value), ("trace_stderr", est.trace.stderr), ("frobenius", est.frobenius.value),
            ("frobenius_stderr", est.frobenius.stderr), ("trace_over_frobenius", est.ratio)]
    rows += [(f"top_{i + 1}", float(v)) for i, v in enumerate(pairs.top)]
    rows += [(f"bottom_{i + 1}", float(v)) for i, v in enumerate(pairs.bottom)]
    rows += [("node_min", density.extremes[0]), ("node_max", density.extremes[1]),
             ("integral", float(density.integral()))]
    pd.DataFrame(rows, columns=["quantity", "value"]).to_csv(FIGURES / "example_cnn_A_hessian_density.csv",
                                                            index=False, float_format="%.6g")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 3.8))
    floor, limits = density_scale(density.density)
    ax.semilogy(density.grid, density.density.clip(floor))
    ax.set(ylim=limits, xlabel="eigenvalue", ylabel="density",
           title=f"Hessian eigenvalue density, CNN at initialization, problem A, p = 3 ({objective.num_params} params)")
    ax.title.set_fontsize(9)
    fig.tight_layout()
    out = FIGURES / "example_cnn_A_hessian_density.png"
    fig.savefig(out, dpi=130)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
