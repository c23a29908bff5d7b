"""Size and build time of ``landscape report`` for whole sweeps, against the goals (under a minute and
about 30 MB for a 300-run sweep on 2 cores), as ratios measured in this run.

    python benchmarks/bench_report.py                       # runs/matrix and runs/matrix_quick if present
    python benchmarks/bench_report.py runs/my_sweep other/  # any sweep folders or traces

For each input set: the runs, seconds to build (reading every trace, making every figure, writing
the page), seconds per run, megabytes, bytes per run, and the build time and size scaled to 300
runs as fractions of the goals. ``--browser`` also opens the page in headless Chromium and times
its load (needs Playwright and a system Chromium).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL_SECONDS, GOAL_MB, GOAL_RUNS = 60.0, 30.0, 300


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="*", help="sweep folders or traces (default: runs/matrix, runs/matrix_quick)")
    parser.add_argument("--browser", action="store_true", help="also time the page's load in headless Chromium")
    args = parser.parse_args(argv)
    from landscape.reports import find_runs, report
    paths = args.paths or [str(p) for p in (ROOT / "runs" / "matrix", ROOT / "runs" / "matrix_quick") if p.exists()]
    if not paths:
        parser.error("no sweep folders: pass some, or run `make run` first (runs/matrix_quick)")
    runs = len(find_runs(paths))
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "report.html"
        start = time.perf_counter()
        report(paths, out, progress=False)
        seconds = time.perf_counter() - start
        size = out.stat().st_size / 2**20
        print(f"{runs} runs from {', '.join(paths)}")
        print(f"build {seconds:.1f} s ({1000 * seconds / runs:.0f} ms per run), {size:.1f} MB "
              f"({out.stat().st_size / runs / 1024:.0f} KiB per run)")
        scaled_s, scaled_mb = seconds * GOAL_RUNS / runs, size * GOAL_RUNS / runs
        print(f"scaled to {GOAL_RUNS} runs: {scaled_s:.1f} s = {scaled_s / GOAL_SECONDS:.2f} of the "
              f"{GOAL_SECONDS:.0f} s goal, {scaled_mb:.1f} MB = {scaled_mb / GOAL_MB:.2f} of the {GOAL_MB:.0f} MB goal")
        if args.browser:
            from landscape.reports.browser import browser_page
            start = time.perf_counter()
            with browser_page(out) as (page, errors):
                page.wait_for_selector("#medians .js-plotly-plot")
                loaded = time.perf_counter() - start
            print(f"Chromium: page loaded and median plots drawn in {loaded:.1f} s; console errors: {len(errors)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
