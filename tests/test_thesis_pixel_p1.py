"""The hard check of the graph: the thesis's p = 1 PixelModel L-BFGS-B values (DESIGN.md)."""
import pytest

from experiments.hard_check import THESIS_P1_PIXEL, pixel_lbfgs


@pytest.mark.parametrize("code", [
    "A",
    pytest.param("B", marks=pytest.mark.slow),
    pytest.param("D", marks=pytest.mark.slow),
    pytest.param("E", marks=pytest.mark.slow),
])
def test_pixel_p1_lbfgsb_reaches_the_thesis_value(code):
    loss, design, _ = pixel_lbfgs(code)
    assert abs(loss - THESIS_P1_PIXEL[code]) <= 2e-3 * THESIS_P1_PIXEL[code]
    assert 0.0 <= design.min() and design.max() <= 1.0
