"""The Recorder on par with landscape.run: torch.optim with and without a closure, hand-written loops with their
L-BFGS memory, last-step probes, evaluations, the last iterate, and names that keep optimizers apart."""
import warnings

import numpy as np
import pytest
import torch

import landscape as L
from probes.curvature import HessianDensityProbe, LBFGSDensityProbe
from probes.trajectory import TrajectoryProbe


@pytest.fixture
def objective():
    problem = L.problems.resized("A", 8, 16)
    return L.Objective(problem, L.models.build("cnn_transpose", problem, seed=0, precision="float64"), penal=3.0)


def _theta(objective):
    return torch.cat([p.detach().reshape(-1) for p in objective.model.parameters()]).to(torch.float64)


def test_torch_lbfgs_with_its_closure_records_every_iterate_with_its_own_loss_and_gradient(objective, tmp_path):
    opt = torch.optim.LBFGS(objective.model.parameters(), lr=1, history_size=10, max_iter=1,
                            line_search_fn="strong_wolfe")
    calls = {"n": 0}

    def closure():
        calls["n"] += 1
        opt.zero_grad()
        loss = objective.module_loss()
        loss.backward()
        return loss

    probes = [LBFGSDensityProbe(every=2, runs=1, steps=8), TrajectoryProbe(every=1),
              HessianDensityProbe(runs=1, steps=8)]        # the Hessian density: step 0 and the last step
    with L.Recorder(tmp_path / "lbfgs.h5", objective, probes=probes, snapshot_every=1) as recorder:
        recorder.attach(opt)
        for _ in range(5):
            opt.step(closure)
        memory = L.recorder.torch_lbfgs_memory(opt)
    final = _theta(objective)
    with L.open_trace(tmp_path / "lbfgs.h5") as trace:
        steps, snapshots = trace.steps(), trace.snapshots()
        assert list(steps["step"]) == [0, 1, 2, 3, 4, 5]                 # the last iterate is there too
        for k, theta in zip(snapshots["step"], snapshots["theta"]):
            loss, grad = objective.value_and_grad(torch.as_tensor(theta))
            assert steps["loss"][k] == pytest.approx(float(loss), rel=1e-12)
            assert steps["grad_norm"][k] == pytest.approx(float(grad.norm()), rel=1e-10)
        assert np.array_equal(snapshots["theta"][-1], final.numpy())
        summary = trace.summary()
        assert summary["evaluations"] == calls["n"] == steps["evaluations"][-1]
        assert summary["optimizer"] == "torch.optim.LBFGS" and summary["optimizer_options"]["history_size"] == 10
        assert summary["label"].startswith("torch.optim.LBFGS(lr=1") and "strong_wolfe" in summary["label"]
        assert list(trace.probe("hessian_density")["step"]) == [0, 5]
        density = trace.probe("lbfgs_density")
        assert list(density["step"]) == [0, 2, 4, 5]                       # every 2 and the last step
        assert list(density["available"]) == [0.0, 1.0, 1.0, 1.0]        # no pair before the first step
        assert np.isfinite(density["density"][1:]).all()
    assert memory.size == 4 and memory.S.shape == (objective.num_params, 4)     # torch pairs at the next step
    assert memory.gamma == pytest.approx(float(memory.S[:, -1] @ memory.Y[:, -1] / (memory.Y[:, -1] @ memory.Y[:, -1])))


@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_torch_sgd_and_adam_record_the_same_iterates_as_landscape_run(objective, tmp_path, kind):
    """SGD at lr is landscape's gd at lr, and landscape's adam is torch's Adam: the same losses step for step."""
    lr = 1e-6 if kind == "sgd" else 1e-2
    start = {k: v.clone() for k, v in objective.model.state_dict().items()}
    reference = L.run(objective, L.optim.build("gd" if kind == "sgd" else "adam", lr=lr), steps=6, progress=False)
    objective.model.load_state_dict(start)
    opt = (torch.optim.SGD if kind == "sgd" else torch.optim.Adam)(objective.model.parameters(), lr=lr)
    with L.Recorder(tmp_path / f"{kind}.h5", objective) as recorder:
        recorder.attach(opt)
        for _ in range(6):
            opt.zero_grad()
            objective.module_loss().backward()
            opt.step()
    with L.open_trace(tmp_path / f"{kind}.h5") as trace:
        recorded = trace.steps()
        assert trace.summary()["evaluations"] == 6
        assert trace.summary()["optimizer"] == f"torch.optim.{'SGD' if kind == 'sgd' else 'Adam'}"
    np.testing.assert_allclose(recorded["loss"], reference.losses, rtol=1e-9)


def test_a_hand_written_quasi_newton_loop_hands_its_memory_to_the_lbfgs_probe(objective, tmp_path):
    theta = objective.theta0.clone()
    S, Y = [], []
    loss, grad = objective.value_and_grad(theta)
    with L.Recorder(tmp_path / "mine.h5", objective, probes=[LBFGSDensityProbe(every=1, runs=1, steps=6)],
                    optimizer="heavy-ball BFGS", optimizer_options={"lr": 1e-6}) as recorder:
        for step in range(4):
            memory = (torch.stack(S, 1), torch.stack(Y, 1), float(S[-1] @ Y[-1] / (Y[-1] @ Y[-1]))) if S else None
            recorder.observe(step, theta, loss, grad, memory=memory)
            new = theta - 1e-6 * grad
            new_loss, new_grad = objective.value_and_grad(new)
            S.append(new - theta)
            Y.append(new_grad - grad)
            theta, loss, grad = new, new_loss, new_grad
    with L.open_trace(tmp_path / "mine.h5") as trace:
        assert list(trace.probe("lbfgs_density")["available"]) == [0.0, 1.0, 1.0, 1.0]
        assert trace.summary()["optimizer"] == "heavy-ball BFGS"
    with pytest.raises(ValueError, match="S and Y must both be"):
        L.recorder.as_memory((torch.zeros(3, 2), torch.zeros(3, 1), 1.0), 3)


def test_a_probe_whose_input_is_missing_says_so_once_and_records_not_available(objective, tmp_path):
    opt = torch.optim.SGD(objective.model.parameters(), lr=1e-7)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with L.Recorder(tmp_path / "sgd.h5", objective, probes=[LBFGSDensityProbe(every=1, runs=1, steps=6)]) as rec:
            rec.attach(opt)
            for _ in range(3):
                opt.zero_grad()
                objective.module_loss().backward()
                opt.step()
    said = [w for w in caught if "hands no curvature memory" in str(w.message)]
    assert len(said) == 1
    with L.open_trace(tmp_path / "sgd.h5") as trace:
        assert list(trace.probe("lbfgs_density")["available"]) == [0.0] * 4


def test_recorded_runs_of_different_optimizers_fall_into_different_groups(objective, tmp_path):
    from landscape.plots import group_label
    labels = set()
    for name, factory in (("sgd", torch.optim.SGD), ("adam", torch.optim.Adam)):
        opt = factory(objective.model.parameters(), lr=1e-7)
        with L.Recorder(tmp_path / f"{name}.h5", objective) as recorder:
            recorder.attach(opt)
            opt.zero_grad()
            objective.module_loss().backward()
            opt.step()
        with L.open_trace(tmp_path / f"{name}.h5") as trace:
            labels.add(group_label(trace.summary()))
    with L.Recorder(tmp_path / "mine.h5", objective, label="my method") as recorder:
        recorder.observe(0, objective.theta0, objective.loss(objective.theta0))
    with L.open_trace(tmp_path / "mine.h5") as trace:
        labels.add(group_label(trace.summary()))
    assert len(labels) == 3 and any(label.startswith("my method") for label in labels)


def test_closing_a_recorder_twice_keeps_its_trace(tmp_path):
    """An explicit close() inside ``with`` and the close on exit: the second one changes nothing."""
    import landscape as L
    problem = L.problems.get("mbb_beam_16x8_0.5")
    objective = L.Objective(problem, L.models.build("pixel", problem), penal=3.0)
    path = tmp_path / "twice.h5"
    with L.Recorder(path, objective, overwrite=True) as recorder:
        theta = objective.theta0
        for step in range(3):
            loss, grad = objective.value_and_grad(theta)
            recorder.observe(step, theta, loss, grad)
            theta = theta - 0.01 * grad
        recorder.close()
    with L.open_trace(path) as trace:
        assert trace.status == "completed" and trace.num_steps == 2    # steps 0, 1, 2
