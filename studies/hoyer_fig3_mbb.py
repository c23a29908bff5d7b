"""Hoyer et al. (2019) Figure 3: the MBB beam with Pixel-LBFGS, MMA, OC and CNN-LBFGS.

mbb_beam_96x32_0.5 (the suite's MBB beam; Hoyer's 60x20 example does not divide by the
CNN's resize factor 8; ``--problem`` for others), p = 3,
with the cone filter, each optimizer from its model's initialization: pixel
L-BFGS (SciPy's L-BFGS-B as Hoyer ran it), MMA (NLopt), OC (88-line code), and
the CNN with L-BFGS-B. Final designs and loss curves side by side.

    python studies/hoyer_fig3_mbb.py --quick     # 100 steps
    python studies/hoyer_fig3_mbb.py             # 300 steps

Writes ``hoyer_fig3_mbb[_quick].png`` and ``.csv`` (per optimizer: the best and the final compliance, the steps
taken and the status) into the output folder.
"""
from __future__ import annotations

# common first: it sets the output folder and pins the numerics before NumPy and torch load
from common import FIGURES, RUNS, add_run_options, setup

import argparse

import pandas as pd

import landscape as L
from landscape.plots import pyplot, save

CASES = (("Pixel-LBFGS", "pixel", "scipy_lbfgsb"), ("MMA", "pixel", "mma"), ("OC", "pixel", "oc"),
         ("CNN-LBFGS", "cnn", "scipy_lbfgsb"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--problem", default="mbb_beam_96x32_0.5")
    args = setup(add_run_options(parser).parse_args(argv))
    steps = 100 if args.quick else 300
    problem = L.problems.get(args.problem)
    plt = pyplot()
    fig, axes = plt.subplots(2, len(CASES), figsize=(4 * len(CASES), 4.2),
                             gridspec_kw={"height_ratios": [1, 1.3]})
    rows = []
    for i, (label, model, optimizer) in enumerate(CASES):
        objective = L.Objective(problem, L.models.build(model, problem, seed=0, precision=args.precision), penal=3.0)
        path = RUNS / "hoyer_fig3" / f"{problem.name}_{model}_{optimizer}_{steps}.h5"
        result = L.run(objective, optimizer, steps=steps, trace=L.TraceWriter(path, overwrite=True))
        axes[0, i].imshow(result.best_design, cmap="Greys", vmin=0, vmax=1, interpolation="nearest")
        axes[0, i].set_axis_off()
        axes[0, i].set_title(f"{label}: {result.best_loss:.2f}", fontsize=9)
        axes[1, i].semilogy(result.losses)
        axes[1, i].set(xlabel="step", ylabel="compliance")
        rows.append({"optimizer": label, "model": model, "best_compliance": result.best_loss,
                     "final_compliance": result.final_loss, "steps": result.steps, "status": result.status})
        print(f"{label:<12} best compliance {result.best_loss:.3f} in {result.steps} steps ({result.status})")
    fig.suptitle(f"{problem.name}, p = 3 (Hoyer et al. Figure 3)", fontsize=10)
    fig.tight_layout()
    out = save(fig, FIGURES / ("hoyer_fig3_mbb" + ("_quick" if args.quick else "") + ".png"))
    pd.DataFrame(rows).to_csv(out.with_suffix(".csv"), index=False, float_format="%.6g")
    print(f"wrote {out} and {out.with_suffix('.csv').name}")


if __name__ == "__main__":
    main()
