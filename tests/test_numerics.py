"""The deterministic numerics mode (landscape.numerics): pins take effect, are verified, and are recorded.

The pins act only before torch and NumPy load, so every check runs in a fresh interpreter.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from landscape import numerics

ROOT = Path(__file__).resolve().parent.parent
AVX2 = numerics.supported()[0]


def _python(code: str, deterministic: str | None, **env) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in numerics.PINS and k != numerics.ENVIRONMENT}
    if deterministic is not None:
        environ[numerics.ENVIRONMENT] = deterministic
    environ.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=environ,
                          timeout=300)


def test_the_variable_accepts_yes_and_no_words_and_names_a_bad_value():
    assert numerics.requested({"LANDSCAPE_DETERMINISTIC": "1"})
    assert numerics.requested({"LANDSCAPE_DETERMINISTIC": "On"})
    assert not numerics.requested({}) and not numerics.requested({"LANDSCAPE_DETERMINISTIC": "0"})
    with pytest.raises(ValueError, match="'maybe'.*accepted"):
        numerics.requested({"LANDSCAPE_DETERMINISTIC": "maybe"})


@pytest.mark.skipif(not AVX2, reason="the mode pins AVX2 kernels; this CPU has none")
def test_deterministic_mode_pins_every_library_and_verifies_it():
    done = _python("import json, landscape, landscape.physics as p; p.backend(); "
                   "print(json.dumps([landscape.numerics.check(), landscape.numerics.report()]))", "1")
    assert done.returncode == 0, done.stderr
    problems, report = json.loads(done.stdout)
    assert problems == []
    assert report["mode"] == "deterministic"
    assert report["kernels"]["torch_cpu_capability"] == "AVX2"
    assert report["kernels"]["torch_mkldnn"] is False
    assert not [t for t in report["kernels"]["numpy_dispatch"] if "512" in t or t == "X86_V4"]
    assert report["kernels"]["blas"] and all(b["architecture"] == "Haswell" for b in report["kernels"]["blas"]
                                             if b["internal_api"] == "openblas")


def test_native_mode_pins_nothing():
    done = _python("import json, landscape; print(json.dumps(landscape.numerics.report()))", None)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["mode"] == "native" and report["pins"]["ATEN_CPU_CAPABILITY"] is None


@pytest.mark.skipif(not AVX2, reason="the mode pins AVX2 kernels; this CPU has none")
def test_numpy_loaded_first_is_named_and_require_refuses():
    done = _python("import numpy, warnings; warnings.simplefilter('always'); import landscape; "
                   "landscape.numerics.require()", "1")
    assert done.returncode != 0
    assert "numpy was imported before landscape" in done.stderr and "DeterminismError" in done.stderr


@pytest.mark.skipif(not AVX2, reason="the mode pins AVX2 kernels; this CPU has none")
def test_a_value_already_set_is_kept_and_reported():
    done = _python("import landscape; print(landscape.numerics.check())", "1", OPENBLAS_CORETYPE="Sandybridge")
    assert done.returncode == 0, done.stderr
    assert "OPENBLAS_CORETYPE=Sandybridge was set in the environment and kept" in done.stdout


def test_cli_flag_relaunches_in_the_mode_and_the_trace_records_it(tmp_path):
    trace = tmp_path / "t.h5"
    run = [sys.executable, "-m", "landscape.cli", "--deterministic", "run", "--problem", "mbb_beam_16x8_0.5",
           "--steps", "3", "--no-progress", "-o", str(trace)]
    environ = {k: v for k, v in os.environ.items() if k not in numerics.PINS and k != numerics.ENVIRONMENT}
    done = subprocess.run(run, capture_output=True, text=True, cwd=ROOT, env=environ, timeout=300)
    assert done.returncode == 0, done.stderr
    shown = subprocess.run([sys.executable, "-m", "landscape.cli", "show", "--json", str(trace)],
                           capture_output=True, text=True, cwd=ROOT, env=environ, timeout=300)
    numerics_recorded = json.loads(shown.stdout)["numerics"]
    assert numerics_recorded["mode"] == "deterministic"
    assert numerics_recorded["cpu"]["machine"] and "blas" in numerics_recorded["kernels"]


def test_traces_without_the_record_read_as_native(tmp_path):
    import h5py

    import landscape as L
    path = tmp_path / "old.h5"
    problem = L.problems.get("mbb_beam_16x8_0.5")
    L.run(L.Objective(problem, L.models.build("pixel", problem)), "gd_ls", steps=2, trace=L.TraceWriter(path))
    with L.open_trace(path) as trace:
        assert trace.numerics["mode"] == "native"       # this test process runs natively
    with h5py.File(path, "r+") as f:
        del f.attrs["numerics"]
    with L.open_trace(path) as trace:
        assert trace.numerics == {"mode": "native"}


PROBE = """
import json, torch, landscape as L
problem = L.problems.resized("A", 8, 16)
out = {"capability": torch.backends.cpu.get_cpu_capability(), "check": L.numerics.check()}
for kind in ("pixel", "cnn_transpose"):
    objective = L.Objective(problem, L.models.build(kind, problem, seed=0), penal=3.0)
    result = L.run(objective, L.optim.build("lbfgs"), steps=5, progress=False)
    out[kind] = [float(result.final_loss).hex(), float(result.theta.norm()).hex()]
print(json.dumps(out))
"""


@pytest.mark.slow
@pytest.mark.skipif(not AVX2 or not shutil.which("valgrind"), reason="needs an AVX2 CPU and valgrind")
def test_deterministic_mode_gives_the_same_bits_on_a_cpu_without_avx512():
    """Another CPU, for real: valgrind runs the process on a virtual x86-64 CPU without AVX-512 (whatever the
    host has), so torch, OpenBLAS and NumPy see another instruction set. In the deterministic mode five L-BFGS
    steps of a pixel model and of the CNN end at the same bits as on the host (measured: about 3 minutes)."""
    host = _python(PROBE, "1")
    assert host.returncode == 0, host.stderr
    environ = {k: v for k, v in os.environ.items() if k not in numerics.PINS}
    environ[numerics.ENVIRONMENT] = "1"
    virtual = subprocess.run(["valgrind", "--tool=none", "-q", sys.executable, "-c", PROBE], capture_output=True,
                             text=True, cwd=ROOT, env=environ, timeout=3000)
    assert virtual.returncode == 0, virtual.stderr[-2000:]
    host_out, virtual_out = json.loads(host.stdout.splitlines()[-1]), json.loads(virtual.stdout.splitlines()[-1])
    assert host_out["check"] == virtual_out["check"] == []
    assert host_out["pixel"] == virtual_out["pixel"] and host_out["cnn_transpose"] == virtual_out["cnn_transpose"]
