"""Re-tune the constant step sizes of GD and HD with the protocol of thesis appendix B.7 (tables B.1-B.3).

TPE (optuna, 30 trials) over log10(lr) on a 0.1 grid, objective = median final
loss over the table's seeds after the table's step budget. The range is the
thesis's for pixels, [-3, 1], and for the CNN [-10, 0.3] instead of the thesis's
[-6, 0.3]: GD at the thesis's tuned CNN step sizes diverges (in Hoyer's original
code too), and the stable step sizes lie between 1e-7 and 1e-6, below the
thesis's range. Models follow ``studies/matrix.py``: random-start pixels and
``cnn_transpose``. Every search is journalled in ``<out>/tuning/<case>.jsonl``
(optuna's plain-text journal; the reference's are committed in ``figures/tuning/`` and a
search whose journal is there resumes from it), so an interrupted search resumes, on
another machine too; every finished case is merged into
``<out>/tuned_step_sizes[_quick].csv`` at once (starting from the reference's rows), which
``table_3_3_decomposition.py --step-sizes tuned`` reads.

    python studies/tune_step_sizes.py --quick                      # cnn_transpose, p = 3, A, B; 8 trials of 40 steps
    python studies/tune_step_sizes.py                              # A, B; both models; p = 3 and 1
    python studies/tune_step_sizes.py --problem A --penal 3 --model cnn_transpose --optimizers gd
    python studies/tune_step_sizes.py --protocol grid --problem D,E   # the cheaper grid on the large problems

``--protocol grid`` is the stated, cheaper stand-in for the large problems D and E, where B.7's 30
trials over the tables' seeds cost hours per case: ``experiments.tuning.grid_step_size`` on seed 0 with
the table's step budget, a 0.5-decade grid over +-2 decades around the mean log10 of the steps
re-tuned by B.7 for the same model, p and optimizer on A and B, then the 0.1 grid within +-0.4 of the
best coarse point (at most 17 runs). The centre is rounded to the 0.1 grid, a half going toward
the larger step. Its journals are ``tuning/<case>_grid.jsonl``. A case B.7 has tuned keeps B.7's step;
``at_edge`` marks a step at the end of the range searched.
"""
from __future__ import annotations

# common first: it sets the output folder and pins the numerics before NumPy and torch load
from common import FIGURES, RUNS, add_run_options, find, setup

import argparse
import shutil

import pandas as pd

from experiments.thesis import STEP_SIZES, case_code, step_size
from experiments.tuning import THESIS_RANGES, grid_step_size, tune_step_size

RANGES = {"pixel": THESIS_RANGES["pixel"], "cnn": (-10.0, 0.3)}
VARIANTS = {"gd": ("gd", None), "hd1": ("hd", 1), "hd10": ("hd", 10)}


def merge(out, row: dict) -> None:
    """Add or replace one case's row in the CSV ``out`` (so partial runs accumulate).

    A lock keeps two searches running side by side from losing each other's rows, and a row found by B.7
    (``protocol`` ``tpe``) is never replaced by a grid row, even when both searches ran at once.

    Args:
        out: the ``tuned_step_sizes[_quick].csv`` path.
        row: the case's columns (``case``, ``model``, ``optimizer``, ``m``, ..., ``protocol``).
    """
    import fcntl
    with open(out.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _merge(out, row)


def _protocols(table: pd.DataFrame) -> pd.Series:
    """Each row's search, ``tpe`` for rows written before the CSV had the column."""
    return table["protocol"].fillna("tpe") if "protocol" in table else pd.Series("tpe", index=table.index)


def _same_case(table: pd.DataFrame, case: str, model: str, optimizer: str, m) -> pd.Series:
    return ((table["case"] == case) & (table["model"] == model) & (table["optimizer"] == optimizer)
            & (table["m"].fillna(0) == (m or 0)))


def b7_rows(table: pd.DataFrame, case: str, model: str, optimizer: str, m: int | None) -> pd.DataFrame:
    """The rows of ``tuned_step_sizes.csv`` (``table``) that B.7's search found for one case (thesis code
    ``case``, ``model``, ``optimizer`` ``gd`` or ``hd`` with memory ``m``); empty when it has none."""
    if table.empty:
        return table
    return table[_same_case(table, case, model, optimizer, m) & (_protocols(table) == "tpe")]


def _merge(out, row: dict) -> None:
    frame = pd.DataFrame([row])
    if out.exists():
        old = pd.read_csv(out)
        old = old.assign(protocol=_protocols(old))
        same = _same_case(old, row["case"], row["model"], row["optimizer"], row["m"])
        if row.get("protocol") == "grid" and (same & (old["protocol"] == "tpe")).any():
            print(f"{row['case']} {row['optimizer']} m={row['m']}: B.7's row kept over the grid's", flush=True)
            return
        frame = pd.concat([old[~same], frame], ignore_index=True)
    frame = frame.assign(protocol=_protocols(frame))
    if "at_edge" in frame:
        frame["at_edge"] = frame["at_edge"].fillna(False).astype(bool)
    frame.to_csv(out, index=False)


def _tuned_by_b7(out, case: str, model: str, optimizer: str, m: int | None) -> bool:
    """Whether ``out`` holds a step for this case found by B.7's search (the grid never replaces one)."""
    if not out.exists():
        return False
    return not b7_rows(pd.read_csv(out), case, model, optimizer, m).empty


def grid_center(table: pd.DataFrame, model: str, optimizer: str, m: int | None, penal: float) -> float:
    """The grid protocol's window centre for a case on D or E.

    Args:
        table: the rows of ``tuned_step_sizes.csv``.
        model, optimizer, m: the case's model (``pixel`` or a CNN kind), ``gd`` or ``hd``, and HD's memory.
        penal: the case's p, 1 or 3 (the thesis's).

    Returns:
        the mean ``log10(lr)`` of the steps that B.7's search tuned for the same model, optimizer, m and p
        on A and B (grid rows are not used).

    Raises:
        ValueError: for a p other than 1 and 3.
        KeyError: when either of the two B.7 rows is missing, naming what was found.
    """
    import math

    if penal not in (1.0, 3.0):
        raise ValueError(f"the thesis's cases have p = 1 or 3, got {penal!r}")
    family = ("P" if model == "pixel" else "NN") + f"{int(penal)}"
    if table.empty:
        raise KeyError(f"no tuned step sizes to centre the grid on: tune {family}A and {family}B with B.7 first")
    rows = pd.concat([b7_rows(table, family + code, model, optimizer, m) for code in "AB"])
    if len(rows) != 2:
        raise KeyError(f"the grid protocol centres on the B.7-tuned steps of {family}A and {family}B for {model} "
                       f"{optimizer} m={m}; found {sorted(rows['case'])}: tune those first")
    return sum(math.log10(lr) for lr in rows["tuned_lr"]) / 2


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--model", default="cnn_transpose", help="the CNN kind (default the thesis's)")
    parser.add_argument("--models", default=None, help="comma-separated (default: the CNN quick, pixel and CNN full)")
    parser.add_argument("--problem", default="A,B", help="comma-separated thesis codes")
    parser.add_argument("--penal", default=None, help="comma-separated (default 3 quick, 3,1 full)")
    parser.add_argument("--optimizers", default="gd,hd1,hd10", help="comma-separated: gd, hd1, hd10")
    parser.add_argument("--protocol", choices=("b7", "grid"), default="b7",
                        help="b7: the thesis's TPE search (default); grid: the cheaper grid for D and E")
    args = setup(add_run_options(parser).parse_args(argv))
    models = (args.models or (args.model if args.quick else f"pixel,{args.model}")).split(",")
    penals = [float(p) for p in (args.penal or ("3" if args.quick else "3,1")).split(",")]
    cases = [(m, p, c) for m in models for p in penals for c in args.problem.split(",")]
    trials = 8 if args.quick else 30
    out = FIGURES / ("tuned_step_sizes" + ("_quick" if args.quick else "") + ".csv")
    if not out.exists() and find(out.name).exists():   # start from the reference's rows; searched cases replace theirs
        shutil.copyfile(find(out.name), out)
    for model, penal, code in cases:
        thesis_model = "pixel" if model == "pixel" else "cnn"
        for variant in args.optimizers.split(","):
            optimizer, m = VARIANTS[variant]
            table = "gd" if optimizer == "gd" else f"hd_m{m}"
            budget, n_seeds, thesis_lr = STEP_SIZES[table][case_code(thesis_model, penal, code)]
            steps, seeds = (40, (0,)) if args.quick else (budget, tuple(range(n_seeds)))
            name = f"{case_code(thesis_model, penal, code)}_{variant}_{model}" + ("_quick" if args.quick else "")
            name += "_grid" if args.protocol == "grid" else ""
            journal = (RUNS if args.quick else FIGURES) / "tuning"
            journal.mkdir(parents=True, exist_ok=True)
            committed_journal = find(f"tuning/{name}.jsonl")
            if not args.quick and not (journal / f"{name}.jsonl").exists() and committed_journal.exists():
                shutil.copyfile(committed_journal, journal / f"{name}.jsonl")   # resume the reference's search
            if args.protocol == "grid" and _tuned_by_b7(out, case_code(thesis_model, penal, code), model, optimizer, m):
                print(f"{name}: kept the step B.7 tuned", flush=True)
                continue
            common_options = dict(penal=penal, steps=steps, m=m or 10, progress=True, precision=args.precision,
                                  search_range=RANGES[thesis_model],
                                  model_options={"init": "random"} if model == "pixel" else None)
            if args.protocol == "grid":
                center = grid_center(pd.read_csv(out) if out.exists() else pd.DataFrame(), model, optimizer, m, penal)
                result = grid_step_size(code, model, optimizer, center=center, seeds=seeds[:1],
                                        out=journal / name, journal=journal / f"{name}.jsonl", **common_options)
            else:
                result = tune_step_size(code, model, optimizer, seeds=seeds, trials=trials, out=journal / name,
                                        storage=str(journal / f"{name}.jsonl"), **common_options)
            merge(out, {"case": case_code(thesis_model, penal, code), "model": model, "optimizer": optimizer,
                        "m": m, "steps": steps, "seeds": len(result.seeds),
                        "trials": len(result.trials) if args.protocol == "grid" else trials,
                        "range": f"[{result.search_range[0]:g}, {result.search_range[1]:g}]",
                        "tuned_lr": result.best_lr, "tuned_median_final": result.best_value,
                        "thesis_lr": step_size(optimizer, thesis_model, penal, code, m=m),
                        "protocol": result.protocol, "at_edge": result.at_edge})
            print(f"{name}: tuned lr {result.best_lr:.3g} (median final {result.best_value:.4g}); "
                  f"thesis {thesis_lr:g}", flush=True)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
