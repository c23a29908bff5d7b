"""CHOLMOD's OpenMP teams in sweep workers: the step time of two runs at once, capped and uncapped.

Debian's CHOLMOD (SuiteSparse 5) opens four-thread OpenMP teams in its supernodal factorization whatever
``OMP_NUM_THREADS`` says; only ``OMP_THREAD_LIMIT``, read when the OpenMP runtime loads, caps them.
``landscape.sweep`` starts one-thread workers with ``landscape.threads.worker_environ`` (``OMP_THREAD_LIMIT=1``,
``OMP_NUM_THREADS=1``, ``MKL_NUM_THREADS=1``); Dask's own workers get only the last two.

This benchmark runs ``--copies`` copies of the same run (``--model`` on ``--problem``, GD, ``--steps``
steps, p = 1, the deterministic mode) at once in fresh processes, as the workers of a sweep on a machine
with as many cores: with Dask's worker environment and with landscape's, in ``--rounds`` rounds whose order
alternates. It reports each round's mean step time over the copies (step 0 and the model's set-up
excluded), the median of the rounds' ratios, the CPU time of all copies, and whether every loss curve is
bit-identical (it must be: CHOLMOD's parallel loops fill and clear arrays and split no sum).

Usage:  python benchmarks/bench_sweep_openmp.py [--steps 40] [--problem D] [--model pixel] [--copies 2]
                                                [--rounds 3]
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from bench_sweep_malloc import timed_runs

import landscape as L

#: Dask's worker environment for the thread counts (its ``distributed.nanny.pre-spawn-environ``), uncapped
DASK = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OMP_THREAD_LIMIT": None, "LANDSCAPE_THREADS": None}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--problem", default="D")
    parser.add_argument("--model", default="pixel")
    parser.add_argument("--copies", type=int, default=2, help="runs at once (default 2: a sweep on 2 cores)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of both settings, their order alternating (default 3); the ratio is the "
                             "median of the rounds' ratios, which a changing background load moves less")
    args = parser.parse_args(argv)
    settings = {"uncapped (Dask's workers)": DASK,
                "OMP_THREAD_LIMIT=1 (landscape's)": {**DASK, **L.threads.worker_environ(L.threads.Threads(),
                                                                                         environ={})}}
    step_ms = {name: [] for name in settings}
    curves = []
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            order = list(settings) if round_ % 2 == 0 else list(settings)[::-1]
            for name in order:
                traces = [Path(tmp) / f"{round_}_{len(curves)}_{copy}.h5" for copy in range(args.copies)]
                runs, user, system = timed_runs(args.problem, args.model, args.steps, traces, settings[name])
                step_ms[name].append(1000 * np.mean([steps.mean() for _, steps in runs]))
                curves += [losses for losses, _ in runs]
                print(f"round {round_ + 1}, {name}: {step_ms[name][-1]:.0f} ms a step; CPU of the {args.copies} "
                      f"processes: user {user:.1f} s, system {system:.1f} s", flush=True)
    uncapped, capped = step_ms.values()
    ratios = np.divide(uncapped, capped)
    print(f"ratio of step times, uncapped / capped: median {np.median(ratios):.2f} x over {args.rounds} rounds "
          f"({', '.join(f'{r:.2f}' for r in ratios)}; {args.copies} copies of {args.model} on {args.problem}, "
          f"GD, {args.steps} steps, one thread each)")
    print(f"loss curves bit-identical: {all(np.array_equal(curves[0], c) for c in curves[1:])}")


if __name__ == "__main__":
    main()
