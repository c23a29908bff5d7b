"""Geometry and trajectory probes against exact answers."""
import numpy as np
import pytest
import torch

import landscape as L
from probes.geometry import (
    Interpolation,
    Plane,
    along_trajectory,
    barrier,
    filter_normalized_direction,
    interpolate,
    losses,
    project,
    random_plane,
    surface,
)
from probes.trajectory import (
    TrajectoryProbe,
    equalized_gram,
    explained_variance_by_prefix,
    explained_variance_from_gram,
    iterate_gram,
    orthogonal_walk_gram,
    step_lengths,
    trajectory_metrics,
    trajectory_pca,
)

SMALL_CNN = dict(latent_size=4, dense_channels=2, resizes=(1, 2, 1), conv_filters=(4, 3, 1), kernel_size=3)


def small_cnn_objective(seed=0):
    problem = L.problems.resized("A", 8, 16)
    return L.Objective(problem, L.models.build("cnn", problem, seed=seed, precision="float64", **SMALL_CNN), penal=3.0)


def test_interpolation_end_points_are_the_losses_at_the_two_points():
    a, b = small_cnn_objective(0), small_cnn_objective(1)
    curve = interpolate(a, a.theta0, b.theta0, np.array([0.0, 0.3, 1.0]))
    assert curve.losses[0] == pytest.approx(a.loss(a.theta0), rel=1e-12)
    assert curve.losses[-1] == pytest.approx(a.loss(b.theta0), rel=1e-12)
    path = along_trajectory(a, [a.theta0, b.theta0, 0.5 * b.theta0], points_per_segment=4)
    assert path.alphas[-1] == 2 and path.losses[4] == pytest.approx(a.loss(b.theta0), rel=1e-12)


class DoubleWell:
    """L(x) = (x1^2 - 1)^2 + 1 + x2^2: two minima at x1 = +-1 (loss 1), a saddle at 0 (loss 2)."""
    def loss(self, theta):
        x = torch.as_tensor(theta, dtype=torch.float64)
        return float((x[0] ** 2 - 1) ** 2 + 1 + x[1] ** 2)


def test_barrier_between_the_two_minima_of_a_double_well_is_the_saddle():
    curve = interpolate(DoubleWell(), [-1.0, 0.0], [1.0, 0.0], np.linspace(-0.5, 1.5, 41))
    assert barrier(curve)[0] == pytest.approx(1.0, rel=1e-12)           # saddle 2 over minima 1
    downhill = interpolate(DoubleWell(), [0.0, 3.0], [1.0, 0.0], np.linspace(0, 1, 21))
    assert barrier(downhill)[0] == 0.0                                  # falls from 11 to 1, never above 11
    path = along_trajectory(DoubleWell(), [[-1.0, 0.0], [1.0, 0.0], [1.0, 1.0]], points_per_segment=4)
    assert barrier(path, 0, 1)[0] == pytest.approx(1.0) and barrier(path, 1, 2)[0] == 0.0
    curves = Interpolation(np.linspace(0, 1, 3), np.array([[4.0, 6.0, 3.0], [4.0, 2.0, 1.0]]))
    np.testing.assert_allclose(barrier(curves), [0.5, 0.0])
    with pytest.raises(ValueError, match="start=0.3"):
        barrier(curves, 0.3, 1.0)


def test_batched_losses_equal_one_at_a_time():
    objective = small_cnn_objective()
    g = torch.Generator().manual_seed(0)
    thetas = objective.theta0 + 0.1 * torch.randn(5, objective.num_params, generator=g, dtype=torch.float64)
    np.testing.assert_allclose(losses(objective, thetas, batch=4), losses(objective, thetas, batch=1), rtol=1e-12)


def test_filter_normalized_direction_matches_filter_norms():
    objective = small_cnn_objective()
    g = torch.Generator().manual_seed(2)
    theta = objective.theta0 + 0.05 * torch.randn(objective.num_params, generator=g, dtype=torch.float64)
    d = filter_normalized_direction(objective, theta, seed=3)
    checked = 0
    for name, shape, t, piece in zip(objective.names, objective.shapes, torch.split(theta, objective.sizes),
                                     torch.split(d, objective.sizes)):
        t, piece = t.view(shape), piece.view(shape)
        if name.split(".")[0] in ("dense_weight", "conv_weights"):
            np.testing.assert_allclose(piece.reshape(shape[0], -1).norm(dim=1), t.reshape(shape[0], -1).norm(dim=1),
                                       rtol=1e-12)
            checked += shape[0]
        elif len(shape) == 1:
            assert float(piece.abs().max()) == 0.0           # biases ignored
        else:
            assert float(piece.norm()) == pytest.approx(float(t.norm()), rel=1e-12)   # per tensor
    assert checked >= 4 + 3 + 1 + 8     # every conv filter and every dense-layer row
    assert torch.equal(d, filter_normalized_direction(objective, theta, seed=3))      # seeded
    problem = L.problems.resized("A", 8, 16)
    pixel = L.Objective(problem, L.models.build("pixel", problem))
    with pytest.raises(ValueError, match="direction is zero"):
        filter_normalized_direction(pixel, others="ignore")
    assert float(filter_normalized_direction(pixel).norm()) == pytest.approx(float(pixel.theta0.norm()))


def test_surface_of_a_quadratic_is_the_analytic_form(tmp_path):
    A = torch.tensor([[3.0, 1.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.5, 1.0]], dtype=torch.float64)
    b = torch.tensor([1.0, -1.0, 0.5], dtype=torch.float64)
    f = L.FunctionObjective(lambda x: 0.5 * x @ A @ x - b @ x, torch.zeros(3))
    c = torch.tensor([0.2, -0.1, 0.3], dtype=torch.float64)
    d1, d2 = torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64), torch.tensor([0.0, 1.0, -1.0], dtype=torch.float64)
    plane = Plane(c, d1, d2, "test", {})
    alphas, betas = np.linspace(-1, 1, 5), np.linspace(-2, 2, 7)
    s = surface(f, plane, alphas, betas, progress=False)
    for i, a in enumerate(alphas):
        for j, bb in enumerate(betas):
            x = c + a * d1 + bb * d2
            assert s.losses[i, j] == pytest.approx(float(0.5 * x @ A @ x - b @ x), rel=1e-13, abs=1e-13)


def test_surface_resumes_from_its_checkpoint(tmp_path):
    objective = small_cnn_objective()
    plane = random_plane(objective, seed=0)
    alphas, betas = np.linspace(-1, 1, 4), np.linspace(-1, 1, 3)
    checkpoint = tmp_path / "surface.npz"
    full = surface(objective, plane, alphas, betas, progress=False)

    class Stop(Exception):
        pass

    original = objective.logits
    calls = {"n": 0}

    def failing(theta):
        calls["n"] += 1
        if calls["n"] > 2:   # two rows get done, then the "machine dies"
            raise Stop
        return original(theta)

    objective.logits = failing
    with pytest.raises(Stop):
        surface(objective, plane, alphas, betas, checkpoint=checkpoint, progress=False, batch=3)
    objective.logits = original
    before = objective.evaluations
    resumed = surface(objective, plane, alphas, betas, checkpoint=checkpoint, progress=False, batch=3)
    assert objective.evaluations - before == 2 * betas.size      # only the two missing rows
    np.testing.assert_allclose(resumed.losses, full.losses, rtol=1e-12)


def test_pca_of_points_on_a_line_is_one_component_and_prefixes():
    direction = np.array([1.0, 2.0, -1.0, 0.5])
    thetas = np.array([t * direction for t in (0.0, 0.5, 1.5, 3.0, 4.0)]) + 1.0
    pca = trajectory_pca(thetas)
    assert pca.explained_variance_ratio[0] == pytest.approx(1.0, abs=1e-12)
    assert abs(abs(pca.components[0] @ direction) / np.linalg.norm(direction) - 1) < 1e-12
    rng = np.random.default_rng(0)
    walk = np.cumsum(rng.normal(size=(8, 6)), axis=0)
    prefix = explained_variance_by_prefix(walk, components=2)
    for j in range(2, 8):
        direct = trajectory_pca(walk[:j + 1], walk[j]).explained_variance_ratio[:2]
        np.testing.assert_allclose(prefix[j - 1], direct, atol=1e-12)


def test_window_and_equalized_pca_from_the_gram_matrix_match_the_iterates():
    """A window's ratios from a sub-matrix of the Gram, and the equalized trajectory's Gram, against PCA of the
    explicit points (far from the origin, as a network's parameters are)."""
    rng = np.random.default_rng(0)
    steps = rng.normal(size=(40, 60)) * np.geomspace(1e-3, 10.0, 40)[:, None]    # growing steps
    thetas = 1e3 + np.vstack([np.zeros(60), np.cumsum(steps, axis=0)])
    G = iterate_gram(thetas)
    window = explained_variance_from_gram(G[4:9, 4:9], components=2)
    np.testing.assert_allclose(window, trajectory_pca(thetas[4:9]).explained_variance_ratio[:2], atol=1e-10)
    unit = steps / np.linalg.norm(steps, axis=1, keepdims=True)
    equal = np.vstack([np.zeros(60), np.cumsum(unit, axis=0)])
    np.testing.assert_allclose(equalized_gram(G), iterate_gram(equal), atol=1e-9)
    np.testing.assert_allclose(explained_variance_from_gram(equalized_gram(G)),
                               trajectory_pca(equal).explained_variance_ratio[:2], atol=1e-10)
    np.testing.assert_allclose(step_lengths(G), np.linalg.norm(steps, axis=1), rtol=1e-9)
    # the mechanism of thesis section 4.1: growing steps make the iterates look more two-dimensional (0.986)
    # than the same directions at equal lengths (0.889)
    assert explained_variance_from_gram(G).sum() > explained_variance_from_gram(equalized_gram(G)).sum() + 0.05


def test_the_orthogonal_walk_is_a_random_walk_in_many_dimensions():
    """Random steps in n >> k dimensions are nearly orthogonal: the null model's Gram matches a simulated walk."""
    rng = np.random.default_rng(3)
    lengths = np.geomspace(0.1, 5.0, 6)
    steps = rng.normal(size=(6, 200_000))
    steps *= (lengths / np.linalg.norm(steps, axis=1))[:, None]
    walk = np.vstack([np.zeros(200_000), np.cumsum(steps, axis=0)])
    null = orthogonal_walk_gram(lengths)
    np.testing.assert_allclose(iterate_gram(walk), null, atol=0.02 * null.max())
    np.testing.assert_allclose(step_lengths(null), lengths, rtol=1e-12)


def test_equalized_gram_leaves_a_step_of_length_zero_out():
    thetas = np.array([[0.0, 0.0], [2.0, 0.0], [2.0, 0.0], [2.0, 3.0]])
    expected = iterate_gram(np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 1.0]]))
    np.testing.assert_allclose(equalized_gram(iterate_gram(thetas)), expected, atol=1e-15)


def test_projected_trajectory_in_the_plane_has_zero_residual():
    rng = np.random.default_rng(1)
    c, d1, d2 = (torch.from_numpy(rng.normal(size=10)) for _ in range(3))
    coords = rng.normal(size=(6, 2))
    points = c.numpy() + coords @ np.stack([d1.numpy(), d2.numpy()])
    found, residual = project(Plane(c, d1, d2, "test", {}), points)
    np.testing.assert_allclose(found, coords, atol=1e-12)
    assert residual.max() < 1e-12
    _, off = project(Plane(c, d1, d2, "test", {}), points + 0.1 * rng.normal(size=points.shape))
    assert off.min() > 0


def test_trajectory_metrics_by_hand():
    thetas = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [2.0, 1.0]])
    grads = np.array([[-1.0, 0.0], [0.0, -1.0], [-1.0, 0.0], [0.0, 0.0]])
    losses_ = np.array([3.0, 2.0, 1.0, 0.5])
    m = trajectory_metrics(thetas, grads, losses_)
    np.testing.assert_allclose(m.distance, [0, 1, np.sqrt(2), np.sqrt(5)])
    np.testing.assert_allclose(m.grad_norm, [1, 1, 1, 0])
    np.testing.assert_allclose(m.grad_cosine[1:3], [0.0, 0.0])
    np.testing.assert_allclose(m.step_norm[1:], [1, 1, 1])
    # to the final point (2, 1): from (0,0) the direction is (2,1)/sqrt5 and -g.dir = 2/sqrt5
    assert m.grad_to_final[0] == pytest.approx(2 / np.sqrt(5))
    # star-convexity residual: L_i - L_T + (theta_T - theta_i)'g_i
    np.testing.assert_allclose(m.star_convexity[:3], [3 - 0.5 - 2, 2 - 0.5 - 1, 1 - 0.5 - 1])


def test_trajectory_probe_agrees_with_the_post_hoc_metrics(tmp_path):
    problem = L.problems.resized("A", 8, 16)
    objective = L.Objective(problem, L.models.build("pixel", problem), penal=3.0)
    first = L.run(objective, "lbfgs", steps=6, progress=False)
    probe = TrajectoryProbe(reference=first.theta, reference_loss=first.final_loss)
    run = L.run(objective, "lbfgs", steps=6, probes=[probe], progress=False,
                trace=L.TraceWriter(tmp_path / "t.h5", snapshot_every=1))
    trace = L.open_trace(tmp_path / "t.h5")
    recorded = trace.probe("trajectory")
    snaps = trace.snapshots()["theta"]
    grads = np.stack([objective.grad(torch.from_numpy(t)).numpy() for t in snaps])
    post = trajectory_metrics(snaps, grads, trace.steps()["loss"])
    for key in ("distance", "grad_norm", "grad_cosine", "step_norm", "grad_to_final", "star_convexity"):
        np.testing.assert_allclose(recorded[key][:-1], getattr(post, key)[:-1], rtol=1e-9, atol=1e-12, err_msg=key)
    assert run.status == "completed"


def test_geometry_plot_kinds_from_a_trace(tmp_path):
    from landscape import plots
    objective = L.Objective(L.problems.get("A"), L.models.build("pixel", L.problems.get("A")), penal=3.0)
    path = tmp_path / "run.h5"
    L.run(objective, "lbfgs", steps=8, probes=[TrajectoryProbe()], progress=False,
          trace=L.TraceWriter(path, snapshot_every=2))
    trace = L.open_trace(path)
    for kind in ("pca", "surface", "interpolation", "trajectory", "distance"):
        out = plots.save(plots.figure_for(trace, kind), tmp_path / f"{kind}.png")
        assert out.read_bytes()[:4] == b"\x89PNG"
    rebuilt = trace.objective()
    assert rebuilt.loss(trace.final().theta) == pytest.approx(trace.steps()["loss"][-1], rel=1e-12)


@pytest.mark.parametrize("kind", ["conv", "transpose", "linear"])
def test_filter_normalization_slices_along_the_output_channels(kind):
    """Each output filter of the direction has the norm of the same filter of theta, for every layer type."""
    torch.manual_seed(0)
    layer = {"conv": torch.nn.Conv2d(3, 5, 3), "transpose": torch.nn.ConvTranspose2d(3, 5, 3),
             "linear": torch.nn.Linear(4, 6)}[kind].double()
    problem = L.problems.resized("A", 8, 16)

    class Wrapped(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = layer
            self.logits = torch.nn.Parameter(torch.zeros(problem.shape, dtype=torch.float64))

        def forward(self):
            return self.logits + 0.0 * self.layer.weight.sum()

    objective = L.Objective(problem, Wrapped(), precision="float64")
    d = filter_normalized_direction(objective, seed=1)
    out_dim = 1 if kind == "transpose" else 0
    weight = layer.weight.detach()
    pieces = dict(zip(objective.names, torch.split(d, objective.sizes)))
    piece = pieces["layer.weight"].view(weight.shape)
    norms = lambda t: t.movedim(out_dim, 0).reshape(t.shape[out_dim], -1).norm(dim=1)  # noqa: E731
    np.testing.assert_allclose(norms(piece), norms(weight), rtol=1e-12)
    assert len(norms(weight)) == (5 if kind != "linear" else 6)


def test_cnn_transpose_directions_are_normalized_per_output_channel():
    problem = L.problems.resized("A", 8, 16)
    objective = L.Objective(problem, L.models.build("cnn_transpose", problem, seed=0, precision="float64",
                                                    **SMALL_CNN))
    d = filter_normalized_direction(objective, seed=2)
    for name, shape, t, piece in zip(objective.names, objective.shapes, torch.split(objective.theta0, objective.sizes),
                                     torch.split(d, objective.sizes)):
        if name.startswith("conv_weights"):
            t, piece = t.view(shape).movedim(1, 0), piece.view(shape).movedim(1, 0)
            np.testing.assert_allclose(piece.reshape(shape[1], -1).norm(dim=1), t.reshape(shape[1], -1).norm(dim=1),
                                       rtol=1e-12)


def test_a_checkpoint_of_another_plane_is_not_resumed(tmp_path):
    """Planes from other seeds (same norms) or with a negated direction start afresh."""
    objective = small_cnn_objective()
    alphas, betas = np.linspace(-1, 1, 3), np.linspace(-1, 1, 3)
    checkpoint = tmp_path / "surface.npz"
    first = random_plane(objective, seed=0)
    surface(objective, first, alphas, betas, checkpoint=checkpoint, progress=False)
    for other in (random_plane(objective, seed=4), Plane(first.center, -first.d1, first.d2, first.kind, first.info)):
        assert float(other.d1.norm()) == pytest.approx(float(first.d1.norm()))   # the old key could not tell
        expected = surface(objective, other, alphas, betas, progress=False)
        before = objective.evaluations
        got = surface(objective, other, alphas, betas, checkpoint=checkpoint, progress=False)
        assert objective.evaluations - before == alphas.size * betas.size
        np.testing.assert_allclose(got.losses, expected.losses, rtol=1e-12)
        surface(objective, first, alphas, betas, checkpoint=checkpoint, progress=False)   # the first plane again


def test_planes_and_lines_with_too_little_to_span_them_say_so():
    import numpy as np
    import torch

    import landscape as L
    from probes.geometry import between_initializations, hessian_plane, pca_plane
    line = np.outer(np.arange(4.0), np.ones(6))                     # collinear iterates: one direction
    with pytest.raises(ValueError, match="two directions"):
        pca_plane(line)
    objective = L.FunctionObjective(lambda t: (t ** 2).sum(), torch.ones(1))
    with pytest.raises(ValueError, match="two eigenvectors"):
        hessian_plane(objective)
    with pytest.raises(ValueError, match="at least two"):
        between_initializations(objective, [torch.ones(1)])


def test_a_checkpoint_made_in_the_other_numerics_mode_is_not_resumed(tmp_path, monkeypatch):
    from landscape import numerics
    objective = small_cnn_objective()
    alphas, betas = np.linspace(-1, 1, 3), np.linspace(-1, 1, 3)
    checkpoint = tmp_path / "surface.npz"
    plane = random_plane(objective, seed=0)
    surface(objective, plane, alphas, betas, checkpoint=checkpoint, progress=False)
    other = "native" if numerics.mode() == "deterministic" else "deterministic"
    monkeypatch.setattr(numerics, "mode", lambda: other)
    before = objective.evaluations
    surface(objective, plane, alphas, betas, checkpoint=checkpoint, progress=False)
    assert objective.evaluations - before == alphas.size * betas.size          # computed afresh
