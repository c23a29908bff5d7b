"""`landscape report`: content built from real traces and a real sweep folder, bad input, and a real browser."""
import json
import re
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

import landscape as L
from landscape import sweep as sweeps
from landscape.reports import ReportError, report
from landscape.reports.figures import decimate, numbers, probe_figures
from landscape.spec import RunSpec
from landscape.trace import TraceWriter

ROOT = Path(__file__).resolve().parent.parent
PROBLEM = "michell_centered_both_16x32_0.12"
CNN_PROBES = ["hutchinson", "eigenvalues", "hessian_density", "trajectory", "ntk"]


def _run(spec: RunSpec, path: Path) -> Path:
    L.run_spec(spec, trace=TraceWriter(path, spec=spec, snapshot_every=spec.snapshot_every), progress=False)
    return path


@pytest.fixture(scope="module")
def traces(tmp_path_factory):
    """A pixel run with snapshots, a CNN run with curvature and trajectory probes, a sweep folder of four
    tasks of which one fails, a foreign HDF5 file and a truncated trace."""
    root = tmp_path_factory.mktemp("report")
    pixel = _run(RunSpec(problem=PROBLEM, model="pixel", model_options={"init": "random"}, optimizer="lbfgs",
                         steps=12, snapshot_every=3), root / "pixel.h5")
    cnn = _run(RunSpec(problem=PROBLEM, model="cnn_transpose", precision="float64", optimizer="lbfgs", steps=4,
                       probes=[{"name": "hutchinson", "samples": 4, "every": 2},
                               {"name": "eigenvalues", "k": 2, "steps": 8, "every": 2},
                               {"name": "hessian_density", "runs": 1, "steps": 8, "grid_size": 60},
                               {"name": "trajectory"}, {"name": "ntk", "k": 2, "steps": 4}]), root / "cnn.h5")
    config = {"name": "report-test", "out": str(root / "sweep"), "steps": 6,
              "axes": {"problem": [PROBLEM], "model": ["pixel", "cnn"], "penal": [3],
                       "optimizer": ["gd_ls", "oc"], "seed": [0]}}
    plan = sweeps.expand(config)
    plan.out.mkdir(parents=True)
    (plan.out / "sweep.json").write_text(json.dumps(plan.raw, default=str))
    rows = {task.name: sweeps.run_task(task) for task in plan.tasks}       # the tasks a sweep's workers run
    sweeps._write_index(plan, rows)
    foreign = root / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = np.arange(3)
    truncated = root / "truncated.h5"
    truncated.write_bytes(pixel.read_bytes()[:3000])
    return {"root": root, "pixel": pixel, "cnn": cnn, "sweep": plan.out, "index": sweeps.load(plan.out),
            "foreign": foreign, "truncated": truncated}


def _blocks(html: str, kind: str) -> list:
    return [json.loads(m.replace("<\\/", "</")) for m in
            re.findall(rf'<script type="application/json" class="{kind}">(.*?)</script>', html, flags=re.S)]


def _figures(html: str) -> list[dict]:
    figures = _blocks(html, "figure")
    for run in _blocks(html, "run-data"):
        figures += run["curves"] + [f for probe in run["probes"] for f in probe["figures"]]
    return figures


def test_a_single_trace_report_shows_curves_designs_and_every_probe(traces, tmp_path):
    out = report([traces["cnn"]], tmp_path / "cnn.html", progress=False)
    html = out.read_text()
    # self-contained: no element loads anything (the browser test also records every request)
    assert not re.search(r'<(script|link|img|iframe)[^>]*\s(src|href)="(?!data:|#)', html)
    (run,) = _blocks(html, "run-data")
    assert [p["name"] for p in run["probes"]] == sorted(CNN_PROBES)
    for probe in run["probes"]:
        assert probe["figures"], probe["name"]
    titles = [f["layout"]["title"]["text"] for p in run["probes"] for f in p["figures"]]
    assert any("trace (error bars: one standard error)" in t for t in titles)       # Hutchinson with its error
    assert any(t == "hessian_density: density" for t in titles)
    assert any(t == "eigenvalues: top" for t in titles)
    (row,) = [f for p in run["probes"] for f in p["figures"] if f["data"][0]["type"] == "heatmap"]
    assert row["layout"]["title"]["text"] == "ntk: centre_row at step 4"     # the last recorded kernel row
    assert np.array(row["data"][0]["z"]).shape == (32, 16)                           # the design's shape
    assert [f["layout"]["title"]["text"] for f in run["curves"]] == ["compliance (loss)", "gradient norm |g|",
                                                                      "step size alpha", "|theta - theta0|"]
    assert run["final"] and run["best"]
    for text in ("cnn_transpose", "float64", "torch", "why it ended", "wall time"):
        assert text in html


def test_snapshots_become_a_slider_of_designs(traces, tmp_path):
    html = L.report(traces["pixel"], tmp_path / "pixel.html", progress=False).read_text()     # the top-level name
    (run,) = _blocks(html, "run-data")
    assert [s["step"] for s in run["snapshots"]] == [0, 3, 6, 9, 12]
    with L.open_trace(traces["pixel"]) as trace:
        losses = trace.frame()["loss"]
    assert [s["loss"] for s in run["snapshots"]] == [float(f"{losses[s]:.6g}") for s in (0, 3, 6, 9, 12)]
    html = report(traces["pixel"], tmp_path / "two.html", max_snapshots=2, progress=False).read_text()
    assert [s["step"] for s in _blocks(html, "run-data")[0]["snapshots"]] == [0, 12]


def test_every_figure_is_valid_plotly(traces, tmp_path):
    go = pytest.importorskip("plotly.graph_objects")
    html = report([traces["cnn"], traces["sweep"]], tmp_path / "all.html", progress=False).read_text()
    figures = _figures(html)
    assert len(figures) > 20
    for figure in figures:
        go.Figure(figure)          # raises on any attribute Plotly does not know


def test_a_sweep_report_lists_every_run_the_failed_one_and_unreadable_files(traces, tmp_path):
    index = traces["index"]
    failed = index[index["status"] == "failed"]
    assert len(index) == 4 and len(failed) == 1 and failed["optimizer"].item() == "oc"
    out = report([traces["sweep"], traces["foreign"], traces["truncated"]], tmp_path / "sweep.html",
                 progress=False)
    html = out.read_text()
    table = html.split('id="run-table"')[1].split("</table>")[0]
    for name in index["name"]:
        assert f">{name}</a>" in table
    assert "foreign.h5" in table and "truncated.h5" in table
    problems = html.split('id="problems"')[1].split("</section>")[0]
    assert failed["name"].item() in problems and "pixel densities only" in problems
    assert "not a landscape trace" in problems and "cannot be opened as HDF5" in problems
    assert problems.count('class="status s-unreadable"') == 2
    medians = _blocks(html, "figure")
    assert [m["layout"]["title"]["text"] for m in medians] == \
        [f"{PROBLEM} \u00b7 {m} \u00b7 p=3 (sweep)" for m in ("cnn", "pixel")]
    best = html.split('id="best"')[1].split("</section>")[0]
    assert best.count("<figure") == 4 and best.count("data:image/png;base64,") == 3    # oc on the CNN: no design


def test_a_folder_of_traces_and_a_trace_being_written(tmp_path):
    spec = RunSpec(problem=PROBLEM, model="pixel", optimizer="gd_ls", steps=50)
    objective = spec.build_objective()
    theta = objective.theta0
    with L.Recorder(tmp_path / "live" / "running.h5", objective, spec=spec, snapshot_every=1) as recorder:
        for step in range(3):
            loss, grad = objective.value_and_grad(theta)
            recorder.observe(step, theta, float(loss), grad)
            theta = theta - 1e-3 * grad
        html = report(tmp_path / "live", tmp_path / "live.html", progress=False).read_text()
    assert 'id="swmr-note"' in html and "still being written" in html
    (run,) = _blocks(html, "run-data")
    assert run["curves"] and [s["step"] for s in run["snapshots"]] == [0, 1, 2] and run["final"] is None


def test_curves_are_downsampled_keeping_extremes_and_non_finite_values_become_null():
    y = np.exp(-np.linspace(0, 5, 5000))
    y[1234] = 1e9
    keep = decimate(y, 200)
    assert len(keep) <= 202 and keep[0] == 0 and keep[-1] == 4999 and 1234 in keep and np.argmin(y) in keep
    assert numbers([1.0, np.nan, np.inf, 1 / 3]) == [1.0, None, None, 0.333333]
    assert numbers(np.arange(3)) == [0, 1, 2]
    figures, skipped = probe_figures("x", {"step": np.array([0, 5]), "grid": np.zeros((2, 4)),
                                           "density": np.full((2, 4), np.nan), "nodes": np.zeros((2, 1, 3))})
    assert figures == [] and skipped == ["nodes"]          # all-NaN densities draw nothing, say what is left
    figures, skipped = probe_figures("t", {"step": np.array([0, 1]), "distance": np.array([0.0, 1.0]),
                                           "star_convexity": np.full(2, np.nan), "bottom": np.array([[-3.0], [2e3]])})
    assert skipped == ["star_convexity (never finite)"]
    assert [f["layout"]["yaxis"].get("type") for f in figures] == [None, None]      # negative values: linear


def test_bad_input_is_one_line_and_never_touches_a_trace(traces, tmp_path):
    before = traces["pixel"].read_bytes()
    cases = [
        ([str(traces["pixel"]), "-o", str(traces["pixel"])], "should end in .html"),
        ([str(traces["pixel"]), "-o", "/proc/report.html"], "cannot write the report to /proc/report.html"),
        ([str(tmp_path / "nope.h5"), "-o", str(tmp_path / "r.html")], "no such trace or folder"),
        ([str(tmp_path), "-o", str(tmp_path / "r.html")], "holds no traces"),
        ([str(traces["pixel"]), "-o", str(tmp_path / "r.html"), "--max-points", "0"], "not a positive integer"),
    ]
    for argv, message in cases:
        done = subprocess.run([sys.executable, "-m", "landscape.cli", "report", *argv], capture_output=True,
                              text=True, cwd=ROOT)
        assert done.returncode == 2, (argv, done.stderr)
        assert done.stderr.count("\n") == 1 and message in done.stderr, (argv, done.stderr)
    assert traces["pixel"].read_bytes() == before
    disguised = tmp_path / "trace.html"               # a trace under an .html name is still never overwritten
    disguised.write_bytes(before)
    with pytest.raises(ReportError, match="is one of the traces being reported"):
        report(disguised, disguised, progress=False)
    assert disguised.read_bytes() == before
    folder = tmp_path / "as_folder"
    folder.mkdir()
    assert report(traces["pixel"], folder, progress=False) == folder / "index.html"


def test_cli_report_prints_the_path(traces, tmp_path):
    done = subprocess.run([sys.executable, "-m", "landscape.cli", "report", str(traces["sweep"]), "-o",
                           str(tmp_path / "r.html"), "--no-progress"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"report: {tmp_path / 'r.html'} (") and (tmp_path / "r.html").exists()


# -- in a real browser ------------------------------------------------------------------------------
def _browser_or_skip():
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    from landscape.reports.browser import find_chromium
    if find_chromium() is None:
        pytest.skip("no Chromium on this machine (apt-get install chromium, or set LANDSCAPE_CHROMIUM)")


def test_the_page_works_in_headless_chromium(traces, tmp_path):
    _browser_or_skip()
    from landscape.reports.browser import browser_page
    out = report([traces["sweep"], traces["cnn"], traces["foreign"]], tmp_path / "page.html", progress=False)
    with browser_page(out) as (page, errors):
        # the median plots rendered (sweep: cnn, pixel; cnn_transpose)
        assert page.locator("#medians .js-plotly-plot").count() == 3
        assert page.requests == [out.resolve().as_uri()]                 # nothing else fetched
        rows = page.locator("#run-table tbody tr")
        assert rows.count() == 6
        header = page.locator("#run-table th", has_text="best loss")
        header.click()
        values = [page.locator("#run-table tbody tr").nth(i).locator("td").nth(8).get_attribute("data-value")
                  for i in range(6)]
        numbers_ = [float(v) for v in values if v not in ("-", "")]
        assert numbers_ == sorted(numbers_) and len(numbers_) == 4
        assert values[-2:] == ["-", "-"]                                   # runs without a loss last
        header.click()
        descending = [page.locator("#run-table tbody tr").nth(i).locator("td").nth(8).get_attribute("data-value")
                      for i in range(4)]
        assert [float(v) for v in descending] == sorted(numbers_, reverse=True)
        page.fill("#filter", "gd_ls")
        assert page.locator("#run-table tbody tr:visible").count() == 2
        page.select_option("#status-filter", "unreadable")
        page.fill("#filter", "")
        assert page.locator("#run-table tbody tr:visible").count() == 1
        page.screenshot(path=str(tmp_path / "overview.png"))
        anchor = page.locator("#run-table a.run-link", has_text=re.compile("^cnn$")).get_attribute("href")
        page.evaluate(f"location.hash = '{anchor}'")
        page.wait_for_selector(f"{anchor} .probes .main-svg")
        assert page.locator(f"{anchor} .curves .js-plotly-plot").count() == 4
        assert page.locator(f"{anchor} .probe").count() == len(CNN_PROBES)
        page.screenshot(path=str(tmp_path / "run.png"))
        assert errors == []
    assert (tmp_path / "overview.png").stat().st_size > 10_000


def test_a_moved_sweep_folder_finds_its_traces_by_name(traces, tmp_path):
    import shutil
    moved = tmp_path / "moved"
    shutil.copytree(traces["sweep"], moved)
    index = sweeps.load(moved)
    index["trace"] = ["/elsewhere/traces/" + Path(p).name for p in index["trace"]]   # as written on another machine
    index.to_csv(moved / "index.csv", index=False)
    html = report(moved, tmp_path / "moved.html", progress=False).read_text()
    runs = _blocks(html, "run-data")
    assert len(runs) == 4 and sum(bool(r["curves"]) for r in runs) == 3     # the failed task has no trace
    assert str(traces["sweep"]) not in html and str(moved / "traces") in html


def test_densities_share_one_log_scale_in_the_report_and_the_png_plots():
    from landscape.plots import density_scale
    floor, (low, high) = density_scale(np.array([0.0, 2.0, np.nan]), np.array([[5.0, 1e-30]]))
    assert (floor, low, high) == pytest.approx((5e-12, 5e-10, 15.0))
    assert density_scale(np.full(3, np.nan)) == (1e-12, (1e-10, 3.0))     # nothing finite: a unit peak
    figures, _ = probe_figures("hessian_density", {
        "step": np.array([0, 1]), "grid": np.tile(np.linspace(-1, 1, 4), (2, 1)),
        "density": np.array([[0.0, 1.0, 4.0, 0.0], [0.0, 2.0, 0.0, 0.0]])}, None)
    line = figures[0]["data"][0]["y"]
    assert min(line) == pytest.approx(4e-12)                                 # zeros drawn at the floor
    assert figures[0]["layout"]["yaxis"]["range"] == pytest.approx([np.log10(4e-10), np.log10(12.0)])
