"""The reference check: compare what the studies wrote into the output folder with the committed reference.

    python studies/reference_check.py --quick            # after make run: runs/figures against figures/
    python studies/reference_check.py --quick --strict   # exit 1 unless every quick cell is identical

For every loss-curve cell of the reference (``figures/curves/quick/*.csv``, or ``full``) the
verdict is one of

* **identical**: the same exact float64 losses, seed by seed (equal SHA-256 digests of the values;
  for reference files without a digest, equal to all stored digits);
* **within spread**: not identical, but the median final loss over seeds lies within the
  reference's [min, max] over its seeds (the difference is no larger than the spread the seeds
  themselves give);
* **different**: outside that range, with both medians and the reference's range;
* **missing**: the reference has the cell and this run did not write it.

Then every other quick table (``*_quick*.csv`` and ``*_quick*.md``, ``tuned_step_sizes_quick.csv``,
``findings_quick.md``) is compared byte for byte, and for CSVs the largest relative difference
of their numeric columns is given. Columns that hold wall times (``seconds``, ``time``) are left
out of that comparison. Finally the environment: the numerics mode and the library versions
this process runs with against ``figures/reference.json``, the record written with the
reference; every version that differs is named.

What to expect: in the deterministic mode (the default of the studies and ``make run``) with
the versions of ``constraints.txt`` on an x86-64 CPU with AVX2, every quick cell is identical.
With other library versions, on another architecture, or with ``--no-deterministic`` on a
CPU other than the one the reference was made on, the convex or short cells usually agree to
many digits and the chaotic ones (GD and HD on the CNN) move within or beyond the seed
spread: that is the chaos of those runs, not an error.

Writes ``reference_check[_quick].md`` into the output folder.
"""
from __future__ import annotations

# common first: it sets the output folder and pins the numerics before NumPy and torch load
from common import FIGURES, REFERENCE, add_output_options, writes_reference

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from matrix import curve_digest, read_curves, read_header

#: library distributions whose versions the reference records and the check compares
LIBRARIES = ("torch", "numpy", "scipy", "scikit-sparse", "h5py", "pandas", "matplotlib", "seaborn", "optuna",
             "dask", "distributed", "nlopt", "scikit-image", "threadpoolctl")
RECORD = "reference.json"
_TIMING = ("seconds", "time", "wall")


def environment() -> dict:
    """The numerics and library versions of this process, as ``figures/reference.json`` records them."""
    from importlib import metadata

    import landscape
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    from landscape.physics import backend
    return {"numerics": landscape.numerics.report(), "versions": versions, "solver": backend(),
            "python": sys.version.split()[0]}


def write_record(path: Path) -> None:
    """Write the environment record of a reference (``make figures`` calls this)."""
    path.write_text(json.dumps(environment(), indent=1, sort_keys=True) + "\n")


def compare_environment(recorded: dict, current: dict) -> list[str]:
    """One line per difference that can change the numbers: mode, solver, Python and library versions."""
    lines = []
    mode_then, mode_now = recorded.get("numerics", {}).get("mode"), current["numerics"]["mode"]
    if mode_then != mode_now:
        lines.append(f"numerics mode: reference {mode_then}, here {mode_now}")
    if mode_now != "deterministic":
        cpu_then = recorded.get("numerics", {}).get("cpu", {}).get("model")
        lines.append(f"native kernels of this CPU ({current['numerics']['cpu']['model']}); the reference's CPU: "
                     f"{cpu_then}")
    for key in ("solver", "python"):
        if recorded.get(key) != current.get(key):
            lines.append(f"{key}: reference {recorded.get(key)}, here {current.get(key)}")
    for name, version in current["versions"].items():
        then = recorded.get("versions", {}).get(name)
        if then != version:
            lines.append(f"{name}: reference {then}, here {version}")
    return lines


def _finals(losses: pd.DataFrame) -> np.ndarray:
    return losses.iloc[-1].to_numpy(dtype=float)


def compare_cell(reference: Path, mine: Path) -> tuple[str, str]:
    """``(verdict, numbers)`` for one curve cell (see the module docstring for the verdicts)."""
    if not mine.exists():
        return "missing", "not written by this run"
    ref_losses, ref_status = read_curves(reference)
    my_losses, my_status = read_curves(mine)
    ref_digest = read_header(reference).get("sha256")
    my_digest = read_header(mine).get("sha256") or curve_digest(my_losses)
    same = (ref_digest == my_digest) if ref_digest else (
        ref_losses.shape == my_losses.shape and np.array_equal(ref_losses.to_numpy(), my_losses.to_numpy()))
    if same and ref_status == my_status:
        return "identical", f"median final {np.median(_finals(ref_losses)):.10g}"
    ref_final, my_final = _finals(ref_losses), _finals(my_losses)
    low, high = np.nanmin(ref_final), np.nanmax(ref_final)
    median_ref, median_mine = np.nanmedian(ref_final), np.nanmedian(my_final)
    numbers = (f"median final {median_mine:.6g} here, {median_ref:.6g} in the reference "
               f"[{low:.6g}, {high:.6g}] ({median_mine / median_ref - 1:+.2%})")
    if ref_status != my_status:
        numbers += f"; statuses differ ({_status_counts(my_status)} here, {_status_counts(ref_status)} there)"
    return ("within spread" if low <= median_mine <= high else "different"), numbers


def _status_counts(statuses: dict) -> str:
    counts = pd.Series(list(statuses.values())).value_counts()
    return ", ".join(f"{n} {s}" for s, n in counts.items())


def compare_table(reference: Path, mine: Path) -> tuple[str, str]:
    """``(verdict, numbers)`` for a table: identical bytes, or the largest relative difference of its numbers."""
    if not mine.exists():
        return "missing", "not written by this run"
    if reference.read_bytes() == mine.read_bytes():
        return "identical", ""
    if reference.suffix != ".csv":
        return "different", "the text differs"
    try:
        a, b = pd.read_csv(reference), pd.read_csv(mine)
    except (ValueError, pd.errors.ParserError):
        return "different", "unreadable as a table"
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return "different", f"shape {b.shape} here, {a.shape} in the reference"
    numeric = [c for c in a.columns if pd.api.types.is_numeric_dtype(a[c]) and pd.api.types.is_numeric_dtype(b[c])
               and not any(t in c.lower() for t in _TIMING)]
    text = [c for c in a.columns if c not in numeric and not any(t in c.lower() for t in _TIMING)]
    if any(not a[c].astype(str).equals(b[c].astype(str)) for c in text):
        return "different", "text columns differ"
    x, y = a[numeric].to_numpy(float), b[numeric].to_numpy(float)
    both = np.isfinite(x) & np.isfinite(y)
    if (np.isfinite(x) != np.isfinite(y)).any():
        return "different", "finite and non-finite entries differ"
    rel = np.abs(x[both] - y[both]) / np.maximum(np.abs(x[both]), 1e-300)
    worst = float(rel.max()) if rel.size else 0.0
    if worst == 0.0:
        return "identical", "numbers identical (wall times aside)"
    return "different", f"largest relative difference {worst:.2e}"


def check(quick: bool = True, out: Path = FIGURES, reference: Path = REFERENCE) -> tuple[list, list, dict]:
    """Compare ``out`` with ``reference``: (cell rows, table rows, environment differences).

    Each row is ``(name, verdict, numbers)``.
    """
    setting = "quick" if quick else "full"
    cells = [(p.stem, *compare_cell(p, out / "curves" / setting / p.name))
             for p in sorted((reference / "curves" / setting).glob("*.csv"))]
    if quick:
        names = sorted({p.name for p in reference.glob("*_quick*") if p.suffix in (".csv", ".md")}
                       | {p.name for p in reference.glob("tuned_step_sizes_quick.csv")})
    else:
        names = sorted(p.name for p in reference.glob("*") if p.suffix in (".csv", ".md") and "_quick" not in p.name
                       and p.name not in ("README.md",) and not p.name.startswith("reference_check"))
    tables = [(name, *compare_table(reference / name, out / name)) for name in names
              if not name.startswith("reference_check")]
    record = reference / RECORD
    recorded = json.loads(record.read_text()) if record.exists() else {}
    return cells, tables, {"record": str(record) if record.exists() else None,
                           "differences": compare_environment(recorded, environment()) if recorded else
                           [f"no {RECORD} in the reference: versions cannot be compared"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the quick cells (make run); default the full ones")
    add_output_options(parser)
    parser.add_argument("--strict", action="store_true", help="exit 1 unless every cell and table is identical")
    args = parser.parse_args(argv)
    if writes_reference():
        print("reference check: the output folder is the reference itself; nothing to compare")
        return 0
    cells, tables, env = check(args.quick, FIGURES, REFERENCE)
    lines = [f"# Reference check ({'quick' if args.quick else 'full'}): {FIGURES} against {REFERENCE}", ""]
    lines += ["## Environment", ""]
    lines += [f"- {d}" for d in env["differences"]] or ["- the same numerics mode, solver and library versions"]
    for title, rows in (("Loss-curve cells", cells), ("Tables", tables)):
        lines += ["", f"## {title}", "", "| name | verdict | numbers |", "|---|---|---|"]
        lines += [f"| {n} | {v} | {x} |" for n, v, x in rows]
    counts = {}
    for _, verdict, _ in cells + tables:
        counts[verdict] = counts.get(verdict, 0) + 1
    summary = (f"{len(cells)} cells and {len(tables)} tables: "
               + ", ".join(f"{n} {v}" for v, n in sorted(counts.items(), key=lambda kv: -kv[1])))
    lines += ["", f"Summary: {summary}", ""]
    FIGURES.mkdir(parents=True, exist_ok=True)
    path = FIGURES / f"reference_check{'_quick' if args.quick else ''}.md"
    path.write_text("\n".join(lines))
    print("Environment:")
    for d in env["differences"] or ["the same numerics mode, solver and library versions as the reference"]:
        print(f"  {d}")
    width = max([len(n) for n, _, _ in cells + tables] + [10])
    for n, v, x in cells + tables:
        print(f"  {n:<{width}}  {v:<13} {x}")
    print(f"Reference check: {summary} (written to {path})")
    if args.strict and any(v != "identical" for _, v, _ in cells + tables):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
