"""The trace format's definitions, shared by the writer, the reader, the runner and the Recorder.

The layout is described in :mod:`landscape.trace` and ``landscape/trace-schema.md``.
One step row (:func:`step_row`) and one evaluation row (:func:`evaluation_rows`)
are built here for everything that records a run: ``landscape.run``'s history,
the :class:`~landscape.recorder.Recorder` and the HDF5 writer.
"""
from __future__ import annotations

import datetime as _dt
import errno
import os
import platform
import re
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np

__all__ = ["SCHEMA", "SCHEMA_VERSION", "STEP_DTYPE", "EVALUATION_DTYPE", "STEP_COLUMNS", "EVALUATION_COLUMNS",
           "step_row", "evaluation_rows", "TraceError", "DiskFull", "process_alive", "versions", "probe_outputs"]

SCHEMA = "landscape-trace"
SCHEMA_VERSION = 1

STEP_DTYPE = np.dtype([("step", "<i8"), ("loss", "<f8"), ("grad_norm", "<f8"), ("step_size", "<f8"),
                       ("step_norm", "<f8"), ("evaluations", "<i8"), ("distance", "<f8"),
                       ("wall_time", "<f8")])
EVALUATION_DTYPE = np.dtype([("step", "<i8"), ("loss", "<f8"), ("grad_norm", "<f8"),
                             ("alpha", "<f8"), ("slope", "<f8")])
_STATUS = "S32"
_TEXT = "S2048"
STEP_COLUMNS = STEP_DTYPE.names
EVALUATION_COLUMNS = EVALUATION_DTYPE.names


def step_row(record, total_evaluations: int, distance: float, wall: float) -> tuple:
    """One row of the steps table for an accepted step ``record`` (an :class:`~landscape.optim.Step`).

    Args:
        record: the accepted step; its ``step``, ``loss``, ``grad_norm``, ``step_size`` and ``step_norm``
            are used.
        total_evaluations: objective evaluations of the run so far (line-search trials included).
        distance: ``|theta - theta0|``, the Euclidean distance from the initial iterate.
        wall: seconds since the run started.

    Returns:
        A tuple in the column order of ``STEP_DTYPE``: ``(step, loss, grad_norm, step_size, step_norm,
        evaluations, distance, wall_time)``.
    """
    return (int(record.step), float(record.loss), float(record.grad_norm), float(record.step_size),
            float(record.step_norm), int(total_evaluations), float(distance), float(wall))


def evaluation_rows(step: int, evaluations: Sequence) -> np.ndarray:
    """Rows of the evaluations table for the objective evaluations made during ``step``.

    Args:
        step: the step number written into every row.
        evaluations: :class:`~landscape.optim.Evaluation` records (objects with ``loss``, ``grad_norm``,
            ``alpha`` and ``slope``).

    Returns:
        A structured array of dtype ``EVALUATION_DTYPE``, one row per evaluation.
    """
    return np.array([(step, e.loss, e.grad_norm, e.alpha, e.slope) for e in evaluations], dtype=EVALUATION_DTYPE)


class TraceError(Exception):
    """A path that cannot be written, a file that is not a trace, or a trace in a bad state."""


class DiskFull(TraceError):
    """The disk holding a trace has no room for the next write."""


def process_alive(host: str, pid) -> bool:
    """Whether process ``pid`` on ``host`` still runs (a zombie, killed but not yet reaped, does not).

    Another host's processes cannot be seen, so True. On this host the check is ``os.kill(pid, 0)`` and,
    for a process that exists, its state in ``/proc/<pid>/stat``; whenever the answer cannot be told
    (no permission, an invalid pid, no ``/proc``) the process counts as alive.

    Args:
        host: the host name the process runs on, compared with ``platform.node()``.
        pid: the process id (an int or anything ``int()`` accepts).

    Returns:
        False only when the process is known to be gone or a zombie.
    """
    if host != platform.node():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, OverflowError, TypeError):
        return True
    try:
        with open(f"/proc/{int(pid)}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError, ValueError):
        return True


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def versions() -> dict[str, str]:
    """Versions of the package, its main dependencies, Python and the sparse solver.

    Returns:
        ``{"landscape", "python", "torch", "numpy", "scipy", "h5py", "hdf5": version string, "solver":
        ``"cholmod"`` or ``"scipy"``}``, as recorded in a trace's ``versions`` attribute.
    """
    import scipy
    import torch

    from .._version import __version__
    from ..physics import backend
    return {"landscape": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__, "scipy": scipy.__version__, "h5py": h5py.__version__,
            "hdf5": h5py.version.hdf5_version, "solver": backend()}


def _jsonable(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (tuple, set)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    return str(value)


def _encode(text: str, size: int = 2048) -> np.bytes_:
    return np.bytes_(str(text).encode("utf-8")[:size])


def _reason(error: BaseException) -> str:
    """One line for an HDF5 or OS error (HDF5's messages span lines and repeat the file name)."""
    code = getattr(error, "errno", None)
    text = str(error)
    if code is None:
        match = re.search(r"errno = (\d+)", text)
        code = int(match.group(1)) if match else None
    if code is not None and code in errno.errorcode:
        return f"{os.strerror(code)} (errno {code})"
    return " ".join(text.split())[:300]


def _model_kind(objective) -> str:
    model = getattr(objective, "model", None)
    if model is None:
        return ""
    return getattr(model, "kind", type(model).__name__)


def objective_config(objective) -> dict:
    """What a trace records of the objective a run optimized.

    Problem, model kind, options and seed, penalization, precision, the design options and the number of
    parameters (the fields a :class:`~landscape.RunSpec` needs). Attributes the objective (or its model)
    lacks are recorded as ``None``, except the model options (``{}``), the model kind (``""`` without a
    model, the model's class name without ``kind``) and the problem (the objective's ``name``, else
    ``"objective"``, without a problem).

    Args:
        objective: the objective; it must have ``num_params``.

    Returns:
        A dict with the keys ``problem``, ``model``, ``model_options``, ``model_seed``, ``penal``,
        ``precision``, ``volume_constraint``, ``filter`` and ``num_params``.
    """
    problem = getattr(objective, "problem", None)
    model = getattr(objective, "model", None)
    return {"problem": getattr(problem, "name", None) or getattr(objective, "name", "objective"),
            "model": _model_kind(objective),
            "model_options": dict(getattr(model, "options", {}) or {}),
            "model_seed": getattr(model, "seed", None),
            "penal": getattr(objective, "penal", None),
            "precision": getattr(objective, "precision", None),
            "volume_constraint": getattr(objective, "volume_constraint", None),
            "filter": getattr(objective, "filter", None),
            "num_params": int(objective.num_params)}


def probe_outputs(probe, objective) -> dict[str, tuple[int, ...]]:
    """The output names and shapes a recorded probe declares.

    Args:
        probe: the probe; it must have a method ``outputs(objective) -> {name: shape}``.
        objective: the objective the probe will run on, passed to ``probe.outputs``.

    Returns:
        ``{output name: shape}`` with names as str and shapes as tuples of int.

    Raises:
        TraceError: if the probe has no ``outputs`` method.
    """
    if not hasattr(probe, "outputs"):
        raise TraceError(f"probe {getattr(probe, 'name', probe)!r} cannot be recorded: it does not declare "
                         f"its outputs (a method outputs(objective) -> {{name: shape}})")
    return {str(k): tuple(int(n) for n in v) for k, v in dict(probe.outputs(objective)).items()}
