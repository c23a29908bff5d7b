"""The trace reader: :func:`open_trace` for finished, running and crashed runs alike.

A file is checked when opened (:meth:`Trace._check_layout`), and a read that
fails on damaged data becomes one :class:`~landscape.trace.schema.TraceError`
naming the file, never a traceback from HDF5.
"""
from __future__ import annotations

import functools
import json
import math
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..statuses import rose
from .schema import EVALUATION_DTYPE, SCHEMA, SCHEMA_VERSION, STEP_DTYPE, TraceError, _reason, process_alive

__all__ = ["Trace", "open_trace", "FinalState"]


@dataclass(frozen=True)
class FinalState:
    """A trace's ``/final`` group: the last and the best iterate, and their designs (None without a problem).

    Until the run has finished the arrays hold NaN and ``best_step`` is -1.

    Attributes:
        theta: the last iterate, shape (n,).
        best_theta: the iterate with the lowest loss, shape (n,).
        best_loss: its loss.
        best_step: its step number.
        design: the physical design at ``theta``, shape (height, width), or None when the trace has no
            designs.
        best_design: the physical design at ``best_theta``, or None when the trace has no designs.
    """

    theta: np.ndarray
    best_theta: np.ndarray
    best_loss: float
    best_step: int
    design: np.ndarray | None = None
    best_design: np.ndarray | None = None


def _open_h5(path: Path) -> h5py.File:
    try:
        return h5py.File(path, "r")
    except OSError as error:
        if "already open for write" in str(error) or "consistency flags" in str(error):
            return h5py.File(path, "r", swmr=True)     # being written, or its writer died
        raise


def _reads(what: str):
    """Report a read that fails on a damaged file as one :class:`TraceError` naming the file."""
    def decorate(method):
        @functools.wraps(method)
        def guarded(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except TraceError:
                raise
            except (OSError, RuntimeError, KeyError, ValueError, TypeError, IndexError, AttributeError) as error:
                raise TraceError(f"{self.path} is damaged: cannot read {what}: {_reason(error)}") from None
        return guarded
    return decorate


#: config entries and the JSON types a reader relies on (None allowed for all)
_CONFIG_TYPES = {"optimizer_options": (dict,), "model_options": (dict,), "spec": (dict,), "threads": (dict, int),
                 "probes": (list,), "problem": (str,), "model": (str,), "optimizer": (str,), "label": (str,),
                 "penal": (int, float), "seed": (int,), "steps": (int,), "precision": (str,), "filter": (bool,),
                 "volume_constraint": (bool,), "model_seed": (int,), "num_params": (int,), "snapshot_every": (int,),
                 "sweep_task": (str,)}


def _check_config(path, config: dict, where: str = "config") -> None:
    """Refuse a config whose known entries have the wrong JSON type, with one line naming the entry."""
    for key, types in _CONFIG_TYPES.items():
        value = config.get(key)
        if value is None:
            continue
        if isinstance(value, bool) and bool not in types or not isinstance(value, types):
            kinds = " or ".join({dict: "a table", list: "a list", int: "an integer", float: "a number",
                                 str: "a string", bool: "true or false"}[t] for t in types)
            raise TraceError(f"{path} is damaged: {where} entry {key!r} is {json.dumps(value)[:60]}, not {kinds}")
    for probe in config.get("probes") or ():
        if not (isinstance(probe, str) or isinstance(probe, dict) and isinstance(probe.get("name"), str)):
            raise TraceError(f"{path} is damaged: {where} entry 'probes' holds {json.dumps(probe)[:60]}, "
                             f"not a probe name or a table with a 'name'")
    if isinstance(config.get("spec"), dict):
        _check_config(path, config["spec"], "the config's spec")


def _identity(path) -> tuple[int, int] | None:
    """(device, inode) of a file, to notice that another file took its name; None if it is gone."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


class Trace:
    """A trace opened for reading; see :func:`open_trace`.

    The file is opened read-only (in SWMR mode when it is being written or its writer died) and its
    layout is checked at once (metadata only). Use it as a context manager, or call :meth:`close`. Reads
    that fail on damaged data raise :class:`~landscape.trace.schema.TraceError` naming the file.

    Args:
        path: the trace file (str or path).

    Raises:
        TraceError: if the file does not exist, cannot be opened as HDF5, is not a landscape trace, has a
            newer schema version than this package reads, or its layout or config is damaged.
    """

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.exists():
            raise TraceError(f"no such trace: {self.path}")
        self._identity = _identity(self.path)
        try:
            self.file = _open_h5(self.path)
        except OSError as error:
            raise TraceError(f"{self.path} cannot be opened as HDF5 ({_reason(error)}): it is not a trace, "
                             f"or it is truncated or damaged") from None
        try:
            self._check_layout()
        except TraceError:
            self.file.close()
            raise
        except Exception as error:   # noqa: BLE001 - unreadable metadata is damage, said in one line
            self.file.close()
            raise TraceError(f"{self.path} is damaged: {_reason(error)}") from None

    def _check_layout(self) -> None:
        """Refuse, in one line, a file that is not a trace or whose layout is damaged (metadata only)."""
        attrs, path = self.file.attrs, self.path
        schema = attrs.get("schema")
        if not (isinstance(schema, str) and schema == SCHEMA):
            raise TraceError(f"{path} is an HDF5 file but not a landscape trace (no schema attribute {SCHEMA!r})")
        try:
            version = int(np.asarray(attrs.get("schema_version", 0)).item())
        except (TypeError, ValueError):
            raise TraceError(f"{path} is damaged: schema_version is {attrs.get('schema_version')!r}, "
                             f"not an integer") from None
        if version > SCHEMA_VERSION:
            raise TraceError(f"{path} has trace schema version {version}; this package reads up to {SCHEMA_VERSION}")
        for name in ("config", "versions"):
            if name not in attrs:
                raise TraceError(f"{path} has the {SCHEMA} schema but no {name} attribute (its header is "
                                 f"damaged, or it was not written by landscape)")
            try:
                value = json.loads(attrs[name])
            except (TypeError, ValueError):
                raise TraceError(f"{path} is damaged: its {name} attribute is not JSON") from None
            if not isinstance(value, dict):
                raise TraceError(f"{path} is damaged: its {name} attribute is a JSON "
                                 f"{type(value).__name__}, not an object")
            if name == "config":
                _check_config(path, value)
        if not isinstance(attrs.get("start_time"), str):
            raise TraceError(f"{path} is damaged: no start_time attribute")
        for name in ("status", "message", "end_time"):
            self._expect(name, lambda d: d.shape == () and d.dtype.kind == "S", "a scalar byte string")
        for name, dtype in (("steps", STEP_DTYPE), ("evaluations", EVALUATION_DTYPE)):
            self._expect(name, lambda d, t=dtype: d.ndim == 1 and d.dtype.names is not None
                         and set(t.names) <= set(d.dtype.names), f"a table with columns {', '.join(dtype.names)}")
        self._expect("snapshots/step", lambda d: d.ndim == 1 and d.dtype.kind in "iu", "a column of step numbers")
        self._expect("snapshots/theta", lambda d: d.ndim == 2 and d.dtype.kind == "f", "a (k, n) float array")
        for name in ("final", "probes"):
            if not isinstance(self.file.get(name), h5py.Group):
                raise TraceError(f"{path} is damaged: no /{name} group")
        for name, group in self.file["probes"].items():
            if not isinstance(group, h5py.Group):
                raise TraceError(f"{path} is damaged: /probes/{name} is not a group")
            self._expect(f"probes/{name}/step", lambda d: d.ndim == 1 and d.dtype.kind in "iu",
                         "a column of step numbers")
            for key, output in group.items():
                if key != "step" and not (isinstance(output, h5py.Dataset) and output.ndim >= 1
                                          and output.dtype.kind == "f"):
                    raise TraceError(f"{path} is damaged: /probes/{name}/{key} should be float rows, one per "
                                     f"probe step")

    def _expect(self, name: str, ok, what: str) -> None:
        item = self.file.get(name)
        if not isinstance(item, h5py.Dataset):
            raise TraceError(f"{self.path} is damaged: no /{name} dataset")
        if not ok(item):
            raise TraceError(f"{self.path} is damaged: /{name} has shape {item.shape} and dtype {item.dtype}; "
                             f"a trace's /{name} is {what}")

    def close(self):
        """Close the HDF5 file."""
        self.file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def refresh(self) -> Trace:
        """See rows appended since opening (for a trace still being written).

        When the writer has finished (or its file changed under a reader opened
        while it was running), the file is reopened, so a monitor sees the final
        status and every final dataset. A file replaced by a new one under the same
        name (a sweep rerun, ``--overwrite``) is noticed by its inode and reopened.

        Returns:
            This trace, for chaining.

        Raises:
            TraceError: if the file cannot be reopened.
        """
        identity = _identity(self.path)
        if identity is not None and identity != self._identity:
            self._reopen()
            self._identity = identity
            return self
        if not self.file.swmr_mode:
            return self
        def visit(_, obj):
            if isinstance(obj, h5py.Dataset):
                obj.refresh()
        try:
            self.file.visititems(visit)
            still_running = self.recorded_status == "running"
        except (KeyError, OSError, RuntimeError, ValueError):
            still_running = False    # the writer closed the file: its metadata moved
        if not still_running:
            self._reopen()
        return self

    def _reopen(self) -> None:
        try:
            self.file.close()
        except Exception:   # noqa: BLE001 - a stale handle may refuse to close cleanly
            pass
        self._identity = _identity(self.path)
        try:
            self.file = _open_h5(self.path)
        except OSError as error:
            raise TraceError(f"{self.path} cannot be reopened: {error}") from None

    # -- metadata ----------------------------------------------------------------------
    @property
    @_reads("the config")
    def config(self) -> dict:
        """The run's config, decoded from the ``config`` attribute's JSON (see ``landscape/trace-schema.md``)."""
        return json.loads(self.file.attrs["config"])

    @property
    @_reads("the versions")
    def versions(self) -> dict:
        """Versions of the package, its dependencies, Python and the sparse solver that wrote the trace."""
        return json.loads(self.file.attrs["versions"])

    @property
    def numerics(self) -> dict:
        """The numerics the run used (:func:`landscape.numerics.report`).

        ``mode`` ("deterministic" or "native"), the pinned variables, the CPU and each library's kernels;
        ``{"mode": "native"}`` for traces written before the mode existed, ``{"mode": "unknown"}`` when the
        attribute is not a JSON object.
        """
        text = self.file.attrs.get("numerics")
        if text is None:
            return {"mode": "native"}
        try:
            value = json.loads(text)
        except (TypeError, ValueError):
            return {"mode": "unknown"}
        return value if isinstance(value, dict) else {"mode": "unknown"}

    @property
    @_reads("the status")
    def recorded_status(self) -> str:
        """The status as the file holds it (``running`` stays ``running`` when its writer died)."""
        return self.file["status"][()].decode()

    #: a writer on another host that has not written a row for this long is presumed dead
    SILENT_AFTER = 600.0

    @property
    @_reads("the status")
    def status(self) -> str:
        """The run's status (:data:`landscape.statuses.READ`): recorded, but ``crashed`` when the writer is gone.

        The recorded status, except that a ``running`` trace whose writer is gone reads ``crashed``.
        On the writer's own host the writer's process is looked up by pid; from
        another host a writer silent for ``SILENT_AFTER`` seconds is presumed dead. A trace without
        ``writer_host``/``writer_pid`` attributes (older traces) keeps its recorded status.
        """
        status = self.recorded_status
        if status != "running":
            return status
        host, pid = self.file.attrs.get("writer_host"), self.file.attrs.get("writer_pid")
        if host is None or pid is None:
            return status          # written before writers were recorded: cannot tell
        if str(host) == platform.node():
            return status if process_alive(str(host), pid) else "crashed"
        if "heartbeat" in self.file and time.time() - float(self.file["heartbeat"][()]) > self.SILENT_AFTER:
            return "crashed"
        return status

    @property
    def state(self) -> str:
        """The same as :attr:`status` (kept for readers written against older versions)."""
        return self.status

    @property
    @_reads("the message")
    def message(self) -> str:
        """Why the run ended (empty while it runs)."""
        return self.file["message"][()].decode()

    @property
    @_reads("the start time")
    def start_time(self) -> str:
        """When the trace was created: ISO 8601, UTC."""
        return str(self.file.attrs["start_time"])

    @property
    @_reads("the end time")
    def end_time(self) -> str | None:
        """When the run ended (ISO 8601, UTC), or None while it runs or when no end was recorded."""
        return self.file["end_time"][()].decode() or None

    # -- tables ------------------------------------------------------------------------
    @_reads("the steps table")
    def steps(self) -> np.ndarray:
        """Per-step rows as a NumPy structured array.

        Returns:
            The ``/steps`` table, one row per accepted step (row 0: the initialization), with the fields of
            ``STEP_DTYPE``: step, loss, grad_norm, step_size, step_norm, evaluations, distance, wall_time.
        """
        return self.file["steps"][:]

    def frame(self):
        """Per-step table as a pandas DataFrame indexed by step.

        Returns:
            :meth:`steps` as a ``pandas.DataFrame`` with the index ``step``.
        """
        import pandas as pd
        return pd.DataFrame(self.steps()).set_index("step")

    @_reads("the evaluations table")
    def evaluations(self):
        """One row per objective evaluation (line-search trials included), as a DataFrame.

        Returns:
            A ``pandas.DataFrame`` with the columns step, loss, grad_norm, alpha and slope.
        """
        import pandas as pd
        return pd.DataFrame(self.file["evaluations"][:])

    def to_xarray(self):
        """Per-step table as an ``xarray.Dataset`` with dimension ``step`` (needs the ``xarray`` extra).

        Returns:
            :meth:`frame` converted with ``DataFrame.to_xarray()``.

        Raises:
            MissingDependency: if xarray is not installed.
        """
        from ..optional import require
        require("xarray", "Trace.to_xarray")
        return self.frame().to_xarray()

    @property
    @_reads("the steps table")
    def num_steps(self) -> int:
        """Accepted steps recorded (not counting step 0)."""
        return max(self.file["steps"].shape[0] - 1, 0)

    @property
    @_reads("the steps table")
    def best_loss(self) -> float:
        """The lowest finite loss of the steps table (NaN when there is none); available while the run goes on."""
        losses = self.file["steps"]["loss"]
        finite = losses[np.isfinite(losses)]
        return float(finite.min()) if finite.size else math.nan

    @property
    @_reads("the final state")
    def best_step(self) -> int:
        """The step of the best loss (-1 until the run has finished)."""
        return int(self.file["final"]["best_step"][()])

    # -- probes and snapshots ------------------------------------------------------------
    @property
    @_reads("the probes")
    def probe_names(self) -> list[str]:
        """The names of the probes the trace records."""
        return list(self.file["probes"])

    @_reads("a probe")
    def probe(self, name: str) -> dict[str, np.ndarray]:
        """``{'step': ..., output: array (k, *shape)}`` for the probe ``name``.

        Only the ``k = len(step)`` complete rows of each output are read.

        Args:
            name: the probe's name (one of :attr:`probe_names`).

        Returns:
            A dict with the probe's step numbers under ``"step"`` (shape (k,)) and each output as an array
            of shape (k, *shape).

        Raises:
            TraceError: if the trace records no probe of that name.
        """
        if name not in self.file["probes"]:
            raise TraceError(f"no probe {name!r} in {self.path}; recorded: {', '.join(self.probe_names) or 'none'}")
        group = self.file["probes"][name]
        steps = group["step"][:]
        k = len(steps)
        return {"step": steps, **{key: group[key][:k] for key in group if key != "step"}}

    @_reads("the snapshots")
    def snapshots(self, theta: bool = True, rows=None) -> dict[str, np.ndarray]:
        """``{'step', 'theta', 'design'}`` of the snapshots taken.

        ``theta=False`` skips the (large) parameter vectors, ``rows`` (increasing indices) reads only those
        snapshots.

        Args:
            theta: read the parameter vectors (default True).
            rows: increasing indices of the snapshots to read, or ``None`` (the default) for all.

        Returns:
            ``step`` of shape (k,), ``theta`` of shape (k, n) (unless ``theta`` is False) and ``design`` of
            shape (k, height, width) (when the trace has designs).
        """
        snap = self.file["snapshots"]
        steps = snap["step"][:]
        rows = np.arange(len(steps)) if rows is None else np.asarray(rows, dtype=int)
        out = {"step": steps[rows]}
        keys = (["theta"] if theta else []) + (["design"] if "design" in snap else [])
        for key in keys:
            out[key] = snap[key][list(rows)] if len(rows) else snap[key][:0]
        return out

    @_reads("the final state")
    def final(self) -> FinalState:
        """The final and the best iterate (NaN and -1 until the run has finished).

        Returns:
            A :class:`FinalState` read from ``/final``.
        """
        final = self.file["final"]
        def image(key):
            return final[key][()] if key in final else None
        return FinalState(theta=final["theta"][()], best_theta=final["best_theta"][()],
                          best_loss=float(final["best_loss"][()]), best_step=int(final["best_step"][()]),
                          design=image("design"), best_design=image("best_design"))

    @_reads("the final designs")
    def _final_image(self, key: str) -> np.ndarray | None:
        if key not in self.file["final"]:
            return None
        image = self.file["final"][key][()]
        return None if np.isnan(image).all() else image

    @property
    def design(self) -> np.ndarray | None:
        """The final design (None if the run has not finished or has no design)."""
        return self._final_image("design")

    @property
    def best_design(self) -> np.ndarray | None:
        """The design at the best step (None if the run has not finished or has no design)."""
        return self._final_image("best_design")

    @_reads("the run spec")
    def spec(self):
        """The run's :class:`~landscape.spec.RunSpec`.

        Stored whole by runs made from a spec, read off the config for others (``landscape.run`` on a
        hand-built objective, older traces).

        Returns:
            ``RunSpec.from_dict`` of the config's ``spec`` entry, else of the config itself.
        """
        from ..spec import RunSpec
        config = self.config
        return RunSpec.from_dict(config["spec"] if "spec" in config else config)

    def objective(self):
        """Rebuild the run's :class:`~landscape.Objective`.

        Problem, model and its seed, precision, penal, filter, volume constraint:
        ``self.spec().build_objective()``, so the two can never describe different runs.

        Returns:
            A new objective built from :meth:`spec`.
        """
        return self.spec().build_objective()

    @_reads("the summary")
    def summary(self) -> dict[str, Any]:
        """The run in one flat dict, as ``landscape show``, sweeps and reports use it.

        Returns:
            A dict with ``path``, ``status`` (:attr:`status`), ``message``, the config's ``problem``,
            ``model``, ``optimizer``, ``optimizer_options``, ``penal``, ``precision``, ``threads``, ``seed``,
            ``steps`` (the budget) and ``label``; ``steps_taken`` (:attr:`num_steps`), ``evaluations`` (the
            larger of the evaluation rows and the last step row's count), ``initial_loss``, ``final_loss``
            (NaN without steps), ``rose`` (True when there are at least two step rows and the last loss is
            not below the first, a NaN loss included), ``best_loss`` (:attr:`best_loss`), ``probes`` (their
            names), ``snapshots`` (their count), ``start_time``, ``end_time`` and ``wall_time`` (seconds at
            the last step row, NaN without steps).
        """
        config = self.config
        steps = self.steps()
        return {"path": str(self.path), "status": self.status, "message": self.message,
                "problem": config.get("problem"), "model": config.get("model"),
                "optimizer": config.get("optimizer"), "optimizer_options": config.get("optimizer_options"),
                "penal": config.get("penal"), "precision": config.get("precision"),
                "threads": config.get("threads"), "seed": config.get("seed"),
                "steps": config.get("steps"), "steps_taken": self.num_steps,
                "evaluations": max(int(self.file["evaluations"].shape[0]),
                                   int(steps["evaluations"][-1]) if len(steps) else 0),
                "label": config.get("label"),
                "initial_loss": float(steps["loss"][0]) if len(steps) else math.nan,
                "final_loss": float(steps["loss"][-1]) if len(steps) else math.nan,
                # ended no lower than it started (or not finite): a run the tables count as 'rose' whatever its
                # status says (a run that climbs 500 x and stays there is 'completed' by the divergence rule)
                "rose": rose(steps["loss"]),
                "best_loss": self.best_loss, "probes": self.probe_names,
                "snapshots": int(self.file["snapshots"]["step"].shape[0]),
                "start_time": self.start_time, "end_time": self.end_time,
                "wall_time": float(steps["wall_time"][-1]) if len(steps) else math.nan}

    def __repr__(self):
        return f"Trace({str(self.path)!r}, status={self.status!r}, steps={self.num_steps})"


def open_trace(path) -> Trace:
    """Open a trace for reading (also one still being written, or one whose writer died).

    Args:
        path: the trace file (str or path).

    Returns:
        The :class:`Trace`; close it, or use it as a context manager.

    Raises:
        TraceError: if the file is missing, not a trace, or damaged (see :class:`Trace`).
    """
    return Trace(path)
