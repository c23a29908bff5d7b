"""Recording overhead: time spent writing the trace per step, as a fraction of a step.

Runs ``lbfgs`` on the CNN at 64x128 (michell_centered_both_64x128_0.12) for
``--steps`` steps with a trace and no probes, timing every call into the
writer (rows, evaluations, flushes). The goal of the trace issue: at most 2 %
of a step. Also reports the same run without a trace, for the wall-time
difference (noisier: two runs).

Usage:  python benchmarks/bench_trace.py [--steps 10] [--snapshot-every N]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import landscape as L
from landscape.trace import TraceWriter


def _timed(method, counter: str):
    """``method`` of TraceWriter, adding its wall time to ``self.<counter>``."""
    def timed(self, *args, **kwargs):
        begin = time.perf_counter()
        try:
            return method(self, *args, **kwargs)
        finally:
            setattr(self, counter, getattr(self, counter) + time.perf_counter() - begin)
    return timed


class TimedWriter(TraceWriter):
    """Per-step writes add to ``seconds``; creating the file and finishing add to ``once``."""

    seconds = 0.0
    once = 0.0
    step = _timed(TraceWriter.step, "seconds")
    evaluations = _timed(TraceWriter.evaluations, "seconds")
    start = _timed(TraceWriter.start, "once")
    finish = _timed(TraceWriter.finish, "once")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problem", default="michell_centered_both_64x128_0.12")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--snapshot-every", type=int, default=None)
    args = parser.parse_args(argv)
    problem = L.problems.get(args.problem)

    def objective():
        return L.Objective(problem, L.models.build("cnn", problem, seed=0), penal=3.0)

    warm = objective()
    warm.value_and_grad(warm.theta0)
    start = time.perf_counter()
    L.run(objective(), "lbfgs", steps=args.steps, progress=False)
    without = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        writer = TimedWriter(Path(tmp) / "bench.h5", snapshot_every=args.snapshot_every)
        start = time.perf_counter()
        traced = L.run(objective(), "lbfgs", steps=args.steps, trace=writer, progress=False)
        with_trace = time.perf_counter() - start
        size = (Path(tmp) / "bench.h5").stat().st_size
    per_step = with_trace / traced.steps
    print(f"{args.problem}, cnn, lbfgs, {traced.steps} steps, {traced.evaluations} evaluations, "
          f"snapshot_every={args.snapshot_every}")
    print(f"step time {1e3 * per_step:.1f} ms; writer {1e3 * writer.seconds / traced.steps:.2f} ms per step "
          f"= {100 * writer.seconds / with_trace:.2f} % of the run (goal <= 2 %)")
    print(f"once per run: creating the file and writing the final state (designs included) "
          f"{writer.once:.2f} s")
    print(f"run without trace {without:.2f} s, with trace {with_trace:.2f} s "
          f"(difference {100 * (with_trace - without) / without:+.1f} %, two runs: noisy); file {size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
