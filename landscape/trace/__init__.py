"""HDF5 traces: one self-describing file per run, safe against crashes, readable while written.

The schema is documented in ``landscape/trace-schema.md``. In short::

    /                 attrs: schema, schema_version, config (JSON), versions (JSON), numerics (JSON:
                             the mode, pins, CPU and kernels of landscape.numerics.report),
                             start_time, problem, model, optimizer, seed, num_params
    /status           scalar string: running, completed, diverged, line_search_failed,
                      max_evaluations, interrupted, failed
    /heartbeat        scalar float: the writer's clock (Unix time) at its last row; with the
                      root attributes writer_host and writer_pid it tells a live run from a
                      crashed one (``Trace.status``)
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

from .reader import FinalState, Trace, open_trace
from .schema import (
    EVALUATION_DTYPE,
    SCHEMA,
    SCHEMA_VERSION,
    STEP_DTYPE,
    DiskFull,
    TraceError,
    evaluation_rows,
    probe_outputs,
    process_alive,
    step_row,
    versions,
)
from .writer import RESERVE, TraceWriter

__all__ = ["TraceWriter", "Trace", "open_trace", "FinalState", "TraceError", "DiskFull", "SCHEMA", "SCHEMA_VERSION",
           "STEP_DTYPE", "EVALUATION_DTYPE", "step_row", "evaluation_rows", "probe_outputs", "process_alive",
           "versions", "RESERVE"]
