"""``landscape report``: one self-contained HTML page for a trace, several traces, or whole sweeps.

What the page holds
    For each run: configuration and provenance (versions, precision, threads, status and why it
    ended, wall time), the loss, gradient norm, step size and distance curves, the design at
    every snapshot (a slider), the final and best designs, and every recorded probe (densities
    on a log axis, scalars with their standard errors as error bars, eigenvalues over steps,
    kernel rows as heat maps). For several runs, in addition: a sortable, filterable table of
    all runs linking to their sections, the median loss with its min-max band per
    (problem, model, penalization, optimizer), the best design of each such cell, and every
    failed, diverged, crashed, interrupted or unreadable run with its reason.

Why it is built this way
    The page must open offline, from a file or an e-mail attachment, so everything is inlined:
    Plotly.js (from the ``plotly`` package; interactive zoom over decades and values on hover,
    which static images cannot give), the styles, a few lines of plain JavaScript (sorting,
    filtering, the design slider) and the data as JSON. Designs are small grey-scale PNGs
    (Pillow), drawn pixelated. The HTML comes from a Jinja2 template. A run's plots are drawn
    when its section is opened, so a page of hundreds of runs opens quickly; long curves are
    downsampled keeping each bucket's extremes (:func:`figures.decimate`), which keeps a
    300-run report well under 30 MB.

A trace still being written is read through HDF5's SWMR mode; the page says which runs were
running, and when the page was made.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from . import figures
from .collect import FAILED_STATES, ReportError, RunRecord, Source, design_png, find_runs, read_run

__all__ = ["report", "ReportError", "RunRecord", "Source", "find_runs", "read_run", "design_png", "build_page"]

_HERE = Path(__file__).parent


def _output_path(output, inputs: Sequence[Source]) -> Path:
    """``output`` as the HTML file to write (a folder gets ``index.html``), checked to be writable
    before any trace is read; it may never be one of the traces being reported."""
    out = Path(output)
    if out.is_dir() or str(output).endswith(os.sep):
        out = out / "index.html"
    if out.suffix.lower() not in (".html", ".htm"):
        raise ReportError(f"report output {out} should end in .html (or be a folder, for FOLDER/index.html)")
    resolved = out.resolve()
    if any(source.trace.exists() and source.trace.resolve() == resolved for source in inputs):
        raise ReportError(f"report output {out} is one of the traces being reported")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        probe = out.parent / f".{out.name}.{os.getpid()}.tmp"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise ReportError(f"cannot write the report to {out}: {error.strerror or error}") from None
    return out


# -- the overview of several runs ---------------------------------------------------------------
def _groups(records: Iterable[RunRecord]) -> dict[str, dict[str, list[RunRecord]]]:
    """``panel (problem, model, p) -> optimizer label -> runs`` for the runs that have a summary."""
    from ..plots import grouped, optimizer_label
    panels: dict[str, list[RunRecord]] = {}
    for record in records:
        if record.panel:
            panels.setdefault(record.panel, []).append(record)
    table = {}
    for panel, runs in panels.items():        # runs that differ only in their seed share a group
        groups = grouped([(r.summary, r.config) for r in runs], base=optimizer_label)
        table[panel] = {label: [runs[i] for i in members] for label, members in groups.items()}
    return dict(sorted(table.items()))


def _median_figures(groups, max_points: int) -> list[dict]:
    from ..plots import median_band
    out = []
    for panel, cells in groups.items():
        curves = {}
        for label, runs in cells.items():
            losses = [r.loss for r in runs if r.loss is not None and len(r.loss)]
            if losses:
                curves[label] = (*median_band(losses), len(losses))
        if curves:
            out.append(figures.median_figure(panel, curves, max_points))
    return out


def _best_designs(groups) -> list[dict]:
    cells = []
    for panel, by_label in groups.items():
        for label, runs in sorted(by_label.items()):
            finite = [r for r in runs if _number(r.summary.get("best_loss")) is not None]
            best = min(finite, key=lambda r: r.summary["best_loss"], default=None)
            losses = [r.summary["best_loss"] for r in finite]
            cells.append({"panel": panel, "label": label, "runs": len(runs),
                          "bad": sum(r.status in FAILED_STATES for r in runs),
                          "median": float(np.median(losses)) if losses else None,
                          "best": best.summary["best_loss"] if best else None,
                          "png": best.best_png if best else None, "anchor": best.anchor if best else None,
                          "seed": best.summary.get("seed") if best else None})
    return cells


# -- formatting ---------------------------------------------------------------------------------
def _number(value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _fmt(value, digits: int = 4) -> str:
    number = _number(value)
    if number is None:
        return "-" if value is None or isinstance(value, float) else str(value)
    if float(number).is_integer() and abs(number) < 1e6:
        return str(int(number))
    return f"{number:.{digits}g}"


def _threads(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    return _fmt(value)


def _options_text(options) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted((options or {}).items()))


def _json(value) -> str:
    """JSON safe to inline in a <script> element."""
    text = json.dumps(value, separators=(",", ":"), allow_nan=False)
    # inside a <script> element nothing may open a tag, a comment or a CDATA section, and U+2028/U+2029 end a
    # JavaScript line in older engines: escape them all (JSON and JavaScript read the escapes back the same)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                         ("\u2029", "\\u2029")):
        text = text.replace(raw, escaped)
    return text


def _run_data(record: RunRecord) -> str:
    return _json({"curves": record.curves, "probes": record.probes, "snapshots": record.snapshots,
                  "final": record.final_png, "best": record.best_png})


def _provenance(record: RunRecord) -> list[tuple[str, str]]:
    s, c = record.summary, record.config
    rows = [("status", record.status), ("why it ended", record.message or "-"),
            ("problem", s.get("problem")), ("model",
             f"{s.get('model')} {_options_text(c.get('model_options'))}".strip()),
            ("optimizer", f"{s.get('optimizer')} {_options_text(s.get('optimizer_options'))}".strip()),
            ("penalization p", _fmt(s.get("penal"))), ("seed", _fmt(s.get("seed"))),
            ("precision", s.get("precision") or "-"), ("threads", _threads(s.get("threads"))),
            ("steps taken / budget", f"{_fmt(s.get('steps_taken'))} / {_fmt(s.get('steps'))}"),
            ("objective evaluations", _fmt(s.get("evaluations"))),
            ("initial loss", _fmt(s.get("initial_loss"), 6)), ("final loss", _fmt(s.get("final_loss"), 6)),
            ("best loss (step)", f"{_fmt(s.get('best_loss'), 6)} ({_fmt(s.get('best_step'))})"),
            ("wall time", f"{_fmt(s.get('wall_time'), 3)} s"), ("started", s.get("start_time") or "-"),
            ("ended", s.get("end_time") or "-"), ("trace", record.path)]
    return [(k, "-" if v is None else str(v)) for k, v in rows]


def build_page(records: Sequence[RunRecord], title: str, inputs: Sequence[str], max_points: int = 400,
               details: bool = True) -> str:
    """The HTML of a report of ``records`` (``details=False``: without the per-run sections).

    The page is rendered from ``page.html.j2`` with the styles, the script and Plotly.js inlined. For
    more than one record it holds the overview: runs grouped by panel (problem, model, penalization,
    folder) and optimizer configuration, their median loss curves and their best designs.

    Args:
        records: the runs to show.
        title: the page's title.
        inputs: the paths the report was made from, listed on the page.
        max_points: the target number of points of each median curve (default 400).
        details: include each run's own section (default True).

    Returns:
        The page's HTML.

    Raises:
        MissingDependency: if jinja2 or plotly is not installed.
    """
    from .._version import __version__
    from ..optional import require
    jinja2 = require("jinja2", "landscape report")
    get_plotlyjs = require("plotly.offline", "landscape report").get_plotlyjs
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(str(_HERE)), autoescape=True,
                                     trim_blocks=True, lstrip_blocks=True)
    environment.filters["fmt"] = _fmt
    environment.filters["options"] = _options_text
    single = len(records) == 1
    groups = _groups(records) if not single else {}
    counts = Counter(r.status for r in records)
    page = environment.get_template("page.html.j2").render(
        title=title, single=single, records=records, inputs=inputs, counts=sorted(counts.items()),
        made=_dt.datetime.now().astimezone().isoformat(timespec="seconds"), version=__version__,
        running=[r for r in records if r.running], failed=[r for r in records if r.status in FAILED_STATES],
        medians=[_json(f) for f in _median_figures(groups, max_points)], best=_best_designs(groups),
        run_data={r.number: _run_data(r) for r in records}, provenance={r.number: _provenance(r) for r in records},
        versions={r.number: sorted(r.versions.items()) for r in records},
        config={r.number: json.dumps(r.config, indent=2, default=str) for r in records},
        statuses=sorted(counts), plotly_js=get_plotlyjs(), css=(_HERE / "report.css").read_text(),
        js=(_HERE / "report.js").read_text(), details=details)
    return page


def report(paths, output, title: str | None = None, max_points: int | None = None, max_snapshots: int | None = None,
           details: bool = True, progress: bool = True) -> Path:
    """Write a self-contained HTML report of the traces, sweep folders and folders of traces in ``paths``.

    ``max_points`` caps the points of each curve (default 800 for one run, 300 for several),
    ``max_snapshots`` the designs of each run's slider (default 40 / 12); ``details=False``
    leaves out the per-run sections (table, medians and best designs only). Returns the path
    written. Raises :class:`ReportError` for a path that does not exist, a folder without
    traces, or an output that cannot be written; unreadable traces are listed on the page.

    The page is written to a temporary file next to ``output`` and moved into place.

    Args:
        paths: one path or an iterable of paths: traces, sweep folders or folders of traces.
        output: the HTML file to write (``.html`` or ``.htm``); a folder (existing, or given with a
            trailing separator) gets ``index.html``.
        title: the page's title (default ``None``: the run's name for one run, else the number of runs
            and the input names).
        max_points: points per curve (default ``None``: 800 for one run, 300 for several).
        max_snapshots: designs per run's slider (default ``None``: 40 for one run, 12 for several).
        details: include each run's own section (default True; a single run always reads its details).
        progress: show a progress bar while reading the traces (default True).

    Returns:
        The path of the HTML file written.

    Raises:
        ReportError: if a path does not exist, a folder holds no traces, the output does not end in
            ``.html``/``.htm``, is one of the traces, or cannot be written, or if ``max_points`` is below 10
            or ``max_snapshots`` below 1.
        MissingDependency: if jinja2 or plotly is not installed.
    """
    from tqdm.auto import tqdm

    from ..optional import require
    require("jinja2", "landscape report")         # before any trace is read
    require("plotly", "landscape report")
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    sources = find_runs(paths)
    out = _output_path(output, sources)
    single = len(sources) == 1
    max_points = max_points or (800 if single else 300)
    max_snapshots = max_snapshots or (40 if single else 12)
    if max_points < 10 or max_snapshots < 1:
        raise ReportError(f"max_points must be at least 10 and max_snapshots at least 1 "
                          f"(got {max_points} and {max_snapshots})")
    records = []
    bar = tqdm(sources, desc="report: reading traces", unit="run", disable=not progress, leave=False)
    for number, source in enumerate(bar):
        records.append(read_run(source, number, max_points, max_snapshots, with_details=details or single))
        bar.set_postfix_str(records[-1].name[-40:], refresh=False)
    bar.close()
    title = title or (records[0].name if single else f"{len(records)} runs: " + ", ".join(Path(p).name for p in paths))
    html = build_page(records, title, [str(p) for p in paths], max_points, details=details)
    temporary = out.parent / f".{out.name}.{os.getpid()}.tmp"
    try:
        temporary.write_text(html, encoding="utf-8")
        os.replace(temporary, out)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise ReportError(f"cannot write the report to {out}: {error.strerror or error}") from None
    return out
