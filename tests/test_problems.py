import warnings

import numpy as np
import pytest
import torch

from landscape import problems
from landscape.design import physical_density
from landscape.physics import compliance
from landscape.problems import Problem, ProblemError


def test_suite_has_hoyers_116_tasks_in_28_categories():
    suite = [n for n in problems.names() if n != "mbb_beam_60x20_0.5"]
    assert len(suite) == 116
    assert len(problems.categories()) == 28
    assert "michell_centered_both_32x64_0.12" in suite
    assert "l_shape_0.2_64x64_0.4" in suite
    assert "anchored_suspended_bridge_128x128_0.1" in suite


def test_thesis_codes_and_figure3_beam():
    assert problems.get("A").name == "michell_centered_both_32x64_0.12"
    assert problems.get("B").name == "pure_bending_moment_32x64_0.15"
    assert problems.get("D").name == "causeway_bridge_middle_128x128_0.1"
    assert problems.get("E").name == "crane_128x128_0.2"
    mbb = problems.get("mbb_beam_60x20_0.5")
    assert (mbb.width, mbb.height, mbb.volfrac) == (60, 20, 0.5)


def test_unknown_name_lists_close_matches():
    with pytest.raises(KeyError) as err:
        problems.get("michel_centered_both_32x64_0.12")
    assert "michell_centered_both_32x64_0.12" in str(err.value)


def test_category_size_volfrac_names_build_problems_outside_the_suite():
    coarse = problems.get("michell_centered_both_8x16_0.12")
    assert coarse.shape == (16, 8) and coarse.volfrac == 0.12
    assert np.array_equal(coarse.forces, problems.resized("A", 8, 16).forces)
    assert problems.get("michell_centered_both_32x64_0.13").volfrac == 0.13
    with pytest.raises(problems.ProblemError):
        problems.get("michell_centered_both_8x16_1.5")


def test_boundary_condition_quirks_are_reproduced():
    crane = problems.get("E")
    i, j = np.nonzero(crane.forces[..., 1])
    # round(0.9 * 128) = 115; round(1 - 0.5 * 128) = -63 -> row 129 - 63 = 66
    assert (i.tolist(), j.tolist()) == ([115], [66])
    assert crane.mask.shape == (128, 128) and crane.mask[0, 127] == 1 and crane.mask[127, 127] == 0
    a = problems.get("A")
    assert np.flatnonzero(a.normals[..., 1].ravel()).tolist() == [2 * 65 + 32]   # node (2, 32)
    assert a.forces[32, 32, 1] == -1


@pytest.mark.parametrize("category", problems.categories())
def test_every_category_builds_and_solves_at_its_smallest_size(category):
    name = min(problems.names(category),
               key=lambda n: problems.get(n).width * problems.get(n).height)
    problem = problems.get(name)
    x = torch.full(problem.shape, problem.volfrac, dtype=torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c = compliance(problem, physical_density(problem, x), penal=3.0)
    assert torch.isfinite(c) and c > 0


def _grid(w=4, h=3):
    return np.zeros((w + 1, h + 1, 2)), np.zeros((w + 1, h + 1, 2))


def test_bad_problems_raise_clear_errors():
    normals, forces = _grid()
    normals[0, :, :] = 1
    forces[-1, 0, 1] = -1
    with pytest.raises(ProblemError, match="volume fraction"):
        Problem(normals, forces, 1.5)
    with pytest.raises(ProblemError, match="forces has shape"):
        Problem(normals, forces[:-1], 0.5)
    with pytest.raises(ProblemError, match="mask has shape"):
        Problem(normals, forces, 0.5, mask=np.ones((4, 3)))
    roller = np.zeros_like(normals)
    roller[0, :, 0] = 1            # only x fixed along a line: vertical translation is free
    with pytest.raises(ProblemError, match="rigid-body"):
        Problem(roller, forces, 0.5)
    pinned = np.zeros_like(normals)
    pinned[0, 0, :] = 1            # one pinned node: rotation is free
    with pytest.raises(ProblemError, match="1 rigid-body"):
        Problem(pinned, forces, 0.5)
    with pytest.raises(ProblemError, match="no force"):
        Problem(normals, np.zeros_like(forces), 0.5)


def test_resized_accepts_sized_names_outside_the_suite():
    import landscape as L
    coarse = L.problems.resized("michell_centered_both_8x16_0.12", 16, 32)
    assert coarse.name == "michell_centered_both_16x32_0.12" and coarse.shape == (32, 16)
    assert coarse.name == L.problems.resized("A", 16, 32).name
