"""One empirical-NTK Gram-vector product (VJP + JVP) at 128x128, as a ratio of a value-and-gradient.

Problem D (causeway_bridge_middle_128x128_0.1), for ``cnn`` and ``mlp`` (width
256 x 2, torus embedding, no filter). Goal of the NTK issue: report the ratio.

Usage:  python benchmarks/bench_ntk.py [--repeat 3]
"""
from __future__ import annotations

import argparse

import torch
from bench_graph import timed as median_time  # median wall time of fn() over repeats

import landscape as L
from probes.ntk import NTKOperator


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    problem = L.problems.get("causeway_bridge_middle_128x128_0.1")
    for kind, options, use_filter in (("cnn", {}, True), ("mlp", {"widths": (256, 256), "embedding": "torus"}, False)):
        objective = L.Objective(problem, L.models.build(kind, problem, seed=0, **options), penal=3.0, filter=use_filter)
        theta = objective.theta0
        g = torch.Generator().manual_seed(0)
        thetas = [theta * (1 + 1e-3 * i) for i in range(args.repeat + 1)]
        objective.value_and_grad(thetas[-1])
        it = iter(thetas)
        vg = median_time(lambda objective=objective, it=it: objective.value_and_grad(next(it)), args.repeat)
        operator = NTKOperator(objective, theta)
        u = torch.randn(operator.shape[0], generator=g, dtype=torch.float64)
        operator.matvec(u)
        product = median_time(lambda operator=operator, u=u: operator.matvec(u), args.repeat)
        print(f"{kind:>4} ({objective.num_params} parameters): value-and-gradient {1e3 * vg:.0f} ms, "
              f"NTK product {1e3 * product:.0f} ms, ratio {product / vg:.2f}")


if __name__ == "__main__":
    main()
