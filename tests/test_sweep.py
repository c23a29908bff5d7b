"""Sweeps on a real Dask LocalCluster of two worker processes."""
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from landscape import sweep as sweeps
from landscape.trace import open_trace

ROOT = Path(__file__).resolve().parent.parent

PROBLEM = "michell_centered_both_16x32_0.12"


def config(out, steps=30, optimizers=("lbfgs", {"name": "gd", "lr": 0.05}, "gd_ls"), **extra):
    return {"name": "test", "out": str(out), "steps": steps,
            "axes": {"problem": [PROBLEM], "model": ["pixel"], "penal": [1, 3], "optimizer": list(optimizers),
                     "seed": [0]}, **extra}


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


def _traces(out):
    return sorted(p.name for p in (out / "traces").glob("*.h5"))


def test_a_sweep_runs_every_task_once_and_a_rerun_does_no_work(tmp_path, client):
    plan = sweeps.expand(config(tmp_path / "s"))
    assert len(plan.tasks) == 6
    index = sweeps.run_sweep(plan, client=client, progress=False)
    assert len(index) == 6 and set(index["status"]) == {"completed"}
    assert index["name"].is_unique
    assert len(_traces(plan.out)) == 6
    for path in index["trace"]:
        with open_trace(path) as trace:
            assert trace.status == "completed" and trace.num_steps == 30
    loaded = sweeps.load(plan.out)
    assert list(loaded["name"]) == [t.name for t in plan.tasks]
    table = sweeps.medians(loaded)
    assert len(table) == 6 and (table["count"] == 1).all()
    mtimes = {p: p.stat().st_mtime_ns for p in (plan.out / "traces").glob("*.h5")}
    start = time.perf_counter()
    again = sweeps.run_sweep(sweeps.expand(config(tmp_path / "s")), client=client, progress=False)
    assert time.perf_counter() - start < 5
    assert {p: p.stat().st_mtime_ns for p in (plan.out / "traces").glob("*.h5")} == mtimes
    assert list(again["best_loss"]) == list(loaded["best_loss"])


def test_a_killed_worker_loses_and_duplicates_nothing(tmp_path, client):
    plan = sweeps.expand(config(tmp_path / "k", steps=150, optimizers=("gd_ls", "lbfgs", {"name": "gd", "lr": 0.05})))
    result = {}
    thread = threading.Thread(target=lambda: result.update(index=sweeps.run_sweep(plan, client=client,
                                                                                    progress=False)))
    thread.start()
    deadline = time.time() + 60
    while time.time() < deadline and not any((plan.out / "traces").glob("*.h5")):
        time.sleep(0.05)
    time.sleep(0.3)
    pids = client.run(os.getpid)
    victim = next(iter(pids.values()))
    os.kill(victim, signal.SIGKILL)          # a worker dies in the middle of a task
    thread.join(timeout=300)
    assert victim not in client.run(os.getpid).values()     # the nanny replaced the killed worker
    index = result["index"]
    assert len(index) == 6 and index["name"].is_unique
    assert set(index["status"]) <= {"completed", "line_search_failed"}, index[["name", "status", "error"]]
    assert len(_traces(plan.out)) == 6
    for path in index["trace"]:
        with open_trace(path) as trace:
            assert trace.status in ("completed", "line_search_failed")


def test_a_failing_task_is_recorded_and_the_rest_complete(tmp_path, client):
    cfg = config(tmp_path / "f", steps=5, optimizers=("lbfgs", "oc"))
    cfg["axes"]["model"] = ["pixel", {"kind": "cnn", "latent_size": 4, "dense_channels": 2, "resizes": [1, 2, 1],
                                      "conv_filters": [4, 2, 1], "kernel_size": 3}]
    index = sweeps.run_sweep(sweeps.expand(cfg), client=client, progress=False)
    failed = index[index["status"] == "failed"]
    assert len(index) == 8 and len(failed) == 2                # oc on the CNN, p = 1 and 3
    assert set(failed["model"]) == {"cnn"} and set(failed["optimizer"]) == {"oc"}
    assert failed["error"].str.contains("pixel densities only").all()
    assert set(index[index["status"] != "failed"]["status"]) == {"completed"}


@pytest.mark.parametrize("change, message", [
    (lambda c: c["axes"].update(learning_rate=[1]), "unknown axis 'learning_rate'"),
    (lambda c: c["axes"].update(problem=["no_such_problem"]), "unknown problem 'no_such_problem'"),
    (lambda c: c["axes"].update(model=["resnet"]), "unknown model kind 'resnet'"),
    (lambda c: c["axes"].update(optimizer=["lbfgs", {"name": "gd", "lr": -1}]), "lr must be a finite number > 0"),
    (lambda c: c["axes"].update(seed=[]), "axis 'seed' is empty"),
    (lambda c: c.update(exclude=[{"optimizer": ["lbfgs", "gd", "gd_ls"]}]), "has no task"),
    (lambda c: c.update(probes=[{"name": "nope"}]), "unknown probe 'nope'"),
    (lambda c: c["axes"].update(model=[{"kind": "cnn", "bogus": 1}]), "has no option 'bogus'; accepted"),
    (lambda c: c["axes"].update(model=[{"kind": "cnn", "latent_size": -1}]), "axis 'model': cnn"),
    (lambda c: c.update(snapshot_every=0), "snapshot_every: 0 is not a positive integer"),
    (lambda c: c["axes"].update(penal=[float("inf")]), "not a finite number >= 1"),
    (lambda c: c["axes"].update(penal=[0.5]), "not a finite number >= 1"),
    (lambda c: c.update(retries=-1), "retries: -1"),
    (lambda c: c["axes"].update(problem=["michell_centered_both_1x1_0.12"]), "too small"),
    (lambda c: c["axes"].update(problem=["michell_centered_both_100000x100000_0.1"]), "needs about"),
    (lambda c: c["axes"].update(problem=["michell_centered_both_32x64_0.5.5"]), "'0.5.5' is not a number"),
])
def test_invalid_configs_are_rejected_before_anything_runs(tmp_path, change, message):
    cfg = config(tmp_path / "bad")
    change(cfg)
    with pytest.raises(sweeps.SweepError, match=message):
        sweeps.expand(cfg)
    assert not (tmp_path / "bad").exists()


def test_configs_load_from_toml_and_yaml(tmp_path):
    (tmp_path / "s.toml").write_text('steps = 3\n[axes]\nproblem = ["A"]\n'
                                     'optimizer = ["lbfgs", {name = "gd", lr = 0.1}]\n'
                                     'seed = [0, 1]\n[[exclude]]\noptimizer = "gd"\nseed = 1\n')
    (tmp_path / "s.yaml").write_text("steps: 3\naxes:\n  problem: [A]\n  optimizer: [lbfgs, {name: gd, lr: 0.1}]\n"
                                     "  seed: [0, 1]\nexclude:\n  - {optimizer: gd, seed: 1}\n")
    a = sweeps.expand(sweeps.load_config(tmp_path / "s.toml"))
    b = sweeps.expand(sweeps.load_config(tmp_path / "s.yaml"))
    assert [t.name for t in a.tasks] == [t.name for t in b.tasks] and len(a.tasks) == 3
    with pytest.raises(sweeps.SweepError, match="not valid TOML"):
        (tmp_path / "bad.toml").write_text("steps = = 3")
        sweeps.load_config(tmp_path / "bad.toml")


def test_a_second_sweep_on_a_live_sweeps_folder_is_refused_and_a_stale_lock_taken_over(tmp_path):
    import json as _json
    import os as _os
    import platform as _platform

    from landscape.sweep import LOCK_NAME, SweepLocked, expand, run_sweep
    config = {"name": "locked", "out": str(tmp_path / "out"), "steps": 2,
              "axes": {"problem": ["michell_centered_both_8x16_0.12"], "optimizer": ["lbfgs"]}}
    plan = expand(config)
    plan.out.mkdir(parents=True)
    lock = plan.out / LOCK_NAME
    lock.write_text(_json.dumps({"host": _platform.node(), "pid": _os.getpid(), "since": 0}))   # alive: us
    with pytest.raises(SweepLocked, match="in use by pid"):
        run_sweep(plan, workers=1, progress=False)
    assert not (plan.out / "index.csv").exists()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock.write_text(_json.dumps({"host": _platform.node(), "pid": int(dead.stdout), "since": 0}))   # stale
    frame = run_sweep(plan, workers=1, progress=False)
    assert list(frame["status"]) == ["completed"] and not lock.exists()


@pytest.mark.parametrize("sig, group, reason", [("SIGINT", True, "Ctrl-C"), ("SIGTERM", False, "SIGTERM")],
                         ids=["ctrl_c_to_the_group", "sigterm_to_the_sweep"])
def test_ctrl_c_or_sigterm_on_a_sweep_writes_the_index_and_exits_130(tmp_path, interrupt_when_started, sig, group,
                                                                      reason):
    import signal
    config = tmp_path / "long.toml"
    config.write_text(f'name = "long"\nout = "{tmp_path / "out"}"\nsteps = 100000\n[axes]\n'
                      'problem = ["A"]\noptimizer = [{name = "gd", lr = 1e-3}]\nseed = [0, 1, 2]\n')
    # GD with a small step never stops early (GD_LS on pixels ends in a failed line search within seconds, so
    # under load the whole sweep could finish before the interrupt arrives)
    process = subprocess.Popen([sys.executable, "-m", "landscape.cli", "sweep", str(config), "--workers", "1",
                                "--no-progress"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    traces = tmp_path / "out" / "traces"
    # Ctrl-C reaches the whole group, as a terminal sends it; SIGTERM the sweep alone, as `kill <pid>` sends it
    err = interrupt_when_started(process, lambda: traces.exists() and any(traces.glob("*.h5")),
                                 sig=getattr(signal, sig), group=group)
    assert any(traces.glob("*.h5")), "no run started within 300 s"
    assert process.returncode == 130, err
    lines = [line for line in err.strip().splitlines() if line.startswith("landscape:")]
    assert len(lines) == 1 and "interrupted" in lines[0] and "index written" in lines[0], err
    assert "Traceback" not in err, err
    index = (tmp_path / "out" / "index.csv").read_text()
    assert index.count(f"interrupted ({reason})") == 3, index
    started = list(traces.glob("*.h5"))
    assert len(started) == 1      # the queued tasks were dropped, not started
    with open_trace(started[0]) as trace:       # the running task stopped after its step and said so
        assert trace.status == "interrupted" and f"interrupted ({reason})" in trace.message, trace.message


def test_a_yaml_config_cannot_run_code(tmp_path):
    marker = tmp_path / "ran"
    config = tmp_path / "evil.yaml"
    config.write_text(f'name: !!python/object/apply:os.system ["touch {marker}"]\naxes: {{}}\n')
    with pytest.raises(sweeps.SweepError, match="not valid YAML"):
        sweeps.load_config(config)
    assert not marker.exists()


def test_a_folder_holding_another_sweep_is_refused(tmp_path):
    first = {"name": "first", "out": str(tmp_path / "shared"), "steps": 1,
             "axes": {"problem": ["michell_centered_both_8x16_0.12"], "optimizer": ["lbfgs"]}}
    sweeps.run_sweep(sweeps.expand(first), workers=1, progress=False)
    index = (tmp_path / "shared" / "index.csv").read_text()
    with pytest.raises(sweeps.SweepError, match="holds the sweep 'first', not 'second'"):
        sweeps.run_sweep(sweeps.expand({**first, "name": "second"}), workers=1, progress=False)
    assert (tmp_path / "shared" / "index.csv").read_text() == index


def test_a_yaml_config_that_is_a_list_is_refused(tmp_path):
    config = tmp_path / "list.yaml"
    config.write_text("- name: a\n- name: b\n")
    with pytest.raises(sweeps.SweepError, match="table of keys .* got a list"):
        sweeps.expand(sweeps.load_config(config))


def test_a_sweep_on_a_real_dask_cluster_survives_a_killed_worker(tmp_path):
    """Beyond one machine, with the real programs: `dask scheduler` and two `dask worker` processes, a sweep
    given `--scheduler tcp://...` at the command line, one worker killed (SIGKILL) while it runs a task: every
    trace completes, the index has each task once, and the sweep exits 0."""
    import shutil
    dask = shutil.which("dask", path=str(Path(sys.executable).parent)) or shutil.which("dask")
    if dask is None:
        pytest.skip("the dask command-line programs are not installed")
    environ = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "3"}
    started = []

    def start(*command):
        process = subprocess.Popen([dask, *command], cwd=tmp_path, env=environ, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
        started.append(process)
        return process

    try:
        start("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file",
              str(tmp_path / "scheduler.json"))
        deadline = time.time() + 60
        while time.time() < deadline and not (tmp_path / "scheduler.json").exists():
            time.sleep(0.1)
        address = json.loads((tmp_path / "scheduler.json").read_text())["address"]
        workers = [start("worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard", "--no-nanny")
                   for _ in range(2)]
        cfg = config(tmp_path / "out", steps=150, optimizers=("lbfgs", "gd_ls", {"name": "gd", "lr": 0.05}))
        (tmp_path / "sweep.toml").write_text(_toml(cfg))
        sweep = subprocess.Popen([sys.executable, "-m", "landscape.cli", "sweep", str(tmp_path / "sweep.toml"),
                                  "--scheduler", address, "--no-progress"], cwd=tmp_path, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 120
        while time.time() < deadline and not any((tmp_path / "out" / "traces").glob("*.h5")):
            time.sleep(0.05)
        time.sleep(0.3)
        os.killpg(workers[0].pid, signal.SIGKILL)        # a worker dies in the middle of a task
        out, err = sweep.communicate(timeout=600)
        assert sweep.returncode == 0, (out, err, (tmp_path / "out" / "index.csv").read_text()[:2000])
    finally:
        for process in started:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
    index = sweeps.load(tmp_path / "out")
    assert len(index) == 6 and index["name"].is_unique
    assert set(index["status"]) <= {"completed", "line_search_failed"}, index[["name", "status", "error"]]
    for path in index["trace"]:
        with open_trace(path) as trace:
            assert trace.status in ("completed", "line_search_failed")


def _toml(cfg: dict) -> str:
    """The test config as TOML (no TOML writer in the standard library)."""
    def value(v):
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + "}"
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return json.dumps(v)
    lines = [f"{k} = {value(v)}" for k, v in cfg.items() if k != "axes"]
    lines.append("[axes]")
    lines += [f"{k} = {value(v)}" for k, v in cfg["axes"].items()]
    return "\n".join(lines) + "\n"


def test_a_failed_task_is_skipped_on_a_rerun_unless_asked_to_retry(tmp_path):
    """After the bug behind a failure is fixed, ``retry_failed`` (``--retry-failed``) runs the task again."""
    from landscape.trace import open_trace
    cfg = config(tmp_path / "r", steps=3, optimizers=("oc",))
    cfg["axes"].update(model=["cnn"], penal=[3])
    task = sweeps.expand(cfg).tasks[0]
    assert sweeps.run_task(task)["status"] == "failed"               # oc needs pixels
    with open_trace(task.trace) as trace:
        first = trace.end_time
    time.sleep(1.1)
    assert sweeps.run_task(task)["status"] == "failed"
    with open_trace(task.trace) as trace:
        assert trace.end_time == first                               # skipped: not run again
    assert sweeps.run_task(task, retry_failed=True)["status"] == "failed"
    with open_trace(task.trace) as trace:
        assert trace.end_time != first                               # run again, its trace replaced


def test_a_trace_made_by_an_optimizer_built_differently_is_rerun_not_reused(tmp_path, monkeypatch):
    """A finished trace whose recorded optimizer options differ from what this version builds from the same
    config (``gd_ls`` got a new line search, and a new ``search`` option, in this version) was made by other
    code: a rerun replaces it. An unchanged one is reused."""
    from landscape import optim
    from landscape.trace import open_trace
    cfg = config(tmp_path / "o", steps=2, optimizers=("gd_ls",))
    task = sweeps.expand(cfg).tasks[0]
    assert sweeps.run_task(task)["status"] in sweeps.TERMINAL
    with open_trace(task.trace) as trace:
        first, recorded = trace.end_time, trace.config["optimizer_options"]
    assert recorded["search"] == "lbfgsb"
    time.sleep(1.1)
    sweeps.run_task(task)
    with open_trace(task.trace) as trace:
        assert trace.end_time == first                               # same options: reused
    assert sweeps._reusable(task, "completed")                       # what run_sweep asks before submitting
    monkeypatch.setitem(optim._FACTORIES, "gd_ls", lambda **o: optim.gd_ls(search="wolfe", **o))
    assert not sweeps._reusable(task, "completed")
    sweeps.run_task(task)
    with open_trace(task.trace) as trace:
        assert trace.end_time != first                               # built differently: rerun
        assert trace.config["optimizer_options"]["search"] == "wolfe"


def _watch_workers_environ(monkeypatch, variable: str) -> dict:
    """Unset ``variable`` here and make the LocalCluster a sweep starts report it from its workers (``"unset"``
    when absent) into the returned dict, keyed by worker."""
    import distributed
    seen = {}

    class Watched(distributed.LocalCluster):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            with distributed.Client(self) as probe:
                seen.update(probe.run(lambda: os.environ.get(variable, "unset")))

    monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(distributed, "LocalCluster", Watched)
    return seen


def test_the_local_workers_keep_glibcs_malloc_policy(tmp_path, monkeypatch):
    """Dask's nanny sets ``MALLOC_TRIM_THRESHOLD_=65536`` for its workers, which makes every large tensor fault
    its pages in afresh (benchmarks/bench_sweep_malloc.py); the LocalCluster a sweep starts does not."""
    import distributed
    seen = _watch_workers_environ(monkeypatch, "MALLOC_TRIM_THRESHOLD_")
    cfg = config(tmp_path / "m", steps=2, optimizers=("lbfgs",))
    cfg["axes"]["penal"] = [3]
    index = sweeps.run_sweep(sweeps.expand(cfg), workers=1, progress=False)
    assert list(index["status"]) == ["completed"]
    assert list(seen.values()) == ["unset"]
    # what Dask's own default would have given
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        assert list(client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_")).values()) == ["65536"]


@pytest.mark.parametrize("threads, limit", [(None, "1"), (2, "unset")])
def test_the_local_workers_cap_openmp_at_one_thread_unless_a_task_asks_for_more(tmp_path, monkeypatch, threads,
                                                                                 limit):
    """CHOLMOD's four-thread OpenMP teams are capped in one-thread workers (landscape.threads.worker_environ); the
    cap is in the workers' environment when they start, and each trace records it."""
    for variable in ("LANDSCAPE_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(variable, raising=False)
    seen = _watch_workers_environ(monkeypatch, "OMP_THREAD_LIMIT")
    before = dict(os.environ)
    cfg = config(tmp_path / "t", steps=2, optimizers=("lbfgs",), threads=threads)
    cfg["axes"]["penal"] = [3]
    index = sweeps.run_sweep(sweeps.expand(cfg), workers=1, progress=False)
    assert list(index["status"]) == ["completed"]
    assert list(seen.values()) == [limit]
    assert dict(os.environ) == before       # Dask's nanny wrote the workers' environment here; it is put back
    with open_trace(index["trace"][0]) as trace:
        recorded = trace.numerics["environment"].get("OMP_THREAD_LIMIT", "unset")
        assert recorded == limit and trace.config["threads"]["torch"] == (threads or 1)
