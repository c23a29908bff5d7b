"""Mode connectivity (probes.connectivity) against exact answers: the straight line as a special curve, the
optimal control point of a quadratic, a ring-shaped valley that a curve follows and a line cannot."""
import numpy as np
import pytest
import torch

import landscape as L
from landscape.spec import RunSpec
from probes.connectivity import bezier_curve, bezier_points, connect, connect_traces, fit_bezier
from probes.geometry import interpolate


class Function:
    """A loss given as a torch function of theta, with its autograd gradient."""

    def __init__(self, f):
        self.f = f

    def loss(self, theta):
        return float(self.f(torch.as_tensor(theta, dtype=torch.float64)))

    def value_and_grad(self, theta):
        theta = torch.as_tensor(theta, dtype=torch.float64).detach().requires_grad_(True)
        value = self.f(theta)
        (grad,) = torch.autograd.grad(value, theta)
        return float(value.detach()), grad.detach()


def test_the_curve_through_the_midpoint_is_the_straight_line():
    a, b = torch.randn(50, dtype=torch.float64), torch.randn(50, dtype=torch.float64)
    ts = np.linspace(0, 1, 11)
    points = bezier_points(a, b, (a + b) / 2, ts)
    line = (1 - torch.as_tensor(ts))[:, None] * a + torch.as_tensor(ts)[:, None] * b
    torch.testing.assert_close(points, line, rtol=0, atol=1e-14)
    assert torch.equal(points[0], a) and torch.equal(points[-1], b)
    problem = L.problems.resized("A", 8, 16)
    objective = L.Objective(problem, L.models.build("pixel", problem), penal=3.0)
    x, y = objective.theta0, objective.theta0 + 0.3 * torch.randn_like(objective.theta0)
    curve, straight = bezier_curve(objective, x, y, (x + y) / 2, ts), interpolate(objective, x, y, ts)
    np.testing.assert_allclose(curve.losses, straight.losses, rtol=1e-12)
    np.testing.assert_array_equal(curve.alphas, ts)


def test_training_finds_the_optimal_control_point_of_a_quadratic():
    """For L = theta' A theta / 2 the mean loss along the curve is quadratic in m, minimal at
    m* = -(3/4)(a + b) (the integrals of 2t(1-t) times the Bernstein weights are 1/10, 2/15, 1/10)."""
    generator = torch.Generator().manual_seed(0)
    q = torch.randn(6, 6, generator=generator, dtype=torch.float64)
    A = q @ q.T + 6 * torch.eye(6, dtype=torch.float64)
    objective = Function(lambda theta: 0.5 * theta @ A @ theta)
    a, b = torch.randn(6, generator=generator, dtype=torch.float64), torch.randn(6, generator=generator,
                                                                                 dtype=torch.float64)
    fit = fit_bezier(objective, a, b, steps=3000, samples=4, lr=0.002, rule="gauss", progress=False)
    optimum = -0.75 * (a + b)
    assert float((fit.control - optimum).norm()) < 1e-2 * float(optimum.norm())
    assert fit.losses[-1] < fit.losses[0] and fit.evaluations == 3000 * 4
    # the Gauss rule is exact here: the last estimate is the integral at the trained control point
    exact = bezier_curve(objective, a, b, fit.control, np.linspace(0, 1, 20001)).losses.mean()
    assert fit.losses[-1] == pytest.approx(exact, rel=1e-3)


@pytest.mark.parametrize("log", [False, True])
def test_a_curve_follows_a_ring_valley_that_the_straight_line_crosses(log):
    """L = 1 + (|theta|^2 - 1)^2 + y^2 / 10: minima at (+-1, 0); the line through the origin climbs to 2
    (barrier 1), the ring through (0, 1) stays near 1.1 (trained on the loss or on its logarithm)."""
    objective = Function(lambda t: 1 + (t @ t - 1) ** 2 + 0.1 * t[1] ** 2)
    a, b = torch.tensor([-1.0, 0.0], dtype=torch.float64), torch.tensor([1.0, 0.0], dtype=torch.float64)
    found = connect(objective, a, b, steps=300, samples=8, lr=0.05, seed=1, control=[0.0, 0.1], progress=False,
                    batch=1, log=log)
    assert found.line_barrier == pytest.approx(1.0, abs=1e-12)
    assert found.curve_barrier < 0.2
    assert found.distance == pytest.approx(2.0)
    assert found.fit.control[1] > 1.0                      # bent towards the ring
    # the same seed gives the same curve
    again = connect(objective, a, b, steps=300, samples=8, lr=0.05, seed=1, control=[0.0, 0.1], progress=False,
                    batch=1, log=log)
    assert torch.equal(again.fit.control, found.fit.control)


def test_bad_options_are_named():
    objective = Function(lambda t: t @ t)
    a, b = torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64)
    for options, word in (({"steps": 0}, "steps"), ({"samples": 0}, "samples"), ({"lr": -1.0}, "lr"),
                          ({"rule": "simpson"}, "rule")):
        with pytest.raises(ValueError, match=word):
            fit_bezier(objective, a, b, progress=False, **options)
    with pytest.raises(ValueError, match="one size"):
        fit_bezier(objective, a, torch.ones(3, dtype=torch.float64), progress=False)
    with pytest.raises(ValueError, match="points"):
        connect(objective, a, b, points=2, progress=False)
    with pytest.raises(ValueError, match="positive"):
        fit_bezier(Function(lambda t: t @ t - 5), a, b, log=True, progress=False)


def test_two_traces_of_one_objective_are_connected_and_two_of_different_ones_refused(tmp_path):
    def spec(seed, penal=3.0):
        return RunSpec(problem="michell_centered_both_16x8_0.12", model="pixel", model_options={"init": "random"},
                       seed=seed, penal=penal, optimizer="lbfgs", steps=15)
    for name, (seed, penal) in {"a": (0, 3.0), "b": (1, 3.0), "c": (2, 1.0)}.items():
        L.run_spec(spec(seed, penal), trace=tmp_path / f"{name}.h5", progress=False)
    found = connect_traces(tmp_path / "a.h5", tmp_path / "b.h5", steps=4, samples=2, points=5, progress=False)
    with L.open_trace(tmp_path / "a.h5") as first, L.open_trace(tmp_path / "b.h5") as second:
        ends = [first.steps()["loss"][-1], second.steps()["loss"][-1]]
    np.testing.assert_allclose(found.line.losses[[0, -1]], ends, rtol=1e-10)
    np.testing.assert_allclose(found.curve.losses[[0, -1]], ends, rtol=1e-10)
    with pytest.raises(ValueError, match="penal"):
        connect_traces(tmp_path / "a.h5", tmp_path / "c.h5", steps=2, progress=False)
