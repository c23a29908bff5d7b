"""The README's screenshots of ``landscape report``: a sweep report and a single-trace report.

    python studies/report_screenshots.py          # about 3 minutes on 2 cores (the probed run)

1. The sweep: the full Table 3.3 matrix (``runs/matrix``, from ``table_3_3_decomposition.py``)
   if it is here, else the quick one (``runs/matrix_quick``, from ``make run``).
2. One trace with probes: L-BFGS on the CNN (``cnn_transpose``), problem A, 60 steps, with
   Hutchinson, Lanczos eigenvalues, the SLQ Hessian density, the trajectory metrics and a
   snapshot every 5 steps (made here once, then reused).

Each report is opened in headless Chromium and photographed (``landscape.reports.browser``);
JavaScript errors fail the script. Writes ``figures/report_sweep.png``, ``figures/report_run.png``
and the two reports under ``runs/report_screenshots/``.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "runs" / "report_screenshots"
PROBED = ["--problem", "A", "--model", "cnn_transpose", "--optimizer", "lbfgs", "--steps", "60",
          "--probe", "hutchinson:every=20", "--probe", "eigenvalues:k=3,every=20",
          "--probe", "hessian_density:at=[0,60]", "--probe", "trajectory", "--snapshot-every", "5"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sweep", help="sweep folder to show (default: runs/matrix, else runs/matrix_quick)")
    args = parser.parse_args(argv)
    from landscape.reports import report
    from landscape.reports.browser import browser_page

    sweep = Path(args.sweep) if args.sweep else next(
        (p for p in (ROOT / "runs" / "matrix", ROOT / "runs" / "matrix_quick") if (p / "index.csv").exists()), None)
    if sweep is None:
        parser.error("no sweep folder: run `make run` (runs/matrix_quick) first, or pass --sweep")
    trace = OUT / "A_cnn_transpose_lbfgs_probed.h5"
    if not trace.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "landscape.cli", "run", *PROBED, "-o", str(trace)], check=True, cwd=ROOT)

    sweep_html = report(sweep, OUT / "sweep.html", title=f"Sweep report: {sweep.name}")
    run_html = report(trace, OUT / "run.html")
    figures = ROOT / "figures"
    with browser_page(sweep_html, width=1500, height=1500) as (page, errors):
        page.locator("#run-table th", has_text="best loss").click()       # sorted, as a reader would
        page.evaluate("window.scrollTo(0, 0); document.querySelector('.table-wrap').scrollLeft = 0")
        page.wait_for_timeout(500)
        page.screenshot(path=str(figures / "report_sweep.png"))
        if errors:
            raise SystemExit(f"JavaScript errors in {sweep_html}: {errors}")
    with browser_page(run_html, width=1400, height=2300) as (page, errors):
        page.wait_for_selector(".probes .js-plotly-plot")
        page.fill("input[type=range]", "4")
        page.wait_for_timeout(500)
        page.screenshot(path=str(figures / "report_run.png"))
        if errors:
            raise SystemExit(f"JavaScript errors in {run_html}: {errors}")
    print(f"{figures / 'report_sweep.png'}\n{figures / 'report_run.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
