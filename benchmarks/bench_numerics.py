"""What the deterministic numerics mode costs: the same work timed in both modes, interleaved, in one run.

The mode must be chosen before torch loads, so each measurement runs in a fresh child process,
alternating native and deterministic ``--rounds`` times (so a change in the machine's load hits
both alike); the table gives the median time per mode and their ratio (deterministic / native).

  vg        value_and_grad at a new theta (network forward and backward, one factorization, two solves)
  hvp       one Hessian-vector product at a fixed theta
  lbfgs     SciPy's L-BFGS-B, 100 evaluations, pixel model on A (p = 3): a whole short run

Usage:  python benchmarks/bench_numerics.py [--rounds 3] [--cases pixel:D,cnn:D,cnn_transpose:D,cnn:A]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHILD = r"""
import json, sys, time
import torch
import landscape as L
kind, code, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
L.threads.apply()
out = {}
if kind == "lbfgs":
    problem = L.problems.get(code)
    objective = L.Objective(problem, L.models.build("pixel", problem), penal=3.0)
    start = time.perf_counter()
    L.run(objective, L.optim.build("scipy_lbfgsb", maxfun=100), steps=100)
    out["lbfgs"] = time.perf_counter() - start
else:
    problem = L.problems.get(code)
    objective = L.Objective(problem, L.models.build(kind, problem, seed=0), penal=3.0)
    g = torch.Generator().manual_seed(0)
    thetas = [objective.theta0 + 1e-3 * torch.randn(objective.num_params, dtype=torch.float64, generator=g)
              for _ in range(repeat + 1)]
    objective.value_and_grad(thetas[0])                       # warm-up: symbolic analysis, allocations
    times = []
    for theta in thetas[1:]:
        start = time.perf_counter(); objective.value_and_grad(theta); times.append(time.perf_counter() - start)
    out["vg"] = sorted(times)[len(times) // 2]
    v = torch.randn(objective.num_params, dtype=torch.float64, generator=g)
    objective.hvp(thetas[-1], v)
    times = []
    for _ in range(repeat):
        start = time.perf_counter(); objective.hvp(thetas[-1], v); times.append(time.perf_counter() - start)
    out["hvp"] = sorted(times)[len(times) // 2]
out["mode"] = L.numerics.mode()
print(json.dumps(out))
"""


def measure(kind: str, code: str, deterministic: bool, repeat: int) -> dict:
    from landscape import numerics
    env = {k: v for k, v in os.environ.items() if k not in numerics.PINS}
    env[numerics.ENVIRONMENT] = "1" if deterministic else "0"
    done = subprocess.run([sys.executable, "-c", CHILD, kind, code, str(repeat)], capture_output=True, text=True,
                          env=env, cwd=ROOT, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="alternations of the two modes per case")
    parser.add_argument("--repeat", type=int, default=5, help="timed calls per child (median)")
    parser.add_argument("--cases", default="pixel:D,cnn:D,cnn_transpose:D,cnn:A,lbfgs:A")
    args = parser.parse_args(argv)
    print(f"{'case':<18}{'what':<7}{'native ms':>11}{'determ. ms':>12}{'ratio':>8}")
    for case in args.cases.split(","):
        kind, code = case.split(":")
        times = {False: [], True: []}
        for _ in range(args.rounds):
            for deterministic in (False, True):
                result = measure(kind, code, deterministic, args.repeat)
                assert result["mode"] == ("deterministic" if deterministic else "native"), result
                times[deterministic].append(result)
        for what in times[False][0]:
            if what == "mode":
                continue
            native = statistics.median(r[what] for r in times[False])
            pinned = statistics.median(r[what] for r in times[True])
            print(f"{case:<18}{what:<7}{1e3 * native:>11.1f}{1e3 * pinned:>12.1f}{pinned / native:>8.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
