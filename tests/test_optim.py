"""Optimizers against exact answers: dense BFGS, the Wolfe conditions, Rosenbrock, the thesis optimum."""
import math

import numpy as np
import pytest
import torch
from conftest import tiny_beam

import landscape
from landscape import FunctionObjective, Objective, models, optim, problems
from landscape.optim.directions import LBFGSMemory, two_loop


def quadratic(n=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    Q = torch.randn(n, n, generator=g, dtype=torch.float64)
    A = Q @ Q.T + 0.5 * torch.eye(n, dtype=torch.float64)
    b = torch.randn(n, generator=g, dtype=torch.float64)
    return FunctionObjective(lambda x: 0.5 * x @ A @ x - b @ x, torch.zeros(n), "quadratic"), A, b


def rosenbrock(x):
    return torch.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def dense_bfgs_inverse(S, Y, gamma):
    """Thesis eq. A.5 applied pair by pair to H0 = gamma I."""
    n = S.shape[0]
    H = gamma * torch.eye(n, dtype=torch.float64)
    eye = torch.eye(n, dtype=torch.float64)
    for s, y in zip(S.T, Y.T):
        rho = 1.0 / (s @ y)
        H = (eye - rho * torch.outer(s, y)) @ H @ (eye - rho * torch.outer(y, s)) + rho * torch.outer(s, s)
    return H


def test_two_loop_with_full_memory_is_the_dense_bfgs_inverse_update():
    objective, A, b = quadratic(n=8)
    opt = optim.build("lbfgs", m=50)
    opt.start(objective)
    for _ in range(6):
        assert opt.step().accepted
    memory = opt.memory()
    assert memory.size == 6
    g = opt.grad
    H = dense_bfgs_inverse(memory.S, memory.Y, memory.gamma)
    direction = opt.direction.direction(g)
    assert torch.allclose(direction, -H @ g, rtol=0, atol=1e-10 * float(g.norm()) * float(H.norm()))
    # gamma is s'y / y'y of the newest pair
    s, y = memory.S[:, -1], memory.Y[:, -1]
    assert memory.gamma == pytest.approx(float(s @ y / (y @ y)), rel=1e-14)


def test_two_loop_keeps_only_the_last_m_pairs_and_skips_bad_curvature():
    store = LBFGSMemory(2)
    g = torch.tensor([1.0, 0.0])
    for k in range(3):
        assert store.push(torch.tensor([-1.0, float(k)]), torch.tensor([-2.0, 0.0]), g)
    assert len(store) == 2 and float(store.pairs[0][0][1]) == 1.0
    assert not store.push(torch.tensor([-1.0, 0.0]), torch.tensor([1.0, 0.0]), g)   # s'y < 0
    assert store.skipped == 1 and len(store) == 2
    empty = LBFGSMemory(3)
    assert torch.equal(two_loop(g, empty), g)


@pytest.mark.parametrize("name, options, c1", [("lbfgs", {}, 1e-4), ("gd_ls", {"search": "wolfe"}, 1e-4),
                                               ("gd_ls", {}, 1e-3), ("lbfgs", {"search": "lbfgsb"}, 1e-3)])
def test_line_search_steps_satisfy_both_strong_wolfe_conditions(name, options, c1):
    objective = FunctionObjective(rosenbrock, torch.tensor([-1.2, 1.0, -0.5, 0.8]), "rosenbrock")
    opt = optim.build(name, **options)
    prev = opt.start(objective)
    checked = 0
    for _ in range(40):
        step = opt.step()
        if not step.accepted:
            break
        d = (step.theta - prev.theta) / step.step_size
        slope0, slope = float(prev.grad @ d), float(step.grad @ d)
        assert slope0 < 0
        assert step.loss <= prev.loss + c1 * step.step_size * slope0
        assert abs(slope) <= 0.9 * abs(slope0)
        prev, checked = step, checked + 1
    assert checked >= 20


@pytest.mark.parametrize("penal", [1.0, 3.0])
def test_gd_ls_steps_are_scipy_lbfgsb_restarted_for_one_iteration(penal):
    """The thesis ran GD_LS as SciPy's L-BFGS-B restarted at every step (appendix B.2.4): from each of our
    iterates, one L-BFGS-B iteration lands on our next iterate with the same number of trials, including the
    late steps that need thousands of times the first trial ``1/|g|`` (which the old search could not reach)."""
    import scipy.optimize
    problem = tiny_beam(width=12, height=6)
    objective = Objective(problem, models.build("pixel", problem), penal=penal)
    opt = optim.build("gd_ls")
    step = opt.start(objective)

    def fun(x):
        loss, grad = objective.value_and_grad(torch.from_numpy(x))
        return loss, grad.numpy()

    longest = 0.0
    for _ in range(60):
        theta = step.theta
        step = opt.step()
        if not step.accepted:
            break
        done = scipy.optimize.minimize(fun, theta.numpy(), jac=True, method="L-BFGS-B",
                                       options={"maxfun": 1, "maxls": 20, "ftol": 0.0, "gtol": 0.0})
        assert done.nit == 1
        assert np.abs(done.x - step.theta.numpy()).max() <= 1e-9 * np.abs(theta.numpy()).max(), (
            np.abs(done.x - step.theta.numpy()).max(), done.nfev, len(step.evaluations))
        assert done.nfev - 1 == len(step.evaluations)     # SciPy also counts its evaluation at x0
        longest = max(longest, step.step_size * float(opt.grad.norm()))
    else:
        longest = max(longest, 1.0)
    assert longest > 1.0


def test_the_lbfgsb_search_backs_off_from_a_trial_with_no_finite_loss():
    """``dcsrch`` extrapolates into a region where the loss is +inf; the search restarts from a tenth of that
    trial instead of handing dcsrch an infinity (which gives a NaN step), and still finds a step."""
    def barrier(x):
        return torch.where(x[0] > 27.0, 0.5 * 1e-3 * x[0] ** 2, torch.tensor(float("inf"), dtype=x.dtype))
    objective = FunctionObjective(barrier, torch.tensor([30.0]), "barrier")
    opt = optim.build("gd_ls")
    first = opt.start(objective)
    step = opt.step()
    assert step.accepted and math.isfinite(step.loss) and step.loss < first.loss
    assert 27.0 < float(step.theta[0]) < 30.0


def test_a_line_search_constant_of_the_other_search_is_refused():
    with pytest.raises(optim.OptimizerError, match="c1 belong.*search='lbfgsb' takes ftol, gtol, xtol, maxls"):
        optim.build("gd_ls", c1=1e-4)
    with pytest.raises(optim.OptimizerError, match="search='armijo'; accepted: 'lbfgsb', 'wolfe'"):
        optim.build("lbfgs", search="armijo")
    with pytest.raises(optim.OptimizerError, match="0 < ftol < gtol < 1"):
        optim.build("gd_ls", ftol=0.95)


@pytest.mark.parametrize("name", ["lbfgs", "scipy_lbfgsb"])
def test_rosenbrock_converges(name):
    objective = FunctionObjective(rosenbrock, torch.tensor([-1.2, 1.0]), "rosenbrock")
    result = landscape.run(objective, optim.build(name), steps=200, progress=False)
    assert result.best_loss < 1e-12
    assert torch.allclose(result.best_theta, torch.ones(2, dtype=torch.float64), atol=1e-5)


@pytest.mark.parametrize("search", ["lbfgsb", "wolfe"])
def test_gd_ls_is_lbfgs_with_no_memory(search):
    problem = tiny_beam(width=12, height=6)
    runs = []
    for opt in (optim.build("gd_ls", search=search), optim.build("lbfgs", m=0, search=search)):
        objective = Objective(problem, models.build("pixel", problem), penal=3.0)
        runs.append(landscape.run(objective, opt, steps=15, progress=False))
    a, b = runs
    assert np.array_equal(a.losses, b.losses)
    assert np.array_equal(a.history.column("step_size"), b.history.column("step_size"), equal_nan=True)
    assert a.evaluations == b.evaluations


def test_scipy_lbfgsb_reconstructed_memory_gives_the_step_scipy_took():
    problem = tiny_beam(width=16, height=8, volfrac=0.4)
    objective = Objective(problem, models.build("pixel", problem), penal=1.0)   # convex in x
    opt = optim.build("scipy_lbfgsb", m=5)
    opt.start(objective, steps=60)
    cosines = []
    for _ in range(40):
        step = opt.step()
        if not step.accepted:
            break
        cosines.append(step.extra["direction_cosine"])
        assert opt.memory().size == min(step.step, 5) - step.extra["skipped_pairs"]
    opt.close()
    assert len(cosines) >= 20
    assert min(cosines) > 1 - 1e-8


def test_scipy_lbfgsb_records_every_evaluation():
    problem = tiny_beam(width=12, height=6)
    objective = Objective(problem, models.build("pixel", problem), penal=3.0)
    before = objective.evaluations
    result = landscape.run(objective, "scipy_lbfgsb", steps=30, progress=False)
    assert result.evaluations == objective.evaluations - before
    assert result.status in ("max_evaluations", "completed")
    assert result.evaluations <= 30 + 1


@pytest.mark.parametrize("name", ["lbfgs", "scipy_lbfgsb", "oc", "mma"])
def test_pixel_p1_problem_A_reaches_the_thesis_optimum(name):
    problem = problems.get("A")
    objective = Objective(problem, models.build("pixel", problem), penal=1.0)
    result = landscape.run(objective, name, steps=300, progress=False)
    if name in ("lbfgs", "scipy_lbfgsb"):
        assert abs(result.best_loss - 21.27) <= 0.05
    else:
        assert abs(result.best_loss - 21.27) <= 0.01 * 21.27
        # the logits handed to the run reproduce the design the baseline optimized
        assert objective.loss(result.best_theta) == pytest.approx(result.best_loss, rel=1e-5)


def test_diverging_gd_is_reported_with_its_record():
    objective = FunctionObjective(lambda x: torch.sum(x ** 4), torch.tensor([1.0, -2.0]), "quartic")
    result = landscape.run(objective, optim.build("gd", lr=10.0), steps=100, progress=False)
    assert result.status == "diverged"
    assert 1 <= result.steps < 100
    assert math.isfinite(result.best_loss) and result.best_step == 0
    assert len(result.losses) == result.steps + 1


def test_diverging_gd_on_the_cnn():
    problem = tiny_beam(width=16, height=8)
    model = models.build("cnn", problem, seed=1, latent_size=4, dense_channels=4,
                         conv_filters=(8, 4, 1), resizes=(1, 2, 2))
    objective = Objective(problem, model, penal=3.0)
    result = landscape.run(objective, optim.build("gd", lr=1e4), steps=50, progress=False)
    assert result.status == "diverged", result
    assert result.steps < 50


def test_line_search_failure_is_reported():
    objective = FunctionObjective(lambda x: -x.sum(), torch.zeros(3), "unbounded")
    result = landscape.run(objective, "lbfgs", steps=20, progress=False)
    assert result.status == "line_search_failed"
    assert "strong-Wolfe" in result.message


def test_max_evaluations_and_interruption_statuses():
    objective = FunctionObjective(rosenbrock, torch.tensor([-1.2, 1.0]), "rosenbrock")
    result = landscape.run(objective, "lbfgs", steps=200, max_evaluations=10, progress=False)
    assert result.status == "max_evaluations" and result.evaluations >= 10

    def stop_at_three(step):
        if step.step == 3:
            raise landscape.runner.RunInterrupted("asked to stop")

    opt = optim.build("scipy_lbfgsb")
    result = landscape.run(objective, opt, steps=200, progress=False, callback=stop_at_three)
    assert result.status == "interrupted" and result.steps == 3
    assert opt._loop is None   # the SciPy worker thread was told to stop


def test_probes_run_on_their_schedule():
    class EveryOther:
        name = "norm"

        def due(self, step, last):
            return step % 2 == 0 or last

        def __call__(self, context):
            return {"theta_norm": float(context.theta.norm()), "memory": context.memory() is not None}

    objective = FunctionObjective(rosenbrock, torch.tensor([-1.2, 1.0]), "rosenbrock")
    result = landscape.run(objective, "lbfgs", steps=5, probes=[EveryOther()], progress=False)
    steps = [s for s, _ in result.probes["norm"]]
    assert steps == [0, 2, 4, 5]
    assert result.probes["norm"][-1][1]["memory"] is True


@pytest.mark.parametrize("name, options, message", [
    ("gd", {"lr": -1.0}, "lr must be a finite number > 0"),
    ("gd", {}, "gd needs a step size"),
    ("hd", {"m": -1, "lr": 0.1}, "m must be an integer >= 0"),
    ("lbfgs", {"m": 2.5}, "m must be an integer"),
    ("lbfgs", {"c1": 0.95}, "0 < c1 < c2 < 1"),
    ("lbfgs", {"momentum": 0.9}, r"unknown option\(s\) 'momentum' for optimizer 'lbfgs'"),
    ("lbgfs", {}, "did you mean lbfgs"),
])
def test_bad_options_are_rejected(name, options, message):
    with pytest.raises(optim.OptimizerError, match=message):
        optim.build(name, **options)


@pytest.mark.parametrize("name", ["oc", "mma"])
def test_pixel_only_optimizers_refuse_other_models(name):
    problem = tiny_beam(width=16, height=8)
    model = models.build("cnn", problem, latent_size=4, dense_channels=4, conv_filters=(4, 1),
                         resizes=(2, 2))
    objective = Objective(problem, model)
    with pytest.raises(optim.OptimizerError, match="pixel densities only"):
        landscape.run(objective, name, steps=3, progress=False)


def test_steps_must_be_a_non_negative_integer():
    objective = FunctionObjective(rosenbrock, torch.tensor([-1.2, 1.0]))
    with pytest.raises(ValueError, match="steps must be an integer >= 0, got -1"):
        landscape.run(objective, "lbfgs", steps=-1, progress=False)


def _count_runs(monkeypatch) -> list:
    """Count the runs a step-size search starts (one entry per ``runner.run`` call)."""
    from landscape import runner

    calls, real_run = [], runner.run
    monkeypatch.setattr(runner, "run", lambda *a, **k: calls.append(1) or real_run(*a, **k))
    return calls


def _median_final_gd(problem, lr: float, steps: int, seeds) -> float:
    """The median final loss of GD at ``lr`` on the default pixels of ``problem`` (p = 3), rerun from scratch."""
    return float(np.median([landscape.run(Objective(problem, models.build("pixel", problem, seed=s), 3.0),
                                          optim.build("gd", lr=lr), steps=steps, progress=False).final_loss
                            for s in seeds]))


def test_step_size_search_saves_its_trials(tmp_path):
    import json

    from experiments.tuning import tune_step_size

    problem = tiny_beam(width=12, height=6)
    result = tune_step_size(problem, "pixel", "gd", penal=3.0, steps=4, seeds=(0, 1), trials=5,
                            out=tmp_path / "gd_tiny", progress=False)
    saved = json.loads((tmp_path / "gd_tiny.json").read_text())
    assert (tmp_path / "gd_tiny.csv").exists()
    assert len(saved["trials"]) == 5 and saved["search_range"] == [-3.0, 1.0]
    x = saved["best_log10_lr"]
    assert -3.0 <= x <= 1.0 and abs(x * 10 - round(x * 10)) < 1e-9   # the thesis's 0.1 grid
    assert saved["best_value"] == min(t["median_final_loss"] for t in saved["trials"])
    # the best step is the one its trial ran, to the bit (not 10 ** optuna's unrounded parameter), and
    # re-running it gives the same median, to the bit
    assert result.best_lr == 10.0 ** round(x, 1)
    assert result.best_lr in {t["lr"] for t in saved["trials"] if t["median_final_loss"] == saved["best_value"]}
    assert _median_final_gd(problem, result.best_lr, 4, (0, 1)) == result.best_value
    with pytest.raises(optim.OptimizerError, match="constant-step"):
        tune_step_size(problem, "pixel", "lbfgs", trials=1)


def test_step_size_search_resumes_from_its_journal_and_reuses_repeated_proposals(tmp_path, monkeypatch):
    from experiments.tuning import tune_step_size
    problem = tiny_beam(width=8, height=4)
    calls = _count_runs(monkeypatch)
    journal = tmp_path / "search.jsonl"
    kwargs = dict(penal=3.0, steps=3, seeds=(0,), search_range=(0.0, 0.3), progress=False, storage=str(journal))
    first = tune_step_size(problem, "pixel", "gd", trials=3, **kwargs)
    assert journal.exists() and len(first.trials) == 3
    # the range holds 4 grid points, so 12 trials must repeat earlier proposals: at most 4 distinct runs
    resumed = tune_step_size(problem, "pixel", "gd", trials=12, **kwargs)
    assert len(resumed.trials) == 12
    assert len(calls) <= 4
    assert len({t["log10_lr"] for t in resumed.trials}) == len(calls)
    for repeat in (t for t in resumed.trials if "repeat_of" in t):
        same = next(t for t in resumed.trials if t["trial"] == repeat["repeat_of"])
        assert same["median_final_loss"] == repeat["median_final_loss"]



def test_grid_points_lie_on_the_thesis_grid_inside_the_range():
    from experiments.tuning import grid_points, tenths

    assert grid_points(-6.83, 2.0, 0.5, (-10.0, 0.3)) == [-8.8, -8.3, -7.8, -7.3, -6.8, -6.3, -5.8, -5.3, -4.8]
    assert grid_points(1.0, 2.0, 0.5, (-3.0, 1.0)) == [-1.0, -0.5, 0.0, 0.5, 1.0]   # dropped above the range
    assert grid_points(0.2, 0.4, 0.1, (-3.0, 1.0)) == [-0.2, -0.1, 0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    # |k * spacing| <= half_width also when the spacing does not divide the half width
    assert grid_points(0.0, 0.75, 0.5, (-9.0, 9.0)) == [-0.5, 0.0, 0.5]
    assert grid_points(0.0, 2.0, 0.3, (-9.0, 9.0))[0] == -1.8
    # a centre halfway between two tenths goes up, whatever its last bit says
    mean = (math.log10(0.0251188643150958) + math.log10(0.0501187233627272)) / 2    # -1.45 up to rounding
    assert tenths(mean) == -14 and tenths(-0.05) == 0 and tenths(-1.85) == -18 and tenths(0.25) == 3
    assert grid_points(mean, 0.0, 0.5, (-9.0, 9.0)) == [-1.4]


def test_grid_search_scores_the_coarse_grid_then_the_fine_grid_around_its_best(tmp_path, monkeypatch):
    from experiments.tuning import grid_step_size
    problem = tiny_beam(width=8, height=4)
    calls = _count_runs(monkeypatch)
    journal = tmp_path / "grid.jsonl"
    kwargs = dict(center=-0.5, half_width=1.0, coarse=0.5, fine=0.1, penal=3.0, steps=4, seeds=(0, 1),
                  progress=False, journal=journal)
    result = grid_step_size(problem, "pixel", "gd", out=tmp_path / "grid", **kwargs)
    xs = [t["log10_lr"] for t in result.trials]
    assert xs[:5] == [-1.5, -1.0, -0.5, 0.0, 0.5]
    coarse_best = min(result.trials[:5], key=lambda t: (t["median_final_loss"], t["log10_lr"]))["log10_lr"]
    expected = {round(coarse_best + j / 10, 1) for j in (-4, -3, -2, -1, 1, 2, 3, 4)} - set(xs[:5])
    assert set(xs[5:]) == expected and len(set(xs)) == len(xs)   # the fine grid, each point once
    assert len(calls) == 2 * len(xs)            # every point once, on both seeds
    assert result.search_range == (min(xs), max(xs))
    assert result.at_edge == (result.best_log10_lr in (min(xs), max(xs)))
    assert result.best_value == min(t["median_final_loss"] for t in result.trials) and result.protocol == "grid"
    assert _median_final_gd(problem, result.best_lr, 4, (0, 1)) == pytest.approx(result.best_value, rel=1e-12)
    # a rerun reads its journal and runs nothing; a journal of another search is refused by name
    again = grid_step_size(problem, "pixel", "gd", **kwargs)
    assert len(calls) == 2 * len(xs) and again.trials == result.trials
    with pytest.raises(ValueError, match="written by another search.*'steps': \\(4, 5\\)"):
        grid_step_size(problem, "pixel", "gd", **{**kwargs, "steps": 5})
    with pytest.raises(ValueError, match="written by another search.*'model_options'"):
        grid_step_size(problem, "pixel", "gd", **kwargs, model_options={"init": "random"})
    with pytest.raises(ValueError, match="fine must be smaller than coarse"):
        grid_step_size(problem, "pixel", "gd", **{**kwargs, "fine": 0.5, "journal": None})
    with pytest.raises(ValueError, match="half_width must be >= 0"):
        grid_step_size(problem, "pixel", "gd", **{**kwargs, "half_width": -1.0, "journal": None})
    with pytest.raises(ValueError, match="entirely outside the search range"):
        grid_step_size(problem, "pixel", "gd", **{**kwargs, "center": 5.0, "journal": None})


def test_grid_search_resumes_from_a_journal_cut_short(tmp_path, monkeypatch):
    """A search killed after some points (its last line half written) scores only the missing points again,
    and ends where an uninterrupted search ends."""
    from experiments.tuning import grid_step_size
    problem = tiny_beam(width=8, height=4)
    kwargs = dict(center=0.0, half_width=0.5, coarse=0.5, fine=0.1, penal=3.0, steps=3, seeds=(0,), progress=False)
    whole = grid_step_size(problem, "pixel", "gd", journal=tmp_path / "whole.jsonl", **kwargs)
    lines = (tmp_path / "whole.jsonl").read_text().splitlines()
    (tmp_path / "cut.jsonl").write_text("\n".join(lines[:2]) + "\n" + lines[2][:25])
    calls = _count_runs(monkeypatch)
    resumed = grid_step_size(problem, "pixel", "gd", journal=tmp_path / "cut.jsonl", **kwargs)
    assert len(calls) == len(whole.trials) - 2
    assert resumed.trials == whole.trials and resumed.best_lr == whole.best_lr
    (tmp_path / "bad.jsonl").write_text("not json\n" + lines[0] + "\n")
    with pytest.raises(ValueError, match="line 1 is not JSON"):
        grid_step_size(problem, "pixel", "gd", journal=tmp_path / "bad.jsonl", **kwargs)


def test_grid_search_flags_a_winner_at_the_end_of_its_range(tmp_path):
    """On a tiny beam a larger GD step is better up to the top of a narrow window: the winner is the highest
    point searched, so the result is at the edge and the search says so."""
    from experiments.tuning import grid_step_size
    problem = tiny_beam(width=8, height=4)
    with pytest.warns(UserWarning, match="edge of the range searched"):
        result = grid_step_size(problem, "pixel", "gd", center=-2.5, half_width=0.5, coarse=0.5, fine=0.1,
                                penal=3.0, steps=3, seeds=(0,), progress=False)
    assert result.at_edge and result.best_log10_lr == result.search_range[1] == -1.6


class _Scripted:
    """An optimizer that walks through a given list of losses (for the divergence rule)."""

    name = "scripted"
    options = {}

    def __init__(self, losses):
        self.losses = list(losses)

    def start(self, objective, theta, steps):
        self.theta, self.k = theta, 0
        return optim.Step(0, theta, self.losses[0], torch.ones(1), 1.0, math.nan, math.nan)

    def step(self):
        self.k += 1
        return optim.Step(self.k, self.theta, self.losses[self.k], torch.ones(1), 1.0, 0.1, 0.1)

    def memory(self):
        return None

    def close(self):
        pass


@pytest.mark.parametrize("losses, status, began", [
    ([10.0] + [5.0] * 10 + [4e4] * 25, "diverged", 11),           # jumps and stays: diverged where it began
    ([10.0] + [5.0] * 5 + [2e5] + [4.0] * 30, "completed", None),  # a one-step spike that recovers is not
    ([10.0] + [5.0] * 30 + [3e4] * 3, "diverged", 31),             # ends blown up, before the patience ran out
    ([10.0] + [5.0] * 10 + [float("nan")], "diverged", 11),        # non-finite: at once
    ([10.0] + [5.0] * 3 + ([1e7] * 19 + [5.0]) * 10, "diverged", 4),   # 1e6 x on 19 of every 20 steps
    ([10.0] + ([1e7] * 19 + [5.0] * 3) * 10, "completed", None),       # 19 of 22: under 90 % of 100
])
def test_divergence_rule(losses, status, began):
    objective = landscape.FunctionObjective(lambda t: (t ** 2).sum(), torch.zeros(1))
    steps = len(losses) - 1
    result = landscape.run(objective, _Scripted(losses), steps=steps, progress=False)
    assert result.status == status, result.message
    assert result.diverged_at == began
    if began is not None:
        assert f"step {began}" in result.message


def test_divergence_rule_validates_its_settings():
    from landscape.runner import Divergence
    with pytest.raises(ValueError, match="factor"):
        Divergence(factor=0.5)
    with pytest.raises(ValueError, match="patience"):
        Divergence(patience=0)
    with pytest.raises(ValueError, match="window"):
        Divergence(window=2.5)
    with pytest.raises(ValueError, match="share"):
        Divergence(share=1.5)


@pytest.mark.parametrize("name", ["oc", "mma"])
def test_density_baselines_report_theta_and_its_gradient_in_one_space(name):
    """OC and MMA report theta = logit(x) with the objective's gradient at that theta, not dc/dx.

    OC meets the volume exactly, so the two agree to rounding; MMA's volume is an inequality
    that is not active at every iterate, so the constrained sigmoid of its theta is a slightly
    rescaled design and only the direction must agree.
    """
    problem = tiny_beam(12, 6)
    objective = Objective(problem, models.build("pixel", problem), penal=3.0)
    seen = []
    landscape.run(objective, optim.build(name), steps=6, progress=False, callback=seen.append)
    assert len(seen) >= 4
    for record in seen:
        _, grad = objective.value_and_grad(record.theta)
        cosine = float(record.grad @ grad / (record.grad.norm() * grad.norm()))
        assert record.grad_norm == pytest.approx(float(record.grad.norm()))
        if name == "oc":
            assert cosine > 1 - 1e-8, (record.step, cosine)
            assert float((record.grad - grad).norm() / grad.norm()) < 1e-6
        else:
            assert cosine > 0.99, (record.step, cosine)
            # dc/dx (what it reported before) is not the theta-space gradient
            assert record.extra["density_grad_norm"] != pytest.approx(record.grad_norm, rel=1e-3)


@pytest.mark.parametrize("name, options, accepted", [
    ("gd_ls", {"foo": 1}, "search, ftol, gtol, xtol, maxls, c1, c2, max_iter"),
    ("lbfgs", {"foo": 1}, "m, search, c1, c2, max_iter, ftol, gtol, xtol, maxls"),
    ("gd", {"lr": 0.1, "bar": 2}, "lr"), ("scipy_lbfgsb", {"x": 1}, "m, maxfun, factr, pgtol, maxls")])
def test_an_unknown_optimizer_option_is_named_with_the_accepted_ones(name, options, accepted):
    bad = next(k for k in options if k not in ("lr",))
    with pytest.raises(optim.OptimizerError, match=f"unknown option.*'{bad}'.*{name}.*accepted: {accepted}"):
        optim.build(name, **options)


def test_an_interrupted_run_fails_its_trial_instead_of_scoring_it(tmp_path):
    import optuna

    from experiments.tuning import tune_step_size
    from landscape.runner import allow_runs, stop_runs

    problem = tiny_beam(width=8, height=4)
    journal = tmp_path / "search.jsonl"
    stop_runs("asked to stop")
    try:
        with pytest.raises(KeyboardInterrupt):
            tune_step_size(problem, "pixel", "gd", penal=3.0, steps=5, seeds=(0,), trials=3, progress=False,
                           storage=str(journal))
    finally:
        allow_runs()
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    study = optuna.load_study(study_name=None, storage=JournalStorage(JournalFileBackend(str(journal))))
    assert not [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]


@pytest.mark.parametrize("name, options", [("gd", {"lr": 0.1}), ("gd_ls", {}), ("hd", {"lr": 0.1, "m": 3}),
                                           ("lbfgs", {})])
def test_a_gradient_whose_norm_underflows_ends_the_run_instead_of_dividing_by_zero(name, options):
    # a saturated design: the gradient's entries are ~1e-300, so |g|^2 underflows although g != 0
    objective = FunctionObjective(lambda t: 1e-300 * t.sum() + 1.0, torch.zeros(4))
    result = landscape.run(objective, optim.build(name, **options), steps=5, progress=False)
    assert result.status == "completed" and result.steps == 0
    assert "the gradient norm underflows to zero at step 0" in result.message


def test_one_list_of_statuses_everywhere():
    from landscape import runner, statuses, sweep
    from landscape.optim.base import STOP_STATUSES
    assert STOP_STATUSES == statuses.STOPS
    assert runner.STATUSES == statuses.RECORDED == ("running",) + statuses.ENDED
    assert sweep.TERMINAL == statuses.FINISHED and "crashed" in statuses.READ


def test_a_curvature_pair_whose_y_underflows_is_skipped_not_divided_by():
    """HD_M10 on the CNN at p = 1 on B (seed 2, the thesis's step) reached a saturated design whose gradient
    changes were so small that y'y underflowed to 0 while s'y did not: the run failed with ZeroDivisionError."""
    from landscape.optim.directions import LBFGSMemory
    memory = LBFGSMemory(10)
    s = torch.full((4,), 1e150, dtype=torch.float64)
    y = torch.full((4,), 1e-170, dtype=torch.float64)
    assert float(s @ y) > 0 and float(y @ y) == 0.0
    assert memory.push(s, y, -torch.ones(4, dtype=torch.float64)) is False and memory.skipped == 1
    assert memory.push(torch.ones(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64),
                       -torch.ones(4, dtype=torch.float64)) is True and memory.gamma == 1.0


class _InterruptedAtStart(_Scripted):
    def start(self, objective, theta, steps):
        raise KeyboardInterrupt


def test_a_run_interrupted_before_its_first_evaluation_ends_its_trace(tmp_path):
    objective = landscape.FunctionObjective(lambda t: (t ** 2).sum(), torch.zeros(1))
    path = tmp_path / "early.h5"
    with pytest.raises(RuntimeError, match="before the initial evaluation"):
        landscape.run(objective, _InterruptedAtStart([1.0]), steps=3, progress=False, trace=path)
    with landscape.open_trace(path) as trace:
        assert trace.status == "interrupted"


def test_max_evaluations_refuses_a_bool():
    objective = landscape.FunctionObjective(lambda t: (t ** 2).sum(), torch.zeros(1))
    with pytest.raises(ValueError, match="max_evaluations"):
        landscape.run(objective, "gd_ls", steps=3, progress=False, max_evaluations=True)
