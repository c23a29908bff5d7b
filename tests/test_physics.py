import numpy as np
import pytest
import torch
from conftest import tiny_beam
from torch.autograd import gradcheck, gradgradcheck

from landscape import problems
from landscape.physics import (
    SingularStiffnessError,
    compliance,
    element_stiffness,
    factorization_count,
    fe_system,
    solve,
    young_modulus,
)


def test_q4_stiffness_equals_the_88_line_closed_form():
    nu = 0.3
    k = np.array([1 / 2 - nu / 6, 1 / 8 + nu / 8, -1 / 4 - nu / 12, -1 / 8 + 3 * nu / 8,
                  -1 / 4 + nu / 12, -1 / 8 - nu / 8, nu / 6, 1 / 8 - 3 * nu / 8])
    pattern = [[0, 1, 2, 3, 4, 5, 6, 7], [1, 0, 7, 6, 5, 4, 3, 2], [2, 7, 0, 5, 6, 3, 4, 1],
               [3, 6, 5, 0, 7, 2, 1, 4], [4, 5, 6, 7, 0, 1, 2, 3], [5, 4, 3, 2, 1, 0, 7, 6],
               [6, 3, 4, 1, 2, 7, 0, 5], [7, 2, 1, 4, 3, 6, 5, 0]]
    np.testing.assert_allclose(element_stiffness(1.0, nu), k[np.array(pattern)] / (1 - nu ** 2),
                               atol=1e-15)


def _dense_stiffness(problem, e):
    """K assembled densely with plain loops, reduced to the free dofs."""
    system = fe_system(problem)
    ke = element_stiffness()
    k = np.zeros((system.num_dofs, system.num_dofs))
    for el in range(system.nel):
        dofs = system.edof[el]
        k[np.ix_(dofs, dofs)] += e[el] * ke
    return k[np.ix_(system.free, system.free)]


def test_solve_and_compliance_against_a_dense_assembly(tiny):
    x = torch.rand(tiny.shape, dtype=torch.float64) * 0.9 + 0.05
    system = fe_system(tiny)
    e = young_modulus(x, 3.0).reshape(-1)
    k = _dense_stiffness(tiny, e.numpy())
    u_ref = np.linalg.solve(k, system.forces.numpy())
    u = solve(system, e, system.forces)
    np.testing.assert_allclose(u.numpy(), u_ref, rtol=1e-10)
    assert abs(float(compliance(tiny, x, 3.0)) - u_ref @ k @ u_ref) < 1e-9 * abs(u_ref @ k @ u_ref)
    block = torch.randn(system.num_free, 3, dtype=torch.float64)
    np.testing.assert_allclose(solve(system, e, block).numpy(), np.linalg.solve(k, block.numpy()),
                               rtol=1e-9, atol=1e-12)


def test_sparse_solve_first_and_second_derivatives(tiny):
    system = fe_system(tiny)
    e = (torch.rand(system.nel, dtype=torch.float64) + 0.5).requires_grad_(True)
    f = torch.randn(system.num_free, 2, dtype=torch.float64, requires_grad=True)
    fn = lambda e, f: solve(system, e, f)  # noqa: E731
    # |u| ~ 10 here and a solve is accurate to ~1e-14 relative, so central
    # differences with eps = 1e-5 carry ~1e-8 noise: atol 1e-6 leaves a margin
    assert gradcheck(fn, (e, f), eps=1e-5, atol=1e-6)
    assert gradgradcheck(fn, (e, f), eps=1e-5, atol=1e-6)


def test_forward_mode_matches_reverse_mode(tiny):
    x = torch.rand(tiny.shape, dtype=torch.float64) * 0.8 + 0.1
    dx = torch.randn_like(x)
    f = lambda x: compliance(tiny, x, 3.0)  # noqa: E731
    _, tangent = torch.func.jvp(f, (x,), (dx,))
    grad = torch.func.grad(f)(x)
    assert abs(float(tangent) - float((grad * dx).sum())) < 1e-10 * float(grad.norm() * dx.norm())


def test_factorization_is_reused_for_every_solve_at_one_density(tiny):
    x = torch.rand(tiny.shape, dtype=torch.float64, requires_grad=True)
    before = factorization_count()
    c = compliance(tiny, x, 3.0)
    (g,) = torch.autograd.grad(c, x, create_graph=True)
    torch.autograd.grad(g.sum(), x)
    assert factorization_count() - before == 1


def test_simp_penalization_must_be_at_least_one(tiny):
    with pytest.raises(ValueError, match="penalization"):
        compliance(tiny, torch.full(tiny.shape, 0.5, dtype=torch.float64), 0.5)


def test_non_positive_moduli_are_reported(tiny):
    system = fe_system(tiny)
    with pytest.raises(SingularStiffnessError, match="positive"):
        solve(system, torch.zeros(system.nel, dtype=torch.float64), system.forces)


def test_scipy_fallback_gives_the_same_answer(monkeypatch):
    problem = problems.get("A")
    x = torch.rand(problem.shape, dtype=torch.float64)
    c_fast = float(compliance(problem, x, 3.0))
    monkeypatch.setenv("LANDSCAPE_SOLVER", "scipy")
    fresh = problems.get("A")
    assert abs(float(compliance(fresh, x, 3.0)) - c_fast) < 1e-9 * c_fast


def test_unknown_solver_name_is_rejected(monkeypatch, tiny):
    monkeypatch.setenv("LANDSCAPE_SOLVER", "pardiso")
    with pytest.raises(ValueError, match="cholmod"):
        compliance(tiny_beam(4, 3), torch.full((3, 4), 0.5, dtype=torch.float64), 3.0)
