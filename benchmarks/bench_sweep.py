"""Sweep scaling: 8 equal tasks on 1 versus 2 local Dask workers, and the per-task overhead.

Each task is the same L-BFGS run (pixel model, problem A, p = 3, ``--steps``
steps) with a different seed (seeds only move probes: the runs are equal work).
Reports wall time on 1 and 2 workers, the scaling efficiency ``T1 / (2 T2)``
(goal >= 80 % on this 2-core machine), and the per-task overhead of the sweep
machinery: sweep wall time on 1 worker divided by the tasks, minus the run's own
time measured inside its trace.

Usage:  python benchmarks/bench_sweep.py [--steps 150] [--tasks 8]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from distributed import Client, LocalCluster

from landscape import sweep as sweeps


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--tasks", type=int, default=8)
    args = parser.parse_args(argv)
    results = {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as tmp, \
                LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                             dashboard_address=None) as cluster, \
                Client(cluster) as client:
            client.run(lambda: __import__("landscape.sweep"))       # imports done before the clock starts
            config = {"name": f"bench{workers}", "out": str(Path(tmp) / "out"), "steps": args.steps,
                      "axes": {"problem": ["A"], "model": ["pixel"], "penal": [3], "optimizer": ["lbfgs"],
                               "seed": list(range(args.tasks))}}
            start = time.perf_counter()
            index = sweeps.run_sweep(sweeps.expand(config), client=client, progress=False)
            results[workers] = (time.perf_counter() - start, float(index["wall_time"].sum()))
            assert (index["status"] == "completed").all(), index
    t1, run1 = results[1]
    t2, _ = results[2]
    print(f"{args.tasks} tasks of {args.steps} L-BFGS steps (pixel, problem A): 1 worker {t1:.1f} s, "
          f"2 workers {t2:.1f} s; scaling efficiency {100 * t1 / (2 * t2):.0f} % (goal >= 80 %)")
    print(f"per-task overhead of the sweep machinery (1 worker): {(t1 - run1) / args.tasks:.2f} s "
          f"(task wall {t1 / args.tasks:.2f} s, of which the run itself {run1 / args.tasks:.2f} s)")


if __name__ == "__main__":
    main()
