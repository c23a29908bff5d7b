"""Curvature probes against exact answers: dense eigh, exact traces, dense BFGS, PSD density Hessians."""
import numpy as np
import pytest
import scipy.sparse.linalg as spla
import torch

import landscape as L
from probes import (
    CompactLBFGS,
    DenseOperator,
    density_hessian,
    extreme_eigenpairs,
    hutchinson,
    lanczos,
    slq,
    smoothed_density,
)
from probes.curvature import BvsHProbe, EigenvalueProbe, HessianDensityProbe, HutchinsonProbe, OverlapProbe
from probes.linalg import rademacher

SMALL_CNN = dict(dense=False, dense_channels=4, resizes=(1, 2, 1), conv_filters=(8, 4, 1), kernel_size=3)


def perturbed(objective, scale=0.3, seed=1):
    g = torch.Generator().manual_seed(seed)
    return objective.theta0 + scale * torch.randn(objective.num_params, generator=g, dtype=torch.float64)


@pytest.fixture(scope="module")
def dense_hessians():
    """Dense Hessians of a pixel model and of a small CNN (no dense layer) at a random point, with eigh."""
    problem = L.problems.resized("A", 8, 16)
    out = {}
    for kind, options in (("pixel", {}), ("cnn", SMALL_CNN)):
        objective = L.Objective(problem, L.models.build(kind, problem, seed=0, precision="float64", **options),
                                penal=3.0)
        theta = perturbed(objective)
        H = objective.hessian(theta).to_dense()
        H = 0.5 * (H + H.T)
        out[kind] = (objective, theta, H, torch.linalg.eigvalsh(H))
    return out


@pytest.mark.parametrize("kind", ["pixel", "cnn"])
def test_lanczos_extreme_eigenvalues_match_eigh(dense_hessians, kind):
    objective, theta, H, exact = dense_hessians[kind]
    operator = objective.hessian(theta)
    top = extreme_eigenpairs(operator, k=5, steps=50, explicit_residuals=True)
    scale = float(exact.abs().max())
    assert torch.allclose(top.top, exact.flip(0)[:5], rtol=0, atol=1e-6 * scale)
    assert torch.allclose(top.bottom, exact[:5], rtol=0, atol=1e-6 * scale)
    assert float(top.top_residuals.max()) < 1e-5 * scale
    # SciPy's ARPACK on the same operator agrees
    arpack = np.sort(spla.eigsh(operator.to_scipy(), k=5, which="LA", tol=1e-12)[0])[::-1]
    np.testing.assert_allclose(arpack, top.top.numpy(), rtol=0, atol=1e-6 * scale)


def test_lanczos_basis_is_orthonormal_and_tridiagonalizes():
    g = torch.Generator().manual_seed(0)
    M = torch.randn(80, 80, generator=g, dtype=torch.float64)
    A = M + M.T
    run = lanczos(DenseOperator(A), 40)
    Q = run.Q
    assert torch.allclose(Q.T @ Q, torch.eye(40, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(Q.T @ A @ Q, run.T, atol=1e-10)


def test_lanczos_stops_on_an_invariant_subspace():
    A = torch.diag(torch.tensor([1.0, 2.0, 3.0] * 10, dtype=torch.float64))
    run = lanczos(DenseOperator(A), 20)
    assert run.steps == 3
    assert torch.allclose(run.ritz_values, torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))


def test_hutchinson_is_within_three_standard_errors(dense_hessians):
    objective, theta, H, exact = dense_hessians["cnn"]
    operator = objective.hessian(theta)
    trace, frobenius = float(torch.trace(H)), float(torch.linalg.norm(H))
    inside_trace = inside_frob = 0
    seeds = range(20)
    for seed in seeds:
        r = hutchinson(DenseOperator(H), samples=30, seed=seed)
        inside_trace += abs(r.trace.value - trace) <= 3 * r.trace.stderr
        inside_frob += abs(r.frobenius.value - frobenius) <= 3 * r.frobenius.stderr
    assert inside_trace >= 18 and inside_frob >= 18
    # block products through the objective give the same numbers as one vector at a time
    a = hutchinson(operator, samples=6, seed=3)
    b = hutchinson(operator, samples=6, seed=3, block=1)
    assert a.trace.value == pytest.approx(b.trace.value, rel=1e-10)
    assert a.ratio == pytest.approx(a.trace.value / a.frobenius.value)


def test_slq_density_matches_the_smoothed_exact_density(dense_hessians):
    objective, theta, H, exact = dense_hessians["pixel"]
    density = slq(DenseOperator(H), runs=10, steps=90, sigma2=1e-5, grid_size=2000, seed=0)
    assert density.integral() == pytest.approx(1.0, abs=1e-3)
    reference = smoothed_density(exact.numpy(), density.grid, density.sigma)
    l1 = float(np.trapezoid(np.abs(reference - density.density), density.grid))
    print(f"SLQ vs exact smoothed density (pixel, n={objective.num_params}, k=10, o=90): L1 {l1:.3f}")
    assert l1 < 0.5
    # Gauss quadrature is exact for polynomials of degree <= 2o - 1: each run's moments equal
    # v' H^p v / v'v for its start vector (regenerated from the same seed)
    generator = torch.Generator().manual_seed(0)
    per_run = np.zeros((10, 4))
    for r in range(10):
        v = rademacher(H.shape[0], None, generator)
        v = v / v.norm()
        for p in (1, 2, 3, 4):
            exact_form = float(v @ torch.linalg.matrix_power(H, p) @ v)
            quad = float(np.nansum(density.weights[r] * np.nan_to_num(density.nodes[r]) ** p))
            assert quad == pytest.approx(exact_form, rel=1e-8, abs=1e-10 * float(exact.abs().max()) ** p)
            per_run[r, p - 1] = quad
    # and the moments are unbiased: within 3 standard errors of (1/n) tr(H^p)
    for p in (1, 2, 3, 4):
        se = per_run[:, p - 1].std(ddof=1) / np.sqrt(10)
        assert abs(density.moment(p) - float((exact ** p).mean())) <= 3 * se


def test_compact_lbfgs_matches_dense_bfgs_and_inverts_the_two_loop():
    objective = L.FunctionObjective(lambda x: torch.sum((torch.arange(1.0, 9.0, dtype=torch.float64) * x) ** 2)
                                    + torch.sum(x ** 4), torch.linspace(-1, 1, 8, dtype=torch.float64))
    opt = L.optim.build("lbfgs", m=20)
    opt.start(objective)
    for _ in range(6):
        opt.step()
    memory = opt.memory()
    B = CompactLBFGS.from_memory(memory)
    dense = torch.eye(8, dtype=torch.float64) / memory.gamma
    for s, y in zip(memory.S.T, memory.Y.T):
        Bs = dense @ s
        dense = dense - torch.outer(Bs, Bs) / (s @ Bs) + torch.outer(y, y) / (y @ s)
    assert torch.allclose(B.to_dense(), dense, rtol=0, atol=1e-10 * float(dense.abs().max()))
    g = opt.grad
    H = B.inverse()
    assert torch.allclose(B @ (H @ g), g, atol=1e-10 * float(g.norm()))
    block = torch.randn(8, 3, dtype=torch.float64)
    assert torch.allclose(H @ (B @ block), block, atol=1e-10)
    # the two-loop of the optimizer and the compact inverse agree
    assert torch.allclose(H @ g, -opt.direction.direction(g), atol=1e-12 * float(g.norm()))


def test_compact_lbfgs_of_scipy_memory_gives_scipys_step():
    problem = L.problems.resized("A", 8, 16)
    objective = L.Objective(problem, L.models.build("pixel", problem), penal=1.0)
    opt = L.optim.build("scipy_lbfgsb")
    opt.start(objective, steps=40)
    for _ in range(12):
        previous = opt.theta
        step = opt.step()
    H = CompactLBFGS.from_memory(opt.memory()).inverse()
    before = opt.memory()
    # B's inverse applied to the newest gradient is the next direction SciPy will take
    d = -(H @ step.grad)
    nxt = opt.step()
    s = nxt.theta - step.theta
    assert float(s @ d) / float(s.norm() * d.norm()) > 1 - 1e-8
    opt.close()
    assert before.size > 1 and previous is not None


@pytest.mark.parametrize("code, size", [("A", (8, 16)), ("B", (8, 16)), ("D", (16, 16)), ("E", (16, 16))])
def test_density_hessian_is_psd_for_p1(code, size):
    problem = L.problems.resized(code, *size)
    objective = L.Objective(problem, L.models.build("pixel", problem), penal=1.0)
    theta = perturbed(objective, scale=1.0)
    for before_filter in (False, True):
        H = density_hessian(objective, theta, before_filter).to_dense()
        eigenvalues = torch.linalg.eigvalsh(0.5 * (H + H.T))
        assert float(eigenvalues.min()) >= -1e-10 * float(eigenvalues.max()), (code, before_filter)
    # and for p = 3 it is not (the SIMP penalty makes the problem non-convex)
    objective3 = L.Objective(problem, L.models.build("pixel", problem), penal=3.0)
    H3 = density_hessian(objective3, theta).to_dense()
    assert float(torch.linalg.eigvalsh(0.5 * (H3 + H3.T)).min()) < 0


def test_recordable_probes_write_their_outputs(tmp_path):
    problem = L.problems.resized("A", 8, 16)
    objective = L.Objective(problem, L.models.build("pixel", problem), penal=3.0)
    probes = [HutchinsonProbe(samples=8, every=3), EigenvalueProbe(k=3, steps=20, every=5),
              OverlapProbe(every=2), HessianDensityProbe(runs=2, steps=20, grid_size=100),
              BvsHProbe(runs=2, steps=10, grid_size=50, at=[0, 4])]
    L.run(objective, "lbfgs", steps=8, probes=probes, trace=tmp_path / "t.h5", progress=False)
    trace = L.open_trace(tmp_path / "t.h5")
    assert list(trace.probe("hutchinson")["step"]) == [0, 3, 6, 8]
    assert trace.probe("eigenvalues")["top"].shape == (3, 3)
    top = trace.probe("eigenvalues")["top"]
    assert (np.diff(top, axis=1) <= 0).all()
    assert list(trace.probe("hessian_density")["step"]) == [0, 8]
    density = trace.probe("hessian_density")
    assert np.trapezoid(density["density"][0], density["grid"][0]) == pytest.approx(1.0, abs=0.02)
    b_vs_h = trace.probe("b_vs_h")
    assert list(b_vs_h["step"]) == [0, 4, 8]
    assert np.isnan(b_vs_h["lbfgs_density"][0]).all()           # no memory at step 0
    assert np.isfinite(b_vs_h["lbfgs_density"][1]).all()
    overlap = trace.probe("overlap")["overlap"]
    assert np.all(np.abs(overlap) <= 1 + 1e-12)


def test_probe_schedules_and_bad_settings():
    p = HutchinsonProbe(every=None, at=[2, 5], last=False)
    assert [s for s in range(8) if p.due(s, False)] == [2, 5]
    with pytest.raises(ValueError, match="schedule is empty"):
        HutchinsonProbe(every=None, at=(), last=False)
    with pytest.raises(ValueError, match="every must be a positive integer"):
        OverlapProbe(every=0)
    with pytest.raises(ValueError, match="samples must be an integer >= 2"):
        hutchinson(DenseOperator(torch.eye(3)), samples=1)
    with pytest.raises(ValueError, match="s'y > 0"):
        CompactLBFGS(torch.eye(3)[:, :1], -torch.eye(3)[:, :1])


@pytest.mark.slow
def test_lanczos_on_the_thesis_sized_small_cnn():
    """The thesis's check (appendix B.5) at its size: ~7,200 parameters, no dense layer, problem A."""
    from experiments.estimator_check import small_cnn
    objective, theta = small_cnn(quick=False)
    H = objective.hessian(theta).to_dense()
    exact = torch.linalg.eigvalsh(0.5 * (H + H.T))
    pairs = extreme_eigenpairs(objective.hessian(theta), k=5, steps=50, vectors=False)
    scale = float(exact.abs().max())
    assert torch.allclose(pairs.top, exact.flip(0)[:5], rtol=0, atol=1e-6 * scale)
    assert torch.allclose(pairs.bottom, exact[:5], rtol=0, atol=1e-6 * scale)


def test_eigenvalue_probe_refuses_too_few_lanczos_steps_for_distinct_top_and_bottom():
    with pytest.raises(ValueError, match=r"k=10 needs steps >= 2k = 20"):
        EigenvalueProbe(k=10, steps=5)
    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        EigenvalueProbe(k=0)
    EigenvalueProbe(k=5, steps=10)


def test_the_overlap_probe_takes_one_hessian_product_and_matches_the_function():
    from landscape.runner import ProbeContext
    from probes.directional import gradient_hessian_overlap
    problem = L.problems.get("mbb_beam_16x8_0.5")
    objective = L.Objective(problem, L.models.build("pixel", problem), penal=3.0)
    theta = objective.theta0
    loss, grad = objective.value_and_grad(theta)
    products = []
    hessian = objective.hessian

    class Counting:
        def __init__(self, operator):
            self.operator = operator

        def matvec(self, v):
            products.append(1)
            return self.operator.matvec(v)

    objective.hessian = lambda t: Counting(hessian(t))
    context = ProbeContext(0, theta, loss, grad, objective, None, theta, 0, None)
    out = OverlapProbe(every=1)(context)
    assert len(products) == 1
    assert out["overlap"] == pytest.approx(gradient_hessian_overlap(hessian(theta), grad), rel=1e-12)
    assert out["curvature"] == pytest.approx(float(grad @ hessian(theta).matvec(grad)) / float(grad @ grad), rel=1e-12)
