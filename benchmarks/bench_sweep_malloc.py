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


def timed_runs(problem, model, steps, traces: list[Path],
               environ: dict[str, str | None]) -> tuple[list[tuple[np.ndarray, np.ndarray]], float, float]:
    """``len(traces)`` copies of one run at once, each in a fresh process started with ``environ`` applied.

    ``environ`` maps variables to their value, or to None to remove them; the deterministic mode is always
    on. Returns ``(runs, user seconds, system seconds)``: one ``(losses, per-step wall times)`` per copy, and
    the CPU times of all copies together (the children's resource usage)."""
    env = {k: v for k, v in os.environ.items() if k not in environ}
    env.update({k: v for k, v in environ.items() if v is not None})
    env["LANDSCAPE_DETERMINISTIC"] = "1"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    processes = [subprocess.Popen([sys.executable, "-c", RUN, problem, model, str(steps), str(trace)], env=env)
                 for trace in traces]
    if any(process.wait() != 0 for process in processes):
        raise RuntimeError(f"a run of {model} on {problem} failed")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
    frames = [L.open_trace(trace).frame() for trace in traces]
    return [(frame["loss"].to_numpy(), np.diff(frame["wall_time"].to_numpy())) for frame in frames], user, system


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--problem", default="D")
    parser.add_argument("--model", default="cnn_transpose")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        ways = {}
        for name, value in (("dask", "65536"), ("glibc", None)):
            [(losses, steps)], user, system = timed_runs(args.problem, args.model, args.steps,
                                                         [Path(tmp) / f"{name}.h5"], {"MALLOC_TRIM_THRESHOLD_": value})
            ways[name] = losses, steps, user, system
        dask_way, glibc_way = ways["dask"], ways["glibc"]
    for name, (_, steps, user, system) in (("MALLOC_TRIM_THRESHOLD_=65536 (Dask's workers)", dask_way),
                                           ("glibc's default (landscape's workers)", glibc_way)):
        print(f"{name}: {1000 * steps.mean():.0f} ms a step; process CPU user {user:.1f} s, system {system:.1f} s")
    print(f"ratio of step times: {dask_way[1].mean() / glibc_way[1].mean():.2f} x "
          f"({args.model} on {args.problem}, GD, {args.steps} steps, one thread)")
    print(f"loss curves bit-identical: {np.array_equal(dask_way[0], glibc_way[0])}")


if __name__ == "__main__":
    main()
