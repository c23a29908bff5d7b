"""Traces: round trip, crash safety under SIGKILL, clean interruption, live reading, the CLI's errors."""
import hashlib
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from conftest import tiny_beam

import landscape as L
from landscape.trace import TraceError, TraceWriter, open_trace

ROOT = Path(__file__).resolve().parent.parent

CLI = [sys.executable, "-m", "landscape.cli"]


class NormProbe:
    """A recordable probe for the tests: |theta| and a small vector."""

    name = "norms"

    def __init__(self, every=2):
        self.every = every

    def due(self, step, last):
        return step % self.every == 0 or last

    def outputs(self, objective):
        return {"theta_norm": (), "pair": (2,)}

    def config(self):
        return {"name": self.name, "every": self.every}

    def __call__(self, context):
        return {"theta_norm": float(context.theta.norm()),
                "pair": np.array([context.loss, float(context.grad.norm())])}


def test_round_trip_of_every_field(tmp_path):
    problem = tiny_beam(width=12, height=6)
    objective = L.Objective(problem, L.models.build("pixel", problem), penal=3.0)
    path = tmp_path / "run.h5"
    result = L.run(objective, "lbfgs", steps=9, seed=3, probes=[NormProbe()], progress=False,
                   trace=TraceWriter(path, snapshot_every=4))
    with open_trace(path) as trace:
        assert trace.status == "completed" and trace.end_time
        config = trace.config
        assert config["optimizer"] == "lbfgs" and config["optimizer_options"]["m"] == 10
        assert config["model"] == "pixel" and config["penal"] == 3.0 and config["seed"] == 3
        assert config["steps"] == 9 and config["probes"] == [{"name": "norms", "every": 2}]
        assert trace.versions["torch"] == torch.__version__
        table = result.history.table()
        for column, values in table.items():
            np.testing.assert_array_equal(trace.steps()[column], values)
        assert list(trace.frame().index) == list(range(10))
        dataset = trace.to_xarray()
        np.testing.assert_array_equal(dataset["loss"].values, table["loss"])
        assert list(dataset["step"].values) == list(range(10))
        evaluations = result.history.evaluation_table()
        np.testing.assert_array_equal(trace.evaluations()["loss"].to_numpy(), evaluations["loss"])
        np.testing.assert_array_equal(trace.evaluations()["alpha"].to_numpy(), evaluations["alpha"])
        probe = trace.probe("norms")
        assert list(probe["step"]) == [s for s, _ in result.probes["norms"]] == [0, 2, 4, 6, 8, 9]
        np.testing.assert_array_equal(probe["theta_norm"], [o["theta_norm"] for _, o in result.probes["norms"]])
        assert probe["pair"].shape == (6, 2)
        snaps = trace.snapshots()
        assert list(snaps["step"]) == [0, 4, 8, 9]
        np.testing.assert_array_equal(snaps["theta"][-1], result.theta.numpy())
        np.testing.assert_allclose(snaps["design"][-1], result.design)
        final = trace.final()
        np.testing.assert_array_equal(final.best_theta, result.best_theta.numpy())
        assert final.best_loss == result.best_loss and final.best_step == result.best_step
        np.testing.assert_array_equal(trace.design, result.design)
        assert trace.summary()["best_loss"] == result.best_loss
    # plain h5py reads everything without the package
    with h5py.File(path, "r") as f:
        assert f.attrs["schema"] == "landscape-trace" and f.attrs["schema_version"] == 1
        assert f["steps"]["loss"][-1] == result.final_loss
        assert f["status"][()] == b"completed"


def test_existing_trace_is_never_overwritten_unless_asked(tmp_path):
    problem = tiny_beam(width=8, height=4)
    objective = L.Objective(problem, L.models.build("pixel", problem))
    path = tmp_path / "run.h5"
    L.run(objective, "gd_ls", steps=2, trace=path, progress=False)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(TraceError, match="exists; pass overwrite=True"):
        L.run(objective, "gd_ls", steps=3, trace=path, progress=False)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    L.run(objective, "gd_ls", steps=3, trace=TraceWriter(path, overwrite=True), progress=False)
    assert open_trace(path).num_steps == 3


def test_undeclared_probe_cannot_be_recorded(tmp_path):
    class Loose:
        name = "loose"

        def due(self, step, last):
            return True

        def __call__(self, context):
            return {"x": 1.0}

    objective = L.FunctionObjective(lambda x: (x ** 2).sum(), torch.ones(3))
    with pytest.raises(TraceError, match="does not declare its outputs"):
        L.run(objective, "lbfgs", steps=2, probes=[Loose()], trace=tmp_path / "t.h5", progress=False)
    assert not (tmp_path / "t.h5").exists()


def test_recorder_attaches_to_torch_adam_and_scipy(tmp_path):
    problem = tiny_beam(width=12, height=6)
    objective = L.Objective(problem, L.models.build("pixel", problem))
    adam = torch.optim.Adam(objective.model.parameters(), lr=0.05)
    with L.Recorder(tmp_path / "adam.h5", objective, probes=[NormProbe(every=3)]) as recorder:
        recorder.attach(adam)
        for _ in range(7):
            adam.zero_grad()
            objective.module_loss().backward()
            adam.step()
    trace = open_trace(tmp_path / "adam.h5")
    assert trace.status == "completed" and trace.num_steps == 7      # the iterate of the 7th step() too
    frame = trace.frame()
    assert frame["loss"].iloc[0] == pytest.approx(objective.loss(objective.theta0))
    assert frame["loss"].iloc[-1] < frame["loss"].iloc[0]
    assert list(trace.probe("norms")["step"]) == [0, 3, 6, 7]         # and at the last step, when it closed
    assert trace.design is not None

    import scipy.optimize
    objective = L.FunctionObjective(lambda x: ((x - 1) ** 2).sum(), torch.zeros(4), "bowl")
    with L.Recorder(tmp_path / "scipy.h5", objective) as recorder:
        scipy.optimize.minimize(lambda x: objective.value_and_grad(torch.from_numpy(x))[0], np.zeros(4),
                                jac=lambda x: objective.grad(torch.from_numpy(x)).numpy(),
                                method="BFGS", callback=recorder.scipy_callback)
    trace = open_trace(tmp_path / "scipy.h5")
    assert trace.num_steps >= 1 and trace.steps()["loss"][-1] < 1e-8


def _start_cli_run(path, *extra):
    command = CLI + ["run", "--problem", "A", "--optimizer", "lbfgs", "--penal", "3", "--steps", "100000",
                     "--snapshot-every", "1", "--no-progress", "-o", str(path), *extra]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for_steps(path, count, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.exists():
            try:
                with open_trace(path) as trace:
                    if trace.num_steps >= count:
                        return
            except (TraceError, OSError, KeyError):
                pass
        time.sleep(0.05)
    raise TimeoutError(f"{path} did not reach {count} steps")


def test_sigkill_at_random_moments_leaves_readable_traces(tmp_path):
    rng = random.Random(0)
    corrupt, steps_seen = 0, []
    for i in range(10):
        path = tmp_path / f"killed_{i}.h5"
        process = _start_cli_run(path)
        try:
            _wait_for_steps(path, 1)
            time.sleep(rng.uniform(0.0, 1.0))
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()
        try:
            with open_trace(path) as trace:
                steps = trace.steps()
                snaps = trace.snapshots()
                ok = (trace.recorded_status == "running" and trace.status == "crashed"
                      and np.array_equal(steps["step"], np.arange(len(steps)))
                      and np.isfinite(steps["loss"]).all()
                      and list(snaps["step"]) == list(range(len(snaps["step"])))
                      and len(snaps["step"]) >= len(steps) - 1
                      and np.isfinite(snaps["theta"]).all())
                steps_seen.append(len(steps))
        except Exception:   # noqa: BLE001 - any failure to read counts as corrupt
            ok = False
        corrupt += not ok
    print(f"SIGKILL: {corrupt} corrupt of 10; steps recorded {steps_seen}")
    assert corrupt == 0
    assert min(steps_seen) >= 2


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_sigint_and_sigterm_end_the_run_as_interrupted(tmp_path, sig):
    path = tmp_path / "interrupted.h5"
    process = _start_cli_run(path)
    _wait_for_steps(path, 3)
    # a reader opens the trace while it is being written and sees more rows after a refresh
    with open_trace(path) as trace:
        assert trace.status == "running"
        before = trace.num_steps
        time.sleep(0.5)
        assert trace.refresh().num_steps > before
    process.send_signal(sig)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err.decode()
    with open_trace(path) as trace:
        assert trace.status == "interrupted"
        assert signal.Signals(sig).name in trace.message
        assert trace.design is not None


def _cli(*args):
    """``landscape ARGS`` in this process (the subprocess tests above cover signals and exit codes)."""
    import contextlib
    import io
    from types import SimpleNamespace

    from landscape.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exit_:
            code = exit_.code
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


def test_cli_exit_code_from_a_real_process(tmp_path):
    done = subprocess.run(CLI + ["run", "--problem", "no_such_problem"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "unknown problem" in done.stderr


def test_cli_errors_are_one_line_and_non_zero(tmp_path):
    existing = tmp_path / "first.h5"
    ok = _cli("run", "--problem", "A", "--steps", "2", "--no-progress", "-o", str(existing))
    assert ok.returncode == 0, ok.stderr
    digest = hashlib.sha256(existing.read_bytes()).hexdigest()
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as f:
        f["x"] = 1
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    cases = {
        "exists": (["run", "--problem", "A", "--steps", "2", "-o", str(existing)], "exists"),
        "problem": (["run", "--problem", "nonexistent_problem", "--steps", "2"], "unknown problem"),
        "steps": (["run", "--problem", "A", "--steps", "-3"], "steps: -3 is not an integer >= 0"),
        "probe": (["run", "--problem", "A", "--probe", "no_such_probe"], "unknown probe 'no_such_probe'"),
        "optimizer": (["run", "--problem", "A", "--optimizer", "sgdd"], "unknown optimizer"),
        "path": (["run", "--problem", "A", "-o", str(blocker / "x.h5")], "cannot create the directory"),
        "not a trace": (["show", str(plain)], "not a landscape trace"),
        "missing": (["show", str(tmp_path / "missing.h5")], "no such trace"),
        "model option": (["run", "--problem", "A", "--model", "cnn", "--model-option", "bogus=1"],
                         "has no option 'bogus'; accepted"),
        "latent size": (["run", "--problem", "A", "--model", "cnn", "--model-option", "latent_size=-1"],
                        "latent_size must be a positive integer"),
        "tiny grid": (["run", "--problem", "michell_centered_both_1x1_0.12"], "too small"),
        "huge grid": (["run", "--problem", "michell_centered_both_100000x100000_0.1"], "needs about"),
        "penal": (["run", "--problem", "A", "--penal", "inf"], "finite number >= 1"),
    }
    for label, (args, message) in cases.items():
        done = _cli(*args)
        assert done.returncode == 2, (label, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (label, done.stderr)
    assert hashlib.sha256(existing.read_bytes()).hexdigest() == digest
    for args, message in ((["--threads", "0"], "'0' is not a positive integer"),
                          (["--precision", "half"], "invalid choice: 'half'")):   # argparse's errors too
        done = _cli("run", "--problem", "A", *args)
        assert done.returncode == 2 and done.stderr.count("\n") == 1 and message in done.stderr, done.stderr


def test_random_bad_command_lines_exit_2_with_one_line(tmp_path, capsys):
    """A seeded generator of malformed command lines: each has one defect, none may run or trace back."""
    from landscape.cli import main

    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as f:
        f["x"] = 1
    text = tmp_path / "notes.txt"
    text.write_text("not hdf5")
    rng = np.random.default_rng(7)

    def junk():
        return "".join(rng.choice(list("abcxyz019_-.:=, "), size=int(rng.integers(1, 12))))

    run = ["run", "--problem", "A", "--steps", "1", "--no-progress", "-o", str(tmp_path / "never.h5")]
    defects = [
        lambda: [junk() + "cmd"],
        lambda: ["run", "--problem", "A", f"--{junk()}x"],
        lambda: run + ["--steps", junk() + "s"],
        lambda: run + ["--seed", f"{rng.random():.3f}"],
        lambda: run + ["--penal", rng.choice(["abc", "nan", "inf", "0.5", "-3"])],
        lambda: run + ["--threads", str(int(rng.integers(-5, 1)))],
        lambda: run + ["--snapshot-every", str(int(rng.integers(-5, 1)))],
        lambda: run + ["--option", junk().replace("=", "") + "x"],
        lambda: run + ["--optimizer", "gd", "--option", f"{junk().replace('=', '')}q=1"],
        lambda: run + ["--model", rng.choice(["cnn", "mlp"]), "--model-option", f"bogus{int(rng.integers(9))}=1"],
        lambda: run + ["--model", junk() + "net"],
        lambda: run + ["--precision", junk() + "p"],
        lambda: run + ["--probe", junk().replace(":", "") + "probe"],
        lambda: ["run", "--problem", junk() + "_problem", "--steps", "1"],
        lambda: ["show", str(rng.choice([plain, text, tmp_path / f"{junk()}.h5"]))],
        lambda: ["plot", str(rng.choice([plain, text])), "-o", str(tmp_path / "p.png")],
        lambda: ["compare", str(rng.choice([plain, text])), "-o", str(tmp_path / "c.png")],
        lambda: ["sweep", str(tmp_path / f"{junk()}.toml")],
    ]
    for case in range(120):
        argv = defects[int(rng.integers(len(defects)))]()
        try:
            code = main(argv)
        except SystemExit as exit_:
            code = exit_.code
        err = capsys.readouterr().err
        assert code == 2, (case, argv, code, err)
        assert err.count("\n") == 1 and err.startswith("landscape: error: "), (case, argv, err)
    assert not (tmp_path / "never.h5").exists()


def test_cli_show_plot_compare_problems(tmp_path):
    paths = []
    for seed in (0, 1):
        path = tmp_path / f"gd_{seed}.h5"
        assert _cli("run", "--problem", "A", "--model", "pixel", "--optimizer", "gd", "--option", "lr=0.1",
                    "--steps", "5", "--seed", str(seed), "--no-progress", "-o", str(path)).returncode == 0
        paths.append(path)
    path = tmp_path / "lbfgs.h5"
    assert _cli("run", "--problem", "A", "--steps", "5", "--no-progress", "-o", str(path)).returncode == 0
    shown = _cli("show", str(path))
    assert shown.returncode == 0 and "completed" in shown.stdout and "michell_centered_both_32x64_0.12" in shown.stdout
    for kind in ("loss", "grad_norm", "distance", "design"):
        out = tmp_path / f"{kind}.png"
        done = _cli("plot", str(path), kind, "-o", str(out))
        assert done.returncode == 0, done.stderr
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    done = _cli("compare", *map(str, paths + [path]), "-o", str(tmp_path / "cmp.png"))
    assert done.returncode == 0 and (tmp_path / "cmp.png").exists(), done.stderr
    assert _cli("plot", str(path), "nonsense", "-o", str(tmp_path / "x.png")).returncode == 2
    listed = _cli("problems")
    assert listed.returncode == 0 and "causeway_bridge_middle_128x128_0.1" in listed.stdout


def test_a_live_reader_sees_the_final_state_after_another_process_closes_the_trace(tmp_path):
    """A monitor opened while a run writes in another process refreshes into the finished file."""
    path = tmp_path / "live.h5"
    writer = subprocess.Popen([sys.executable, "-m", "landscape.cli", "run", "--problem", "A", "--steps", "40",
                               "--no-progress", "--snapshot-every", "5", "-o", str(path)],
                              cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    deadline = time.time() + 60
    reader = None
    while reader is None and time.time() < deadline:
        try:
            reader = L.open_trace(path) if path.exists() else None
        except Exception:   # noqa: BLE001 - the file may be mid-creation
            reader = None
        time.sleep(0.05)
    assert reader is not None and writer.wait(timeout=120) == 0
    reader.refresh()
    assert reader.status == "completed" and reader.num_steps == 40
    assert reader.design is not None and reader.summary()["final_loss"] == reader.steps()["loss"][-1]


def test_a_trace_whose_writer_died_reads_crashed(tmp_path):
    """SIGKILL the writer: the trace still says running, its state says crashed; a live one says running."""
    path = tmp_path / "killed.h5"
    writer = subprocess.Popen([sys.executable, "-m", "landscape.cli", "run", "--problem", "A", "--steps", "100000",
                               "--no-progress", "-o", str(path)], cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with L.open_trace(path) as trace:
                if trace.num_steps >= 2:
                    assert trace.status == "running"       # alive
                    break
        except Exception:   # noqa: BLE001 - the file may be mid-creation
            pass
        time.sleep(0.05)
    writer.kill()
    writer.wait()
    with L.open_trace(path) as trace:
        assert trace.recorded_status == "running" and trace.status == "crashed" == trace.state
        assert trace.summary()["status"] == "crashed"
        assert trace.file.attrs["writer_pid"] == writer.pid
    shown = subprocess.run([sys.executable, "-m", "landscape.cli", "show", str(path)], cwd=ROOT,
                           capture_output=True, text=True)
    assert "crashed" in shown.stdout


def test_stop_runs_ends_a_run_in_another_thread_as_interrupted_and_allow_runs_withdraws_it(tiny):
    from landscape.runner import allow_runs, stop_runs
    objective = L.Objective(tiny, L.models.build("pixel", tiny), 3.0)
    results = {}

    def callback(record):
        if record.step == 3:
            stop_runs("asked to stop")

    try:
        worker = threading.Thread(target=lambda: results.update(run=L.run(
            objective, L.optim.build("gd", lr=0.1), steps=50, progress=False, callback=callback)))
        worker.start()
        worker.join(60)
        assert results["run"].status == "interrupted" and results["run"].steps == 3
        assert results["run"].message == "asked to stop after step 3"
    finally:
        allow_runs()
    assert L.run(objective, L.optim.build("gd", lr=0.1), steps=5, progress=False).status == "completed"


def test_a_damaged_layout_is_named_in_one_line(tmp_path, tiny):
    import shutil
    source = tmp_path / "good.h5"
    objective = L.Objective(tiny, L.models.build("pixel", tiny), 3.0)
    L.run(objective, L.optim.build("gd", lr=0.1), steps=2, progress=False, trace=TraceWriter(source))

    def damaged(name, edit):
        path = tmp_path / f"{name}.h5"
        shutil.copyfile(source, path)
        with h5py.File(path, "r+") as f:
            edit(f)
        return path

    cases = {
        "no_config": (lambda f: f.attrs.__delitem__("config"), "schema but no config attribute"),
        "list_config": (lambda f: f.attrs.__setitem__("config", "[1, 2]"), "config attribute is a JSON list"),
        "steps_dtype": (lambda f: (f.__delitem__("steps"), f.__setitem__("steps", np.zeros((3, 2)))),
                        "/steps has shape (3, 2) and dtype float64; a trace's /steps is a table with columns step"),
        "no_status": (lambda f: f.__delitem__("status"), "no /status dataset"),
    }
    for name, (edit, message) in cases.items():
        with pytest.raises(TraceError, match=re.escape(message)):
            open_trace(damaged(name, edit))
