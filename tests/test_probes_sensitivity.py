"""Twin runs (probes.sensitivity) against exact answers: identical starts give identical runs, and gradient
descent on a quadratic separates exactly as (I - lr A)^k delta."""
import numpy as np
import pytest
import torch

import landscape as L
from probes.sensitivity import twin_runs


class Quadratic:
    """L = theta' A theta / 2 with A diagonal, as an objective."""

    def __init__(self, eigenvalues):
        self.a = torch.as_tensor(eigenvalues, dtype=torch.float64)
        self.theta0 = torch.ones_like(self.a)

    def value_and_grad(self, theta):
        return float(0.5 * (self.a * theta * theta).sum()), self.a * theta


@pytest.mark.parametrize("optimizer, options", [("gd", {"lr": 0.1}), ("lbfgs", {}), ("scipy_lbfgsb", {})])
def test_the_same_start_twice_gives_the_same_run(optimizer, options):
    problem = L.problems.resized("A", 8, 16)
    objective = L.Objective(problem, L.models.build("pixel", problem, init="random", seed=1), penal=3.0)
    twins = twin_runs(objective, optimizer, 12, options, epsilon=0.0, progress=False)
    assert len(twins.steps) > 5
    assert np.all(twins.distance == 0) and np.all(twins.loss_gap == 0)
    assert np.isnan(twins.lyapunov()).all()


def test_gradient_descent_on_a_quadratic_separates_as_its_iteration_matrix():
    eigenvalues = np.array([1.0, 4.0, 25.0])
    objective, lr = Quadratic(eigenvalues), 0.07          # 1 - lr * 25 = -0.75 dominates: |.| < 1, contracting
    twins = twin_runs(objective, "gd", 40, {"lr": lr}, epsilon=1e-6, seed=3, progress=False)
    assert twins.status == "budget" and list(twins.steps) == list(range(41))
    direction = torch.randn(3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    delta = (1e-6 * np.sqrt(3) * direction / direction.norm()).numpy()
    exact = [np.linalg.norm((1 - lr * eigenvalues) ** k * delta) for k in range(41)]
    np.testing.assert_allclose(twins.distance, exact, rtol=1e-6)
    assert twins.lyapunov()[-1] == pytest.approx(np.log(0.93), abs=0.02)   # the slowest mode, 1 - 0.07
    unstable = twin_runs(Quadratic(eigenvalues), "gd", 20, {"lr": 0.09}, epsilon=1e-6, progress=False)
    assert unstable.lyapunov()[-1] == pytest.approx(np.log(1.25), abs=0.02)   # |1 - 0.09 * 25| = 1.25 > 1


def test_bad_arguments_are_named():
    objective = Quadratic([1.0, 2.0])
    with pytest.raises(ValueError, match="steps"):
        twin_runs(objective, "gd", 0, {"lr": 0.1}, progress=False)
    with pytest.raises(ValueError, match="epsilon"):
        twin_runs(objective, "gd", 3, {"lr": 0.1}, epsilon=-1.0, progress=False)
    with pytest.raises(TypeError, match="name"):
        twin_runs(objective, L.optim.build("gd", lr=0.1), 3, progress=False)
    with pytest.raises(L.optim.OptimizerError, match="lr"):
        twin_runs(objective, "gd", 3, progress=False)
