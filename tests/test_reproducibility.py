"""Reproducibility: studies write outside the repository, and committed results are not stale.

The guard reruns a few cheap committed cells in the deterministic mode and compares them with the
committed reference bit for bit, so a code change that alters results fails here instead of leaving
stale files in ``figures/``. After such a change, regenerate the reference on purpose (``make figures``
for the quick cells; the full cells with ``--out figures``, see docs/concepts/reproducibility.md).
"""
import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from landscape import numerics

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "figures"
pytestmark = pytest.mark.skipif(not numerics.supported()[0], reason="the reference is made with AVX2 kernels")


def _environ(out: Path, deterministic: bool = True) -> dict:
    environ = {k: v for k, v in os.environ.items() if k not in numerics.PINS}
    environ.update(LANDSCAPE_OUT=str(out), LANDSCAPE_DETERMINISTIC="1" if deterministic else "0")
    return environ


def _state(names) -> dict:
    """Size and modification time of the reference's files of these names (None where there is none)."""
    return {name: ((REFERENCE / name).stat().st_size, (REFERENCE / name).stat().st_mtime_ns)
            if (REFERENCE / name).exists() else None for name in names}


def test_studies_write_into_the_output_folder_and_leave_the_reference_alone(tmp_path):
    """The files these two studies write stay untouched in figures/ (another job may be regenerating other
    reference files meanwhile, so only these are compared)."""
    names = ("findings_quick.md", "reference_check_quick.md")
    before = _state(names)
    for script in ("findings.py", "reference_check.py"):
        done = subprocess.run([sys.executable, str(ROOT / "studies" / script), "--quick"], cwd=ROOT,
                              env=_environ(tmp_path), capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    assert (tmp_path / "findings_quick.md").exists() and (tmp_path / "reference_check_quick.md").exists()
    assert _state(names) == before


def _digest(path: Path) -> str:
    sys.path.insert(0, str(ROOT / "studies"))
    from matrix import read_header
    return read_header(path).get("sha256", "")


@pytest.mark.timeout(900)
def test_cheap_committed_cells_rerun_bit_for_bit_in_deterministic_mode(tmp_path):
    """Pixel, p = 3, problem A, GD and L-BFGS at the quick budget (3 seeds), and the p = 1 hard check on A:
    rerun here in the deterministic mode, they must equal the committed reference to the last bit."""
    code = ("import sys; sys.path.insert(0, 'studies'); import common, matrix; from pathlib import Path; "
            f"matrix.RUNS = Path({str(tmp_path / 'runs')!r}); "
            "matrix.run_matrix([('pixel', 3.0, 'A')], ('GD', 'L-BFGS'), matrix.QUICK, workers=2, quick=True, "
            "progress=False)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_environ(tmp_path / "out"),
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    for name in ("pixel_p3_A_GD_thesis.csv", "pixel_p3_A_L-BFGS.csv"):
        committed, rerun = REFERENCE / "curves" / "quick" / name, tmp_path / "out" / "curves" / "quick" / name
        assert _digest(committed), f"{committed} has no digest: regenerate the reference (make figures)"
        assert _digest(rerun) == _digest(committed), f"{name} no longer reproduces the committed reference"

    done = subprocess.run([sys.executable, "-m", "experiments.hard_check", "--problems", "A", "--out",
                           str(tmp_path / "demo"), "--csv", str(tmp_path / "hard_check.csv")], cwd=ROOT,
                          env=_environ(tmp_path / "out"), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    read = lambda path: {row["check"]: row["value"] for row in csv.DictReader(open(path))}   # noqa: E731
    committed, rerun = read(REFERENCE / "hard_check_quick.csv"), read(tmp_path / "hard_check.csv")
    for check, value in rerun.items():
        assert committed[check] == value, f"{check}: {value} here, {committed[check]} committed"
