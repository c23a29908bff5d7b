"""The helpers the study scripts share."""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "studies"))

from common import converged_step  # noqa: E402
from table_3_3_decomposition import THESIS, label_of, optimizers  # noqa: E402


def test_converged_step_by_hand():
    curve = np.array([10.0, 5.0, 2.0, 1.01, 1.0005, 1.0])
    assert converged_step(curve, tolerance=1e-3) == 4
    assert converged_step(np.ones(5)) == 0


def test_decomposition_cases_use_the_thesis_step_sizes_and_labels():
    opts = optimizers("pixel", 3, "A")
    assert opts["GD"] == {"name": "gd", "lr": 0.1}
    assert opts["HD_M1"]["lr"] == 0.126 and opts["HD_M10"]["lr"] == 0.1
    assert label_of("hd", '{"m": 1, "lr": 0.1}') == "HD_M1"
    assert label_of("lbfgs", '{"m": 10}') == "L-BFGS" and label_of("lbfgs", '{"m": 1}') == "L-BFGS_M1"
    assert len(THESIS) == 16 and all(len(v) == 6 for v in THESIS.values())
