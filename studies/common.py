"""What the study scripts share: the output folder, the numerics mode, the run options, and running a grid of cases.

Import this module **first** in a study script, before NumPy, pandas or torch: it reads the two options
that must act before those libraries load, and then imports :mod:`landscape`:

* ``--out DIR`` (or ``$LANDSCAPE_OUT``): where the study writes its figures, tables and curves.
  The default is ``runs/figures/``, outside the tracked files; the committed reference in
  ``figures/`` is rewritten only on purpose, with ``--out figures`` (``make figures``).
* ``--no-deterministic``: the studies run in the deterministic numerics mode by default
  (:mod:`landscape.numerics`), so that their numbers are bit-identical on any x86-64 CPU
  with AVX2 and comparable with the committed reference; this flag runs the CPU's own kernels.

Inputs a study reads (re-tuned step sizes, finished full-setting curves) are looked up in
the output folder first and then in the reference (:func:`find`).

``run_cases`` describes runs as a sweep config (see :mod:`landscape.sweep`):
traces land in ``runs/<study>/``, finished traces are reused on a rerun,
and cases run in parallel on a local Dask cluster. The thesis matrix has its
own module, ``matrix.py``; its curves are drawn with ``plotting.py``.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: the committed reference results (read by the studies; written only with ``--out figures``)
REFERENCE = ROOT / "figures"
#: the traces of every study (never tracked)
RUNS = ROOT / "runs"
OUT_ENVIRONMENT = "LANDSCAPE_OUT"


def _early_options(argv) -> argparse.Namespace:
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--out", default=None)
    early.add_argument("--deterministic", dest="deterministic", action="store_true", default=None)
    early.add_argument("--no-deterministic", dest="deterministic", action="store_false")
    return early.parse_known_args(argv)[0]


_EARLY = _early_options(sys.argv[1:])
#: where this study writes (``--out``, ``$LANDSCAPE_OUT``, default ``runs/figures``)
OUT = Path(_EARLY.out or os.environ.get(OUT_ENVIRONMENT) or RUNS / "figures").resolve()
FIGURES = OUT
os.environ[OUT_ENVIRONMENT] = str(OUT)              # studies started from this one write there too
#: whether this module set the numerics mode: only as a script's first import, before torch loads (imported
#: from a process that has loaded torch, e.g. the tests, the mode in force is kept)
_OWNS_MODE = "torch" not in sys.modules and "landscape" not in sys.modules
if _OWNS_MODE:
    os.environ["LANDSCAPE_DETERMINISTIC"] = "0" if _EARLY.deterministic is False else \
        os.environ.get("LANDSCAPE_DETERMINISTIC", "1") if _EARLY.deterministic is None else "1"
sys.path.insert(0, str(ROOT))

import landscape  # noqa: E402  - pins the numerics (landscape.numerics) before NumPy and torch load

if _OWNS_MODE and landscape.numerics.requested():
    landscape.numerics.require()


def find(relative: str | Path) -> Path:
    """An input of a study: ``OUT/relative`` if this run (or an earlier one) wrote it, else the reference's."""
    mine = OUT / relative
    return mine if mine.exists() else REFERENCE / relative


def finished_trace(path: Path, probe: str | None = None) -> bool:
    """Whether ``path`` is a trace that finished (by the optimizer's own rule) in this process's numerics mode,
    recording ``probe`` if one is named: a study reuses such a run instead of running it again."""
    from landscape import numerics
    from landscape.statuses import STOPS
    from landscape.trace import TraceError, open_trace
    if not Path(path).exists():
        return False
    try:
        with open_trace(path) as trace:
            return (trace.status in STOPS and (probe is None or probe in trace.probe_names)
                    and trace.numerics.get("mode", "native") == numerics.mode())
    except TraceError:
        return False


def writes_reference() -> bool:
    """Whether this run writes into the committed reference (``--out figures``)."""
    return OUT == REFERENCE.resolve()


def add_output_options(parser):
    """``--out DIR`` and ``--[no-]deterministic``.

    Both are read when this module is imported (they must act before the numerical libraries
    load); they are declared here so that ``--help`` lists them and the parser accepts them.
    """
    parser.add_argument("--out", default=None, metavar="DIR",
                        help=f"folder for figures, tables and curves (default runs/figures, or ${OUT_ENVIRONMENT}; "
                             "`--out figures` rewrites the committed reference)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--deterministic", action="store_true",
                      help="pinned numerical kernels, bit-identical on any x86-64 CPU with AVX2 (the default)")
    mode.add_argument("--no-deterministic", action="store_true", help="the CPU's own kernels")
    return parser


def add_run_options(parser, precision: str = "mixed"):
    """The options every study takes: :func:`add_output_options`, ``--precision``, ``--threads``, ``--workers``."""
    add_output_options(parser)
    parser.add_argument("--precision", choices=("mixed", "float64"), default=precision,
                        help=f"network precision (default {precision}): mixed = float32 network over float64 "
                             "physics, as Hoyer and the thesis ran it; float64 = everything in float64")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="torch and BLAS threads per run (default: the thread policy, 1)")
    parser.add_argument("--workers", type=int, default=2, help="runs in parallel (local Dask workers)")
    return parser


def study_parser(doc: str, quick_seeds: int, full_seeds: int) -> argparse.ArgumentParser:
    """The parser of a seeded study: its docstring as help, ``--quick`` and ``--seeds`` (default ``quick_seeds``
    with ``--quick``, else ``full_seeds``); the caller adds its own options, then :func:`add_run_options`."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", type=int, default=None,
                        help=f"number of seeds (default {quick_seeds} quick, {full_seeds} full)")
    return parser


def order_verdict(a, b, lower: str, higher: str, alpha: float = 0.05) -> tuple[str, float, float]:
    """Which sample ends lower, by one-sided Mann-Whitney U tests at ``alpha``: ``(word, p_lower, p_higher)``.

    ``word`` is ``lower`` when ``a`` is stochastically below ``b`` (p < alpha), ``higher`` when above, and
    ``"no significant difference"`` otherwise, also when the two samples are the same values. A NaN (a run
    whose loss became NaN) ranks as +inf, above every finite value, instead of making the p-values NaN.
    """
    import numpy as np
    from scipy.stats import mannwhitneyu
    a, b = (np.nan_to_num(np.asarray(x, dtype=float), nan=np.inf, posinf=np.inf, neginf=-np.inf) for x in (a, b))
    if np.array_equal(np.sort(a), np.sort(b)):
        return "no significant difference", 1.0, 1.0
    p_lower = float(mannwhitneyu(a, b, alternative="less").pvalue)
    p_higher = float(mannwhitneyu(a, b, alternative="greater").pvalue)
    word = lower if p_lower < alpha else higher if p_higher < alpha else "no significant difference"
    return word, p_lower, p_higher


def failure_counts(cell) -> dict:
    """``{"diverged": n, "rose": m}`` for a table of runs with ``status`` and ``rose`` columns: the runs that
    diverged, and those that rose (did not diverge but ended no lower than their start,
    ``landscape.statuses.rose``), so that no run counts twice."""
    diverged = cell["status"] == "diverged"
    return {"diverged": int(diverged.sum()), "rose": int((~diverged & cell["rose"].astype(bool)).sum())}


def setup(args):
    """Apply the thread policy to this process (the study's own evaluations outside the sweep runner)."""
    from landscape import threads
    threads.apply(args.threads)
    OUT.mkdir(parents=True, exist_ok=True)
    return args


def run_cases(study: str, axes: dict, steps: int, workers: int = 2, progress: bool = True, precision: str = "mixed",
              threads: int | None = None, folder: str | None = None, **extra):
    """Run (or reuse) the product of ``axes`` for ``steps`` steps; returns the sweep index DataFrame.

    The sweep is named ``study`` and runs in ``runs/<folder>`` (default ``runs/<study>``)."""
    from landscape import sweep
    config = {"name": study, "out": str(RUNS / (folder or study)), "steps": steps,
              "axes": {"precision": [precision], **axes}, "threads": threads, **extra}
    with interrupted_cleanly():
        return sweep.run_sweep(sweep.expand(config), workers=workers, progress=progress)


@contextlib.contextmanager
def interrupted_cleanly():
    """Ctrl-C during a study's sweep: the sweep's one-line message (how far it got, that the index is written
    and a rerun goes on) on stderr and exit status 130, as ``landscape sweep`` gives, not a traceback."""
    from landscape.sweep import SweepInterrupted
    try:
        yield
    except SweepInterrupted as error:
        print(f"{Path(sys.argv[0]).name}: {error}", file=sys.stderr)
        raise SystemExit(130) from None
