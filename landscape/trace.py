"""HDF5 traces: one self-describing file per run, safe against crashes, readable while written.

The schema is documented in ``landscape/trace-schema.md``. In short::

    /                 attrs: schema, schema_version, config (JSON), versions (JSON),
                             start_time, problem, model, optimizer, seed, num_params
    /status           scalar string: running, completed, diverged, line_search_failed,
                      max_evaluations, interrupted, failed
    /heartbeat        scalar float: the writer's clock (Unix time) at its last row; with the
                      root attributes writer_host and writer_pid it tells a live run from a
                      crashed one (``Trace.state``)
    /message, /end_time            scalar strings
    /steps            compound rows: step, loss, grad_norm, step_size, step_norm,
                      evaluations, distance, wall_time
    /evaluations      compound rows: step, loss, grad_norm, alpha, slope
    /snapshots/step, /snapshots/theta (k, n), /snapshots/design (k, h, w)   (gzip)
    /probes/<name>/step, /probes/<name>/<output> (k, *shape)
    /final/theta, /final/design, /final/best_theta, /final/best_design, /final/best_loss,
    /final/best_step

Crash safety comes from HDF5's single-writer/multiple-reader (SWMR) mode: every
dataset exists before SWMR starts, rows are only appended, and each append is
flushed in an order (data first, the step index last) such that the file on
disk is consistent at every moment. A process killed with SIGKILL leaves a file
holding every flushed step. Such a file still carries HDF5's "open for
writing" flag: plain h5py opens it with ``h5py.File(path, "r", swmr=True)``
(``open_trace`` does this by itself), or after ``h5clear -s path``.

A full disk ends the run as ``failed`` with a one-line :class:`TraceError`, and
the file keeps every step written before: each append first checks that the
disk has room for it plus a reserve for closing (:data:`RESERVE` bytes), so
the status and final state are written normally. If the disk fills anyway
(another process took the space between the check and the write), HDF5 can
no longer flush or close the file safely; the writer then points HDF5's file
descriptor at ``/dev/null`` so that closing cannot crash the process, and
writes ``failed`` and the reason straight into the status and message bytes,
which were allocated when the file was created.

Because SWMR forbids new datasets once started, probes that are recorded must
say what they output: ``probe.outputs(objective) -> {name: shape}``.
"""
from __future__ import annotations

import datetime as _dt
import errno
import functools
import json
import math
import os
import platform
import re
import shutil
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import h5py
import numpy as np

__all__ = ["TraceWriter", "Trace", "open_trace", "TraceError", "SCHEMA", "SCHEMA_VERSION"]

SCHEMA = "landscape-trace"
SCHEMA_VERSION = 1

STEP_DTYPE = np.dtype([("step", "<i8"), ("loss", "<f8"), ("grad_norm", "<f8"), ("step_size", "<f8"),
                       ("step_norm", "<f8"), ("evaluations", "<i8"), ("distance", "<f8"),
                       ("wall_time", "<f8")])
EVALUATION_DTYPE = np.dtype([("step", "<i8"), ("loss", "<f8"), ("grad_norm", "<f8"),
                             ("alpha", "<f8"), ("slope", "<f8")])
_STATUS = "S32"
_TEXT = "S2048"
RESERVE = 256 * 1024   # bytes kept free on the disk for writing the status and closing the file


def process_alive(host: str, pid) -> bool:
    """Whether process ``pid`` on ``host`` still runs; another host's processes cannot be seen, so True."""
    if host != platform.node():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, OverflowError, TypeError):
        return True
    return True


class TraceError(Exception):
    """A path that cannot be written, a file that is not a trace, or a trace in a bad state."""


class DiskFull(TraceError):
    """The disk holding a trace has no room for the next write."""


def _free_bytes(folder: Path) -> int:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return 1 << 62      # cannot tell: let the write itself decide


def _remove_stale_temporaries(path: Path) -> None:
    """Remove ``.NAME.PID.tmp`` files left by writers of ``path`` killed while creating it."""
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.(\d+)\.tmp$")
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):
        match = pattern.match(leftover.name)
        if match and int(match.group(1)) != os.getpid() and not process_alive(platform.node(), match.group(1)):
            leftover.unlink(missing_ok=True)


def _writes(method):
    """Turn a failed HDF5 write into a :class:`TraceError` and leave the file readable (see the module doc)."""
    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        if self.file is None:
            raise TraceError(f"{self.path} is not open for writing")
        try:
            return method(self, *args, **kwargs)
        except TraceError:
            raise
        except (RuntimeError, OSError) as error:
            raise self._abandon(error) from None
    return guarded


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def versions() -> dict[str, str]:
    """Versions of the package, its main dependencies, Python and the sparse solver."""
    import scipy
    import torch

    from ._version import __version__
    from .physics import backend
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


def probe_outputs(probe, objective) -> dict[str, tuple[int, ...]]:
    """The output names and shapes a recorded probe declares."""
    if not hasattr(probe, "outputs"):
        raise TraceError(f"probe {getattr(probe, 'name', probe)!r} cannot be recorded: it does not declare "
                         f"its outputs (a method outputs(objective) -> {{name: shape}})")
    return {str(k): tuple(int(n) for n in v) for k, v in dict(probe.outputs(objective)).items()}


class TraceWriter:
    """Writes one run into ``path``; pass it as ``landscape.run(..., trace=writer)`` or use :class:`Recorder`.

    ``overwrite=False`` (the default) refuses an existing file and leaves it
    untouched. ``snapshot_every`` stores theta and the design every N steps
    (and at the last step); ``snapshot_at`` at the listed steps.
    """

    def __init__(self, path, overwrite: bool = False, snapshot_every: int | None = None,
                 snapshot_at: Sequence[int] = (), config: Mapping | None = None):
        self.path = Path(path)
        self.overwrite = overwrite
        if snapshot_every is not None and (not isinstance(snapshot_every, (int, np.integer))
                                           or snapshot_every < 1):
            raise ValueError(f"snapshot_every must be a positive integer or None, got {snapshot_every!r}")
        self.snapshot_every = snapshot_every
        self.snapshot_at = {int(s) for s in snapshot_at}
        self.extra_config = dict(config or {})
        self.file: h5py.File | None = None
        self._objective = None
        self._last_snapshot = -1
        self._check_path()

    # -- opening --------------------------------------------------------------------
    def _check_path(self):
        if self.path.exists() and not self.overwrite:
            raise TraceError(f"{self.path} exists; pass overwrite=True (--overwrite) to replace it")
        if self.path.exists() and self.path.is_dir():
            raise TraceError(f"{self.path} is a directory, not a trace file")
        parent = self.path.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise TraceError(f"cannot create the directory {parent}: {error.strerror}") from None
        if not os.access(parent, os.W_OK):
            raise TraceError(f"cannot write a trace in {parent}: permission denied")

    def open(self, config: Mapping[str, Any], num_params: int, design_shape: tuple[int, ...] | None,
             probes: Mapping[str, Mapping[str, tuple[int, ...]]] = {}, objective=None) -> None:
        """Create the file with every dataset, write the static attributes, and enter SWMR mode.

        ``objective`` (optional) renders the designs of snapshots and of the final state.
        """
        self._check_path()
        self._objective = objective
        _remove_stale_temporaries(self.path)
        design_size = int(np.prod(design_shape)) if design_shape is not None else 0
        self._room(16 * (num_params + design_size) + 64 * 1024)
        # Write to a temporary name and move into place, so that an existing file is never
        # truncated before the new one is complete enough to open.
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            self._create(tmp, {**dict(config), **self.extra_config}, num_params, design_shape, probes)
        except BaseException as error:
            tmp.unlink(missing_ok=True)
            if isinstance(error, TraceError):
                raise
            if isinstance(error, (OSError, RuntimeError)):
                raise TraceError(f"cannot create {self.path}: {_reason(error)}") from None
            raise
        if self.path.exists() and not self.overwrite:   # appeared meanwhile
            tmp.unlink()
            raise TraceError(f"{self.path} exists; pass overwrite=True (--overwrite) to replace it")
        os.replace(tmp, self.path)
        self.file = h5py.File(self.path, "r+", libver="latest")
        self.file.swmr_mode = True
        # byte offsets of the preallocated scalars, for writing the status if HDF5 cannot (_abandon)
        self._offsets = {key: self.file[key].id.get_offset() for key in ("status", "message", "end_time")}
        self.probe_outputs = {name: dict(outputs) for name, outputs in probes.items()}

    def _create(self, tmp: Path, config: Mapping[str, Any], num_params: int, design_shape, probes) -> None:
        with h5py.File(tmp, "w", libver="latest") as f:
            self._populate(f, config, num_params, design_shape, probes)

    def _populate(self, f: h5py.File, config: Mapping[str, Any], num_params: int, design_shape, probes) -> None:
        f.attrs["schema"] = SCHEMA
        f.attrs["schema_version"] = SCHEMA_VERSION
        f.attrs["config"] = json.dumps(config, default=_jsonable, sort_keys=True)
        f.attrs["versions"] = json.dumps(versions(), sort_keys=True)
        f.attrs["start_time"] = _now()
        for key in ("problem", "model", "optimizer"):
            f.attrs[key] = str(config.get(key, ""))
        f.attrs["seed"] = int(config.get("seed", 0) or 0)
        f.attrs["writer_host"] = platform.node()
        f.attrs["writer_pid"] = os.getpid()
        f.create_dataset("heartbeat", data=time.time())
        f.attrs["num_params"] = int(num_params)
        f.create_dataset("status", data=_encode("running", 32), dtype=_STATUS)
        f.create_dataset("message", data=_encode(""), dtype=_TEXT)
        f.create_dataset("end_time", data=_encode("", 32), dtype=_STATUS)
        f.create_dataset("steps", shape=(0,), maxshape=(None,), dtype=STEP_DTYPE, chunks=(256,))
        f.create_dataset("evaluations", shape=(0,), maxshape=(None,), dtype=EVALUATION_DTYPE, chunks=(512,))
        snap = f.create_group("snapshots")
        snap.create_dataset("step", shape=(0,), maxshape=(None,), dtype="<i8", chunks=(64,))
        snap.create_dataset("theta", shape=(0, num_params), maxshape=(None, num_params), dtype="<f8",
                            chunks=(1, num_params), compression="gzip", compression_opts=4, shuffle=True)
        final = f.create_group("final")   # written out now, so that finishing needs no new space
        final.create_dataset("theta", data=np.full(num_params, np.nan))
        final.create_dataset("best_theta", data=np.full(num_params, np.nan))
        final.create_dataset("best_loss", data=np.nan)
        final.create_dataset("best_step", data=-1)
        if design_shape is not None:
            shape = tuple(design_shape)
            snap.create_dataset("design", shape=(0,) + shape, maxshape=(None,) + shape, dtype="<f8",
                                chunks=(1,) + shape, compression="gzip", compression_opts=4, shuffle=True)
            final.create_dataset("design", data=np.full(shape, np.nan))
            final.create_dataset("best_design", data=np.full(shape, np.nan))
        group = f.create_group("probes")
        for name, outputs in probes.items():
            g = group.create_group(name)
            g.create_dataset("step", shape=(0,), maxshape=(None,), dtype="<i8", chunks=(64,))
            for key, shape in outputs.items():
                if key == "step":
                    raise TraceError(f"probe {name!r} has an output called 'step', which the trace reserves")
                size = int(np.prod(shape)) if shape else 1
                g.create_dataset(key, shape=(0,) + shape, maxshape=(None,) + shape, dtype="<f8",
                                 chunks=(max(1, min(64, 65536 // max(size, 1))),) + shape,
                                 compression="gzip" if size > 1024 else None)

    # -- room on the disk ----------------------------------------------------------------
    def _room(self, nbytes: int) -> None:
        """Raise :class:`DiskFull` unless the disk has ``nbytes`` plus :data:`RESERVE` free."""
        free = _free_bytes(self.path.parent)
        if free < nbytes + RESERVE:
            raise DiskFull(f"disk full: {free / 2**20:.2f} MiB free in {self.path.parent}, the trace needs "
                           f"{(nbytes + RESERVE) / 2**20:.2f} MiB more; {self.path} keeps what was written "
                           f"before and ends as failed")

    def _abandon(self, error: BaseException) -> TraceError:
        """After a failed HDF5 write: close without letting HDF5 write again, mark the file failed."""
        reason = _reason(error)
        message = f"cannot write to {self.path}: {reason}; the trace keeps the steps written before"
        file, self.file = self.file, None
        real = None
        try:
            handle = file.id.get_vfd_handle()
            real = os.dup(handle)
            null = os.open(os.devnull, os.O_RDWR)
            os.dup2(null, handle)            # HDF5's pending writes and its close go nowhere
            os.close(null)
        except (OSError, RuntimeError, TypeError, ValueError):
            pass
        try:
            file.close()
        except (OSError, RuntimeError):
            pass
        if real is not None:
            try:
                os.pwrite(real, _encode(message).ljust(2048, b"\0"), self._offsets["message"])
                os.pwrite(real, _encode(_now(), 32).ljust(32, b"\0"), self._offsets["end_time"])
                os.pwrite(real, _encode("failed", 32).ljust(32, b"\0"), self._offsets["status"])
            except OSError:
                pass
            finally:
                os.close(real)
        return TraceError(message)

    # -- appending ------------------------------------------------------------------
    def _append(self, dataset, rows):
        chunk = int(np.prod(dataset.chunks)) * dataset.dtype.itemsize if dataset.chunks else 0
        self._room(max(np.asarray(rows).nbytes, chunk))
        n = dataset.shape[0]
        dataset.resize((n + len(rows),) + dataset.shape[1:])
        dataset[n:] = rows
        dataset.flush()

    @_writes
    def append_evaluations(self, rows: np.ndarray) -> None:
        if len(rows):
            self._append(self.file["evaluations"], rows)

    @_writes
    def append_step(self, row: tuple) -> None:
        self._append(self.file["steps"], np.array([row], dtype=STEP_DTYPE))
        self.file["heartbeat"][()] = time.time()
        self.file["heartbeat"].flush()

    @_writes
    def append_probe(self, name: str, step: int, output: Mapping[str, Any]) -> None:
        group = self.file["probes"][name]
        expected = self.probe_outputs[name]
        missing = set(expected) - set(output)
        if missing:
            raise TraceError(f"probe {name!r} did not return its declared outputs {sorted(missing)}")
        for key, shape in expected.items():
            value = np.asarray(output[key], dtype=np.float64)
            if value.shape != shape:
                raise TraceError(f"probe {name!r} output {key!r} has shape {value.shape}, declared {shape}")
            self._append(group[key], value[None])
        self._append(group["step"], np.array([step]))   # the index last: rows below it are complete

    @_writes
    def append_snapshot(self, step: int, theta, design=None) -> None:
        snap = self.file["snapshots"]
        self._append(snap["theta"], np.asarray(theta, dtype=np.float64)[None])
        if design is not None and "design" in snap:
            self._append(snap["design"], np.asarray(design, dtype=np.float64)[None])
        self._append(snap["step"], np.array([step]))
        self._last_snapshot = step

    @_writes
    def write_final(self, theta, best_theta, best_loss, best_step, design=None, best_design=None):
        final = self.file["final"]
        final["theta"][...] = np.asarray(theta, dtype=np.float64)
        final["best_theta"][...] = np.asarray(best_theta, dtype=np.float64)
        final["best_loss"][()] = best_loss
        final["best_step"][()] = best_step
        if design is not None and "design" in final:
            final["design"][...] = np.asarray(design, dtype=np.float64)
            final["best_design"][...] = np.asarray(best_design, dtype=np.float64)
        for name in final:
            final[name].flush()

    @_writes
    def set_status(self, status: str, message: str = "", ended: bool = False) -> None:
        self.file["message"][()] = _encode(message)
        self.file["message"].flush()
        if ended:
            self.file["end_time"][()] = _encode(_now(), 32)
            self.file["end_time"].flush()
        self.file["status"][()] = _encode(status, 32)
        self.file["status"].flush()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None

    def wants_snapshot(self, step: int, last: bool) -> bool:
        if step == self._last_snapshot:
            return False
        if step in self.snapshot_at:
            return True
        return self.snapshot_every is not None and (step % self.snapshot_every == 0 or last)

    # -- the interface landscape.run uses ----------------------------------------------
    def start(self, objective, optimizer, steps: int, seed: int, probes: Sequence = (), threads=None) -> None:
        problem = getattr(objective, "problem", None)
        config = {
            "problem": getattr(problem, "name", None) or getattr(objective, "name", "objective"),
            "model": _model_kind(objective),
            "model_options": getattr(getattr(objective, "model", None), "options", {}),
            "model_seed": getattr(getattr(objective, "model", None), "seed", None),
            "penal": getattr(objective, "penal", None),
            "precision": getattr(objective, "precision", None),
            "threads": threads.to_dict() if threads is not None else None,
            "volume_constraint": getattr(objective, "volume_constraint", None),
            "filter": getattr(objective, "filter", None),
            "num_params": int(objective.num_params),
            "optimizer": optimizer.name,
            "optimizer_options": dict(optimizer.options),
            "steps": int(steps),
            "seed": int(seed),
            "probes": [probe.config() if hasattr(probe, "config") else {"name": probe.name} for probe in probes],
            "snapshot_every": self.snapshot_every,
        }
        design_shape = tuple(problem.shape) if problem is not None else None
        self.open(config, objective.num_params, design_shape,
                  {probe.name: probe_outputs(probe, objective) for probe in probes}, objective)

    def _design(self, theta):
        if self._objective is None or getattr(self._objective, "problem", None) is None:
            return None
        return np.asarray(self._objective.design(theta))

    def step(self, record, total_evaluations: int, distance: float, wall: float, last: bool = False) -> None:
        if record.evaluations:
            self.append_evaluations(np.array([(record.step, e.loss, e.grad_norm, e.alpha, e.slope)
                                              for e in record.evaluations], dtype=EVALUATION_DTYPE))
        self.append_step((record.step, record.loss, record.grad_norm, record.step_size, record.step_norm,
                          total_evaluations, distance, wall))
        if self.wants_snapshot(record.step, last):
            self.append_snapshot(record.step, record.theta, self._design(record.theta))

    def evaluations(self, step: int, evaluations) -> None:
        self.append_evaluations(np.array([(step, e.loss, e.grad_norm, e.alpha, e.slope) for e in evaluations],
                                         dtype=EVALUATION_DTYPE))

    def probe(self, name: str, step: int, output: Mapping[str, Any]) -> None:
        self.append_probe(name, step, output)

    def finish(self, status: str, message: str, result=None) -> None:
        if self.file is None:
            return
        try:
            if result is not None:
                design = best_design = None
                if getattr(self._objective, "problem", None) is not None:
                    design, best_design = result.design, result.best_design
                    if self.snapshot_every is not None and result.steps != self._last_snapshot:
                        self.append_snapshot(result.steps, result.theta, design)
                self.write_final(result.theta, result.best_theta, result.best_loss, result.best_step,
                                 design, best_design)
        except TraceError as error:   # the run's end could not be written: the trace says so
            if self.file is not None:
                self.set_status("failed", f"{status} ({message}), then: {error}", ended=True)
            self.close()
            raise
        try:
            self.set_status(status, message, ended=True)
        finally:
            self.close()


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


# -- reading ------------------------------------------------------------------------------
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


class Trace:
    """A trace opened for reading; see :func:`open_trace`."""

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.exists():
            raise TraceError(f"no such trace: {self.path}")
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
        self.file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def refresh(self) -> "Trace":
        """See rows appended since opening (for a trace still being written).

        When the writer has finished (or its file changed under a reader opened
        while it was running), the file is reopened, so a monitor sees the final
        status and every final dataset.
        """
        if not self.file.swmr_mode:
            return self
        def visit(_, obj):
            if isinstance(obj, h5py.Dataset):
                obj.refresh()
        try:
            self.file.visititems(visit)
            still_running = self.status == "running"
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
        try:
            self.file = _open_h5(self.path)
        except OSError as error:
            raise TraceError(f"{self.path} cannot be reopened: {error}") from None

    # -- metadata ----------------------------------------------------------------------
    @property
    @_reads("the config")
    def config(self) -> dict:
        return json.loads(self.file.attrs["config"])

    @property
    @_reads("the versions")
    def versions(self) -> dict:
        return json.loads(self.file.attrs["versions"])

    @property
    @_reads("the status")
    def status(self) -> str:
        return self.file["status"][()].decode()

    #: a writer on another host that has not written a row for this long is presumed dead
    SILENT_AFTER = 600.0

    @property
    @_reads("the status")
    def state(self) -> str:
        """The status, except that a ``running`` trace whose writer is gone reads ``crashed``.

        On the writer's own host the writer's process is looked up by pid; from
        another host a writer silent for ``SILENT_AFTER`` seconds is presumed dead.
        """
        status = self.status
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
    @_reads("the message")
    def message(self) -> str:
        return self.file["message"][()].decode()

    @property
    @_reads("the start time")
    def start_time(self) -> str:
        return str(self.file.attrs["start_time"])

    @property
    @_reads("the end time")
    def end_time(self) -> str | None:
        return self.file["end_time"][()].decode() or None

    # -- tables ------------------------------------------------------------------------
    @_reads("the steps table")
    def steps(self) -> np.ndarray:
        """Per-step rows as a NumPy structured array."""
        return self.file["steps"][:]

    def frame(self):
        """Per-step table as a pandas DataFrame indexed by step."""
        import pandas as pd
        return pd.DataFrame(self.steps()).set_index("step")

    @_reads("the evaluations table")
    def evaluations(self):
        """One row per objective evaluation (line-search trials included), as a DataFrame."""
        import pandas as pd
        return pd.DataFrame(self.file["evaluations"][:])

    def to_xarray(self):
        """Per-step table as an ``xarray.Dataset`` with dimension ``step`` (needs the ``xarray`` extra)."""
        from .optional import require
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
        losses = self.file["steps"]["loss"]
        finite = losses[np.isfinite(losses)]
        return float(finite.min()) if finite.size else math.nan

    # -- probes and snapshots ------------------------------------------------------------
    @property
    @_reads("the probes")
    def probe_names(self) -> list[str]:
        return list(self.file["probes"])

    @_reads("a probe")
    def probe(self, name: str) -> dict[str, np.ndarray]:
        """``{'step': ..., output: array (k, *shape)}`` for the probe ``name``."""
        if name not in self.file["probes"]:
            raise TraceError(f"no probe {name!r} in {self.path}; recorded: {', '.join(self.probe_names) or 'none'}")
        group = self.file["probes"][name]
        steps = group["step"][:]
        k = len(steps)
        return {"step": steps, **{key: group[key][:k] for key in group if key != "step"}}

    @_reads("the snapshots")
    def snapshots(self) -> dict[str, np.ndarray]:
        snap = self.file["snapshots"]
        steps = snap["step"][:]
        k = len(steps)
        out = {"step": steps, "theta": snap["theta"][:k]}
        if "design" in snap:
            out["design"] = snap["design"][:k]
        return out

    @_reads("the final state")
    def final(self) -> dict[str, Any]:
        final = self.file["final"]
        return {key: final[key][()] for key in final}

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

    def objective(self):
        """Rebuild the run's :class:`~landscape.Objective` from the config (problem, model, seed, penal)."""
        from . import models, problems
        from .objective import Objective
        config = self.config
        problem = problems.get(config["problem"])
        # traces written before the precision option ran everything in float64
        precision = config.get("precision") or "float64"
        model = models.build(config["model"], problem, seed=config.get("model_seed", config.get("seed", 0)),
                             precision=precision, **(config.get("model_options") or {}))
        return Objective(problem, model, penal=config.get("penal", 3.0),
                         volume_constraint=config.get("volume_constraint", True) is not False,
                         filter=config.get("filter", True) is not False, precision=precision)

    @_reads("the summary")
    def summary(self) -> dict[str, Any]:
        config = self.config
        steps = self.steps()
        return {"path": str(self.path), "status": self.state, "message": self.message,
                "problem": config.get("problem"), "model": config.get("model"),
                "optimizer": config.get("optimizer"), "optimizer_options": config.get("optimizer_options"),
                "penal": config.get("penal"), "precision": config.get("precision"),
                "threads": config.get("threads"), "seed": config.get("seed"), "steps": self.num_steps,
                "budget": config.get("steps"),
                "evaluations": int(self.file["evaluations"].shape[0]),
                "initial_loss": float(steps["loss"][0]) if len(steps) else math.nan,
                "final_loss": float(steps["loss"][-1]) if len(steps) else math.nan,
                "best_loss": self.best_loss, "probes": self.probe_names,
                "snapshots": int(self.file["snapshots"]["step"].shape[0]),
                "start_time": self.start_time, "end_time": self.end_time,
                "wall_time": float(steps["wall_time"][-1]) if len(steps) else math.nan}

    def __repr__(self):
        return f"Trace({str(self.path)!r}, status={self.status!r}, steps={self.num_steps})"


def open_trace(path) -> Trace:
    """Open a trace for reading (also one still being written, or one whose writer died)."""
    return Trace(path)
