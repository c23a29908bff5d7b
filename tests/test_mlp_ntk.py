"""Coordinate MLPs and the empirical NTK against explicit Jacobians and hand computations."""
import math

import numpy as np
import pytest
import torch
from conftest import tiny_beam

import landscape as L
from landscape.mlp import embed
from probes.ntk import NTKOperator, NTKProbe, filter_radius, kernel_row, ntk, translation_invariance

TINY_CNN = dict(latent_size=4, dense_channels=2, resizes=(1, 2, 1), conv_filters=(3, 2, 1), kernel_size=3)


def test_ntk_parameterization_by_hand():
    problem = tiny_beam(width=6, height=4)
    model = L.models.build("mlp", problem, seed=1, widths=(5, 3), beta=0.2, activation="cosine", frequency=1.5,
                           embedding="raw", centre=False)
    x = model.inputs
    sigma = lambda a: torch.cos(1.5 * a) / math.sqrt((1 + math.exp(-2 * 1.5 ** 2)) / 2)   # noqa: E731
    h = x
    for i, (w, b) in enumerate(zip(model.weight, model.bias)):
        h = math.sqrt(1 - 0.04) / math.sqrt(w.shape[1]) * h @ w.T + 0.2 * b
        if i < 2:
            h = sigma(h)
    assert torch.allclose(model(), h.reshape(4, 6), atol=1e-14)
    # unit second moment of the normalized activations
    z = torch.randn(200000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert float((sigma(z) ** 2).mean()) == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("embedding", ["raw", "torus", "fourier"])
def test_initial_design_is_the_constant_volume_fraction(embedding):
    problem = L.problems.resized("A", 8, 16)
    objective = L.Objective(problem, L.models.build("mlp", problem, embedding=embedding, widths=(32,)), filter=False)
    design = objective.design(objective.theta0)
    assert torch.allclose(design, torch.full_like(design, problem.volfrac), atol=1e-12)


def test_embeddings_lie_on_the_standard_sphere_and_fourier_approximates_the_gaussian():
    torus = embed((8, 12), "torus")
    assert torch.allclose(torus.norm(dim=1), torch.full((96,), 2.0, dtype=torch.float64))
    features = embed((10, 10), "fourier", length_scale=3.0, features=20000,
                     generator=torch.Generator().manual_seed(0))
    gram = features @ features.T / 20000
    y, x = np.divmod(np.arange(100), 10)
    d2 = (x[:, None] - x[None, :]) ** 2 + (y[:, None] - y[None, :]) ** 2
    np.testing.assert_allclose(gram.numpy(), np.exp(-d2 / (2 * 9.0)), atol=0.03)
    with pytest.raises(ValueError, match="unknown embedding 'polar'"):
        embed((4, 4), "polar")
    with pytest.raises(ValueError, match="unknown activation 'tanh'"):
        L.models.build("mlp", tiny_beam(), activation="tanh")


@pytest.mark.parametrize("kind, options", [("mlp", {"widths": (16, 8)}), ("cnn", TINY_CNN),
                                           ("cnn_transpose", TINY_CNN), ("pixel", {})])
@pytest.mark.parametrize("output", ["logits", "density"])
def test_ntk_products_match_the_explicit_jacobian(kind, options, output):
    problem = tiny_beam(width=8, height=4)
    objective = L.Objective(problem, L.models.build(kind, problem, seed=2, precision="float64", **options), penal=3.0)
    theta = objective.theta0 + 0.05 * torch.randn(objective.num_params, generator=torch.Generator().manual_seed(1),
                                                  dtype=torch.float64)
    graph = objective.logits if output == "logits" else objective.design_graph
    J = torch.func.jacrev(lambda t: graph(t).reshape(-1))(theta)
    operator = NTKOperator(objective, theta, output)
    dense = operator.to_dense()
    assert torch.allclose(dense, J @ J.T, rtol=1e-10, atol=1e-10 * float((J @ J.T).abs().max()))
    if kind == "pixel" and output == "logits":
        assert torch.allclose(dense, torch.eye(32, dtype=torch.float64))


def test_mlp_hessian_vector_products_are_exact():
    problem = tiny_beam(width=6, height=4)
    objective = L.Objective(problem, L.models.build("mlp", problem, widths=(6,), embedding="torus"), filter=False)
    theta = objective.theta0 + 0.1 * torch.randn(objective.num_params, generator=torch.Generator().manual_seed(0),
                                                 dtype=torch.float64)
    dense = torch.func.hessian(objective.loss_graph)(theta)
    assert torch.allclose(objective.hessian(theta).to_dense(), dense, rtol=1e-8, atol=1e-8 * float(dense.abs().max()))


def test_embeddings_change_the_kernel_as_the_paper_says():
    problem = L.problems.resized("A", 16, 32)

    def operator(**options):
        model = L.models.build("mlp", problem, widths=(512, 512), **options)
        return ntk(L.Objective(problem, model, filter=False))

    raw, torus = operator(embedding="raw"), operator(embedding="torus")
    assert translation_invariance(torus, window=5) > translation_invariance(raw, window=5) + 0.1
    radii = []
    for ell in (2.0, 4.0, 8.0):
        op = operator(embedding="fourier", length_scale=ell)
        radii.append(filter_radius(kernel_row(op, 16, 8), 16, 8))
    assert radii[0] < radii[1] < radii[2]


def test_filter_radius_of_a_known_profile():
    y, x = np.mgrid[:21, :21]
    image = np.exp(-((y - 10) ** 2 + (x - 10) ** 2) / (2 * 3.0 ** 2))
    assert filter_radius(image, 10, 10) == pytest.approx(3.0 * math.sqrt(2 * math.log(2)), abs=0.15)


def test_mlp_runs_with_optimizers_and_the_ntk_probe(tmp_path):
    problem = L.problems.resized("A", 8, 16)
    objective = L.Objective(problem, L.models.build("mlp", problem, widths=(64, 64), embedding="fourier"),
                            penal=3.0, filter=False)
    result = L.run(objective, "lbfgs", steps=10, probes=[NTKProbe(k=3, steps=10, window=2, at=[0, 5])],
                   trace=tmp_path / "mlp.h5", progress=False)
    assert result.final_loss < result.losses[0]
    trace = L.open_trace(tmp_path / "mlp.h5")
    probe = trace.probe("ntk")
    assert list(probe["step"]) == [0, 5, 10] and probe["centre_row"].shape == (3, 16, 8)
    assert (np.diff(probe["top"], axis=1) <= 0).all()
    assert trace.config["model"] == "mlp" and trace.config["filter"] is False


def test_torus_inner_products_are_exactly_translation_invariant():
    angle = 2 * math.pi / 12
    e = embed((6, 12), "torus", angle=angle)
    gram = (e @ e.T).numpy()
    y, x = np.divmod(np.arange(72), 12)
    dx, dy = x[:, None] - x[None, :], y[:, None] - y[None, :]
    np.testing.assert_allclose(gram, 2 * (np.cos(angle * dx) + np.cos(angle * dy)), atol=1e-13)


def test_fourier_inner_products_approach_the_gaussian_kernel():
    y, x = np.divmod(np.arange(64), 8)
    d2 = (x[:, None] - x[None, :]) ** 2 + (y[:, None] - y[None, :]) ** 2
    target = np.exp(-d2 / (2 * 2.0 ** 2))
    errors = []
    for m in (100, 1000, 10000):
        e = embed((8, 8), "fourier", length_scale=2.0, features=m, generator=torch.Generator().manual_seed(3))
        errors.append(np.abs((e @ e.T).numpy() / m - target).max())
    assert errors[0] > errors[1] > errors[2] and errors[2] < 0.06


def test_eigen_images_of_a_translation_invariant_kernel_are_fourier_modes():
    """On the full torus a kernel of e(p)'e(q) is circulant: each eigen-image lives on the
    frequencies where the kernel's symbol equals its eigenvalue."""
    from probes.linalg import DenseOperator, extreme_eigenpairs
    n = 12
    e = embed((n, n), "torus", angle=2 * math.pi / n)
    kernel = torch.exp(e @ e.T / 2)              # any function of e(p)'e(q): translation invariant
    symbol = np.real(np.fft.fft2(kernel[0].reshape(n, n).numpy()))   # eigenvalue of each frequency
    pairs = extreme_eigenpairs(DenseOperator(kernel), k=6, steps=60)
    for value, vector in zip(pairs.top, pairs.top_vectors.T):
        power = np.abs(np.fft.fft2(vector.reshape(n, n).numpy())) ** 2
        on_shell = np.isclose(symbol, float(value), rtol=1e-8, atol=1e-8 * float(pairs.top[0]))
        assert power[on_shell].sum() / power.sum() > 1 - 1e-10
    # the top eigen-image is the constant mode; the next ones oscillate once across the grid
    first = np.abs(np.fft.fft2(pairs.top_vectors[:, 0].reshape(n, n).numpy())) ** 2
    assert np.unravel_index(first.argmax(), first.shape) == (0, 0)
