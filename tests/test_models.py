import pytest
import torch

from landscape import models, problems


@pytest.mark.parametrize("kind", ["pixel", "cnn", "cnn_transpose", "mlp"])
def test_same_seed_same_parameters_bit_for_bit(kind):
    problem = problems.get("A")
    a = models.build(kind, problem, seed=7, precision="float64")
    b = models.build(kind, problem, seed=7, precision="float64")
    for (na, pa), (nb, pb) in zip(a.named_parameters(), b.named_parameters()):
        assert na == nb and torch.equal(pa, pb)
    assert a().shape == (64, 32) and a().dtype == torch.float64
    # the mixed network is the float64 one rounded to float32; pixel has no network and stays float64
    mixed = models.build(kind, problem, seed=7)
    for (_, p64), (_, p32) in zip(a.named_parameters(), mixed.named_parameters()):
        expected = torch.float64 if kind == "pixel" else torch.float32
        assert p32.dtype == expected and torch.equal(p32, p64.to(expected))


def test_unknown_precision_is_refused_with_the_accepted_values():
    with pytest.raises(ValueError, match="unknown precision 'half'.*mixed, float64"):
        models.build("cnn", problems.get("A"), precision="half")


def test_different_seeds_differ_and_pixel_starts_at_volfrac_times_mask():
    problem = problems.get("crane_64x64_0.3")
    assert not torch.equal(models.build("cnn", problem, seed=0).z, models.build("cnn", problem, seed=1).z)
    pixel = models.build("pixel", problem)
    assert torch.equal(pixel(), 0.3 * torch.from_numpy(problem.design_mask).double())


def test_hoyer_cnn_architecture():
    problem = problems.get("A")   # 64 rows x 32 columns -> 8 x 4 base grid
    cnn = models.build("cnn", problem, seed=0, precision="float64")
    sizes = {name: tuple(p.shape) for name, p in cnn.named_parameters()}
    assert sizes["z"] == (1, 128)
    assert sizes["dense_weight"] == (8 * 4 * 32, 128)
    assert [sizes[f"conv_weights.{i}"] for i in range(5)] == [
        (128, 32, 5, 5), (64, 128, 5, 5), (32, 64, 5, 5), (16, 32, 5, 5), (1, 16, 5, 5)]
    assert [sizes[f"offsets.{i}"][1:] for i in range(5)] == [(8, 4), (16, 8), (32, 16), (64, 32), (64, 32)]
    # orthogonal dense layer: columns orthonormal up to the gain sqrt(1024 / 128)
    w = cnn.dense_weight.detach()
    assert torch.allclose(w.T @ w, 8.0 * torch.eye(128, dtype=torch.float64), atol=1e-10)
    # fan-in truncated normal: the first kernel's std is about 1/sqrt(32 * 25)
    std = float(cnn.conv_weights[0].detach().std())
    assert 0.8 / (32 * 25) ** 0.5 < std < 1.2 / (32 * 25) ** 0.5
    assert float(cnn.conv_weights[0].detach().abs().max()) <= 2 / 0.87962566103423978 / (32 * 25) ** 0.5


def test_transpose_variant_has_the_same_output_shape():
    problem = problems.get("D")
    assert models.build("cnn_transpose", problem, seed=0)().shape == (128, 128)


def test_bad_model_options():
    problem = problems.get("A")
    with pytest.raises(ValueError, match="unknown model kind 'mlpx'"):
        models.build("mlpx", problem)
    with pytest.raises(ValueError, match="not divisible"):
        models.build("cnn", problems.get("mbb_beam_60x20_0.5"))
    with pytest.raises(ValueError, match="same length"):
        models.build("cnn", problem, resizes=(2, 2))


def test_pixel_random_starts_are_seeded_and_stay_inside_the_mask():
    problem = problems.get("A")
    a = models.build("pixel", problem, seed=3, init="random")
    b = models.build("pixel", problem, seed=3, init="random")
    c = models.build("pixel", problem, seed=4, init="random")
    assert torch.equal(a.logits, b.logits) and not torch.equal(a.logits, c.logits)
    logits = a.logits.detach()
    assert 0.9 < float(logits.std()) < 1.1 and abs(float(logits.mean())) < 0.1
    masked = problems.get("l_shape_0.2_64x64_0.4")   # a quarter of the grid lies outside its design region
    outside = torch.from_numpy(~masked.design_mask)
    logits = models.build("pixel", masked, seed=0, init="random").logits.detach()
    assert torch.all(logits[outside] == 0) and torch.all(logits[~outside] != 0)
    with pytest.raises(ValueError, match="unknown pixel init 'noise'.*constant, random"):
        models.build("pixel", problem, init="noise")
    with pytest.raises(ValueError, match="pixel model has no option .*accepted.*init="):
        models.build("pixel", problem, latent_size=3)


def test_build_takes_a_problem_or_its_name_and_names_the_accepted_options():
    import landscape as L
    by_name = L.models.build("cnn", "A", seed=3)
    by_problem = L.models.build("cnn", L.problems.get("A"), seed=3)
    assert all(torch.equal(a, b) for a, b in zip(by_name.parameters(), by_problem.parameters()))
    with pytest.raises(ValueError, match=r"no option 'widht'.*accepted.*latent_size=128"):
        L.models.build("cnn", "A", widht=3)
    with pytest.raises(L.problems.UnknownProblemError, match="unknown problem .no-such-problem"):
        L.models.build("cnn", "no-such-problem")
    assert "init" in L.models.model_options("pixel") and "embedding" in L.models.model_options("mlp")
