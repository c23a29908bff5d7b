"""The trace writer: one HDF5 file per run, crash-safe (SWMR), never overwriting, disk-full aware.

See :mod:`landscape.trace` for the guarantees and :mod:`landscape.trace.schema` for the layout.
"""
from __future__ import annotations

import functools
import json
import os
import platform
import re
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from .. import numerics
from .schema import (
    _STATUS,
    _TEXT,
    EVALUATION_DTYPE,
    SCHEMA,
    SCHEMA_VERSION,
    STEP_DTYPE,
    DiskFull,
    TraceError,
    _encode,
    _jsonable,
    _now,
    _reason,
    evaluation_rows,
    objective_config,
    probe_outputs,
    process_alive,
    step_row,
    versions,
)

__all__ = ["TraceWriter", "RESERVE"]

RESERVE = 256 * 1024   # bytes kept free on the disk for writing the status and closing the file


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


def _file_size_limit() -> int | None:
    """The largest file this process may write (``RLIMIT_FSIZE``, bytes), or None when unlimited or unknown."""
    try:
        import resource
        soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    except (ImportError, OSError, ValueError):
        return None
    return None if soft == resource.RLIM_INFINITY else int(soft)


def _close_silently(file: h5py.File) -> None:
    """Close an HDF5 file whose writes failed without letting HDF5 write again: its descriptor is pointed at
    /dev/null first, so the buffered metadata HDF5 flushes on close (or at exit) goes nowhere instead of
    raising in a destructor or crashing the process."""
    try:
        handle = file.id.get_vfd_handle()
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, handle)
        os.close(null)
    except (OSError, RuntimeError, TypeError, ValueError):
        pass
    try:
        file.close()
    except (OSError, RuntimeError, ValueError):
        pass


class TraceWriter:
    """Writes one run into ``path``; pass it as ``landscape.run(..., trace=writer)`` or use :class:`Recorder`.

    ``overwrite=False`` (the default) refuses an existing file and leaves it
    untouched. ``spec`` (a :class:`~landscape.spec.RunSpec`) is stored in the
    config, so that :meth:`Trace.spec` and :meth:`Trace.objective` give it back.
    ``snapshot_every`` stores theta and the design every N steps (and at the last
    step); ``snapshot_at`` at the listed steps.

    The path is checked when the writer is made; the file itself is created by :meth:`open` (or
    :meth:`start`, which ``landscape.run`` calls).

    Args:
        path: the trace file to write (str or path); missing parent folders are created.
        overwrite: replace an existing file (default False). A trace whose writer is still running is
            refused even then, unless ``take_over`` is set.
        snapshot_every: store a snapshot every this many steps, a positive integer, or ``None`` (the
            default) for none on that schedule.
        snapshot_at: step numbers at which to store a snapshot as well (default none).
        config: extra entries merged into the recorded config (default ``None``); they override the
            entries of the same name that :meth:`start` or :meth:`open` is given.
        spec: a :class:`~landscape.spec.RunSpec` recorded under ``config["spec"]`` by :meth:`start`
            (default ``None``).
        take_over: with ``overwrite``, replace the file even when its recorded writer looks alive (default
            False); a sweep uses it for retrying its own task.

    Raises:
        ValueError: if ``snapshot_every`` is neither ``None`` nor a positive integer.
        TraceError: if ``path`` exists and ``overwrite`` is False, is a directory, is being written by a
            live process (without ``take_over``), or its folder cannot be created or written.
    """

    def __init__(self, path, overwrite: bool = False, snapshot_every: int | None = None,
                 snapshot_at: Sequence[int] = (), config: Mapping | None = None, spec=None,
                 take_over: bool = False):
        self.path = Path(path)
        self.spec = spec
        self.overwrite = overwrite
        # replace a trace whose writer may still look alive: a sweep retrying its own task (it holds the
        # folder's lock, and a dead worker on another host cannot be told from a live one)
        self.take_over = take_over
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
    def _refuse_live_writer(self) -> None:
        """``overwrite`` replaces a finished or crashed trace, never one whose writer is still running."""
        try:
            with h5py.File(self.path, "r", swmr=True) as f:
                status = f["status"][()].decode() if "status" in f else ""
                host, pid = f.attrs.get("writer_host"), f.attrs.get("writer_pid")
        except (OSError, KeyError, ValueError, AttributeError):
            return              # not a readable trace: nothing of a live run to lose
        if status == "running" and host is not None and pid is not None and int(pid) != os.getpid() \
                and process_alive(str(host), pid):
            raise TraceError(f"{self.path} is being written by a running process (pid {pid} on {host}); "
                             "--overwrite replaces finished or crashed traces only: wait for it, stop it, or "
                             "write elsewhere")

    def _check_path(self):
        if self.path.exists() and not self.overwrite:
            raise TraceError(f"{self.path} exists; pass overwrite=True (--overwrite) to replace it")
        if self.path.exists() and self.path.is_dir():
            raise TraceError(f"{self.path} is a directory, not a trace file")
        if self.path.exists() and self.overwrite and not self.take_over:
            self._refuse_live_writer()
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

        The file is built under a temporary name ``.NAME.PID.tmp`` in the same folder and moved into place,
        so an existing trace is never truncated before the new one is complete; temporaries left by dead
        writers of the same path are removed first.

        Args:
            config: the run config, stored as JSON in the ``config`` attribute together with the writer's
                extra ``config`` entries (those win); its ``problem``, ``model``, ``optimizer`` and ``seed``
                are copied to root attributes.
            num_params: the number of parameters n (length of theta).
            design_shape: the shape (height, width) of the physical design, or ``None`` when there is no
                design (then no design datasets are created).
            probes: ``{probe name: {output name: shape}}`` of the probes to record (default none); every
                dataset must exist before SWMR starts.
            objective: the objective, used to render designs (default ``None``).

        Raises:
            DiskFull: if the disk (or the process's file-size limit) has no room for the new file.
            TraceError: if the path checks of the constructor fail, a probe declares an output named
                ``step``, the file cannot be created, or the path appeared meanwhile without ``overwrite``.
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
                raise TraceError(f"cannot create {self.path}: {_reason(error)}; no trace was written") from None
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
        f = h5py.File(tmp, "w", libver="latest")
        try:
            self._populate(f, config, num_params, design_shape, probes)
            f.flush()
        except BaseException:
            _close_silently(f)           # a failed write (a full disk, a file-size limit) must not crash HDF5 later
            raise
        f.close()

    def _populate(self, f: h5py.File, config: Mapping[str, Any], num_params: int, design_shape, probes) -> None:
        f.attrs["schema"] = SCHEMA
        f.attrs["schema_version"] = SCHEMA_VERSION
        f.attrs["config"] = json.dumps(config, default=_jsonable, sort_keys=True)
        f.attrs["versions"] = json.dumps(versions(), sort_keys=True)
        f.attrs["numerics"] = json.dumps(numerics.report(), sort_keys=True)
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
        """Raise :class:`DiskFull` unless the disk has ``nbytes`` plus :data:`RESERVE` free, and the process's
        file-size limit (``ulimit -f``) allows the file to grow by as much."""
        created = self.file is not None
        keeps = (f"{self.path} keeps what was written before and ends as failed" if created
                 else "no trace was written")
        free = _free_bytes(self.path.parent)
        if free < nbytes + RESERVE:
            raise DiskFull(f"disk full: {free / 2**20:.2f} MiB free in {self.path.parent}, the trace needs "
                           f"{(nbytes + RESERVE) / 2**20:.2f} MiB more; {keeps}")
        limit = _file_size_limit()
        size = self.path.stat().st_size if created and self.path.exists() else 0
        if limit is not None and size + nbytes + RESERVE > limit:
            raise DiskFull(f"the file-size limit of this process (ulimit -f) is {limit / 2**20:.2f} MiB and the "
                           f"trace would need {(size + nbytes + RESERVE) / 2**20:.2f} MiB; {keeps}")

    def _abandon(self, error: BaseException) -> TraceError:
        """After a failed HDF5 write: close without letting HDF5 write again, mark the file failed."""
        reason = _reason(error)
        message = f"cannot write to {self.path}: {reason}; the trace keeps the steps written before"
        file, self.file = self.file, None
        real = None
        try:
            real = os.dup(file.id.get_vfd_handle())   # kept to write the status bytes after HDF5 lets go
        except (OSError, RuntimeError, TypeError, ValueError):
            pass
        _close_silently(file)                # HDF5's pending writes and its close go nowhere
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
        """Append rows to the ``/evaluations`` table (nothing happens for an empty array).

        Args:
            rows: a structured array of dtype ``EVALUATION_DTYPE`` (see :func:`~landscape.trace.evaluation_rows`).

        Raises:
            TraceError: if the file is not open or the write fails (the file is then closed and marked
                ``failed``); :class:`DiskFull` when the disk has no room.
        """
        if len(rows):
            self._append(self.file["evaluations"], rows)

    @_writes
    def append_step(self, row: tuple) -> None:
        """Append one row to the ``/steps`` table and update ``/heartbeat`` to the current Unix time.

        Args:
            row: a tuple in the order of ``STEP_DTYPE`` (see :func:`~landscape.trace.step_row`).

        Raises:
            TraceError: if the file is not open or the write fails (the file is then closed and marked
                ``failed``); :class:`DiskFull` when the disk has no room.
        """
        self._append(self.file["steps"], np.array([row], dtype=STEP_DTYPE))
        self.file["heartbeat"][()] = time.time()
        self.file["heartbeat"].flush()

    @_writes
    def append_probe(self, name: str, step: int, output: Mapping[str, Any]) -> None:
        """Append one row of a probe's outputs, then its step (the index last, so every row below it is complete).

        Args:
            name: the probe's name, one of those declared to :meth:`open`.
            step: the step the output belongs to.
            output: ``{output name: value}``; every declared output must be present with its declared shape
                (values are stored as float64); undeclared entries are ignored.

        Raises:
            TraceError: if a declared output is missing or has another shape, if the file is not open, or if
                the write fails; :class:`DiskFull` when the disk has no room.
        """
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
        """Append a snapshot: theta, the design (when given and the trace has designs), then the step.

        Args:
            step: the step number of the snapshot.
            theta: the iterate, array-like of length n (stored as float64).
            design: the physical design, array-like of the trace's design shape, or ``None`` (the default).

        Raises:
            TraceError: if the file is not open or the write fails; :class:`DiskFull` when the disk has no room.
        """
        snap = self.file["snapshots"]
        self._append(snap["theta"], np.asarray(theta, dtype=np.float64)[None])
        if design is not None and "design" in snap:
            self._append(snap["design"], np.asarray(design, dtype=np.float64)[None])
        self._append(snap["step"], np.array([step]))
        self._last_snapshot = step

    @_writes
    def write_final(self, theta, best_theta, best_loss, best_step, design=None, best_design=None):
        """Write the final state into the preallocated ``/final`` datasets.

        Args:
            theta: the last iterate, array-like of length n.
            best_theta: the iterate with the lowest loss, array-like of length n.
            best_loss: its loss.
            best_step: its step number.
            design: the final physical design, or ``None`` (the default). The designs are written only
                when ``design`` is given and the trace has designs.
            best_design: the physical design of ``best_theta``, or ``None`` (the default; with a ``design``
                given, the stored best design is then filled with NaN).

        Raises:
            TraceError: if the file is not open or the write fails.
        """
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
        """Write the message, the end time (if ``ended``), then the status, each flushed.

        Args:
            status: the status string (at most 32 bytes are stored), e.g. ``"completed"`` or ``"failed"``.
            message: why the run ended (at most 2048 bytes of UTF-8 are stored; default empty).
            ended: also write ``/end_time`` as the current UTC time (default False).

        Raises:
            TraceError: if the file is not open or the write fails.
        """
        self.file["message"][()] = _encode(message)
        self.file["message"].flush()
        if ended:
            self.file["end_time"][()] = _encode(_now(), 32)
            self.file["end_time"].flush()
        self.file["status"][()] = _encode(status, 32)
        self.file["status"].flush()

    def close(self) -> None:
        """Close the file (nothing happens when it is not open); the status is not changed."""
        if self.file is not None:
            self.file.close()
            self.file = None

    def wants_snapshot(self, step: int, last: bool) -> bool:
        """Whether a snapshot is due at ``step``.

        True when the step is in ``snapshot_at``, or when ``snapshot_every`` is set and the step is a
        multiple of it or ``last`` is True; never for the step of the latest snapshot.

        Args:
            step: the step number.
            last: whether it is the run's last step.

        Returns:
            True when :meth:`append_snapshot` should be called for this step.
        """
        if step == self._last_snapshot:
            return False
        if step in self.snapshot_at:
            return True
        return self.snapshot_every is not None and (step % self.snapshot_every == 0 or last)

    # -- the interface landscape.run uses ----------------------------------------------
    def start(self, objective, optimizer, steps: int, seed: int, probes: Sequence = (), threads=None) -> None:
        """Open the trace for a run (called by ``landscape.run``): build its config and call :meth:`open`.

        The config holds the objective's entries (problem, model, options, penalization, precision, ...),
        the thread counts, the optimizer's name and options, the step budget, the seed, each probe's
        config, ``snapshot_every``, and the writer's ``spec`` when one was given.

        Args:
            objective: the objective being optimized; its problem's shape is the design shape (no designs
                when it has no ``problem``).
            optimizer: the optimizer, whose ``name`` and ``options`` are recorded.
            steps: the step budget.
            seed: the run's seed.
            probes: the probes to record (default none); each must declare its outputs
                (``probe.outputs(objective) -> {name: shape}``).
            threads: the :class:`~landscape.threads.Threads` of the run, or ``None`` (the default).

        Raises:
            TraceError: if a probe does not declare its outputs, or :meth:`open` fails.
        """
        problem = getattr(objective, "problem", None)
        config = {
            **objective_config(objective),
            "threads": threads.to_dict() if threads is not None else None,
            "optimizer": optimizer.name,
            "optimizer_options": dict(optimizer.options),
            "steps": int(steps),
            "seed": int(seed),
            "probes": [probe.config() if hasattr(probe, "config") else {"name": probe.name} for probe in probes],
            "snapshot_every": self.snapshot_every,
        }
        if self.spec is not None:
            config["spec"] = self.spec.to_dict()
        design_shape = tuple(problem.shape) if problem is not None else None
        self.open(config, objective.num_params, design_shape,
                  {probe.name: probe_outputs(probe, objective) for probe in probes}, objective)

    def _design(self, theta):
        if self._objective is None or getattr(self._objective, "problem", None) is None:
            return None
        return np.asarray(self._objective.design(theta))

    def step(self, record, total_evaluations: int, distance: float, wall: float, last: bool = False) -> None:
        """Record an accepted step: its evaluations, its step row, and a snapshot when one is due.

        Args:
            record: the accepted :class:`~landscape.optim.Step`.
            total_evaluations: objective evaluations of the run so far.
            distance: ``|theta - theta0|``.
            wall: seconds since the run started.
            last: whether this is the run's last step (makes a snapshot due with ``snapshot_every``;
                default False).

        Raises:
            TraceError: if a write fails (see :meth:`append_step`).
        """
        if record.evaluations:
            self.append_evaluations(evaluation_rows(record.step, record.evaluations))
        self.append_step(step_row(record, total_evaluations, distance, wall))
        if self.wants_snapshot(record.step, last):
            self.append_snapshot(record.step, record.theta, self._design(record.theta))

    def evaluations(self, step: int, evaluations) -> None:
        """Record the evaluations of a step that was not accepted (e.g. a failed line search).

        Args:
            step: the step number they carry (the last accepted step).
            evaluations: the :class:`~landscape.optim.Evaluation` records.

        Raises:
            TraceError: if the write fails.
        """
        self.append_evaluations(evaluation_rows(step, evaluations))

    def probe(self, name: str, step: int, output: Mapping[str, Any]) -> None:
        """Record one output of a probe (see :meth:`append_probe`, which takes the same arguments).

        Args:
            name: the probe's name.
            step: the step the output belongs to.
            output: ``{output name: value}`` with the declared shapes.

        Raises:
            TraceError: if an output is missing, has another shape, or cannot be written.
        """
        self.append_probe(name, step, output)

    def finish(self, status: str, message: str, result=None) -> None:
        """End the run: write the final state (and a last snapshot), the status and the message, then close.

        Nothing happens when the file is not open. With ``snapshot_every`` set and a design to render, a
        snapshot of the final iterate is appended unless the last step already has one.

        Args:
            status: the run's final status (one of ``landscape.statuses.ENDED``).
            message: why the run ended.
            result: the run's :class:`~landscape.runner.RunResult`, or ``None`` (the default) to leave the
                final state at NaN / -1.

        Raises:
            TraceError: if the final state cannot be written; the trace is then marked ``failed`` (when it
                is still open) with the reason, and closed.
        """
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
