"""Thesis Figure 3.3 (and C.15): the loss on a filter-normalized random plane around the initialization.

Problem D (causeway_bridge_middle_128x128_0.1) with the CNN, p = 3: the loss
``L(theta0 + a d1 + b d2)`` for two filter-normalized Gaussian directions
(Li et al. 2018; biases ignored, offsets and the latent vector normalized per
tensor), ``a, b`` in [-1, 1]. The surface is checkpointed under
``runs/fig_3_3/`` so an interrupted run resumes. Writes the figure and, beside it, a one-row CSV of the
numbers the results page quotes (loss at theta0, min and max on the plane, fraction of the grid below theta0).

    python studies/fig_3_3_plane.py --quick           # 11 x 11 grid (~1 minute)
    python studies/fig_3_3_plane.py                   # 31 x 31 grid
    python studies/fig_3_3_plane.py --problem A       # the C.15 variant on another problem
"""
from __future__ import annotations

# common first: it sets the output folder and pins the numerics before NumPy and torch load
from common import FIGURES, RUNS, add_run_options, setup

import argparse

import numpy as np
import pandas as pd

import landscape as L
from landscape.plots import save
from probes.geometry import random_plane, surface
from probes.plots import surface_figure


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--problem", default="D")
    parser.add_argument("--model", default="cnn_transpose", help="default: the thesis's CNN")
    parser.add_argument("--points", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = setup(add_run_options(parser).parse_args(argv))
    points = args.points or (11 if args.quick else 31)
    problem = L.problems.get(args.problem)
    objective = L.Objective(problem, L.models.build(args.model, problem, seed=args.seed, precision=args.precision),
                            penal=3.0)
    plane = random_plane(objective, seed=args.seed)
    grid = np.linspace(-1, 1, points)
    runs = RUNS / "fig_3_3"
    runs.mkdir(parents=True, exist_ok=True)
    s = surface(objective, plane, grid, grid, checkpoint=runs / f"{args.problem}_{args.model}_{points}.npz")
    center = s.losses[points // 2, points // 2]
    summary = pd.DataFrame([{"problem": problem.name, "model": args.model, "seed": args.seed, "points": points,
                             "loss_theta0": center, "min": np.nanmin(s.losses), "max": np.nanmax(s.losses),
                             "fraction_below_theta0": np.mean(s.losses < center)}])
    print(f"{problem.name}, {args.model}: loss at theta0 {center:.6g}; on the plane min {np.nanmin(s.losses):.4g}, "
          f"max {np.nanmax(s.losses):.4g}; fraction of the grid below theta0's loss "
          f"{np.mean(s.losses < center):.2f}")
    name = f"fig_3_3_plane_{args.problem}_{args.model}" + ("_quick" if args.quick else "") + ".png"
    summary.to_csv(FIGURES / name.replace(".png", ".csv"), index=False)    # the numbers the results page quotes
    out = save(surface_figure(s, f"{problem.name}, {args.model}, p = 3: filter-normalized plane around theta0 "
                                 f"({points}x{points})"), FIGURES / name)
    np.savez(runs / f"{args.problem}_{args.model}_{points}_surface.npz", alphas=s.alphas, betas=s.betas,
             losses=s.losses)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
