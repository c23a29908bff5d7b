"""The summary tables of the results page (``figures/README.md``), written from the committed tables.

The page's summaries of Table 3.3 are not typed by hand: each sits between the markers
``<!-- generated: NAME -->`` and ``<!-- end generated -->`` and is rebuilt here from the committed CSV
that the study wrote, so a regenerated table cannot leave the page behind. ``--check`` only compares
(the tests run it) and exits 1 when a block is stale.

    python studies/gallery_tables.py            # rewrite the blocks of figures/README.md
    python studies/gallery_tables.py --check    # exit 1 if a block differs from what the tables give
"""
from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

import pandas as pd

FIGURES = Path(__file__).resolve().parent.parent / "figures"
PAGE = FIGURES / "README.md"
LABELS = ("GD", "HD_M1", "HD_M10", "GD_LS", "L-BFGS_M1", "L-BFGS")
BLOCK = re.compile(r"(<!-- generated: (?P<name>[\w.-]+) -->\n)(?P<body>.*?)(<!-- end generated -->)", re.S)


def cell_text(row, spread: bool = False) -> str:
    """One cell: the median over seeds (with ``[min, max]`` when ``spread``) and how many runs diverged or rose,
    or only those counts when they are half the runs or more."""
    seeds, diverged, rose = int(row["seeds"]), int(row["diverged"]), int(row["rose"])
    # ``rose`` counts the diverged runs too; the table shows them apart, as Table 3.3 does
    failures = ", ".join(part for part in (f"{diverged} div." if diverged else "",
                                           f"{rose - diverged} rose" if rose > diverged else "") if part)
    if 2 * rose >= seeds:
        return failures + f" of {seeds}"
    text = f"{row['median']:.4g}" + (f", {failures}" if failures else "")
    return text + (f" [{row['min']:.4g}, {row['max']:.4g}]" if spread else "")


def decomposition_summary(penal: float, files=("table_3_3_decomposition.csv",), problems=("A", "B")) -> str:
    """Table 3.3 at ``penal``: median final loss per model, problem and optimizer, with the thesis's value.

    Constant-step cells come at the thesis's step sizes and, in separate rows, at the re-tuned ones; GD
    is read at step 700 like the thesis's Table 3.3 (at the quick settings, at the step the quick table
    reads). ``files`` are the study's CSVs to read (the quick study writes the re-tuned cells apart);
    ``problems`` the thesis codes to show. A cell that has not run reads "not run".
    """
    table = pd.concat([pd.read_csv(FIGURES / name) for name in files], ignore_index=True)
    table = table[table["penal"] == penal].drop_duplicates(["model", "problem", "optimizer", "step_sizes"])
    lines = ["| model | problem | steps | " + " | ".join(LABELS) + " |", "|---" * (len(LABELS) + 3) + "|"]
    for model in ("pixel", "cnn_transpose"):
        for code in problems:
            for steps in ("thesis", "tuned"):
                here = table[(table["model"] == model) & (table["problem"] == code)]
                if not (here["step_sizes"] == steps).any():
                    continue                                  # no constant-step cell ran at this policy
                cells = []
                for label in LABELS:
                    rows = here[here["optimizer"] == label]
                    constant = rows[rows["step_sizes"] == steps]
                    row = constant if len(constant) else rows[rows["step_sizes"] == "-"]
                    if not len(row):
                        cells.append("-")
                        continue
                    row = row.iloc[0]
                    thesis = f" ({row['thesis']:g})" if steps == "thesis" and pd.notna(row["thesis"]) else ""
                    cells.append((cell_text(row) if row["seeds"] else "not run") + thesis)
                name = "thesis's" if steps == "thesis" else "re-tuned"
                lines.append(f"| {model} | {code} | {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def lbfgs_against_gd(name: str, problems=None) -> str:
    """Table 3.2 from the study's CSV ``name``: per problem and row (L-BFGS, GD at its two reads and, where it
    ran, at both step-size policies), the median [min, max] of pixels and of the CNN, each beside the thesis's
    median; a cell where half the runs or more diverged or rose gives those counts. ``problems``: the thesis
    codes to keep (default all)."""
    table = pd.read_csv(FIGURES / name)
    if problems:
        table = table[table["problem"].isin(problems)]
    models = list(dict.fromkeys(table["model"]))
    lines = ["| problem | optimizer | " + " | ".join(f"{m} | thesis" for m in models) + " |",
             "|---" * (2 * len(models) + 2) + "|"]
    for (code, optimizer, steps), rows in table.groupby(["problem", "optimizer", "step_sizes"], sort=False):
        cells = []
        for model in models:
            row = rows[rows["model"] == model]
            if not len(row):
                cells += ["-", "-"]
                continue
            row = row.iloc[0]
            cells += [cell_text(row, spread=True), f"{row['thesis']:g}"]
        read = "" if optimizer == "L-BFGS" else f" (step {int(rows['steps'].iloc[0])}" + (
            ")" if steps in ("-", "thesis") else ", re-tuned step)")
        lines.append(f"| {code} | {optimizer.split()[0]}{read} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def tuned_step_sizes() -> str:
    """Appendix B.7: every step size re-tuned here, from ``tuned_step_sizes.csv``, with the search (B.7's TPE or
    the cheaper grid of ``tune_step_sizes.py --protocol grid``), its budget, its median final loss and the
    thesis's step size (tables B.1-B.3)."""
    table = pd.read_csv(FIGURES / "tuned_step_sizes.csv")
    order = {code: i for i, code in enumerate(("NN3", "P3", "NN1", "P1"))}
    table = table.assign(_family=table["case"].str[:-1].map(order), _problem=table["case"].str[-1])
    table = table.sort_values(["_family", "_problem", "optimizer", "m"], na_position="first", kind="stable")
    protocol = table["protocol"].fillna("tpe") if "protocol" in table else pd.Series("tpe", index=table.index)
    table = table.assign(protocol=protocol)
    edge = table["at_edge"].fillna(False).astype(bool) if "at_edge" in table else pd.Series(False, index=table.index)
    table = table.assign(at_edge=edge)
    lines = ["| case | optimizer | search (log10 lr range) | search budget (steps, seeds) | re-tuned lr | "
             "score (median final loss over the search's seeds) | thesis lr |", "|---|---|---|---|---|---|---|"]
    for row in table.itertuples():
        label = "GD" if row.optimizer == "gd" else f"HD_M{int(row.m)}"
        search = (f"B.7 TPE, {row.trials} trials, {row.range}" if row.protocol == "tpe"
                  else f"grid, {row.trials} runs, {row.range}" + (", best at its edge" if row.at_edge else ""))
        lines.append(f"| {row.case} | {label} | {search} | {row.steps}, {row.seeds} | {row.tuned_lr:.3g} | "
                     f"{row.tuned_median_final:.4g} | {row.thesis_lr:g} |")
    return "\n".join(lines) + "\n"


def interpolation_barriers() -> str:
    """Figure 3.5 (C.13, C.14): the highest barrier of each kind of line, per problem and p, from the
    ``fig_3_5_interpolation_*_summary.csv`` files the study writes."""
    columns = [("A", 3), ("B", 3), ("D", 3), ("E", 3), ("A", 1), ("B", 1)]
    summaries = {c: pd.read_csv(FIGURES / f"fig_3_5_interpolation_{c[0]}_cnn_transpose_p{c[1]}_summary.csv")
                 .set_index("panel") for c in columns}
    rows = [("iterates to the final point", "iterates to the final point (10 lines)"),
            ("between successive iterates", "successive iterates (per segment)"),
            ("random initializations to the final point", "initializations to the final point (4)"),
            ("between random initializations", "between initializations, a in [0, 1] (4)")]
    lines = ["| panel | " + " | ".join(f"{code}, p = {p}" for code, p in columns) + " |",
             "|---" * (len(columns) + 1) + "|",
             "| L-BFGS, loss start -> end | " + " | ".join(
                 f"{s.loc['between successive iterates', 'first_loss']:.4g} -> "
                 f"{s.loc['between successive iterates', 'last_loss']:.4g}" for s in summaries.values()) + " |"]
    for panel, name in rows:
        lines.append(f"| {name} | " + " | ".join(f"{s.loc[panel, 'highest_barrier']:.2g}" for s in summaries.values())
                     + " |")
    return "\n".join(lines) + "\n"


#: How the page words each verdict of ``findings.md`` (studies/findings.py's ``VERDICTS``), in its order.
VERDICT_WORDS = {"holds": "hold", "fails": "fail", "no significant difference": "show no significant difference",
                 "inconclusive": "are inconclusive", "untested": "are untested"}


def findings_counts() -> str:
    """The verdict counts of ``findings.md``, counted from its rows (the bold verdict of each), as one line.

    Raises:
        KeyError: a row has a verdict the page has no words for (findings.py gained one).
    """
    counts = Counter(re.findall(r"\| \*\*([^*|]+)\*\* \|", (FIGURES / "findings.md").read_text()))
    unknown = set(counts) - set(VERDICT_WORDS)
    if unknown:
        raise KeyError(f"findings.md has verdicts {sorted(unknown)} that gallery_tables.VERDICT_WORDS does not word")
    parts = [f"{counts[verdict]} {word}" for verdict, word in VERDICT_WORDS.items()]
    return f"Verdicts over all {sum(counts.values())} rows: " + ", ".join(parts[:-1]) + f" and {parts[-1]}.\n"


GENERATED = {"table_3_3_p3": lambda: decomposition_summary(3.0), "table_3_3_p1": lambda: decomposition_summary(1.0),
             "table_3_3_DE_p3": lambda: decomposition_summary(3.0, problems=("D", "E")),
             "table_3_3_DE_p1": lambda: decomposition_summary(1.0, problems=("D", "E")),
             "table_3_3_quick": lambda: decomposition_summary(3.0, ("table_3_3_decomposition_quick.csv",
                                                                   "table_3_3_decomposition_cnn_transpose_quick_tuned.csv")),
             "table_3_2_quick": lambda: lbfgs_against_gd("table_3_2_lbfgs_vs_gd_quick.csv"),
             "table_3_2_DE": lambda: lbfgs_against_gd("table_3_2_lbfgs_vs_gd.csv", ("D", "E")),
             "table_3_2_tuned_AB": lambda: lbfgs_against_gd("table_3_2_lbfgs_vs_gd_tuned.csv", ("A", "B")),
             "tuned_step_sizes": tuned_step_sizes, "fig_3_5_barriers": interpolation_barriers,
             "findings_counts": findings_counts}


def rebuild(text: str) -> str:
    """``text`` with every generated block rebuilt.

    Raises:
        KeyError: a block names no generator here.
    """
    return BLOCK.sub(lambda m: m[1] + GENERATED[m["name"]]() + m[4], text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 when a block is stale")
    args = parser.parse_args(argv)
    text = PAGE.read_text()
    names = [m["name"] for m in BLOCK.finditer(text)]
    fresh = rebuild(text)
    if args.check:
        if fresh != text:
            print(f"{PAGE}: generated blocks are stale ({', '.join(names)}); run studies/gallery_tables.py")
            return 1
        print(f"{PAGE}: {len(names)} generated blocks up to date")
        return 0
    PAGE.write_text(fresh)
    print(f"{PAGE}: rebuilt {', '.join(names) or 'no blocks'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
