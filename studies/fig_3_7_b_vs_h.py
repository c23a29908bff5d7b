"""Thesis Figure 3.7 (C.9-C.12): eigenvalue densities of the true Hessian and of the L-BFGS (m = 1) matrix.

L-BFGS with m = 1 on problem A with the CNN, p = 3; at step 1 (the first step
with a curvature pair), after 10 steps and at the last step, the SLQ density of
the Hessian and of the compact L-BFGS matrix B on one common grid (the ``b_vs_h``
probe), with their traces.

    python studies/fig_3_7_b_vs_h.py --quick   # 40 steps, SLQ k = 2, o = 30
    python studies/fig_3_7_b_vs_h.py           # 300 steps, the thesis's k = 3, o = 50

The run's trace (``runs/fig_3_7/``) is reused when it finished in this numerics mode. Beside the figure, a
CSV holds the numbers the results page quotes: per recorded step, both traces and the range of each
density's quadrature nodes, and the run's final loss.
"""
from __future__ import annotations

# common first: it sets the output folder and pins the numerics before NumPy and torch load
from common import FIGURES, RUNS, add_run_options, finished_trace, setup

import argparse

import numpy as np
import pandas as pd

import landscape as L
from landscape.plots import density_scale, pyplot, save
from probes.curvature import BvsHProbe


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--problem", default="A")
    parser.add_argument("--model", default="cnn_transpose", help="the CNN kind (default the thesis's cnn_transpose)")
    parser.add_argument("--penal", type=float, default=3.0)
    args = setup(add_run_options(parser, "float64").parse_args(argv))
    steps, runs, lanczos = (40, 2, 30) if args.quick else (300, 3, 50)
    problem = L.problems.get(args.problem)
    objective = L.Objective(problem, L.models.build(args.model, problem, seed=0, precision=args.precision),
                            penal=args.penal)
    probe = BvsHProbe(runs=runs, steps=lanczos, grid_size=400, at=[1, 10], every=None)
    path = RUNS / "fig_3_7" / f"{problem.name}_{args.model}_p{args.penal:g}_lbfgs_m1_{steps}_{args.precision}.h5"
    if not finished_trace(path, "b_vs_h"):
        L.run(objective, L.optim.build("lbfgs", m=1), steps=steps, probes=[probe],
              trace=L.TraceWriter(path, overwrite=True))
    with L.open_trace(path) as trace:
        data, final_loss = trace.probe("b_vs_h"), trace.summary()["final_loss"]
    plt = pyplot()
    fig, axes = plt.subplots(1, len(data["step"]), figsize=(5 * len(data["step"]), 3.8), squeeze=False)
    for ax, i in zip(axes[0], range(len(data["step"]))):
        grid = data["grid"][i]
        floor, limits = density_scale(data["hessian_density"][i], data["lbfgs_density"][i])
        for key, color, label in (("hessian_density", "C0", "Hessian"), ("lbfgs_density", "C3", "L-BFGS B (m = 1)")):
            ax.semilogy(grid, np.maximum(data[key][i], floor), color=color, label=label)
        ax.set(ylim=limits, xlabel="eigenvalue", ylabel="density")
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 4))   # 1e5-wide axes: no colliding labels
        ax.set_title(f"step {data['step'][i]}: tr H = {data['hessian_trace'][i]:.3g}, "
                     f"tr B = {data['lbfgs_trace'][i]:.3g}", fontsize=9)
        ax.legend(fontsize=7)
        print(f"step {data['step'][i]}: trace of H {data['hessian_trace'][i]:.4g}, of B {data['lbfgs_trace'][i]:.4g}; "
              f"H nodes in [{np.nanmin(data['hessian_nodes'][i]):.3g}, {np.nanmax(data['hessian_nodes'][i]):.3g}], "
              f"B nodes in [{np.nanmin(data['lbfgs_nodes'][i]):.3g}, {np.nanmax(data['lbfgs_nodes'][i]):.3g}]")
    fig.suptitle(f"Hessian vs L-BFGS (m = 1) eigenvalue densities, {problem.name}, {args.model}, p = {args.penal:g}",
                 fontsize=10)
    fig.tight_layout()
    name = f"fig_3_7_b_vs_h_{args.problem}_{args.model}_p{args.penal:g}" + ("_quick" if args.quick else "")
    pd.DataFrame({"step": data["step"], "hessian_trace": data["hessian_trace"], "lbfgs_trace": data["lbfgs_trace"],
                  "hessian_node_min": np.nanmin(data["hessian_nodes"], axis=(1, 2)),
                  "hessian_node_max": np.nanmax(data["hessian_nodes"], axis=(1, 2)),
                  "lbfgs_node_min": np.nanmin(data["lbfgs_nodes"], axis=(1, 2)),
                  "lbfgs_node_max": np.nanmax(data["lbfgs_nodes"], axis=(1, 2)),
                  "final_loss": final_loss}).to_csv(FIGURES / (name + ".csv"), index=False, float_format="%.6g")
    out = save(fig, FIGURES / (name + ".png"))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
