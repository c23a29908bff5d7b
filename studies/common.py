"""What the study scripts share: paths, the run options every study takes, and running a grid of cases.

``run_cases`` describes runs as a sweep config (see :mod:`landscape.sweep`):
traces land in ``runs/<study>/traces/``, finished traces are reused on a rerun,
and cases run in parallel on a local Dask cluster. The thesis matrix has its
own module, ``matrix.py``; its curves are drawn with ``plotting.py``.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ROOT / "figures"
RUNS = ROOT / "runs"
sys.path.insert(0, str(ROOT))


def add_run_options(parser, precision: str = "mixed"):
    """The options every study takes: ``--precision``, ``--threads`` (see landscape.threads) and ``--workers``."""
    parser.add_argument("--precision", choices=("mixed", "float64"), default=precision,
                        help=f"network precision (default {precision}): mixed = float32 network over float64 "
                             "physics, as Hoyer and the thesis ran it; float64 = everything in float64")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="torch and BLAS threads per run (default: the thread policy, 1)")
    parser.add_argument("--workers", type=int, default=2, help="runs in parallel (local Dask workers)")
    return parser


def setup(args):
    """Apply the thread policy to this process (the study's own evaluations outside the sweep runner)."""
    from landscape import threads
    threads.apply(args.threads)
    return args


def run_cases(study: str, axes: dict, steps: int, workers: int = 2, progress: bool = True, precision: str = "mixed",
              threads: int | None = None, **extra):
    """Run (or reuse) the product of ``axes`` for ``steps`` steps; returns the sweep index DataFrame."""
    from landscape import sweep
    config = {"name": study, "out": str(RUNS / study), "steps": steps,
              "axes": {"precision": [precision], **axes}, "threads": threads, **extra}
    return sweep.run_sweep(sweep.expand(config), workers=workers, progress=progress)
