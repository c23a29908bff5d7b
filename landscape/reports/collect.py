"""What a report shows, read off traces and sweep indexes into plain, JSON-ready records.

:func:`find_runs` turns the command line's paths (traces, sweep folders, folders of
traces) into :class:`Source` entries; :func:`read_run` reads one of them into a
:class:`RunRecord`. A file that is not a readable trace becomes a record with
status ``unreadable`` and the reader's one-line reason, so one bad file never
stops a report.
"""
from __future__ import annotations

import base64
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import figures

__all__ = ["ReportError", "Source", "RunRecord", "find_runs", "read_run", "design_png", "FAILED_STATES"]

#: statuses listed under "runs that did not finish well", with their reason
FAILED_STATES = ("failed", "diverged", "crashed", "interrupted", "unreadable")


class ReportError(ValueError):
    """A report that cannot be made: a path that does not exist, no traces, an unwritable output."""


@dataclass(frozen=True)
class Source:
    """One run to report: its trace, its sweep index row, and the folder it was found in.

    Attributes:
        trace: the trace's path (may be missing for a sweep task that failed before writing one).
        row: for runs of a sweep, its row of the sweep's index as a dict; else None.
        folder: the name of the folder it was found in, or None for a trace named directly.
    """

    trace: Path
    row: dict | None = None
    folder: str | None = None


@dataclass
class RunRecord:
    """Everything the page shows of one run (plain data; ``loss`` is the full curve, for medians).

    Attributes:
        number: the run's position in the report (0, 1, ...), used in its anchor.
        name: the run's name: its sweep task name, else the trace's file stem (the file name for an
            unreadable file outside a sweep).
        path: the trace's path.
        status: the run's status (:attr:`landscape.trace.Trace.status`, ``failed`` when the sweep's index
            says so, the index row's status for a sweep task without a trace, or ``unreadable``).
        message: why the run ended, or why it could not be read (default empty).
        folder: the name of the folder the run was found in, or None (the default).
        summary: :meth:`landscape.trace.Trace.summary` plus ``best_step``; for a run without a readable
            trace, the few entries its sweep index row gives (problem, model, optimizer, losses, ...);
            default empty.
        config: the trace's config (default empty).
        versions: the trace's versions (default empty).
        running: whether the trace is still being written by a live process (default False).
        loss: the full loss curve, one value per step row, or None (the default).
        curves: Plotly figure dicts of the run's per-step curves (default empty).
        snapshots: ``{"step", "loss", "png"}`` dicts, one per design snapshot shown (default empty).
        final_png: the final design as a base64 PNG, or None (the default).
        best_png: the best design as a base64 PNG (for an unfinished run in the overview, the latest
            snapshot's design), or None (the default).
        probes: ``{"name", "figures", "not_drawn", "recorded"}`` dicts, one per recorded probe (default
            empty).
    """

    number: int
    name: str
    path: str
    status: str
    message: str = ""
    folder: str | None = None
    summary: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)
    running: bool = False
    loss: np.ndarray | None = None
    curves: list = field(default_factory=list)
    snapshots: list = field(default_factory=list)
    final_png: str | None = None
    best_png: str | None = None
    probes: list = field(default_factory=list)

    @property
    def anchor(self) -> str:
        """The HTML id of the run's section, ``run-<number>``."""
        return f"run-{self.number}"

    @property
    def panel(self) -> str:
        """``PROBLEM · MODEL · p=P (FOLDER)``: runs that the overview draws in one figure ("" without a summary).

        Runs of different sweeps or folders are different experiments (budgets, seeds, precisions), so
        they are never pooled.
        """
        s = self.summary
        if not (s.get("optimizer") and s.get("problem")):
            return ""
        try:
            penal = f"{float(s.get('penal')):g}"
        except (TypeError, ValueError):
            penal = str(s.get("penal"))
        return f"{s['problem']} \u00b7 {s.get('model')} \u00b7 p={penal}" + (f" ({self.folder})" if self.folder else "")

    @property
    def optimizer(self) -> str:
        """The run's optimizer label (:func:`landscape.plots.optimizer_label`), or "" without a summary."""
        from ..plots import optimizer_label
        return optimizer_label(self.summary) if self.summary.get("optimizer") else ""


# -- inputs ---------------------------------------------------------------------------------------
def _index_rows(folder: Path) -> list[dict]:
    import pandas as pd
    try:
        frame = pd.read_csv(folder / "index.csv", keep_default_na=False, na_values=["", "nan", "NaN"])
    except Exception as error:   # noqa: BLE001 - a damaged index is reported, the traces still are
        raise ReportError(f"{folder / 'index.csv'} cannot be read as a sweep index: {error}") from None
    return frame.to_dict("records")


def _trace_of(row: dict, folder: Path) -> Path:
    """The trace of an index row: its recorded path, or the same file name under the sweep folder
    (a sweep folder that was moved or copied)."""
    recorded = Path(str(row.get("trace") or ""))
    if recorded.name and recorded.exists():
        return recorded
    for candidate in (folder / "traces" / recorded.name, folder / recorded.name):
        if recorded.name and candidate.exists():
            return candidate
    return recorded if recorded.name else folder / f"{row.get('name', 'unnamed')}.h5"


def find_runs(paths) -> list[Source]:
    """The runs named by ``paths``.

    Trace files (anything that is not a folder, so that a foreign file is reported as unreadable), sweep
    folders (with ``index.csv``: every task of the index, failed ones included, and traces written
    since), and folders searched (recursively) for ``*.h5`` files. A trace reached twice is listed once.

    Args:
        paths: an iterable of paths (str or path).

    Returns:
        The :class:`Source` entries, in the order found.

    Raises:
        ReportError: if a path does not exist, a folder without ``index.csv`` holds no ``*.h5`` file,
            a sweep index cannot be read, or no run is found at all.
    """
    sources: list[Source] = []
    seen: set[Path] = set()

    def add(source: Source):
        key = source.trace.resolve()
        if key not in seen:
            seen.add(key)
            sources.append(source)

    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise ReportError(f"no such trace or folder: {path}")
        if not path.is_dir():
            add(Source(path))
            continue
        if (path / "index.csv").exists():
            for row in _index_rows(path):
                add(Source(_trace_of(row, path), row=row, folder=path.resolve().name))
            for trace in sorted(path.rglob("*.h5")):
                add(Source(trace, folder=path.resolve().name))
        else:
            found = sorted(path.rglob("*.h5"))
            if not found:
                raise ReportError(f"{path} holds no traces (*.h5) and no sweep index (index.csv)")
            for trace in found:
                add(Source(trace, folder=path.resolve().name))
    if not sources:
        raise ReportError("no traces to report")
    return sources


# -- images ---------------------------------------------------------------------------------------
def design_png(image: np.ndarray, max_side: int = 160) -> str:
    """A density image (0 white, 1 black, as the thesis draws designs) as a base64 PNG.

    Shrunk by averaging (Pillow's box filter) so its longer side is at most ``max_side`` pixels (the page
    scales it up pixelated). NaN is drawn as 0 and values are clipped to [0, 1].

    Args:
        image: the 2-D density array (height, width).
        max_side: the largest side in pixels (default 160).

    Returns:
        The grey-scale PNG, base64-encoded as an ASCII string.
    """
    from PIL import Image
    values = np.nan_to_num(np.asarray(image, dtype=float), nan=0.0).clip(0.0, 1.0)
    picture = Image.fromarray(np.round(255 * (1.0 - values)).astype(np.uint8), mode="L")
    if max(picture.size) > max_side:
        scale = max_side / max(picture.size)
        picture = picture.resize((max(1, round(picture.width * scale)), max(1, round(picture.height * scale))),
                                 Image.Resampling.BOX)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=False)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _snapshot_rows(count: int, limit: int) -> np.ndarray:
    return np.unique(np.linspace(0, count - 1, min(count, limit)).round().astype(int)) if count else np.arange(0)


# -- one run ---------------------------------------------------------------------------------------
def _from_row(source: Source, number: int, status: str, message: str) -> RunRecord:
    row = source.row or {}
    summary = {k: row.get(k) for k in ("problem", "model", "penal", "optimizer", "seed", "precision")}
    options = row.get("optimizer_options")
    try:
        summary["optimizer_options"] = json.loads(options) if isinstance(options, str) and options else {}
    except json.JSONDecodeError:
        summary["optimizer_options"] = {}
    summary.update(steps_taken=row.get("steps_taken", 0), steps=row.get("steps"), evaluations=row.get("evaluations", 0),
                   final_loss=row.get("final_loss", math.nan), best_loss=row.get("best_loss", math.nan),
                   wall_time=row.get("wall_time", math.nan))
    return RunRecord(number=number, name=str(row.get("name") or source.trace.stem), path=str(source.trace),
                     status=status, message=message, folder=source.folder, summary=summary)


def read_run(source: Source, number: int, max_points: int = 500, max_snapshots: int = 24,
             with_details: bool = True) -> RunRecord:
    """Read one run; any failure to read becomes an ``unreadable`` record with the reason.

    ``with_details=False`` reads only what the overview needs (summary, loss curve, best design).

    A sweep task whose trace does not exist gives a record built from its index row, with the row's
    status (``failed`` if it has none) and error.

    Args:
        source: the run to read.
        number: the run's position in the report (:attr:`RunRecord.number`).
        max_points: the target number of points per curve (default 500).
        max_snapshots: the most design snapshots to show, spread evenly over those recorded (default 24).
        with_details: also read the curves, the final design, the snapshots and the probes (default True).

    Returns:
        The :class:`RunRecord`.
    """
    from ..trace import TraceError, open_trace
    row = source.row or {}
    if not source.trace.exists():
        status = str(row.get("status") or "failed")
        reason = str(row.get("error") or "") or "its trace was never written"
        return _from_row(source, number, status, reason)
    try:
        with open_trace(source.trace) as trace:
            return _read_trace(trace, source, number, max_points, max_snapshots, with_details)
    except Exception as error:   # noqa: BLE001 - one unexpected file never stops the whole report
        reason = str(error) if isinstance(error, TraceError) else f"{type(error).__name__}: {error}"
        record = _from_row(source, number, "unreadable", reason)
        record.name = record.name if row else source.trace.name
        return record


def _read_trace(trace, source: Source, number: int, max_points: int, max_snapshots: int,
                with_details: bool) -> RunRecord:
    summary = trace.summary()
    steps = trace.steps()
    summary["best_step"] = trace.best_step
    status, message = summary["status"], summary["message"]
    if source.row and source.row.get("status") == "failed" and status != "failed":
        status, message = "failed", str(source.row.get("error") or message)   # the sweep's verdict
    record = RunRecord(number=number, name=str(source.row.get("name")) if source.row else trace.path.stem,
                       path=str(trace.path), status=status, message=message, folder=source.folder, summary=summary,
                       config=trace.config, versions=trace.versions, running=summary["status"] == "running",
                       loss=steps["loss"].astype(float))
    final, best = trace.design, trace.best_design
    shape = None
    if best is not None:
        record.best_png = design_png(best)
        shape = best.shape
    if not with_details:
        if best is None:   # an unfinished run: its latest snapshot stands for its best design
            latest = _latest_snapshot(trace, summary["snapshots"])
            if latest is not None:
                record.best_png = design_png(latest)
        return record
    record.curves = figures.run_curves(steps, max_points)
    if final is not None:
        record.final_png = design_png(final)
        shape = final.shape
    snaps = trace.snapshots(theta=False, rows=_snapshot_rows(summary["snapshots"], max_snapshots))
    if "design" in snaps:
        losses = dict(zip(steps["step"].tolist(), steps["loss"].tolist()))
        record.snapshots = [{"step": int(s), "loss": _finite(losses.get(int(s))), "png": design_png(d)}
                            for s, d in zip(snaps["step"], snaps["design"])]
        if len(snaps["design"]):
            shape = snaps["design"][0].shape
    for name in trace.probe_names:
        data = trace.probe(name)
        drawn, skipped = figures.probe_figures(name, data, shape)
        record.probes.append({"name": name, "figures": drawn, "not_drawn": skipped, "recorded": len(data["step"])})
    return record


def _latest_snapshot(trace, count: int):
    if not count:
        return None
    snaps = trace.snapshots(theta=False, rows=[count - 1])
    return snaps["design"][0] if "design" in snaps else None


def _finite(value):
    return None if value is None or not math.isfinite(value) else float(f"{value:.6g}")
