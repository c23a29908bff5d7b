"""Thesis Figure 3.9: distance from the initialization and gradient norm along L-BFGS and GD.

Problem A, CNN and PixelModel, p = 3. GD uses a constant step that is stable on
this toolkit's CNN (``--lr-cnn``, default 3e-7; 1e-6 and the thesis's tuned 2.5e-4
diverges here) and the thesis's 0.1 for the PixelModel. The loss curve is drawn
behind each panel.

    python studies/fig_3_9_trajectory.py --quick   # 150 steps
    python studies/fig_3_9_trajectory.py           # 700 steps (the thesis's GD budget)
"""
from __future__ import annotations

import argparse

from common import FIGURES, RUNS, add_run_options, setup

import landscape as L
from landscape.plots import pyplot, save


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--lr-cnn", type=float, default=3e-7)
    args = setup(add_run_options(parser).parse_args(argv))
    steps = 150 if args.quick else 700
    problem = L.problems.get("A")
    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(11, 6.5), sharex=True)
    for row, model in enumerate(("cnn", "pixel")):
        gd = {"lr": args.lr_cnn if model == "cnn" else 0.1}
        for col, (name, options) in enumerate((("lbfgs", {}), ("gd", gd))):
            objective = L.Objective(problem, L.models.build(model, problem, seed=0, precision=args.precision), penal=3.0)
            path = RUNS / "fig_3_9" / f"{problem.name}_{model}_{name}_{steps}.h5"
            result = L.run(objective, L.optim.build(name, **options), steps=steps,
                           trace=L.TraceWriter(path, overwrite=True))
            frame = result.frame()
            ax = axes[row, col]
            ax.plot(frame.index, frame["distance"], color="C0", label="|theta - theta0|")
            ax.set_ylabel("distance from init", color="C0")
            twin = ax.twinx()
            twin.semilogy(frame.index, frame["grad_norm"], color="C1", label="|g|")
            twin.semilogy(frame.index, frame["loss"], color="0.6", ls="--", lw=1, label="loss")
            twin.set_ylabel("|g| (orange), loss (grey)")
            twin.grid(False)
            ax.set_title(f"{model}, {name}{' lr=%g' % options['lr'] if options else ''}: "
                         f"loss {result.losses[0]:.4g} -> {result.final_loss:.4g}", fontsize=9)
            print(f"{model:5s} {name:5s}: distance {frame['distance'].iloc[-1]:.4g}, |g| {frame['grad_norm'].iloc[0]:.3g}"
                  f" -> {frame['grad_norm'].iloc[-1]:.3g}, loss {result.losses[0]:.4g} -> {result.final_loss:.4g}")
    for ax in axes[-1]:
        ax.set_xlabel("step")
    fig.tight_layout()
    out = save(fig, FIGURES / ("fig_3_9_trajectory" + ("_quick" if args.quick else "") + ".png"))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
