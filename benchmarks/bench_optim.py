"""Optimizer overhead per step: everything a run spends outside objective evaluations.

For each optimizer it runs ``--steps`` steps of ``landscape.run`` on the CNN at
128x128 (problem D, causeway_bridge_middle_128x128_0.1, by default) and splits
the wall time into time inside ``objective.value_and_grad`` and the rest
(direction, line-search logic, bookkeeping, the run loop). The goal of the
optimizer issue: overhead <= 5 % of objective time for ``lbfgs`` with m = 10.
Both numbers come from the same run, so machine noise affects them alike.

Usage:  python benchmarks/bench_optim.py [--problem NAME] [--model cnn] [--steps 10]
                                          [--optimizers lbfgs,gd_ls,scipy_lbfgsb,gd]
"""
from __future__ import annotations

import argparse
import time

import landscape as L


class TimedObjective:
    """Forwards to an Objective and adds up the time spent in value_and_grad."""

    def __init__(self, objective):
        self._objective = objective
        self.seconds = 0.0

    def value_and_grad(self, theta):
        start = time.perf_counter()
        try:
            return self._objective.value_and_grad(theta)
        finally:
            self.seconds += time.perf_counter() - start

    def __getattr__(self, name):
        return getattr(self._objective, name)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problem", default="causeway_bridge_middle_128x128_0.1")
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--optimizers", default="lbfgs,gd_ls,scipy_lbfgsb,gd")
    parser.add_argument("--lr", type=float, default=1e-3, help="step size for gd")
    args = parser.parse_args(argv)

    problem = L.problems.get(args.problem)
    print(f"{args.problem}, model {args.model}, {args.steps} steps, backend {L.physics.backend()}")
    print(f"{'optimizer':>14} {'params':>8} {'evals':>6} {'objective s':>12} {'other s':>9} "
          f"{'other/step ms':>14} {'overhead':>9}")
    for name in args.optimizers.split(","):
        objective = TimedObjective(L.Objective(problem, L.models.build(args.model, problem, seed=0), penal=3.0))
        objective.value_and_grad(objective.theta0)      # warm caches (symbolic analysis, threads)
        objective.seconds = 0.0
        options = {"lr": args.lr} if name in ("gd", "hd") else {}
        start = time.perf_counter()
        result = L.run(objective, L.optim.build(name, **options), steps=args.steps, progress=False)
        total = time.perf_counter() - start
        other = total - objective.seconds
        print(f"{name:>14} {objective.num_params:>8} {result.evaluations:>6} {objective.seconds:>12.2f} "
              f"{other:>9.3f} {1e3 * other / max(result.steps, 1):>14.1f} "
              f"{100 * other / objective.seconds:>8.2f}%")


if __name__ == "__main__":
    main()
