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


def _interrupt_when_started(process, started, wait=300.0, settle=2.0, timeout=120.0, sig=None, group=True) -> str:
    """Ctrl-C a process group started with ``start_new_session=True`` once ``started()`` is true (or after
    ``wait`` seconds), as a terminal sends it to the command and its workers; returns its stderr. ``sig``
    (default SIGINT) sends another signal, and ``group=False`` sends it to the process alone. The group is
    killed afterwards whatever happened, so no long run outlives a failing test."""
    import contextlib
    import os
    import signal
    import time
    deadline = time.time() + wait          # workers' start-up takes a minute or more on a busy machine
    while time.time() < deadline and not started():
        time.sleep(0.2)
    time.sleep(settle)
    sig = signal.SIGINT if sig is None else sig
    if group:
        os.killpg(process.pid, sig)
    else:
        process.send_signal(sig)
    try:
        return process.communicate(timeout=timeout)[1]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture
def interrupt_when_started():
    """:func:`_interrupt_when_started`, for the tests of Ctrl-C on sweeps and studies."""
    return _interrupt_when_started
