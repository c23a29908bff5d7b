"""RunSpec: one validated description of a run, the same from Python, the CLI, sweeps and traces."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

import landscape as L
from landscape.spec import RunSpec, RunSpecError

ROOT = Path(__file__).resolve().parent.parent


def test_a_spec_round_trips_through_json_and_is_immutable():
    spec = RunSpec(problem="A", model="pixel", model_options={"init": "random"}, seed=3, optimizer="gd",
                   optimizer_options={"lr": 0.1}, steps=4, probes=["overlap", {"name": "hutchinson", "samples": 3}],
                   snapshot_every=2)
    again = RunSpec.from_json(spec.to_json())
    assert again == spec and hash(again) == hash(spec)
    assert json.loads(spec.to_json())["probes"] == [{"name": "overlap"}, {"name": "hutchinson", "samples": 3}]
    with pytest.raises(AttributeError):
        spec.seed = 4
    with pytest.raises(TypeError):
        spec.optimizer_options["lr"] = 1.0


@pytest.mark.parametrize("change, field, reason", [
    ({"problem": "nope"}, "problem", "unknown problem 'nope'"),
    ({"model": "resnet"}, "model", "unknown model kind 'resnet'"),
    ({"precision": "half"}, "precision", "'half'; accepted: mixed, float64"),
    ({"penal": float("inf")}, "penal", "inf is not a finite number >= 1"),
    ({"penal": True}, "penal", "True is not a finite number >= 1"),
    ({"seed": 1.5}, "seed", "1.5 is not an integer"),
    ({"steps": -1}, "steps", "-1 is not an integer >= 0"),
    ({"optimizer": "gd"}, "optimizer", "gd needs a step size"),
    ({"optimizer_options": {"bogus": 1}}, "optimizer", "bogus"),
    ({"probes": [{"name": "nope"}]}, "probes", "unknown probe 'nope'"),
    ({"probes": [{"name": "overlap", "bogus": 1}]}, "probes", "bad options for probe 'overlap'"),
    ({"snapshot_every": 0}, "snapshot_every", "0 is not a positive integer"),
    ({"threads": 0}, "threads", "positive"),
    ({"filter": "yes"}, "filter", "'yes' is not true or false"),
])
def test_every_bad_field_is_named_with_what_is_accepted(change, field, reason):
    with pytest.raises(RunSpecError, match=reason) as caught:
        RunSpec(**{"problem": "A", **change})
    assert caught.value.field == field and str(caught.value).startswith(f"{field}: ")


def test_model_options_are_checked_by_building_the_model_once():
    spec = RunSpec(problem="A", model="cnn", model_options={"latent_size": -1})   # cheap checks pass
    with pytest.raises(RunSpecError, match="model: cnn with options .* latent_size must be a positive integer"):
        spec.check_model()


def test_the_spec_builds_what_it_says_and_its_trace_gives_it_back(tmp_path):
    spec = RunSpec(problem="A", model="pixel", model_options={"init": "random"}, seed=2, optimizer="gd",
                   optimizer_options={"lr": 0.1}, steps=3, probes=[{"name": "overlap"}], snapshot_every=3)
    objective = spec.build_objective()
    assert objective.model.kind == "pixel" and objective.penal == 3.0 and objective.filter
    result = L.run_spec(spec, trace=tmp_path / "run.h5", progress=False)
    with L.open_trace(tmp_path / "run.h5") as trace:
        assert trace.spec() == spec
        assert trace.probe_names == ["overlap"] and list(trace.snapshots()["step"]) == [0, 3]
        rebuilt = trace.objective()
    theta = result.theta
    assert float(rebuilt.loss(theta)) == pytest.approx(result.final_loss, rel=1e-12)


def test_the_cli_writes_the_spec_python_would(tmp_path):
    out = tmp_path / "cli.h5"
    done = subprocess.run([sys.executable, "-m", "landscape.cli", "run", "--problem", "A", "--optimizer", "gd",
                           "--option", "lr=0.1", "--steps", "2", "--seed", "1", "--model-option", "init=random",
                           "--no-progress", "-o", str(out)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    expected = RunSpec(problem="A", model="pixel", model_options={"init": "random"}, seed=1, optimizer="gd",
                       optimizer_options={"lr": 0.1}, steps=2)
    with L.open_trace(out) as trace:
        assert trace.spec() == expected


def test_trace_spec_and_trace_objective_describe_the_same_run_for_runs_made_without_a_spec(tmp_path):
    """landscape.run on a hand-built objective (model seed 7, run seed 2, no filter) and a Recorder
    trace of torch SGD: Trace.spec() carries the model seed and the design options, Trace.objective() is built
    from it, and the external optimizer is a spec too (named, with its options, not buildable)."""
    import pytest
    import torch

    import landscape as L
    from landscape.spec import RunSpecError
    problem = L.problems.get("mbb_beam_16x8_0.5")
    objective = L.Objective(problem, L.models.build("mlp", problem, seed=7), filter=False)
    L.run(objective, "gd_ls", steps=2, seed=2, trace=L.TraceWriter(tmp_path / "run.h5"), progress=False)
    with L.open_trace(tmp_path / "run.h5") as trace:
        spec = trace.spec()
        assert (spec.model_seed, spec.seed, spec.filter, spec.volume_constraint) == (7, 2, False, True)
        rebuilt = trace.objective()
    assert rebuilt.loss(objective.theta0) == objective.loss(objective.theta0)
    assert rebuilt.filter is False

    sgd = torch.optim.SGD(objective.model.parameters(), lr=1e-3, momentum=0.9)
    with L.Recorder(tmp_path / "sgd.h5", objective) as recorder:
        recorder.attach(sgd)
        sgd.zero_grad()
        objective.module_loss().backward()
        sgd.step()
    with L.open_trace(tmp_path / "sgd.h5") as trace:
        spec = trace.spec()
        assert spec.external and spec.optimizer == "torch.optim.SGD" and spec.optimizer_options["momentum"] == 0.9
        assert spec.model == "mlp" and spec.model_seed == 7 and spec.filter is False
        with pytest.raises(RunSpecError, match="run by its own loop"):
            spec.build_optimizer()
