"""Check that every number the results page (``figures/README.md``) quotes is held by a committed file.

A number on the page is a measurement only if a script wrote it into a file beside the page: a CSV, a
Markdown table or a JSON file in ``figures/`` (the per-seed loss curves under ``curves/`` are not
searched: a quoted number must come from a summary a script wrote, not from one of a million steps).
This check reads the page section by section (``## `` headings), leaves out what is not a measurement,
and reports every number that no file the section cites holds at the precision it is quoted with. A
section cites the summaries whose names start with a file or script name it gives (:func:`cited_files`);
a section that names no file has nothing to quote from.

What is not a measurement, and so not checked:

* references to the thesis's figures, tables, sections and equations ("Figure 3.3", "C.15", "B.1-B.3",
  "section 4.1"), file names, code spans, links and HTML comments;
* grid sizes ("31 x 31", "128 x 128"), instruction sets ("AVX-512", "AVX2"), the years of citations
  ("Li et al. 2018") and the markers of numbered lists;
* wall times (a number followed by s, seconds, min, minutes, h or hours): they are machine facts, not
  results, and no trace is committed that holds them;
* zero, which the page uses as a boundary ("a bulk around 0", "never above 0");
* the numbers of the protocol itself: counts of seeds, steps, evaluations, trials, points, lines,
  workers, cores, snapshots and of the thesis's problems, and the penalization and memory (p = 3,
  m = 10), all of which the run specs fix.

A quoted number ``q`` with ``d`` decimals (or ``d`` significant digits in scientific notation) is held by
a file value ``v`` when ``v`` rounds to ``q``; a percentage ``q %`` is also held by ``v`` with
``100 v`` rounding to ``q`` (a relative difference written as a fraction) or by a ratio ``v`` with
``100 |v - 1|`` rounding to ``q`` ("7.5 % higher" from a ratio of 1.075). Negative numbers are matched
by their magnitude, so "-9 %" is held by a difference of -0.09.

What the check cannot tell: a quoted number that some cited file holds for another reason (an
unrelated cell that rounds to it) passes. It catches numbers that no file holds, including stale ones
whose file has moved on, not numbers taken from the wrong row.

    python studies/gallery_numbers.py          # list every number of the page that no file holds; exit 1 if any
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

FIGURES = Path(__file__).resolve().parent.parent / "figures"
PAGE = FIGURES / "README.md"

NUMBER = re.compile(r"(?<![\w.])(\d+(?:[  ]\d{3})*(?:,\d{3})*(?:\.\d+)?(?:e[+-]?\d+)?)(?![\w])(\s?%)?",
                    re.I)
# thesis labels: Figure 3.3, Table B.2, C.13, section 4.1, eq. (2.3), B.1-B.3, {A,B}
REFERENCE = re.compile(r"(?:\b(?:Figures?|Fig\.|Tables?|[Ss]ections?|[Aa]ppendix|[Ee]q\.?|chapters?)\s+)"
                       r"(?:[A-Z]?\d+(?:\.\d+)*(?:\s*(?:,|and|/|-|to)\s*)?)+"
                       r"|\b[BC]\.\d+(?:-[BC]?\.?\d+)?\b|\b\d\.\d+(?=\s*(?:/|and)\s*C\.\d)")
RANGE = re.compile(r"\s*(?:-|to|and|,)\s*")
GRID = re.compile(r"\b\d+\s*x\s*\d+\b(?:\^2)?")
WALL_TIME = re.compile(r"\d+(?:\.\d+)?(?:\s*(?:to|-)\s*\d+(?:\.\d+)?)?\s*(?:s|seconds?|min|minutes?|h|hours?)\b")
PROTOCOL_WORDS = ("seeds?", "steps?", "evaluations?", "trials?", "points?", "lines?", "workers?", "cores?",
                  "snapshots?", "runs?", "tasks?", "digits?", "problems?", "cells?", "parameters?", "samples?",
                  "vectors?", "directions?", "iterations?", "probes?", "panels?", "rows?", "columns?", "files?",
                  "threads?", "layers?", "channels?", "pairs?", "claims?", "initializations?", "bins?")
PROTOCOL = re.compile(r"(?<![\d.,])\b\d+(?:,\d{3})*(?:\s*(?:to|-|and|or)\s*\d+(?:,\d{3})*)*[\s-]+(?:\w+[- ]){0,2}?(?:"
                      + "|".join(PROTOCOL_WORDS) + r")\b"
                      r"|\b(?:p|m|k|o|seed|seeds|step|a|lr|log10 lr)\s*=\s*[\d.,\s]+(?:and\s+\d+)?"
                      r"|\b(?:seeds?|widths?)\s+\d+(?:\s*-\s*\d+)?|\bsteps?\s+\d+(?:\s*(?:-|to|and)\s*\d+)?"
                      r"|\b(?:m|p)\s+\d+\b|(?<![\d.,])\b\d+\s+of\s+\d+\b|\bof\s+\d+\b")
STRIP = (re.compile(r"```.*?```", re.S), re.compile(r"<!--.*?-->", re.S), re.compile(r"`[^`]*`"),
         re.compile(r"\]\([^)]*\)"), re.compile(r"!\[[^\]]*\]"), re.compile(r"https?://\S+"),
         re.compile(r"\b[\w./-]+\.(?:png|csv|md|json|jsonl|py|h5|html)\b"),
         re.compile(r"\bAVX-?\d+\w*"), re.compile(r"\bet al\.,?\s*\(?\d{4}\)?"),
         re.compile(r"^\s*\d+\.(?=\s)"))


def prose_numbers(text: str) -> list[tuple[int, str, bool]]:
    """The numbers of ``text`` that are measurements: (line number, number as written, is a percentage)."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("#"):          # headings name figures and sections
            continue
        for pattern in STRIP + (REFERENCE, GRID, WALL_TIME, PROTOCOL):
            line = pattern.sub(lambda m: " " * len(m.group(0)), line)
        matches = list(NUMBER.finditer(line))
        for match, following in zip(matches, matches[1:] + [None]):
            if float(re.sub(r"[^\d.e+-]", "", match.group(1), flags=re.I) or 1) == 0:
                continue                        # zero is a boundary ("a bulk around 0"), not a measurement
            # the first number of a range of percentages ("22-30 %", "0.14 to 0.93 %") is one too
            percent = bool(match.group(2)) or bool(
                following and following.group(2) and RANGE.fullmatch(line[match.end():following.start()]))
            found.append((number, match.group(1), percent))
    return found


FILE_NAME = re.compile(r"[\w.{},*-]+\.(?:png|csv|md|json|py)\b")


def cited_files(section: str, folder: Path = FIGURES, page: Path = PAGE) -> list[Path]:
    """The committed summaries a section of the page cites: every CSV, Markdown or JSON file of ``folder``
    whose name starts with the stem of a file or script the section names (``fig_3_3_plane.py`` cites
    ``fig_3_3_plane_D_cnn_transpose.csv``; ``fig_3_5_interpolation_{A,B}_cnn_transpose_p3.png`` cites the
    CSVs of both panels). The per-seed curves are not summaries and are never cited."""
    stems = set()
    for name in FILE_NAME.findall(section):
        name = Path(name).name
        for variant in _expand_braces(name):
            stem = variant.rsplit(".", 1)[0].split("*")[0].rstrip("_.")
            stems.add(stem)
    return [path for path in sorted(folder.iterdir())
            if path.suffix in (".csv", ".md", ".json") and path.resolve() != page.resolve()
            and any(stem and path.name.startswith(stem) for stem in stems)]


def _expand_braces(name: str) -> list[str]:
    """``a_{A,B}_c`` -> ``a_A_c``, ``a_B_c`` (one level, as the page writes them)."""
    match = re.search(r"\{([^{}]*)\}", name)
    if not match:
        return [name]
    return [name[:match.start()] + option + name[match.end():] for option in match.group(1).split(",")]


def file_values(paths) -> set[float]:
    """Every number (by magnitude) in the files ``paths``."""
    values = set()
    for path in paths:
        text = path.read_text(errors="replace")
        for token in re.findall(r"\d+(?:\.\d+)?(?:e[+-]?\d+)?", text, re.I):
            values.add(float(token))
    return values


def _quoted(token: str) -> tuple[float, int, bool]:
    """The quoted value, the digits it is quoted with, and whether they are significant digits
    (scientific notation, or an integer of three or more digits ending in zeros) or decimals."""
    clean = re.sub(r"[,\s\u202f\u00a0]", "", token)
    value = float(clean)
    if "e" in clean.lower():
        mantissa = clean.lower().split("e")[0]
        return value, max(len(mantissa.replace(".", "").lstrip("0")), 1), True
    if "." in clean:
        return value, len(clean.split(".")[1]), False
    if len(clean) >= 3 and clean.endswith("0"):
        return value, max(len(clean.rstrip("0")), 1), True
    return value, 0, False


def held(token: str, percent: bool, values: set[float]) -> bool:
    """Whether some value of ``values`` rounds to the quoted ``token`` (see the module docstring)."""
    quoted, digits, significant = _quoted(token)
    for scale, shift in (((1.0, 0.0), (100.0, 0.0), (100.0, -1.0), (-100.0, 1.0)) if percent else ((1.0, 0.0),)):
        for value in values:
            x = (value + shift) * scale
            if significant:
                if x > 0 and float(f"{x:.{digits - 1}e}") == quoted:
                    return True
            elif round(x, digits) == quoted:
                return True
    return False


def sections(text: str) -> list[tuple[int, str]]:
    """The page cut at its ``## `` headings: (first line number, text); the lines before the first heading
    make the first section."""
    lines, starts = text.splitlines(keepends=True), [0]
    starts += [i for i, line in enumerate(lines) if line.startswith("## ") and i]
    return [(start + 1, "".join(lines[start:end])) for start, end in zip(starts, starts[1:] + [len(lines)])]


def unheld(page: Path = PAGE, folder: Path = FIGURES) -> list[tuple[int, str]]:
    """The numbers of ``page`` that no file cited by their section holds: (line number, number as written)."""
    missing = []
    for first, section in sections(page.read_text()):
        values = file_values(cited_files(section, folder, page))
        missing += [(first + line - 1, token + (" %" if percent else ""))
                    for line, token, percent in prose_numbers(section) if not held(token, percent, values)]
    return missing


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--page", type=Path, default=PAGE, help="the page to check (default figures/README.md)")
    args = parser.parse_args(argv)
    missing = unheld(args.page, args.page.parent)
    lines = args.page.read_text().splitlines()
    for line, token in missing:
        print(f"{args.page.name}:{line}: {token} is held by no committed file: {lines[line - 1].strip()[:100]}")
    print(f"{len(missing)} numbers of {args.page.name} are held by no committed file" if missing
          else f"every number of {args.page.name} is held by a committed file")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
