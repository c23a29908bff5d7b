"""Curvature probe costs, with the goals of the curvature issue.

1. Hutchinson with 50 probes on the CNN at 64x128: one block of 50 Hessian-vector
   products against 50 single products (goal: block at least 3x faster).
2. One SLQ density (k = 3 runs, o = 50 steps: 150 products) of the CNN at 128x128.
3. L-BFGS matrix products (m = 10, compact form) against Hessian-vector products
   on the same CNN (goal: B about free).

Usage:  python benchmarks/bench_probes.py [--skip-slq] [--samples 50]
"""
from __future__ import annotations

import argparse
import time

import torch

import landscape as L
from probes import CompactLBFGS, hutchinson, slq


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--skip-slq", action="store_true", help="skip the 128x128 SLQ (several minutes)")
    args = parser.parse_args(argv)

    problem = L.problems.get("michell_centered_both_64x128_0.12")
    objective = L.Objective(problem, L.models.build("cnn", problem, seed=0), penal=3.0)
    hessian = objective.hessian(objective.theta0)
    hessian.matvec(torch.ones(objective.num_params, dtype=torch.float64))   # warm the factorization cache
    block, t_block = timed(lambda: hutchinson(hessian, args.samples, seed=0))
    single, t_single = timed(lambda: hutchinson(hessian, args.samples, seed=0, block=1))
    print(f"Hutchinson, {args.samples} probes, CNN 64x128 ({objective.num_params} parameters): "
          f"block {t_block:.1f} s, one at a time {t_single:.1f} s, speed-up {t_single / t_block:.2f}x (goal >= 3x); "
          f"trace {block.trace} (same samples: {single.trace.value:.6g})")

    problem = L.problems.get("causeway_bridge_middle_128x128_0.1")
    objective = L.Objective(problem, L.models.build("cnn", problem, seed=0), penal=3.0)
    hessian = objective.hessian(objective.theta0)
    v = torch.randn(objective.num_params, dtype=torch.float64)
    hessian.matvec(v)
    _, t_hvp = timed(lambda: hessian.matvec(v))
    opt = L.optim.build("lbfgs", m=10)
    opt.start(objective)
    for _ in range(11):
        opt.step()
    B = CompactLBFGS.from_memory(opt.memory())
    B.matvec(v)
    _, t_b = timed(lambda: [B.matvec(v) for _ in range(10)])
    H = B.inverse()
    _, t_h = timed(lambda: [H.matvec(v) for _ in range(10)])
    print(f"CNN 128x128 ({objective.num_params} parameters): one HVP {1e3 * t_hvp:.0f} ms; "
          f"B v (m = {B.m}) {1e2 * t_b:.1f} ms ({100 * t_b / 10 / t_hvp:.2f} % of an HVP); H v {1e2 * t_h:.1f} ms")
    if not args.skip_slq:
        density, t_slq = timed(lambda: slq(hessian, runs=3, steps=50, sigma2=1e-4))
        low, high = density.extremes
        print(f"SLQ (k = 3, o = 50) of the CNN Hessian at 128x128: {t_slq:.0f} s "
              f"({t_slq / 150:.2f} s per product); spectrum estimate [{low:.4g}, {high:.4g}]")


if __name__ == "__main__":
    main()
