import numpy as np
import pytest
import torch

from landscape.problems import Problem, X, Y


def tiny_beam(width=6, height=4, volfrac=0.4, mask=1.0):
    """A small MBB-like cantilever for exact derivative checks."""
    normals = np.zeros((width + 1, height + 1, 2))
    normals[0, :, :] = 1
    forces = np.zeros((width + 1, height + 1, 2))
    forces[-1, height // 2, Y] = -1.0
    forces[-1, 0, X] = 0.3
    return Problem(normals, forces, volfrac, mask, name=f"tiny_{width}x{height}")


@pytest.fixture
def tiny():
    return tiny_beam()


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    np.random.seed(0)
