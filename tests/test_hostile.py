"""Hostile input, second pass (issue 30): each case as a user would type it, one line and exit 2, nothing lost."""
import subprocess
import sys
import time
from pathlib import Path

import pytest

from landscape.trace import open_trace

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "landscape.cli"]
SMALL = ["run", "--problem", "mbb_beam_16x8_0.5", "--steps", "3", "--no-progress"]


def _cli(*args, cwd=None):
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd or ROOT, timeout=300)


def _one_line_error(done, *fragments):
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("landscape: error:"), done.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_overwrite_never_replaces_a_trace_whose_writer_is_running(tmp_path):
    path = tmp_path / "same.h5"
    first = subprocess.Popen([*CLI, "run", "--problem", "A", "--steps", "100000", "--no-progress", "-o", str(path)],
                             cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with open_trace(path) as trace:
                    if trace.num_steps >= 2:
                        break
            except Exception:   # noqa: BLE001 - the file may be mid-creation
                pass
            time.sleep(0.05)
        _one_line_error(_cli(*SMALL, "-o", str(path), "--overwrite"), "being written by a running process")
        with open_trace(path) as trace:
            assert trace.status == "running" and trace.config["steps"] == 100000
    finally:
        first.kill()
        first.wait()
    done = _cli(*SMALL, "-o", str(path), "--overwrite")          # a crashed trace may be replaced
    assert done.returncode == 0, done.stderr


def test_a_picture_never_replaces_its_trace(tmp_path):
    trace = tmp_path / "t.h5"
    assert _cli(*SMALL, "-o", str(trace)).returncode == 0
    before = trace.read_bytes()
    _one_line_error(_cli("plot", str(trace), "loss", "-o", str(trace)), "is an input")
    _one_line_error(_cli("compare", str(trace), "-o", str(tmp_path / "." / "t.h5")), "is an input")
    (tmp_path / "link.png").symlink_to(trace)
    _one_line_error(_cli("plot", str(trace), "loss", "-o", str(tmp_path / "link.png")), "is an input")
    assert trace.read_bytes() == before


@pytest.mark.parametrize("args, fragment", [
    (["--seed", "1180591620717411303424"], "does not fit a 64-bit integer"),
    (["--optimizer", "gd", "--option", "lr=true"], "lr must be a number"),
    (["-o", ""], "-o/--out is empty"),
    (["--threads", "100000"], "more than 4 x the"),
    (["--probe", "hutchinson:samples=-1"], "samples must be an integer >= 2"),
    (["--probe", "eigenvalues:k=0"], "k must be an integer >= 1"),
    (["--probe", "hutchinson:distribution=normal"], "distribution must be 'rademacher' or 'gaussian'"),
    (["--probe", "hessian_density:runs=0"], "runs must be an integer >= 1"),
    (["--probe", "lbfgs_density:sigma2=-1"], "sigma2 must be a finite number > 0"),
    (["--probe", "b_vs_h:grid_size=1"], "grid_size must be an integer >= 2"),
])
def test_bad_values_are_refused_before_any_trace_is_written(tmp_path, args, fragment):
    out = ["-o", str(tmp_path / "x.h5")] if "-o" not in args else []
    _one_line_error(_cli(*SMALL, *args, *out, cwd=tmp_path), fragment)
    assert not (tmp_path / "x.h5").exists() and not (tmp_path / "runs").exists()


class _HostileProbe:
    """A probe whose name and output names carry markup."""

    name = "<!--<script>"

    def due(self, step, last):
        return True

    def outputs(self, objective):
        return {"value</script>": ()}

    def __call__(self, context):
        return {"value</script>": float(context.step)}


def test_hostile_names_cannot_break_the_report_page(tmp_path):
    import re

    import landscape as L
    problem = L.problems.get("mbb_beam_16x8_0.5")
    for name in ("a", "b"):
        L.run(L.Objective(problem, L.models.build("pixel", problem)), "gd_ls", steps=2, probes=[_HostileProbe()],
              trace=L.TraceWriter(tmp_path / f"{name}.h5"), progress=False)
    page = L.report([tmp_path], tmp_path / "r.html").read_text()
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", page, flags=re.S)
    for body in scripts:
        assert "<!--" not in body and "<script" not in body.lower() and "\u2028" not in body
    assert page.count("<script") == page.count("</script>")


@pytest.mark.parametrize("field, value", [("optimizer_options", [1, 2]), ("model_options", "x"), ("threads", [1, 2]),
                                          ("probes", 5), ("penal", "three"), ("probes", [1, 2]),
                                          ("model_seed", [1, 2]), ("snapshot_every", "three"), ("filter", 5)])
def test_config_entries_of_the_wrong_type_give_one_line_and_never_stop_a_report(tmp_path, field, value):
    import json

    import h5py

    import landscape as L
    from landscape.trace import TraceError
    good, bad = tmp_path / "good.h5", tmp_path / "bad.h5"
    for path in (good, bad):
        assert _cli(*SMALL, "-o", str(path)).returncode == 0
    with h5py.File(bad, "r+") as f:
        config = json.loads(f.attrs["config"])
        config[field] = value
        f.attrs["config"] = json.dumps(config)
    with pytest.raises(TraceError, match=f"config entry '{field}'"):
        open_trace(bad)
    _one_line_error(_cli("show", str(bad)), f"config entry '{field}'")
    page = L.report([tmp_path], tmp_path / "r.html").read_text()
    assert "bad.h5" in page and "good" in page


@pytest.mark.parametrize("text, fragment", [
    ('snapshot_evry = 5\n', "unknown top-level key 'snapshot_evry' (did you mean 'snapshot_every'?)"),
    ('out = 123\n', "out: 123 is not a folder path"),
    ('probes = 5\n', "probes: 5 is not a list"),
    ('name = "../../x"\n', "must be a plain name"),
    ('[out]\nx = 1\n', "out: {'x': 1} is not a folder path"),
])
def test_bad_sweep_files_give_one_line(tmp_path, text, fragment):
    body = 'steps = 2\n[axes]\nproblem = ["mbb_beam_16x8_0.5"]\noptimizer = ["gd_ls"]\n'
    config = tmp_path / "s.toml"
    config.write_text(text + body if not text.startswith("[") else body.replace("[axes]", text + "[axes]"))
    _one_line_error(_cli("sweep", str(config), "--dry-run", cwd=tmp_path), fragment)


def test_a_sweep_file_nested_thousands_deep_gives_one_line(tmp_path):
    config = tmp_path / "deep.toml"
    config.write_text("x = " + "[" * 3000 + "]" * 3000 + "\n")
    _one_line_error(_cli("sweep", str(config), "--dry-run", cwd=tmp_path), "nested too deeply")


def test_a_sweep_never_overwrites_files_it_did_not_write(tmp_path):
    from landscape import sweep as sweeps
    config = {"name": "s", "out": str(tmp_path / "out"), "steps": 1,
              "axes": {"problem": ["mbb_beam_16x8_0.5"], "optimizer": ["gd_ls"]}}
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "index.csv").write_text("my own table\n")
    with pytest.raises(sweeps.SweepError, match="holds an index.csv that no sweep wrote"):
        sweeps.run_sweep(sweeps.expand(config), workers=1, progress=False)
    assert (tmp_path / "out" / "index.csv").read_text() == "my own table\n"
    (tmp_path / "out" / "index.csv").unlink()
    outside = tmp_path / "elsewhere.json"
    outside.write_text("{}")
    (tmp_path / "out" / "sweep.json").symlink_to(outside)
    with pytest.raises(sweeps.SweepError, match="symbolic link"):
        sweeps.run_sweep(sweeps.expand(config), workers=1, progress=False)
    assert outside.read_text() == "{}"


def test_an_exclusion_that_matches_nothing_is_named():
    from landscape import sweep as sweeps
    config = {"name": "s", "steps": 1, "axes": {"problem": ["mbb_beam_16x8_0.5"], "optimizer": ["gd_ls", "lbfgs"]},
              "exclude": [{"optimizer": "lbgfs"}]}
    with pytest.warns(UserWarning, match="matches no task"):
        sweeps.expand(config)


def test_one_problem_has_one_name():
    import landscape as L
    from landscape import sweep as sweeps
    spellings = ["mbb_beam_8x4_0.50", "mbb_beam_8x4_.5", "mbb_beam_08x4_0.5", "mbb_beam_\uff18x4_0.5",
                 "mbb_beam_8x4_0.5\n"]
    assert {L.problems.get(s).name for s in spellings} == {"mbb_beam_8x4_0.5"}
    assert L.RunSpec(problem="mbb_beam_08x4_.50").problem == "mbb_beam_8x4_0.5"
    assert L.RunSpec(problem="A").problem == "A"                                  # a thesis code stays a code
    config = {"name": "s", "steps": 1, "axes": {"problem": spellings[:3], "optimizer": ["gd_ls"]}}
    with pytest.raises(sweeps.SweepError, match="same settings"):
        sweeps.expand(config)


def test_estimators_and_batched_losses_refuse_empty_or_misshapen_requests():
    import torch

    import landscape as L
    from probes import DenseOperator, extreme_eigenpairs, slq
    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        extreme_eigenpairs(DenseOperator(torch.eye(4)), k=0)
    with pytest.raises(ValueError, match="grid_size must be an integer >= 2"):
        slq(DenseOperator(torch.eye(4)), runs=1, steps=3, grid_size=0)
    problem = L.problems.get("mbb_beam_16x8_0.5")
    objective = L.Objective(problem, L.models.build("pixel", problem))
    with pytest.raises(ValueError, match=rf"shape \(k, {objective.num_params}\).*use loss\(theta\)"):
        objective.losses(objective.theta0)


def test_a_run_that_ends_above_its_start_says_so_in_its_summary(tmp_path):
    import torch

    import landscape as L
    problem = L.problems.get("mbb_beam_16x8_0.5")
    objective = L.Objective(problem, L.models.build("pixel", problem))
    L.run(objective, L.optim.build("gd", lr=1e-3), steps=2, trace=L.TraceWriter(tmp_path / "flat.h5"),
          progress=False)
    rising = L.FunctionObjective(lambda x: (x ** 2).sum(), torch.ones(3), "bowl")
    L.run(rising, L.optim.build("gd", lr=1.5), steps=3, trace=L.TraceWriter(tmp_path / "up.h5"), progress=False)
    with L.open_trace(tmp_path / "up.h5") as trace:
        summary = trace.summary()
        assert summary["status"] == "completed" and summary["rose"] is True       # 3 ** 2 = 9 x its start
    with L.open_trace(tmp_path / "flat.h5") as trace:
        assert trace.summary()["rose"] is False
    shown = _cli("show", str(tmp_path / "up.h5"))
    assert "rose" in shown.stdout and "True" in shown.stdout


def test_a_reader_sees_a_trace_that_a_rerun_replaced(tmp_path):
    path = tmp_path / "t.h5"
    assert _cli(*SMALL, "-o", str(path)).returncode == 0
    with open_trace(path) as trace:
        assert trace.num_steps == 3
        assert _cli("run", "--problem", "mbb_beam_16x8_0.5", "--steps", "5", "--no-progress", "-o", str(path),
                    "--overwrite").returncode == 0
        assert trace.refresh().num_steps == 5


@pytest.mark.parametrize("blocks", [8, 16])
def test_a_file_size_limit_at_creation_gives_one_line_and_leaves_nothing(tmp_path, blocks):
    """`(ulimit -f 16; landscape run ...)` crashed with a segmentation fault after HDF5 tracebacks."""
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (blocks * 1024, resource.RLIM_INFINITY))

    done = subprocess.run([*CLI, "run", "--problem", "mbb_beam_32x16_0.5", "--steps", "5", "--no-progress", "-o",
                           str(tmp_path / "fsz" / "c.h5")], cwd=ROOT, capture_output=True, text=True,
                          preexec_fn=limit, timeout=300)
    _one_line_error(done, "file-size limit", "no trace was written")
    assert not any((tmp_path / "fsz").iterdir())


def test_thread_counts_beyond_any_machine_are_refused_everywhere():
    import landscape as L
    from landscape import sweep as sweeps
    with pytest.raises(ValueError, match="from 1 to 1024"):
        L.threads.policy(100000)
    config = {"name": "s", "steps": 1, "threads": 100000,
              "axes": {"problem": ["mbb_beam_16x8_0.5"], "optimizer": ["gd_ls"]}}
    with pytest.raises(sweeps.SweepError, match="threads"):
        sweeps.expand(config)


HOSTILE = "\"'><img src=x onerror=alert(1)>--><!--<script>\u2028</script>&amp;"


def _append(value, suffix):
    """Every string inside a JSON value with ``suffix`` appended."""
    if isinstance(value, str):
        return value + suffix
    if isinstance(value, list):
        return [_append(v, suffix) for v in value]
    if isinstance(value, dict):
        return {k: _append(v, suffix) for k, v in value.items()}
    return value


class _Tags:
    """Every start tag and attribute name of an HTML page, its image sources and its script elements."""

    def __init__(self, page):
        from html.parser import HTMLParser

        self.tags, self.attributes, self.scripts, self.image_sources = [], set(), [], []
        outer = self

        class Parser(HTMLParser):
            in_script = False

            def handle_starttag(self, tag, attrs):
                outer.tags.append(tag)
                outer.attributes.update(name for name, _ in attrs)
                if tag == "img":
                    outer.image_sources.append(dict(attrs).get("src", ""))
                self.in_script = tag == "script"
                if self.in_script:
                    outer.scripts.append((dict(attrs), ""))

            def handle_endtag(self, tag):
                self.in_script = False

            def handle_data(self, data):
                if self.in_script:
                    attrs, text = outer.scripts[-1]
                    outer.scripts[-1] = (attrs, text + data)

        Parser().feed(page)


def _plots_drawn(page):
    """How many Plotly plots headless Chromium draws on ``page``; None without Chromium."""
    import shutil
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        return None
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
                          "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    return dom.count('class="main-svg"')


def test_hostile_strings_in_every_trace_field_stay_text_in_the_report(tmp_path):
    """Markup in the file name, the status message, every string of the config and the versions, and the
    problem, model and optimizer names. Compared with the same two runs whose strings carry a plain
    suffix instead: the page has exactly the same elements and attributes, the same code, only data
    images, every embedded JSON parses, and Chromium draws the same plots."""
    import json
    import shutil

    import h5py
    import numpy as np

    import landscape as L
    made = tmp_path / "made.h5"
    assert _cli(*SMALL, "-o", str(made)).returncode == 0
    pages = {}
    for kind, suffix in (("plain", "_plain_suffix"), ("hostile", HOSTILE)):
        folder = tmp_path / kind
        folder.mkdir()
        shutil.copy(made, folder / "other.h5")             # two runs: the table and sorting scripts run too
        marked = folder / ("run" + suffix.replace("/", "") + ".h5")
        shutil.copy(made, marked)
        with h5py.File(marked, "r+") as f:
            for key in ("config", "versions"):
                f.attrs[key] = json.dumps(_append(json.loads(f.attrs[key]), suffix))
            for key in ("problem", "model", "optimizer"):
                f.attrs[key] = str(f.attrs[key]) + suffix
            message = f["message"][()].decode() + suffix
            del f["message"]
            f["message"] = np.bytes_(message.encode())
        pages[kind] = L.report([folder], tmp_path / f"{kind}.html")
    plain, hostile = (_Tags(pages[kind].read_text()) for kind in ("plain", "hostile"))
    assert "onerror=alert(1)" in pages["hostile"].read_text().replace("&#34;", "")   # the strings did get in
    assert hostile.tags == plain.tags and hostile.attributes == plain.attributes
    assert not any(name.startswith("on") for name in hostile.attributes)
    assert all(src.startswith("data:image/png;base64,") for src in hostile.image_sources)
    assert [t for a, t in hostile.scripts if a.get("type") != "application/json"] == \
           [t for a, t in plain.scripts if a.get("type") != "application/json"]
    for attrs, text in hostile.scripts:
        if attrs.get("type") == "application/json":
            json.loads(text)
    drawn = _plots_drawn(pages["plain"])
    if drawn is not None:    # the page's scripts run and draw every plot
        assert drawn > 0 and _plots_drawn(pages["hostile"]) == drawn


def test_a_run_that_climbs_without_diverging_is_flagged_rose(tmp_path):
    """CNN GD at too large a step: it climbs (under the 1e3 x of divergence) and stalls with a zero gradient. It
    ends `completed`, and the CLI, the result and the trace summary all say it rose. In the deterministic mode:
    such a climb is chaotic, and with the CPU's own kernels another CPU takes another path (here: divergence)."""
    import os
    path = tmp_path / "up.h5"
    done = subprocess.run([*CLI, "run", "--problem", "mbb_beam_16x8_0.5", "--model", "cnn", "--optimizer", "gd",
                           "--option", "lr=1", "--steps", "20", "--no-progress", "-o", str(path)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env={**os.environ, "LANDSCAPE_DETERMINISTIC": "1"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("completed") and "flag it as 'rose'" in done.stdout, done.stdout
    with open_trace(path) as trace:
        summary = trace.summary()
    assert summary["status"] == "completed" and summary["rose"] and summary["final_loss"] > summary["initial_loss"]
