import numpy as np
import pytest
import torch
from conftest import tiny_beam
from torch.autograd import gradcheck, gradgradcheck

from landscape import Objective, models, problems
from landscape.physics import factorization_count

SMALL_CNN = dict(latent_size=4, dense_channels=2, resizes=(1, 2, 1), conv_filters=(4, 3, 1),
                 kernel_size=3)


def _objective(kind, penal=3.0):
    problem = tiny_beam(8, 4)
    options = {} if kind == "pixel" else SMALL_CNN
    model = models.build(kind, problem, seed=3, precision="float64", **options)
    obj = Objective(problem, model, penal=penal)
    theta = obj.theta0 + 0.1 * torch.randn(obj.num_params, dtype=torch.float64)
    return obj, theta


@pytest.mark.parametrize("kind", ["pixel", "cnn", "cnn_transpose"])
def test_hessian_equals_dense_torch_func_hessian(kind):
    obj, theta = _objective(kind)
    dense = torch.func.hessian(obj.loss_graph)(theta)
    ours = obj.hessian(theta).to_dense()
    scale = float(dense.abs().max())
    assert float((ours - dense).abs().max()) <= 1e-8 * scale
    assert float((ours - ours.T).abs().max()) <= 1e-10 * scale


@pytest.mark.parametrize("kind", ["pixel", "cnn"])
def test_block_hvp_equals_columns(kind):
    obj, theta = _objective(kind)
    block = torch.randn(obj.num_params, 5, dtype=torch.float64)
    together = obj.hvp(theta, block)
    apart = torch.stack([obj.hvp(theta, block[:, i]) for i in range(5)], dim=1)
    assert float((together - apart).abs().max()) <= 1e-11 * float(apart.abs().max())


@pytest.mark.parametrize("kind", ["pixel", "cnn_transpose"])
def test_hvp_against_central_differences_of_gradients(kind):
    obj, theta = _objective(kind)
    v = torch.randn(obj.num_params, dtype=torch.float64)
    v /= v.norm()
    h = 1e-5
    fd = (obj.grad(theta + h * v) - obj.grad(theta - h * v)) / (2 * h)
    hv = obj.hvp(theta, v)
    assert float((fd - hv).norm()) <= 1e-6 * float(hv.norm())


def test_gradient_and_second_derivative_checks_through_the_whole_graph():
    obj, theta = _objective("cnn")
    theta = theta.clone().requires_grad_(True)
    # the loss is ~1e3 with gradients ~1e3: absolute tolerances sit ~1e-7 below them
    assert gradcheck(obj.loss_graph, (theta,), eps=1e-5, atol=1e-4, rtol=1e-6)
    assert gradgradcheck(obj.loss_graph, (theta,), eps=1e-5, atol=1e-3, rtol=1e-5)


def test_value_and_grad_matches_autograd_and_loss():
    obj, theta = _objective("pixel")
    value, grad = obj.value_and_grad(theta)
    assert value == pytest.approx(obj.loss(theta), rel=1e-14)
    fd = (obj.loss(theta + 1e-6 * grad / grad.norm()) - obj.loss(theta - 1e-6 * grad / grad.norm())) / 2e-6
    assert fd == pytest.approx(float(grad.norm()), rel=1e-6)


def test_scipy_linear_operator_view():
    obj, theta = _objective("pixel")
    op = obj.hessian(theta).to_scipy()
    v = np.random.randn(obj.num_params)
    np.testing.assert_allclose(op @ v, obj.hvp(theta, torch.from_numpy(v)).numpy(), rtol=1e-12)
    np.testing.assert_allclose(op.matmat(np.stack([v, 2 * v], 1))[:, 1], 2 * (op @ v), rtol=1e-12)


def test_hvp_block_reuses_one_factorization():
    obj, theta = _objective("pixel")
    obj.loss(theta)
    before = factorization_count()
    obj.hvp(theta, torch.randn(obj.num_params, 4, dtype=torch.float64))
    assert factorization_count() == before


def test_design_and_volume():
    problem = problems.get("A")
    obj = Objective(problem, models.build("cnn", problem, seed=0))
    x = obj.design(obj.theta0)
    assert x.shape == (64, 32) and 0 <= float(x.min()) and float(x.max()) <= 1
    assert obj.loss(obj.theta0) > 0


def test_bad_inputs():
    obj, theta = _objective("pixel")
    with pytest.raises(ValueError, match="flat vector of length"):
        obj.loss(torch.zeros(3))
    with pytest.raises(ValueError, match="v must have shape"):
        obj.hvp(theta, torch.zeros(obj.num_params + 1))
    with pytest.raises(ValueError, match="penal"):
        Objective(tiny_beam(8, 4), models.build("pixel", tiny_beam(8, 4)), penal=0.0)
    other = problems.get("A")
    with pytest.raises(ValueError, match="logits of shape"):
        Objective(other, models.build("pixel", tiny_beam(8, 4)))


def test_bad_directions_and_points_are_named():
    obj, theta = _objective("pixel")
    v = torch.zeros(obj.num_params, dtype=torch.float64)
    v[0] = float("nan")
    with pytest.raises(ValueError, match="v holds NaN"):
        obj.hvp(theta, v)
    with pytest.raises(ValueError, match="k >= 1"):
        obj.hvp(theta, torch.zeros(obj.num_params, 0, dtype=torch.float64))
    with pytest.raises(ValueError, match="theta must be real"):
        obj.loss(theta.to(torch.complex128))
    with pytest.raises(ValueError, match="v must be real"):
        obj.hvp(theta, torch.ones(obj.num_params, dtype=torch.complex128))


def test_batched_losses_and_the_density_space_are_the_same_graph(tiny):
    from landscape import models
    for kind, options in (("pixel", {"init": "random"}), ("cnn", {"latent_size": 4, "dense_channels": 2,
                                                                  "resizes": [1, 2, 1], "conv_filters": [4, 2, 1],
                                                                  "kernel_size": 3})):
        obj = Objective(tiny, models.build(kind, tiny, seed=1, precision="float64", **options), 3.0)
        thetas = obj.theta0 + 0.1 * torch.randn(5, obj.num_params, dtype=torch.float64)
        batched = obj.losses(thetas, batch=2)
        np.testing.assert_allclose(batched, [obj.loss(t) for t in thetas], rtol=1e-12)
        theta = thetas[0]
        x = obj.densities(theta)
        assert float(obj.density_loss(x)) == pytest.approx(obj.loss(theta), rel=1e-12)
        assert float(obj.density_loss(obj.design(theta), apply_filter=False)) == pytest.approx(obj.loss(theta),
                                                                                               rel=1e-12)
