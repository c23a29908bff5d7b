"""glibc's malloc thresholds in sweep workers: the step time of one run with and without Dask's setting.

Dask's nanny starts its workers with ``MALLOC_TRIM_THRESHOLD_=65536`` (``distributed.nanny.pre-spawn-
environ``). Setting any glibc malloc threshold turns off the dynamic mmap threshold, so every buffer above
128 KiB is mapped and unmapped afresh and its pages fault in again on every step. ``landscape.sweep``
starts its LocalCluster without it (``landscape.sweep.WORKER_ENVIRON_UNSET``).

This benchmark runs the same run (``--model`` on ``--problem``, GD, ``--steps`` steps, p = 1, the
deterministic mode) twice in fresh processes, one after the other: with the variable and without it. It
reports the mean step time read from each trace (step 0 and the model's set-up excluded), the ratio, each
process's user and system CPU time, and whether the two loss curves are bit-identical (they must be: the
allocator does not change any arithmetic).

Usage:  python benchmarks/bench_sweep_malloc.py [--steps 40] [--problem D] [--model cnn_transpose]
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import landscape as L

RUN = """
import sys
import landscape as L
spec = L.RunSpec(problem=sys.argv[1], model=sys.argv[2], optimizer="gd", optimizer_options={"lr": 1e-4},
                 penal=1.0, seed=0, steps=int(sys.argv[3]))
L.run_spec(spec, sys.argv[4], progress=False, overwrite=True)
"""


def timed_run(problem, model, steps, trace: Path, malloc: str | None) -> tuple[np.ndarray, np.ndarray, float, float]:
    """One run in a fresh process: (losses, per-step wall times, user seconds, system seconds)."""
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_TRIM_THRESHOLD_"}
    env["LANDSCAPE_DETERMINISTIC"] = "1"
    if malloc is not None:
        env["MALLOC_TRIM_THRESHOLD_"] = malloc
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", RUN, problem, model, str(steps), str(trace)], env=env, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    frame = L.open_trace(trace).frame()
    return (frame["loss"].to_numpy(), np.diff(frame["wall_time"].to_numpy()),
            after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--problem", default="D")
    parser.add_argument("--model", default="cnn_transpose")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        dask_way = timed_run(args.problem, args.model, args.steps, Path(tmp) / "dask.h5", "65536")
        glibc_way = timed_run(args.problem, args.model, args.steps, Path(tmp) / "glibc.h5", None)
    for name, (_, steps, user, system) in (("MALLOC_TRIM_THRESHOLD_=65536 (Dask's workers)", dask_way),
                                           ("glibc's default (landscape's workers)", glibc_way)):
        print(f"{name}: {1000 * steps.mean():.0f} ms a step; process CPU user {user:.1f} s, system {system:.1f} s")
    print(f"ratio of step times: {dask_way[1].mean() / glibc_way[1].mean():.2f} x "
          f"({args.model} on {args.problem}, GD, {args.steps} steps, one thread)")
    print(f"loss curves bit-identical: {np.array_equal(dask_way[0], glibc_way[0])}")


if __name__ == "__main__":
    main()
