"""Damaged traces give one line or a valid reading, never a traceback or a crash (issue 15)."""
import collections
import json
import subprocess
import sys
from pathlib import Path

import pytest

import landscape as L
from landscape import optim
from probes.curvature import EigenvalueProbe, HutchinsonProbe

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    from conftest import tiny_beam
    problem = tiny_beam(width=8, height=4)
    objective = L.Objective(problem, L.models.build("pixel", problem), 3.0)
    path = tmp_path_factory.mktemp("fuzz") / "source.h5"
    writer = L.TraceWriter(path, snapshot_every=2)
    L.run(objective, optim.build("lbfgs"), steps=6, progress=False, trace=writer,
          probes=[HutchinsonProbe(every=3, samples=4), EigenvalueProbe(k=2, steps=10, every=3)])
    return path


def test_three_hundred_damaged_copies_of_a_trace_read_or_fail_in_one_line(source, tmp_path):
    done = subprocess.run([sys.executable, str(HERE / "fuzz_traces.py"), str(source), str(tmp_path),
                           "--cases", "300", "--seed", "1"], capture_output=True, text=True, timeout=900)
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    damage = {r["case"]: r["damage"] for r in rows if "damage" in r}
    outcomes = {r["case"]: r for r in rows if "outcome" in r}
    crashed = [damage[c] for c in damage if c not in outcomes]
    assert done.returncode == 0 and not crashed, (done.returncode, crashed, done.stderr[-2000:])
    bad = [(damage[c], r["detail"]) for c, r in outcomes.items() if r["outcome"] == "bad"]
    assert not bad, bad[:5]
    counts = collections.Counter(r["outcome"] for r in outcomes.values())
    assert counts["error"] > 100 and counts["ok"] > 20, counts      # the damage was real, and not all fatal
