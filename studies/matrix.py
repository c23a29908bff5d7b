"""The thesis's experiment matrix under its own protocol, shared by Tables 3.2 and 3.3 and Figures 3.4, 3.6, 3.8,
C.1-C.8.

Protocol (thesis chapter 3 and appendix B; the quick settings in brackets):

* models: ``pixel`` from seeded random starts (standard-normal logits inside the
  mask, ``init="random"``) and the thesis's CNN, ``cnn_transpose`` (appendix B.1.2);
  network in float32 over float64 physics, as the thesis ran it;
* seeds 0-9 [0-2]; medians, minimum and maximum over seeds;
* L-BFGS and L-BFGS_M1: SciPy's L-BFGS-B (m = 10 and m = 1, factr 1,
  pgtol 1e-14) with 300 [100] function evaluations;
* GD: 2000 [300] steps (Table 3.2 reads its loss at step 700 [150] and at the end);
* HD_M1, HD_M10 (two-loop direction, constant step) and GD_LS (steepest descent,
  strong-Wolfe line search): 700 [150] steps;
* step sizes of GD and HD: the thesis's tables B.1-B.3 (``--step-sizes thesis``)
  or the ones re-tuned here (``--step-sizes tuned``, read from
  ``figures/tuned_step_sizes[_quick].csv``).

Every case runs through the sweep runner into ``runs/matrix[_quick]/``, so the
figure scripts share traces; a finished cell also leaves its loss curves in
``figures/curves/`` as one compact CSV per (model, p, problem, optimizer, step sizes)
with one column per seed and each seed's status in the first line. That is what
the repository keeps, and a full-setting cell whose CSV is there with every seed
finished is not run again (delete the CSV to rerun it), so the long matrix can be
spread over sittings on different machines. A cell committed with fewer seeds (3 of
the 10) runs only the seeds it lacks; its first seeds are read back from the CSV. Quick cells always run (reusing traces
in ``runs/`` when they exist), so ``make run`` reproduces them.
"""
from __future__ import annotations

# common first: it sets the output folder and pins the numerics before NumPy and torch load
from common import FIGURES, RUNS, find, interrupted_cleanly

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.thesis import step_size

LABELS = ("GD", "HD_M1", "HD_M10", "GD_LS", "L-BFGS_M1", "L-BFGS")
CNN = "cnn_transpose"
CURVES = FIGURES / "curves"
CURVE_FLOAT_FORMAT = "%.10g"   # how a curve CSV writes a loss: 10 significant digits (``CURVE_FLOAT_FORMAT % loss``)
TUNED = {False: "tuned_step_sizes.csv", True: "tuned_step_sizes_quick.csv"}   # read with common.find


@dataclass(frozen=True)
class Budgets:
    lbfgs: int        # function evaluations of SciPy's L-BFGS-B
    gd: int           # GD steps (the long run)
    gd_short: int     # the step Table 3.2's short GD row reads
    descent: int      # HD and GD_LS steps
    seeds: tuple[int, ...]


FULL = Budgets(lbfgs=300, gd=2000, gd_short=700, descent=700, seeds=tuple(range(10)))
QUICK = Budgets(lbfgs=100, gd=300, gd_short=150, descent=150, seeds=(0, 1, 2))


def add_matrix_options(parser, problems: str, penals: str, step_sizes: bool = True):
    """``--quick --model --problem --penal --seeds [--step-sizes]`` with the given quick/full defaults.

    ``problems`` and ``penals`` read ``"quick|full"``, e.g. ``"A,B|A,B,D,E"``.
    """
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--model", default=CNN, help=f"the CNN kind (default {CNN}, the thesis's; cnn = Hoyer's)")
    parser.add_argument("--problem", default=None,
                        help=f"comma-separated thesis codes (default quick|full: {problems})")
    parser.add_argument("--penal", default=None, help=f"comma-separated penalizations (default quick|full: {penals})")
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds (default 3 quick, 10 full)")
    parser.add_argument("--models", default=None,
                        help="comma-separated subset of pixel and the CNN kind to run (default both)")
    if step_sizes:
        parser.add_argument("--step-sizes", choices=("thesis", "tuned"), default="thesis",
                            help="GD and HD step sizes: the thesis's tables B.1-B.3, or re-tuned here")
    parser.set_defaults(matrix_defaults=(problems, penals))
    return parser


def _defaults(args) -> tuple[str, str]:
    """The default problems and penalizations (``"A,B"``, ``"3"``) of the quick or the full settings."""
    return tuple(d.split("|")[0 if args.quick else 1] for d in args.matrix_defaults)


def run_labels(text: str) -> tuple[str, ...]:
    """``--labels``: a comma-separated subset of :data:`LABELS`, in the table's order.

    Raises:
        argparse.ArgumentTypeError: a label that is not one of :data:`LABELS` (naming it and the accepted ones).
    """
    import argparse
    asked = [label for label in text.split(",") if label]
    unknown = [label for label in asked if label not in LABELS]
    if unknown or not asked:
        raise argparse.ArgumentTypeError(f"{', '.join(unknown) or repr(text)}: not among {', '.join(LABELS)}")
    return tuple(label for label in LABELS if label in asked)


def matrix_cases(args) -> tuple[list, Budgets]:
    """The (model, penal, problem) cases and the budgets the parsed options ask for."""
    problems, penals = _defaults(args)
    budgets = QUICK if args.quick else FULL
    if args.seeds:
        budgets = replace(budgets, seeds=tuple(range(args.seeds)))
    models = ("pixel", args.model)
    if getattr(args, "models", None):
        models = tuple(m for m in args.models.split(",") if m)
        unknown = set(models) - {"pixel", args.model}
        if unknown:
            raise SystemExit(f"--models: {', '.join(sorted(unknown))} is neither pixel nor --model ({args.model})")
    cases = [(model, float(penal), code) for model in models
             for penal in (args.penal or penals).split(",") for code in (args.problem or problems).split(",")]
    return cases, budgets


def figure_suffix(args) -> str:
    """``_quick`` for quick runs, and the problems, penalizations and models asked for where they are not
    the defaults (``_DE``, ``_p1``, ``_pixel``), so the figure or table of a subset never overwrites the
    default one (a run of one cell with ``--out figures`` once replaced the full Table 3.3)."""
    problems, penals = _defaults(args)
    models = getattr(args, "models", None)
    parts = [args.problem.replace(",", "") if args.problem and args.problem != problems else "",
             "p" + args.penal.replace(",", "") if args.penal and args.penal != penals else "",
             models.replace(",", "_") if models and set(models.split(",")) != {"pixel", args.model} else "",
             "quick" if args.quick else ""]
    return "".join(f"_{part}" for part in parts if part)


def thesis_model(model: str) -> str:
    return "pixel" if model == "pixel" else "cnn"


def tuned_step_size(optimizer: str, model: str, penal: float, code: str, m: int | None = None,
                    quick: bool = False) -> float:
    """The step size re-tuned here (``studies/tune_step_sizes.py``) for a thesis case."""
    path = find(TUNED[quick])
    if not path.exists():
        raise FileNotFoundError(f"no re-tuned step sizes at {path}; run studies/tune_step_sizes.py first")
    table = pd.read_csv(path)
    code_ = f"{'P' if model == 'pixel' else 'NN'}{int(penal)}{code}"
    rows = table[(table["case"] == code_) & (table["model"] == model) & (table["optimizer"] == optimizer)
                 & ((table["m"].fillna(0) == (m or 0)) if optimizer == "hd" else True)]
    if rows.empty:
        raise KeyError(f"no re-tuned step size for {optimizer} m={m} on {code_} ({model}) in {path}")
    return float(rows["tuned_lr"].iloc[-1])


def optimizer_entry(label: str, model: str, penal: float, code: str, budgets: Budgets,
                    step_sizes: str = "thesis", quick: bool = False) -> tuple[dict, int]:
    """``(optimizer entry, steps)`` of one cell; a step size is looked up only for the cell asked for
    (a re-tuned search may still be running for the others)."""
    if step_sizes == "thesis":
        lookup, tm = step_size, thesis_model(model)
    else:
        lookup, tm = (lambda *a, **k: tuned_step_size(*a, **k, quick=quick)), model
    constant = {"GD": ("gd", None, budgets.gd), "HD_M1": ("hd", 1, budgets.descent),
                "HD_M10": ("hd", 10, budgets.descent)}
    if label in constant:
        name, m, steps = constant[label]
        entry = {"name": name, **({"m": m} if m else {}), "lr": lookup(name, tm, penal, code, m=m)}
        return entry, steps
    # GD_LS with L-BFGS-B's own line search, as the thesis ran it (SciPy's L-BFGS-B restarted every step)
    return {"GD_LS": ({"name": "gd_ls", "search": "lbfgsb"}, budgets.descent),
            "L-BFGS_M1": ({"name": "scipy_lbfgsb", "m": 1, "maxfun": budgets.lbfgs}, budgets.lbfgs),
            "L-BFGS": ({"name": "scipy_lbfgsb", "m": 10, "maxfun": budgets.lbfgs}, budgets.lbfgs)}[label]


def model_entry(model: str):
    return {"kind": "pixel", "init": "random"} if model == "pixel" else model


def label_of(optimizer: str, options) -> str:
    options = json.loads(options) if isinstance(options, str) else options
    if optimizer == "gd":
        return "GD"
    if optimizer == "hd":
        return f"HD_M{options['m']}"
    if optimizer == "gd_ls":
        return "GD_LS"
    return "L-BFGS_M1" if options.get("m") == 1 else "L-BFGS"


def run_matrix(cases, labels=LABELS, budgets: Budgets = FULL, step_sizes: str = "thesis", workers: int = 2,
               precision: str = "mixed", threads=None, quick: bool = False, progress: bool = True) -> None:
    """Run (or reuse) ``labels`` on every (model, penal, problem) of ``cases`` as one sweep.

    All tasks go to one local Dask cluster at once; each cell's loss curves are
    written to ``curves/`` in the output folder as soon as its last seed finishes. Full-setting cells whose
    curves are already there or in the reference, made in this numerics mode, are skipped; a full-setting
    cell committed with fewer seeds (3 of the 10) runs only the seeds it lacks and is written with the
    committed ones read back (:func:`committed_seeds`, :func:`write_curves`); and a re-tuned cell whose step
    is the thesis's own is copied from the thesis-step cell (:func:`copy_thesis_cell`).
    """
    from landscape import sweep
    study = "matrix" + ("_quick" if quick else "")
    cells, tasks = {}, []
    for model, penal, code in cases:
        for label in labels:
            path = curve_path(model, penal, code, label, step_sizes, quick)
            if not quick and committed(found_curve_path(model, penal, code, label, step_sizes, quick), budgets.seeds):
                continue   # this cell's full-setting curves are there, made in this numerics mode: nothing to run
            entry, steps = optimizer_entry(label, model, penal, code, budgets, step_sizes, quick)
            if not quick and step_sizes == "tuned" and copy_thesis_cell(model, penal, code, label, entry, budgets):
                continue   # the re-tuned step is the thesis's own: the thesis-step cell is this cell
            found = None if quick else found_curve_path(model, penal, code, label, step_sizes, quick)
            kept = committed_seeds(found, budgets.seeds)      # e.g. seeds 0-2 of a cell growing to 10
            cell = sweep.expand(cell_config(study, RUNS / study, model, penal, code, entry, steps,
                                            [s for s in budgets.seeds if s not in kept], precision, threads))
            cells[path] = {"tasks": {t.name for t in cell.tasks}, "rows": {}, "model": model,
                           "kept": found if kept else None}
            tasks += cell.tasks
    if not tasks:
        return
    owner = {name: path for path, cell in cells.items() for name in cell["tasks"]}

    def on_result(task, row):
        path = owner[task.name]
        cell = cells[path]
        cell["rows"][task.name] = row
        if len(cell["rows"]) == len(cell["tasks"]):
            index = pd.DataFrame(list(cell["rows"].values())).sort_values("seed")
            if (index["status"] != "failed").all():
                write_curves(index, path, kept=cell["kept"])

    combined = sweep.Sweep(study, RUNS / study, tasks, retries=2, raw={"name": study, "cells": len(cells)})
    # a failed task gives no curves; rerun it (its failure was a bug, since fixed, or the cell stays unwritten)
    with interrupted_cleanly():
        sweep.run_sweep(combined, workers=workers, progress=progress, on_result=on_result, retry_failed=True)


def cell_config(study: str, out: Path, model: str, penal: float, code: str, entry, steps: int, seeds,
                precision: str = "mixed", threads=None) -> dict:
    """The sweep config of one cell's runs: ``seeds`` of ``entry`` (:func:`optimizer_entry`) on ``model`` at
    ``penal`` on problem ``code`` for ``steps`` steps, in sweep ``study`` under ``out``. The matrix and the
    studies that rerun some of its runs build their tasks from it, so a rerun is the matrix's own task."""
    return {"name": study, "out": str(out), "steps": steps, "threads": threads,
            "axes": {"problem": [code], "model": [model_entry(model)], "penal": [penal], "seed": list(seeds),
                     "optimizer": [entry], "precision": [precision]}}


def seed_of(column: str) -> int:
    """The seed of a curve table's column: ``seed_3`` -> 3."""
    return int(column.split("_")[1])


def committed_seeds(path: Path | None, seeds) -> set[int]:
    """The seeds of a committed full-setting cell that need not be rerun when it grows to ``seeds``: all of its
    seeds when it holds finished runs of a subset of them, made in this process's numerics mode (the mode
    makes a rerun bit-identical: every cell grown from 3 to 10 seeds by rerunning reproduced its first 3
    digit for digit); none otherwise."""
    from landscape import numerics
    from landscape.statuses import STOPS
    if path is None or not path.exists() or read_header(path).get("numerics", "native") != numerics.mode():
        return set()
    _, statuses = read_curves(path)
    have = {seed_of(column) for column in statuses}
    if not have < set(seeds) or not set(statuses.values()) <= set(STOPS):
        return set()
    return have


def copy_thesis_cell(model, penal, code, label, entry, budgets: Budgets) -> bool:
    """Whether a re-tuned constant-step cell could be copied from the thesis-step cell, and copy it: when the
    re-tuned step is the thesis's own (the search found it, e.g. GD at 10 on pixels, p = 1, E), the two cells
    are the same runs, bit for bit in this numerics mode, so the committed thesis-step curves are copied
    instead of rerun. Its wall times are not copied: the copy took none."""
    import shutil
    try:
        thesis_entry, _ = optimizer_entry(label, model, penal, code, budgets, "thesis")
    except KeyError:
        return False
    source = found_curve_path(model, penal, code, label, "thesis", False)
    if thesis_entry != entry or not committed(source, budgets.seeds):
        return False
    target = curve_path(model, penal, code, label, "tuned", False)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return True


def committed(path: Path | None, seeds) -> bool:
    """Whether ``path`` holds finished curves of exactly these seeds, made in this process's numerics mode
    (deterministic or native), so that they need not be rerun."""
    from landscape import numerics
    if path is None or not path.exists():
        return False
    _, statuses = read_curves(path)
    from landscape.statuses import STOPS
    terminal = set(STOPS)
    return (set(statuses) == {f"seed_{s}" for s in seeds} and set(statuses.values()) <= terminal
            and read_header(path).get("numerics", "native") == numerics.mode())


def loss_table(index: pd.DataFrame, column: str = "loss") -> pd.DataFrame:
    """Steps x seeds of one recorded column (default the loss) of the runs in a sweep ``index``; a run that
    stopped early keeps its last value, so the table is NaN-free."""
    from landscape.trace import open_trace
    columns = {}
    for row in index.itertuples():
        with open_trace(row.trace) as trace:
            columns[f"seed_{row.seed}"] = trace.steps()[column]
    length = max(len(c) for c in columns.values())
    return pd.DataFrame({k: np.concatenate([v, np.full(length - len(v), v[-1])]) for k, v in columns.items()},
                        index=pd.RangeIndex(length, name="step"))


def curve_name(model, penal, problem, label, step_sizes, quick) -> str:
    """The path of a cell's curve CSV relative to an output folder: ``curves/quick|full/<cell>.csv``."""
    tag = f"_{step_sizes}" if label in ("GD", "HD_M1", "HD_M10") else ""
    return f"curves/{'quick' if quick else 'full'}/{model}_p{int(penal)}_{problem}_{label}{tag}.csv"


def curve_path(model, penal, problem, label, step_sizes, quick) -> Path:
    """Where this run writes a cell's curves (``CURVES``, under the output folder)."""
    return CURVES / Path(curve_name(model, penal, problem, label, step_sizes, quick)).relative_to("curves")


def found_curve_path(model, penal, problem, label, step_sizes="thesis", quick=False) -> Path | None:
    """A cell's curves to read: this run's output folder first, then (full settings only: quick cells always
    run) the committed reference; None if neither."""
    candidates = [curve_path(model, penal, problem, label, step_sizes, quick)]
    if not quick:
        candidates.append(find(curve_name(model, penal, problem, label, step_sizes, quick)))
    return next((path for path in candidates if path.exists()), None)


def curve_digest(table: pd.DataFrame) -> str:
    """SHA-256 (first 16 hex digits) of the exact float64 losses of a cell, seed by seed: equal digests mean
    bit-identical curves (the CSV itself holds 10 significant digits)."""
    import hashlib
    digest = hashlib.sha256()
    for column in table.columns:
        digest.update(column.encode())
        digest.update(np.ascontiguousarray(table[column].to_numpy(np.float64)).tobytes())
    return digest.hexdigest()[:16]


def write_curves(index: pd.DataFrame, path: Path, kept: Path | None = None) -> None:
    """One cell's losses (steps x seeds): the first line gives each seed's status, the second the numerics mode
    and the digest of the exact values (:func:`curve_digest`). Each seed's wall time goes beside it into
    ``<cell>.wall.json`` (:func:`read_wall_seconds`), so that the curves stay byte-identical from run to run.

    With ``kept`` (a committed curve CSV of some of the cell's seeds, :func:`committed_seeds`) its seeds are
    read back and written beside the new ones, in seed order, and the second line names them
    (``read_back=seed_0,seed_1,seed_2``) in place of the digest, which needs exact values: the CSV holds 10
    significant digits, which is also all that a rerun of those seeds writes."""
    from landscape import numerics
    path.parent.mkdir(parents=True, exist_ok=True)
    table = loss_table(index)
    statuses = dict(zip((f"seed_{s}" for s in index["seed"]), index["status"]))
    walls = loss_table(index, "wall_time").iloc[-1].to_dict()
    stamp = f"sha256={curve_digest(table)}"
    if kept is not None:
        old, old_statuses = read_curves(kept)
        order = sorted([*old.columns, *table.columns], key=seed_of)
        table = pd.concat([old, table], axis=1).ffill()[order]      # a run that stopped early keeps its last value
        table.index.name = "step"
        statuses = {column: {**old_statuses, **statuses}[column] for column in order}
        walls = {**read_wall_seconds(kept), **walls}
        stamp = "read_back=" + ",".join(old.columns)
    header = "# status " + " ".join(f"{k}={v}" for k, v in statuses.items()) + "\n"
    header += f"# numerics={numerics.mode()} {stamp}\n"
    path.write_text(header + table.to_csv(float_format=CURVE_FLOAT_FORMAT))
    order = sorted(walls, key=seed_of)
    wall_path(path).write_text(json.dumps({k: round(float(walls[k]), 1) for k in order}) + "\n")


def wall_path(curves: Path) -> Path:
    """Where a curve CSV's wall times are kept: ``<cell>.wall.json`` beside it."""
    return curves.with_name(curves.stem + ".wall.json")


def read_wall_seconds(curves: Path) -> dict[str, float]:
    """Each seed's wall time in seconds (its trace's last ``wall_time``) of the cell whose curve CSV is
    ``curves``, ``{seed column: seconds}``; empty for cells written before 1 December 2026, which did not
    record it. A run's wall time is a fact of the machine and its load (on 2 busy cores, about the run's CPU
    time), not a result."""
    path = wall_path(curves)
    return json.loads(path.read_text()) if path.exists() else {}


def read_header(path: Path) -> dict:
    """The second header line of a curve CSV: ``{"numerics": mode, "sha256": digest}`` (empty for older files)."""
    with open(path) as f:
        f.readline()
        line = f.readline()
    if not line.startswith("# numerics="):
        return {}
    return dict(item.split("=", 1) for item in line[2:].split())


def read_curves(path: Path) -> tuple[pd.DataFrame, dict]:
    """A curve CSV back: (steps x seeds losses, {seed column: status})."""
    with open(path) as f:
        statuses = dict(item.split("=") for item in f.readline()[len("# status "):].split())
    return pd.read_csv(path, comment="#", index_col="step"), statuses


CONSTANT = ("GD", "HD_M1", "HD_M10")     # the constant-step cells, one per step-size policy


def cell_path_at(model, penal, problem, label, policy="thesis", quick=False) -> Path | None:
    """:func:`found_curve_path` of a cell under a step-size policy: the constant-step cells (``CONSTANT``) have
    one file per policy, a line-search cell one file whatever the policy."""
    return found_curve_path(model, penal, problem, label, policy if label in CONSTANT else "thesis", quick)


def read_cell_at(model, penal, problem, label, policy="thesis", quick=False, at=None):
    """A cell's ``(losses, statuses)`` under a step-size policy (the line-search cells have one), cut at step
    ``at`` (the whole curve if None); None when it has not run."""
    path = cell_path_at(model, penal, problem, label, policy, quick)
    if path is None:
        return None
    losses, statuses = read_curves(path)
    return (losses if at is None else losses.iloc[:at + 1]), statuses


def read_cell(model, penal, problem, label, step_sizes="thesis", quick=False):
    """A cell's ``(losses, statuses)`` from this run's output folder or the reference, or None when it has not run."""
    path = found_curve_path(model, penal, problem, label, step_sizes, quick)
    return read_curves(path) if path is not None else None


def add_plot_only_option(parser):
    """``--plot-only``: draw from the curves already in the output folder or the reference, run nothing."""
    parser.add_argument("--plot-only", action="store_true",
                        help="draw from the curves already in the output folder or the reference, whatever numerics "
                             "mode made them; run nothing")
    return parser


def require_cell(model, penal, problem, label, step_sizes="thesis", quick=False):
    """:func:`read_cell`, for a figure that cannot be drawn without the cell.

    Raises:
        SystemExit: the cell has not run (no curves in the output folder, nor, at full settings, in the
            reference), naming the missing file and how to make it.
    """
    found = read_cell(model, penal, problem, label, step_sizes, quick)
    if found is None:
        name = curve_name(model, penal, problem, label, step_sizes, quick)
        where = f"{FIGURES}" + ("" if quick else " or the committed reference")
        raise SystemExit(f"error: {name} is not in {where}; run the study without --plot-only to make it")
    return found


def summarize(losses: pd.DataFrame, statuses: dict, at: int | None = None) -> dict:
    """Median, min, max of the loss at step ``at`` (default: the end) over seeds, the runs that diverged,
    and the runs that diverged or are no lower at ``at`` than where they started (``rose``)."""
    values = losses.iloc[-1] if at is None else losses.iloc[min(at, len(losses) - 1)]
    diverged = sum(s == "diverged" for s in statuses.values())
    rose = sum(statuses.get(column) == "diverged" or not values[column] < losses[column].iloc[0]
               for column in losses)
    finite = values[np.isfinite(values)]
    return {"median": float(np.median(finite)) if len(finite) else np.nan,
            "min": float(finite.min()) if len(finite) else np.nan,
            "max": float(finite.max()) if len(finite) else np.nan,
            "seeds": len(values), "diverged": diverged, "rose": rose}


def failures_text(summary: dict, of_seeds: bool = True) -> str:
    """``"2 diverged, 1 rose of 10"``: a cell's runs that diverged and those that ended no lower than they started
    without diverging, from :func:`summarize` (whose ``rose`` counts the diverged runs too); ``""`` when every run
    descended. ``of_seeds=False`` leaves out ``" of 10"``."""
    diverged, rose = summary["diverged"], summary["rose"] - summary["diverged"]
    text = ", ".join(part for part in (f"{diverged} diverged" if diverged else "", f"{rose} rose" if rose else "")
                     if part)
    return text + f" of {summary['seeds']}" if text and of_seeds else text


def difference_text(median: float, thesis: float) -> str:
    """The relative difference to the thesis as text: ``+4.5%``, or ``12.3 x`` beyond ten times; ``-`` if unknown."""
    if not (np.isfinite(median) and np.isfinite(thesis)) or thesis == 0:
        return "-"
    ratio = median / thesis
    return f"{ratio:.3g} x" if ratio > 10 else f"{ratio - 1:+.1%}"


def stalled(step: int | None, budget: int) -> bool:
    """Whether a run whose converged step is ``step`` stalled: it was within the convergence tolerance of its
    final value from step 1 on, in a budget of more than 10 steps, so that all its progress was its first step
    (HD at the re-tuned CNN steps: the first step, along -g, moves the design; the later ones, scaled by the
    curvature pairs, hardly do). A run that truly converged in one step would be counted too; none does in
    the thesis's matrix, whose starts are random."""
    return step is not None and step <= 1 and budget > 10


def stalled_runs(losses: pd.DataFrame, statuses: dict) -> int:
    """How many runs of a cell stalled (:func:`stalled`): ended below their start, not diverged, with all their
    progress in the first step. Table 3.3 and the findings both count them with this."""
    return sum(statuses.get(column) != "diverged" and losses[column].iloc[-1] < losses[column].iloc[0]
               and stalled(converged_step(losses[column].to_numpy()), len(losses) - 1) for column in losses)


def converged_step(median: np.ndarray, tolerance: float = 0.05) -> int | None:
    """First step after which the median curve stays within ``tolerance`` (5 %) of its final value; None if the
    curve was still moving in the last 10 % of its budget (a capped run has no converged step).

    Of the rules compared with the thesis's Table 3.3 steps (``studies/converged_step_rules.py``,
    ``figures/converged_step_rules.md``), "within 5 % of the final value" fits them best."""
    final = median[-1]
    far = np.flatnonzero(np.abs(median - final) > tolerance * abs(final))
    step = int(far[-1] + 1) if far.size else 0
    return None if step > 0.9 * (len(median) - 1) else step
