"""Speed and memory of the graph: value-and-gradient, Hessian-vector products, factorization.

For each model and grid size it prints (medians over --repeat runs, all in one process):

  vg       value_and_grad at a new theta (includes one numeric factorization)
  hvp      one Hessian-vector product at a fixed theta (factorization cached)
  blk/vec  per-vector time of a --block-vector block HVP at the same theta
  fact     one CHOLMOD (or SciPy) numeric factorization alone
  solve    one solve with that factorization
  mem vg / mem hvp   peak resident-memory increase during the call

and the ratios the graph issue sets as goals, measured in the same run:

  vg / (fact + 2 solve)  <= 1.3  (pixel)      hvp / vg  <= 2.5
  blk/vec / hvp          <= 0.35              mem hvp / mem vg <= 3

Usage:  python benchmarks/bench_graph.py [--models pixel,cnn] [--sizes 32x64,64x128,128x128,256x256]
                                        [--precisions mixed,float64] [--threads N] [--json out.json]

``--threads`` sets torch's and the BLAS thread counts for the whole process
(default: the thread policy of ``landscape.threads``, one thread); ``--threads 0``
leaves torch's and OpenBLAS's own defaults (one thread per core).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time

# Peak memory is read from the resident set size. glibc keeps freed large
# blocks for reuse, which hides peaks; with a low mmap threshold every large
# tensor is mapped and unmapped, so RSS follows live memory. Must be set before
# the process starts, hence the re-exec.
if os.environ.get("MALLOC_MMAP_THRESHOLD_") is None and __name__ == "__main__":
    os.execve(sys.executable, [sys.executable] + sys.argv,
              dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536"))

import torch

import landscape as L
from landscape.physics import backend, fe_system, young_modulus

SIZES = {
    "32x64": "michell_centered_both_32x64_0.12",
    "64x128": "michell_centered_both_64x128_0.12",
    "128x128": "causeway_bridge_middle_128x128_0.1",
    "256x256": "causeway_bridge_middle_256x256_0.08",
}


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def peak_memory(fn):
    """(result, peak RSS increase in bytes) of ``fn()``, sampled every millisecond."""
    base, peak, done = _rss(), [0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _rss())
            time.sleep(0.001)

    thread = threading.Thread(target=sample)
    thread.start()
    try:
        out = fn()
    finally:
        done.set()
        thread.join()
    return out, max(peak[0], _rss()) - base


def timed(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench(kind, size, repeat, block, precision="mixed", memory=True):
    problem = L.problems.get(SIZES[size])
    objective = L.Objective(problem, L.models.build(kind, problem, seed=0, precision=precision), penal=3.0)
    gen = torch.Generator().manual_seed(0)
    noise = lambda: 0.01 * torch.randn(objective.num_params, dtype=torch.float64, generator=gen)  # noqa: E731
    theta = objective.theta0 + noise()
    objective.value_and_grad(theta)                        # warm-up
    points = [objective.theta0 + noise() for _ in range(repeat + 1)]   # new densities, drawn outside the clock
    vg = timed(lambda: objective.value_and_grad(points.pop()), repeat)
    mem_vg = peak_memory(lambda: objective.value_and_grad(points.pop()))[1] if memory else 0

    objective.loss(theta)                                  # factorization of theta cached
    v = torch.randn(objective.num_params, dtype=torch.float64, generator=gen)
    objective.hvp(theta, v)
    hvp = timed(lambda: objective.hvp(theta, v), repeat)
    mem_hvp = peak_memory(lambda: objective.hvp(theta, v))[1] if memory else 0
    if block:
        V = torch.randn(objective.num_params, block, dtype=torch.float64, generator=gen)
        blk = timed(lambda: objective.hvp(theta, V), max(1, repeat // 2)) / block
    else:
        blk = float("nan")

    system = fe_system(problem)
    moduli = young_modulus(objective.design(theta), 3.0).reshape(-1)
    from landscape.physics.solve import _Factorization
    fact = timed(lambda: _Factorization(system, moduli.numpy()), repeat)
    factor = _Factorization(system, moduli.numpy())
    rhs = system.forces.numpy()
    solve = timed(lambda: factor.solve(rhs), repeat)
    return dict(kind=kind, size=size, precision=objective.precision, params=objective.num_params, vg=vg, hvp=hvp,
                blk=blk, fact=fact, solve=solve, mem_vg=mem_vg, mem_hvp=mem_hvp)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="pixel,cnn")
    parser.add_argument("--sizes", default=",".join(SIZES))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--block", type=int, default=32, help="block size (0: no block HVP)")
    parser.add_argument("--precisions", default="mixed", help="comma-separated: mixed, float64")
    parser.add_argument("--threads", type=int, default=None, help="0: torch's and OpenBLAS's own defaults")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory samples")
    parser.add_argument("--json", help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    if args.threads != 0:
        from landscape import threads
        threads.apply(args.threads)
    sizes = args.sizes.split(",")
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        parser.error(f"unknown size(s) {unknown}; accepted: {', '.join(SIZES)}")
    from threadpoolctl import threadpool_info
    blas = max((i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"), default=1)
    print(f"solver: {backend()}, torch {torch.__version__}, torch threads {torch.get_num_threads()}, "
          f"BLAS threads {blas}")
    head = (f"{'model':<14}{'prec':>8}{'size':>9}{'params':>10}{'vg ms':>9}{'hvp ms':>9}{'blk/vec':>9}{'fact ms':>9}"
            f"{'solve':>7}{'memvg MB':>10}{'memhvp':>8} | {'vg/(f+2s)':>9}{'hvp/vg':>7}{'blk/hvp':>8}"
            f"{'mem':>6}")
    print(head)
    rows = []
    cases = [(kind, size, precision) for kind in args.models.split(",") for size in sizes
             for precision in (("float64",) if kind == "pixel" else args.precisions.split(","))]
    for kind, size, precision in cases:
        r = bench(kind, size, args.repeat, args.block, precision, memory=not args.no_memory)
        rows.append(r)
        ms = lambda t: t * 1e3  # noqa: E731
        print(f"{kind:<14}{r['precision']:>8}{size:>9}{r['params']:>10}{ms(r['vg']):>9.1f}{ms(r['hvp']):>9.1f}"
              f"{ms(r['blk']):>9.1f}{ms(r['fact']):>9.1f}{ms(r['solve']):>7.1f}"
              f"{r['mem_vg'] / 2**20:>10.1f}{r['mem_hvp'] / 2**20:>8.1f} | "
              f"{r['vg'] / (r['fact'] + 2 * r['solve']):>9.2f}{r['hvp'] / r['vg']:>7.2f}"
              f"{r['blk'] / r['hvp']:>8.2f}{r['mem_hvp'] / max(r['mem_vg'], 1):>6.1f}", flush=True)
    if args.json:
        import json
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
