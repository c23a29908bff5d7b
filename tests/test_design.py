import numpy as np
import pytest
import scipy.sparse as sp
import torch
from conftest import tiny_beam
from torch.autograd import gradcheck, gradgradcheck

from landscape import problems
from landscape.design import cone_filter, constrained_bias, physical_density, sigmoid_with_constrained_mean


@pytest.mark.parametrize("scale", [0.1, 3.0, 40.0])
def test_constrained_mean_hits_the_volume_fraction(scale):
    z = scale * torch.randn(500, dtype=torch.float64)
    for volfrac in (0.05, 0.3, 0.9):
        x = sigmoid_with_constrained_mean(z, volfrac)
        assert abs(float(x.mean()) - volfrac) < 1e-10


def test_constrained_sigmoid_first_and_second_derivatives_are_exact():
    z = torch.randn(7, dtype=torch.float64, requires_grad=True)
    f = lambda z: sigmoid_with_constrained_mean(z, 0.3)  # noqa: E731
    assert gradcheck(f, (z,), eps=1e-6, atol=1e-8)
    assert gradgradcheck(f, (z,), eps=1e-6, atol=1e-8)


def test_implicit_bias_gradient_against_central_differences():
    z = torch.randn(12, dtype=torch.float64)
    b = lambda z: float(constrained_bias(z, 0.4))  # noqa: E731
    zg = z.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(constrained_bias(zg, 0.4), zg)
    for i in range(12):
        e = torch.zeros(12, dtype=torch.float64)
        e[i] = 1e-5
        assert abs((b(z + e) - b(z - e)) / 2e-5 - float(grad[i])) < 1e-8


def _hoyer_filter_matrix(mask, radius=2.0):
    """The cone filter built entry by entry: rows inside the mask, inverse column sums."""
    ny, nx = mask.shape
    idx = lambda r, c: r * nx + c  # noqa: E731
    w = sp.lil_matrix((ny * nx, ny * nx))
    reach = int(np.ceil(radius))
    for r in range(ny):
        for c in range(nx):
            if not mask[r, c]:
                continue
            for dr in range(-reach, reach + 1):
                for dc in range(-reach, reach + 1):
                    if 0 <= r + dr < ny and 0 <= c + dc < nx:
                        w[idx(r, c), idx(r + dr, c + dc)] = max(0.0, radius - np.hypot(dr, dc))
    w = w.tocsr()
    colsum = np.asarray(w.sum(axis=0)).ravel()
    return sp.diags(np.where(colsum > 0, 1 / np.where(colsum > 0, colsum, 1), 0)) @ w


@pytest.mark.parametrize("name", ["l_shape_0.4_64x64_0.4", "crane_64x64_0.3", "A"])
def test_cone_filter_equals_hoyers_normalized_matrix(name):
    problem = problems.get(name)
    mask = problem.design_mask
    if name != "A":   # keep the explicit matrix small
        mask = mask[::4, ::4]
    x = np.random.rand(*mask.shape)
    ref = (_hoyer_filter_matrix(mask) @ x.ravel()).reshape(mask.shape)
    out = cone_filter(torch.from_numpy(x), torch.from_numpy(mask)).numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-13, atol=1e-15)


def test_physical_density_masks_and_keeps_the_mean():
    problem = problems.get("l_shape_0.4_64x64_0.4")
    z = torch.randn(problem.shape, dtype=torch.float64)
    x = physical_density(problem, z, filter=False)
    mask = torch.from_numpy(problem.design_mask)
    assert float(x[~mask].abs().max()) == 0.0
    assert abs(float(x[mask].mean()) - problem.volfrac) < 1e-10
    xf = physical_density(problem, z)
    assert float(xf[~mask].abs().max()) == 0.0


def test_physical_density_derivatives():
    problem = tiny_beam(5, 4, mask=np.array([[1, 1, 1, 1, 0]] * 2 + [[1, 1, 1, 1, 1]] * 2))
    z = torch.randn(problem.shape, dtype=torch.float64, requires_grad=True)
    f = lambda z: physical_density(problem, z)  # noqa: E731
    assert gradcheck(f, (z,), eps=1e-6, atol=1e-8)
    assert gradgradcheck(f, (z,), eps=1e-6, atol=1e-7)


def test_bad_logits_are_rejected():
    problem = problems.get("A")
    with pytest.raises(ValueError, match=r"\(\.\.\., 64, 32\)"):
        physical_density(problem, torch.zeros(32, 64, dtype=torch.float64))
    with pytest.raises(ValueError, match="NaN"):
        physical_density(problem, torch.full(problem.shape, float("nan"), dtype=torch.float64))
