"""Speed of the default configuration: float32 networks, the thread policy, and Hoyer et al.'s code as reference.

Three parts, every ratio measured within this one invocation (these machines are noisy):

1. precision   ``bench_graph.py`` for pixel, cnn, cnn_transpose, mlp at 32x64, 128x128,
               256x256 in both precisions (value+grad, HVP, 32-vector block HVP per
               vector; 8 vectors at 256x256, where 32 exceed 24 GB), with the thread policy;
               ratios mixed / float64, hvp / vg, blk / hvp.
2. threads     value+grad and HVP (mixed precision) with 1 and with 2 threads (torch's and
               OpenBLAS's defaults on this machine), on an idle machine and under a
               competing load (one busy process per core); the policy's time against the
               best of the two.
3. L-BFGS      SciPy's L-BFGS-B with 300 evaluations on problem A, p = 3 (the thesis's
               setting), cnn and cnn_transpose, both precisions, idle and loaded.

Hoyer et al.'s numbers (neural-structural-optimization, Autograd physics, TensorFlow CNN in
float32) were measured on this kind of 2-core machine with 1 thread and are printed beside
ours as the reference they are; they are not re-measured here.

    python benchmarks/bench_speed.py            # about 25 minutes
    python benchmarks/bench_speed.py --quick    # 32x64 and 128x128 only, block of 8, about 8 minutes
"""
from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

# measured with Hoyer et al.'s code on this kind of machine, 1 thread (issue 13)
HOYER = {("pixel", "32x64", "vg"): 18.7, ("pixel", "128x128", "vg"): 263.0, ("pixel", "256x256", "vg"): 967.0,
         ("cnn", "128x128", "vg"): 219.0}
HOYER_LBFGS_A = 39.7   # s, CNN L-BFGS on problem A, p = 3, 300 evaluations, 1 thread


def _spin():
    while True:
        pass


@contextlib.contextmanager
def competing_load(active: bool):
    """One busy process per core while the block runs (nothing when ``active`` is False)."""
    procs = []
    if active:
        procs = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(os.cpu_count() or 2)]
        for p in procs:
            p.start()
        time.sleep(0.5)
    try:
        yield
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.join()


def graph_rows(args: list[str]) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rows.json"
        subprocess.run([sys.executable, str(HERE / "bench_graph.py"), *args, "--json", str(out)], check=True)
        return json.loads(out.read_text())


def lbfgs_seconds(model: str, precision: str, threads: int, evaluations: int,
                  optimizer: str = "scipy_lbfgsb") -> tuple[float, float, int]:
    """(wall seconds, final loss, evaluations) of an L-BFGS run on problem A, p = 3, in a fresh process.

    ``threads=0`` leaves torch's and OpenBLAS's own defaults (one thread per core).
    """
    build = (f"L.optim.build('scipy_lbfgsb', maxfun={evaluations})" if optimizer == "scipy_lbfgsb"
             else "L.optim.build('lbfgs')")
    code = "\n".join([
        "import sys, time, json",
        f"sys.path.insert(0, {str(ROOT)!r})",
        "import landscape as L",
        "problem = L.problems.get('A')",
        f"objective = L.Objective(problem, L.models.build({model!r}, problem, seed=0, precision={precision!r}), "
        "penal=3.0)",
        f"threads = {threads} or L.threads.current()",
        "start = time.perf_counter()",
        f"r = L.run(objective, {build}, steps={evaluations}, max_evaluations={evaluations}, progress=False, "
        "threads=threads)",
        "print(json.dumps([time.perf_counter() - start, r.final_loss, r.evaluations]))"])
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    seconds, final, evaluations = json.loads(out.stdout.strip().splitlines()[-1])
    return seconds, final, evaluations


def part_precision(quick: bool):
    common = ["--models", "pixel,cnn,cnn_transpose,mlp", "--precisions", "mixed,float64", "--repeat", "3",
              "--no-memory"]
    rows = graph_rows(common + ["--sizes", "32x64,128x128", "--block", "8" if quick else "32"])
    if not quick:   # a 32-vector block of the 4 M-parameter CNN at 256x256 needs more than 24 GB: 8 vectors
        rows += graph_rows(common + ["--sizes", "256x256", "--block", "8"])
    by = {(r["kind"], r["size"], r["precision"]): r for r in rows}
    print("\n1. Precision (thread policy: 1 torch + 1 BLAS thread, idle machine); times in ms")
    print(f"{'model':<14}{'size':>9}{'prec':>9}{'vg':>9}{'hvp':>9}{'blk/vec':>9} | {'vg mixed/f64':>12}"
          f"{'hvp/vg':>8}{'blk/hvp':>8} | {'Hoyer vg':>9}")
    for r in rows:
        ref = by.get((r["kind"], r["size"], "float64"))
        ratio = r["vg"] / ref["vg"] if ref and r["precision"] == "mixed" else float("nan")
        hoyer = HOYER.get((r["kind"], r["size"], "vg")) if r["kind"] == "pixel" or r["precision"] == "mixed" else None
        print(f"{r['kind']:<14}{r['size']:>9}{r['precision']:>9}{r['vg'] * 1e3:>9.1f}{r['hvp'] * 1e3:>9.1f}"
              f"{r['blk'] * 1e3:>9.1f} | {ratio:>12.2f}{r['hvp'] / r['vg']:>8.2f}{r['blk'] / r['hvp']:>8.2f} | "
              f"{(f'{hoyer:.0f}' if hoyer else ''):>9}", flush=True)
    return rows


def part_threads(quick: bool):
    sizes = "32x64,128x128" if quick else "32x64,128x128,256x256"
    common = ["--models", "pixel,cnn,cnn_transpose,mlp", "--sizes", sizes, "--precisions", "mixed",
              "--block", "0", "--repeat", "3", "--no-memory"]
    results = {}
    for loaded in (False, True):
        with competing_load(loaded):
            for threads in (1, 2):
                results[(loaded, threads)] = graph_rows(common + ["--threads", str(threads)])
    print("\n2. Threads: the policy (1 thread) against the best of {1, 2} threads; times in ms")
    print(f"{'model':<14}{'size':>9}{'load':>6}{'1 thr vg':>10}{'2 thr vg':>10}{'1 thr hvp':>10}{'2 thr hvp':>10}"
          f" | {'policy/best vg':>14}{'hvp':>6}")
    worst = 1.0
    for loaded in (False, True):
        for one, two in zip(results[(loaded, 1)], results[(loaded, 2)]):
            vg_ratio = one["vg"] / min(one["vg"], two["vg"])
            hvp_ratio = one["hvp"] / min(one["hvp"], two["hvp"])
            worst = max(worst, vg_ratio, hvp_ratio)
            print(f"{one['kind']:<14}{one['size']:>9}{'busy' if loaded else 'idle':>6}{one['vg'] * 1e3:>10.1f}"
                  f"{two['vg'] * 1e3:>10.1f}{one['hvp'] * 1e3:>10.1f}{two['hvp'] * 1e3:>10.1f} | "
                  f"{vg_ratio:>14.2f}{hvp_ratio:>6.2f}", flush=True)
    print(f"worst policy / best: {worst:.2f}")
    return results


def part_lbfgs(evaluations: int):
    print(f"\n3. L-BFGS on problem A, p = 3, {evaluations} evaluations (Hoyer's code: {HOYER_LBFGS_A} s, "
          "SciPy's L-BFGS-B, 1 thread)")
    print(f"{'optimizer':<14}{'model':<14}{'prec':>9}{'load':>6}{'threads':>9}{'seconds':>9}{'final':>10}{'evals':>7}")
    cases = [(False, "scipy_lbfgsb", "cnn", "mixed", 1), (False, "scipy_lbfgsb", "cnn", "float64", 1),
             (False, "scipy_lbfgsb", "cnn_transpose", "mixed", 1), (False, "lbfgs", "cnn", "mixed", 1),
             (False, "scipy_lbfgsb", "cnn", "mixed", 0),
             (True, "scipy_lbfgsb", "cnn", "mixed", 1), (True, "scipy_lbfgsb", "cnn", "mixed", 0)]
    rows = []
    for loaded in (False, True):
        with competing_load(loaded):
            for busy, optimizer, model, precision, threads in cases:
                if busy != loaded:
                    continue
                seconds, final, count = lbfgs_seconds(model, precision, threads, evaluations, optimizer)
                rows.append((optimizer, model, precision, loaded, threads, seconds, final, count))
                print(f"{optimizer:<14}{model:<14}{precision:>9}{'busy' if loaded else 'idle':>6}"
                      f"{'policy' if threads else 'default':>9}{seconds:>9.1f}{final:>10.3f}{count:>7}", flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--parts", default="precision,threads,lbfgs")
    args = parser.parse_args(argv)
    parts = args.parts.split(",")
    start = time.perf_counter()
    if "precision" in parts:
        part_precision(args.quick)
    if "threads" in parts:
        part_threads(args.quick)
    if "lbfgs" in parts:
        part_lbfgs(100 if args.quick else 300)
    print(f"\n{time.perf_counter() - start:.0f} s in all")


if __name__ == "__main__":
    main()
