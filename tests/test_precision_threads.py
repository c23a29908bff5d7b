"""Mixed precision (float32 network over float64 physics) and the thread policy."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import tiny_beam

import landscape as L
from landscape import threads
from landscape.sweep import expand, run_sweep

ROOT = Path(__file__).resolve().parent.parent
SMALL = {
    "cnn": dict(latent_size=8, dense_channels=4, resizes=(1, 2, 1), conv_filters=(8, 4, 1), kernel_size=3),
    "cnn_transpose": dict(latent_size=8, dense_channels=4, resizes=(1, 2, 1), conv_filters=(8, 4, 1),
                          kernel_size=3),
    "mlp": dict(widths=(32, 32)),
}


def pair(kind, seed=0):
    """The same model (same seed) as a float64 and as a mixed-precision objective on a tiny grid."""
    problem = tiny_beam(8, 4)
    exact = L.Objective(problem, L.models.build(kind, problem, seed=seed, precision="float64", **SMALL[kind]))
    mixed = L.Objective(problem, L.models.build(kind, problem, seed=seed, **SMALL[kind]))
    return exact, mixed


@pytest.mark.parametrize("kind", ["cnn", "cnn_transpose", "mlp"])
def test_mixed_precision_matches_float64_to_float32_accuracy(kind):
    exact, mixed = pair(kind)
    assert (exact.precision, mixed.precision) == ("float64", "mixed")
    assert next(mixed.model.parameters()).dtype == torch.float32
    # the same point, representable in float32, so only the arithmetic differs
    g = torch.Generator().manual_seed(1)
    theta = (mixed.theta0 + 0.05 * torch.randn(mixed.num_params, generator=g, dtype=torch.float64))
    theta = theta.to(torch.float32).to(torch.float64)
    value64, grad64 = exact.value_and_grad(theta)
    value32, grad32 = mixed.value_and_grad(theta)
    assert grad32.dtype == torch.float64 and grad32.shape == (mixed.num_params,)
    assert abs(value32 - value64) <= 1e-5 * abs(value64)
    cosine = float(grad32 @ grad64 / (grad32.norm() * grad64.norm()))
    assert cosine > 1 - 1e-6
    assert float((grad32 - grad64).norm() / grad64.norm()) < 1e-3
    v = torch.randn(mixed.num_params, generator=g, dtype=torch.float64)
    hv64, hv32 = exact.hvp(theta, v), mixed.hvp(theta, v)
    assert hv32.dtype == torch.float64
    assert float((hv32 - hv64).norm() / hv64.norm()) < 1e-2


def test_pixel_ignores_mixed_precision_and_float64_is_bit_exact():
    problem = tiny_beam(8, 4)
    a = L.Objective(problem, L.models.build("pixel", problem, precision="mixed"))
    b = L.Objective(problem, L.models.build("pixel", problem, precision="float64"))
    assert a.precision == b.precision == "float64"
    assert a.value_and_grad(a.theta0)[0] == b.value_and_grad(b.theta0)[0]


def test_objective_precision_converts_the_module_and_none_keeps_its_dtype():
    problem = tiny_beam(8, 4)
    model = L.models.build("cnn", problem, seed=0, precision="float64", **SMALL["cnn"])
    assert L.Objective(problem, model).precision == "float64"
    assert L.Objective(problem, model, precision="mixed").precision == "mixed"
    assert next(model.parameters()).dtype == torch.float32
    with pytest.raises(ValueError, match="unknown precision 'single'"):
        L.Objective(problem, model, precision="single")


def test_thread_policy_default_override_and_bad_values(monkeypatch):
    monkeypatch.delenv(threads.ENVIRONMENT, raising=False)
    assert threads.policy() == threads.Threads(1, 1)
    assert threads.policy(2) == threads.Threads(2, 2)
    monkeypatch.setenv(threads.ENVIRONMENT, "2")
    assert threads.policy() == threads.Threads(2, 2)
    monkeypatch.setenv(threads.ENVIRONMENT, "many")
    with pytest.raises(ValueError, match="LANDSCAPE_THREADS='many'"):
        threads.policy()
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="threads"):
            threads.policy(bad)


def test_run_limits_threads_and_restores_them():
    before = torch.get_num_threads()
    seen = []
    problem = tiny_beam(8, 4)
    objective = L.Objective(problem, L.models.build("pixel", problem))
    L.run(objective, "lbfgs", steps=2, progress=False, threads=1,
          callback=lambda record: seen.append(threads.current()))
    assert seen and all(t == threads.Threads(1, 1) for t in seen)
    assert torch.get_num_threads() == before


def test_precision_and_threads_are_in_the_trace_config(tmp_path):
    problem = L.problems.get("michell_centered_both_8x16_0.12")   # a coarse problem A, rebuilt by name
    objective = L.Objective(problem, L.models.build("cnn", problem, seed=0))
    L.run(objective, "lbfgs", steps=2, progress=False, trace=tmp_path / "t.h5")
    with L.open_trace(tmp_path / "t.h5") as trace:
        assert trace.config["precision"] == "mixed"
        assert trace.config["threads"] == {"torch": 1, "blas": 1}
        rebuilt = trace.objective()
        assert rebuilt.precision == "mixed"
        assert rebuilt.loss(rebuilt.theta0) == trace.steps()["loss"][0]


def test_the_same_config_is_bit_identical_from_python_the_cli_and_a_sweep(tmp_path):
    """One configuration, three doors: losses equal bit for bit (the thread policy pins the counts)."""
    settings = dict(problem="A", model="cnn_transpose", optimizer="lbfgs", penal=3.0, seed=1, steps=4)
    problem = L.problems.get(settings["problem"])
    objective = L.Objective(problem, L.models.build(settings["model"], problem, seed=settings["seed"]),
                            penal=settings["penal"])
    python = L.run(objective, settings["optimizer"], steps=settings["steps"], seed=settings["seed"],
                   progress=False).losses

    cli_trace = tmp_path / "cli.h5"
    subprocess.run([sys.executable, "-m", "landscape.cli", "run", "--problem", "A", "--model", "cnn_transpose",
                    "--optimizer", "lbfgs", "--penal", "3", "--seed", "1", "--steps", "4", "--no-progress",
                    "-o", str(cli_trace)], check=True, cwd=ROOT, capture_output=True)
    with L.open_trace(cli_trace) as trace:
        cli = trace.steps()["loss"]

    config = {"name": "one", "out": str(tmp_path / "sweep"), "steps": 4,
              "axes": {"problem": ["A"], "model": ["cnn_transpose"], "penal": [3.0], "optimizer": ["lbfgs"],
                       "seed": [1]}}
    index = run_sweep(expand(config), workers=1, progress=False)
    with L.open_trace(index["trace"][0]) as trace:
        swept = trace.steps()["loss"]
        assert json.loads(index["config"][0])["precision"] == "mixed"
    assert len(python) == 5
    np.testing.assert_array_equal(python, cli)
    np.testing.assert_array_equal(python, swept)


def test_the_recorder_runs_under_the_policy_and_records_it(tmp_path):
    problem = tiny_beam(8, 4)
    objective = L.Objective(problem, L.models.build("cnn", problem, seed=0, **SMALL["cnn"]))
    before = torch.get_num_threads()
    with L.Recorder(tmp_path / "r.h5", objective, threads=1) as recorder:
        assert threads.current() == threads.Threads(1, 1)
        recorder.observe(0, objective.theta0, objective.loss(objective.theta0))
    assert torch.get_num_threads() == before
    with L.open_trace(tmp_path / "r.h5") as trace:
        assert trace.config["threads"] == {"torch": 1, "blas": 1} and trace.config["precision"] == "mixed"


def test_direct_objective_calls_get_the_policy_for_the_solvers_blas():
    """A user who calls Objective directly (no landscape.run) gets one BLAS thread for CHOLMOD too, from the first
    factorization on; a count chosen with limited() or apply() is left alone."""
    code = ("import json, landscape as L, threadpoolctl; p = L.problems.get('mbb_beam_16x8_0.5'); "
            "o = L.Objective(p, L.models.build('pixel', p)); "
            "before = [i['num_threads'] for i in threadpoolctl.threadpool_info() if i['user_api'] == 'blas']; "
            "o.value_and_grad(o.theta0); "
            "after = [i['num_threads'] for i in threadpoolctl.threadpool_info() if i['user_api'] == 'blas']; "
            "print(json.dumps([before, after]))")
    import os
    environ = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                                               "LANDSCAPE_THREADS")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environ, timeout=300)
    assert done.returncode == 0, done.stderr
    before, after = json.loads(done.stdout.splitlines()[-1])
    assert set(after) == {1}
    assert os.cpu_count() == 1 or max(before) > 1        # it was the library's default before
    with L.threads.limited(L.threads.Threads(torch=1, blas=2)):
        L.threads.blas_for_solver()
        assert L.threads.current().blas == 2


def test_capping_openmp_changes_no_number_and_refuses_more_torch_threads():
    """A worker started with threads.worker_environ (OMP_THREAD_LIMIT=1) gives bit-identical losses to an uncapped
    process, CHOLMOD opens no OpenMP team in it (an uncapped process gains threads), and asking for two torch
    threads there is refused instead of leaving MKL waiting for threads OpenMP will not start."""
    import os
    code = ("import json, os, landscape as L\n"
            "p = L.problems.get('michell_centered_both_32x64_0.12')\n"
            "o = L.Objective(p, L.models.build('pixel', p), penal=3.0)\n"
            "r = L.run(o, L.optim.build('gd', lr=0.01), steps=6, progress=False)\n"
            "tasks = len(os.listdir('/proc/self/task'))\n"
            "try:\n    L.threads.apply(2); refused = ''\nexcept ValueError as error:\n    refused = str(error)\n"
            "print(json.dumps([[float(x).hex() for x in r.losses], tasks, "
            "L.physics.backend(), L.threads.openmp_limit(), refused]))")
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_THREAD_LIMIT", "LANDSCAPE_THREADS")}
    base.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    outcome = {}
    for name, environ in (("capped", {**base, **threads.worker_environ(threads.Threads())}), ("uncapped", base)):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environ, timeout=600)
        assert done.returncode == 0, done.stderr
        outcome[name] = json.loads(done.stdout.splitlines()[-1])
    (capped, tasks_capped, solver, limit, refused), (uncapped, tasks_uncapped, _, no_limit, allowed) = \
        outcome["capped"], outcome["uncapped"]
    assert len(capped) == 7 and capped == uncapped
    assert limit == 1 and "OMP_THREAD_LIMIT=1" in refused and "2 torch threads" in refused
    assert no_limit is None and allowed == ""
    if solver == "cholmod":
        assert tasks_uncapped >= tasks_capped + 3       # CHOLMOD's team of four, in the uncapped process only
    assert threads.worker_environ(threads.Threads(torch=2, blas=2), environ={}) == {}
    assert threads.worker_environ(threads.Threads(), environ={"OMP_NUM_THREADS": "1"})["OMP_THREAD_LIMIT"] == "1"
    # a count set in the starting process reaches Dask's workers over ours: then nothing is capped
    assert threads.worker_environ(threads.Threads(), environ={"OMP_NUM_THREADS": "4"}) == {}
    assert threads.worker_environ(threads.Threads(), environ={"MKL_NUM_THREADS": "2"}) == {}
