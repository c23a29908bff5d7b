"""Thesis section 4.1: PCA of optimizer trajectories, with the explained variance at every iterate.

Two components of the iterates ``theta_k - theta_final`` seem to explain
nearly all the variance of a whole trajectory, because late steps are large;
recomputing the ratio for every prefix of the trajectory (each centred at its
own last point) shows how it builds up. L-BFGS and GD_LS on problem A with the
thesis's CNN (``cnn_transpose``), p = 3, a snapshot of theta at every step. A prefix
of k iterates spans at most k - 1 directions, so PC1 is drawn from 3 points on and
PC1 + PC2 from 4 (fewer explain 100 % by construction).

    python studies/sec_4_1_pca.py --quick     # 40 steps
    python studies/sec_4_1_pca.py             # 300 steps
"""
from __future__ import annotations

# common first: it sets the output folder and pins the numerics before NumPy and torch load
from common import FIGURES, RUNS, add_run_options, finished_trace, setup

import argparse

import pandas as pd

import landscape as L
from landscape.plots import pyplot, save
from probes.trajectory import explained_variance_by_prefix, trajectory_pca


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--problem", default="A")
    parser.add_argument("--model", default="cnn_transpose", help="the CNN kind (default the thesis's cnn_transpose)")
    args = setup(add_run_options(parser).parse_args(argv))
    steps, every = (40, 1) if args.quick else (300, 1)   # a snapshot at every step
    problem = L.problems.get(args.problem)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    rows = []
    for i, optimizer in enumerate(("lbfgs", "gd_ls")):
        objective = L.Objective(problem, L.models.build(args.model, problem, seed=0, precision=args.precision),
                                penal=3.0)
        path = RUNS / "sec_4_1" / f"{problem.name}_{args.model}_{optimizer}_{steps}_every{every}.h5"
        if not finished_trace(path):
            L.run(objective, optimizer, steps=steps, trace=L.TraceWriter(path, overwrite=True, snapshot_every=every))
        with L.open_trace(path) as trace:
            snaps = trace.snapshots()
        whole = trajectory_pca(snaps["theta"]).explained_variance_ratio[:2]
        prefix = explained_variance_by_prefix(snaps["theta"], components=2)
        x = snaps["step"][1:]
        rows.append(pd.DataFrame({"optimizer": optimizer, "last_step": x, "pc1": prefix[:, 0],
                                  "pc1_pc2": prefix[:, 0] + prefix[:, 1]}))
        rows.append(pd.DataFrame({"optimizer": [optimizer], "last_step": ["whole"], "pc1": [whole[0]],
                                  "pc1_pc2": [whole.sum()]}))
        # k centred points span at most k - 1 directions: PC1 is informative from 3 points on, PC1 + PC2 from 4
        ax.plot(x[2:], prefix[2:, 0] + prefix[2:, 1], color=f"C{i}", label=f"{optimizer}: PC1 + PC2")
        ax.plot(x[1:], prefix[1:, 0], color=f"C{i}", ls="--", label=f"{optimizer}: PC1")
        early = prefix[min(len(prefix) - 1, 2)].sum()
        print(f"{optimizer}: whole trajectory PC1 {whole[0]:.3f}, PC1+PC2 {whole.sum():.3f}; "
              f"prefix of the first {x[min(len(x) - 1, 2)]} steps: PC1+PC2 {early:.3f}")
    ax.set(xlabel="last step of the prefix", ylabel="explained variance ratio", ylim=(0, 1.02),
           title=f"PCA of every prefix of the trajectory, {problem.name}, {args.model}, p = 3")
    ax.title.set_fontsize(9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = save(fig, FIGURES / ("sec_4_1_pca" + ("_quick" if args.quick else "") + ".png"))
    # every prefix's explained variance, and the whole trajectory's: the numbers the results page quotes
    pd.concat(rows, ignore_index=True).to_csv(out.with_suffix(".csv"), index=False, float_format="%.6g")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
