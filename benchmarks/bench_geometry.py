"""Cost of a 2D loss surface: time per grid point as a ratio of one loss evaluation, and memory.

A ``--points`` x ``--points`` surface (default 21 x 21) around the initialization
of problem D (128x128) with the CNN, on a random filter-normalized plane, with
the network evaluated in batches of ``--batch`` (vmap) and the physics point by
point. Goal of the geometry issue: at most 1.0 loss evaluation per grid point.

Usage:  python benchmarks/bench_geometry.py [--points 21] [--batch 8]
"""
from __future__ import annotations

import argparse
import resource
import time

import numpy as np

import landscape as L
from probes.geometry import random_plane, surface


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problem", default="causeway_bridge_middle_128x128_0.1")
    parser.add_argument("--points", type=int, default=21)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args(argv)
    problem = L.problems.get(args.problem)
    objective = L.Objective(problem, L.models.build("cnn", problem, seed=0), penal=3.0)
    objective.loss(objective.theta0)
    start = time.perf_counter()
    for i in range(1, 5):          # distinct points: each needs its own factorization, like the grid
        objective.loss(objective.theta0 * (1 + 1e-3 * i))
    one = (time.perf_counter() - start) / 4
    plane = random_plane(objective, seed=0)
    grid = np.linspace(-1, 1, args.points)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    start = time.perf_counter()
    s = surface(objective, plane, grid, grid, batch=args.batch, progress=False)
    total = time.perf_counter() - start
    per_point = total / s.losses.size
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print(f"{args.problem}, CNN ({objective.num_params} parameters), {args.points}x{args.points} surface, "
          f"batch {args.batch}: {total:.0f} s, {1e3 * per_point:.0f} ms per point; one loss evaluation "
          f"{1e3 * one:.0f} ms; ratio {per_point / one:.2f} (goal <= 1.0); peak RSS {peak:.2f} GB "
          f"(before the surface {rss:.2f} GB); loss range [{np.nanmin(s.losses):.4g}, {np.nanmax(s.losses):.4g}]")


if __name__ == "__main__":
    main()
