"""Section 4.1's optimizers: gradient noise around any optimizer, step-size schedules and simple preconditioners,
each against an exact answer."""
import math

import pytest
import torch
from conftest import tiny_beam

import landscape
from landscape import FunctionObjective, Objective, models, optim
from landscape.optim.noise import GradientNoise

DIAGONAL = torch.tensor([0.5, 1.0, 2.0, 4.0, 8.0, 3.0], dtype=torch.float64)


def diagonal_quadratic():
    """``f = sum a_i x_i^2 / 2`` from ``x0 = 1``: Hessian ``diag(a)``, minimum 0 at the origin."""
    return FunctionObjective(lambda x: 0.5 * (DIAGONAL * x * x).sum(), torch.ones(6), "diagonal")


def pixel_objective():
    problem = tiny_beam(6, 4)
    return Objective(problem, models.build("pixel", problem, seed=0, init="random"))


def losses_and_thetas(objective, optimizer, steps):
    result = landscape.run(objective, optimizer, steps, progress=False)
    return [float(x) for x in result.losses], result.theta


@pytest.mark.parametrize("base, options", [("gd", {"lr": 0.5}), ("lbfgs", {"m": 5}), ("scipy_lbfgsb", {}),
                                           ("adam", {"lr": 0.05})])
def test_noise_of_scale_zero_is_the_wrapped_optimizer_bit_for_bit(base, options):
    plain = losses_and_thetas(pixel_objective(), optim.build(base, **options), 15)
    wrapped = losses_and_thetas(pixel_objective(), optim.build("noisy", base=base, noise_scale=0.0, **options), 15)
    assert plain[0] == wrapped[0]
    assert torch.equal(plain[1], wrapped[1])


def test_noisy_runs_repeat_with_their_seed_and_differ_between_seeds():
    def run(seed):
        return losses_and_thetas(pixel_objective(), optim.build("noisy", base="gd", lr=0.5, noise_scale=0.5,
                                                                    noise_seed=seed), 10)
    first, again, other = run(1), run(1), run(2)
    assert first[0] == again[0] and torch.equal(first[1], again[1])
    assert first[0] != other[0]


@pytest.mark.parametrize("kind", ["gaussian", "multiplicative", "hessian_diagonal"])
def test_every_noise_kind_has_the_stated_size_relative_to_the_gradient(kind):
    """``E |n|^2 = scale^2 |g|^2``: the mean over 4000 draws is within 5 % (its standard error is about 1 %)."""
    objective = diagonal_quadratic()
    theta = torch.linspace(-1.0, 2.0, 6, dtype=torch.float64)
    grad = DIAGONAL * theta
    noise = GradientNoise(kind, scale=0.3, seed=0)
    ratios = [float(noise(objective, theta, grad).norm() ** 2) / (0.09 * float(grad.norm() ** 2))
              for _ in range(4000)]
    assert sum(ratios) / len(ratios) == pytest.approx(1.0, rel=0.05)


def test_curvature_shaped_noise_follows_the_exact_hessian_diagonal():
    """On a diagonal Hessian, Hutchinson's estimate is exact (``v_i^2 = 1``), so the noise's per-coordinate
    spread is ``scale |g| sqrt(a_i) / |sqrt(a)|`` exactly."""
    objective = diagonal_quadratic()
    theta = torch.ones(6, dtype=torch.float64)
    noise = GradientNoise("hessian_diagonal", scale=1.0, seed=0, samples=1)
    noise(objective, theta, DIAGONAL * theta)
    expected = DIAGONAL.sqrt() / DIAGONAL.sqrt().norm()
    torch.testing.assert_close(noise.shape, expected, rtol=1e-14, atol=0)


def test_multiplicative_noise_leaves_zero_gradient_coordinates_alone():
    noise = GradientNoise("multiplicative", scale=2.0, seed=0)
    grad = torch.tensor([0.0, 1.0, 0.0, -3.0], dtype=torch.float64)
    n = noise(None, torch.zeros(4, dtype=torch.float64), grad)
    assert n[0] == 0 and n[2] == 0 and n[1] != 0


def test_pgd_with_a_constant_step_is_gd_bit_for_bit():
    plain = losses_and_thetas(pixel_objective(), optim.build("gd", lr=0.5), 20)
    same = losses_and_thetas(pixel_objective(), optim.build("pgd", lr=0.5), 20)
    assert plain[0] == same[0] and torch.equal(plain[1], same[1])


@pytest.mark.parametrize("shape", ["linear", "exponential"])
def test_a_scheduled_run_takes_the_scheduled_steps(shape):
    result = landscape.run(diagonal_quadratic(), optim.build("pgd", lr=0.01, lr_end=0.1, ramp=4, shape=shape), 6,
                           progress=False)
    taken = [float(a) for a in result.history.column("step_size")[1:]]
    if shape == "linear":
        expected = [0.01 + min(k / 4, 1) * 0.09 for k in range(6)]
    else:
        expected = [0.01 * 10 ** min(k / 4, 1) for k in range(6)]
    assert taken == pytest.approx(expected, rel=1e-15)


def test_the_schedule_restarts_with_every_run():
    optimizer = optim.build("pgd", lr=0.01, lr_end=0.1, ramp=2)
    first = landscape.run(diagonal_quadratic(), optimizer, 3, progress=False)
    second = landscape.run(diagonal_quadratic(), optimizer, 3, progress=False)
    assert list(first.history.column("step_size")[1:]) == list(second.history.column("step_size")[1:])


def test_scaled_identity_is_the_barzilai_borwein_step():
    """On ``f = c |x|^2 / 2`` the first pair gives ``gamma = s'y / y'y = 1 / c``, so the second step lands on the
    minimum (lr = 1)."""
    c = 4.0
    objective = FunctionObjective(lambda x: 0.5 * c * (x * x).sum(), torch.ones(5), "sphere")
    result = landscape.run(objective, optim.build("pgd", preconditioner="scaled_identity", lr=1.0), 2,
                           progress=False)
    assert float(result.theta.abs().max()) < 1e-15


def test_the_secant_diagonal_recovers_a_diagonal_hessian():
    """On a diagonal quadratic every pair has ``y_i = a_i s_i``, so ``D_i = 1 / a_i`` exactly and the second
    step (lr = 1) is Newton's: it lands on the minimum."""
    result = landscape.run(diagonal_quadratic(), optim.build("pgd", preconditioner="secant_diagonal", lr=1.0,
                                                             m=1), 2, progress=False)
    assert float(result.theta.abs().max()) < 1e-14


def test_the_secant_diagonal_is_clipped_around_gamma():
    direction = optim.SecantDiagonal(m=1, clip=2.0)
    s = torch.tensor([1.0, 1.0], dtype=torch.float64)
    y = torch.tensor([100.0, 0.01], dtype=torch.float64)    # per-coordinate scales 0.01 and 100
    direction.update(s, y, -torch.ones(2, dtype=torch.float64))
    gamma = float(s @ y / (y @ y))
    scale = -direction.direction(torch.ones(2, dtype=torch.float64))
    assert scale.tolist() == pytest.approx([max(0.01, gamma / 2), min(100.0, 2 * gamma)], rel=1e-14)


def test_the_hutchinson_diagonal_step_is_newtons_on_a_diagonal_quadratic():
    """Rademacher probes recover a diagonal Hessian exactly; with no damping and lr = 1 one step is Newton's."""
    optimizer = optim.build("pgd", preconditioner="hutchinson_diagonal", lr=1.0, damping=0.0, samples=1)
    result = landscape.run(diagonal_quadratic(), optimizer, 1, progress=False)
    assert float(result.theta.abs().max()) < 1e-15
    assert optimizer.direction.stats() == {"hvps": 1}


@pytest.mark.parametrize("name, options, message", [
    ("noisy", {"base": "oc"}, "computes its own sensitivities"),
    ("noisy", {"base": "gd", "lr": 1.0, "noise": "pink"}, "noise must be one of"),
    ("noisy", {"base": "gd", "lr": 1.0, "noise_scale": -1.0}, "noise_scale must be a finite number >= 0"),
    ("noisy", {"base": "gd", "lr": 1.0, "momentum": 0.9}, "unknown option(s) 'momentum' for optimizer 'gd'"),
    ("noisy", {"base": "noisy"}, "not noisy itself"),
    ("pgd", {"preconditioner": "newton", "lr": 1.0}, "preconditioner must be one of"),
    ("pgd", {"lr": 1.0, "m": 3}, "do not apply to preconditioner 'identity'"),
    ("pgd", {"lr": 1.0, "lr_end": 2.0}, "needs both lr_end and ramp"),
    ("pgd", {"lr": 1.0, "shape": "linear"}, "needs a schedule"),
    ("pgd", {"lr": 1.0, "lr_end": 2.0, "ramp": 3, "shape": "cosine"}, "shape must be one of"),
    ("pgd", {"lr": 1.0, "lr_end": 2.0, "ramp": 0}, "ramp must be an integer >= 1"),
    ("pgd", {"preconditioner": "secant_diagonal", "lr": 1.0, "clip": 0.5}, "clip must be >= 1"),
    ("pgd", {"preconditioner": "hutchinson_diagonal"}, "needs a step size"),
])
def test_bad_options_are_named(name, options, message):
    with pytest.raises(optim.OptimizerError) as caught:
        optim.build(name, **options)
    assert message in str(caught.value)


def test_the_new_optimizers_run_from_a_run_spec_and_record_their_options(tmp_path):
    from landscape.spec import RunSpec
    from landscape.trace import open_trace
    spec = RunSpec(problem="mbb_beam_12x4_0.5", optimizer="noisy", steps=3,
                   optimizer_options={"base": "pgd", "preconditioner": "hutchinson_diagonal", "lr": 0.5, "seed": 2,
                                      "noise": "hessian_diagonal", "noise_scale": 0.1, "noise_seed": 4})
    landscape.run_spec(spec, trace=tmp_path / "t.h5", progress=False)
    with open_trace(tmp_path / "t.h5") as trace:
        name, recorded = trace.config["optimizer"], trace.config["optimizer_options"]
    assert name == "noisy" and recorded["base"] == "pgd" and recorded["preconditioner"] == "hutchinson_diagonal"
    assert recorded["seed"] == 2 and recorded["noise_seed"] == 4 and recorded["samples"] == 4
    assert math.isclose(recorded["noise_scale"], 0.1)
