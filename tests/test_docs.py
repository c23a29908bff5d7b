"""The documentation site builds strictly, and its tutorial code runs (issue 28).

- ``mkdocs build --strict`` (offline) into a temporary folder: a broken link, a missing page or
  an API reference that does not resolve fails the build.
- Every code block in ``docs/`` whose first line is ``# (run by tests/test_docs.py)`` runs as
  written: Python blocks in a fresh folder (with ``runs/`` in it), bash blocks from the
  repository root with ``python`` being this interpreter; both with ``LANDSCAPE_OUT`` set to a
  fresh output folder. Blocks of one page run in order and share that page's output folder.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
MARK = "# (run by tests/test_docs.py)"
PAGES = sorted(path for path in DOCS.rglob("*.md") if MARK in path.read_text())


def _blocks(page: Path) -> list[tuple[str, str]]:
    return [(language, code) for language, code in
            re.findall(r"```(python|bash)\n(.*?)```", page.read_text(), flags=re.S) if code.startswith(MARK)]


def test_the_tutorials_have_tested_code():
    names = {page.relative_to(DOCS).as_posix() for page in PAGES}
    for tutorial in ("tutorials/reproduce.md", "tutorials/own-optimizer.md", "tutorials/explore-traces.md"):
        assert tutorial in names, f"{tutorial} has no tested block"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(DOCS).as_posix())
def test_page_code_runs(page, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    out.mkdir()
    work = tmp_path / "work"
    (work / "runs").mkdir(parents=True)
    monkeypatch.setenv("LANDSCAPE_OUT", str(out))
    monkeypatch.chdir(work)
    python = Path(sys.executable)
    for number, (language, code) in enumerate(_blocks(page)):
        if language == "python":
            exec(compile(code, f"{page.name} block {number}", "exec"), {"__name__": "__docs__"})
            continue
        env = {**os.environ, "LANDSCAPE_OUT": str(out), "PATH": f"{python.parent}{os.pathsep}{os.environ['PATH']}"}
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=1200)
        assert done.returncode == 0, f"{page.name} block {number}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def test_the_site_builds_strictly(tmp_path):
    mkdocs = Path(sys.executable).with_name("mkdocs")
    assert mkdocs.exists(), "mkdocs is not installed: `make setup` installs the docs extra"
    done = subprocess.run([str(mkdocs), "build", "--strict", "--site-dir", str(tmp_path / "site")], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-6000:]
    for page in ("index.html", "tutorials/own-optimizer.html", "reference/cli.html", "results/index.html",
                 "reference/api/probes.html"):
        assert (tmp_path / "site" / page).exists(), page
    cli = (tmp_path / "site" / "reference" / "cli.html").read_text()
    assert "landscape sweep" in cli and "--deterministic" in cli          # generated from the parser


def test_rest_in_docstrings_is_fenced_for_the_markdown_reference():
    """Simple tables, literal blocks and aligned lists keep their layout; Sphinx roles become code."""
    sys.path.insert(0, str(DOCS))
    try:
        from griffe_roles import rest_to_markdown
    finally:
        sys.path.remove(str(DOCS))
    text = ("Intro, see :class:`~landscape.Objective`::\n\n    x = 1\n    y = 2\n\nAfter.\n\n"
            "====  ====\na     b\n====  ====\nc     d\n====  ====\n\n``gd``    constant step\n``hd``    two-loop\n")
    out = rest_to_markdown(text)
    assert "Intro, see ``Objective``:\n\n```text\nx = 1\ny = 2\n```" in out
    assert "```text\n====  ====\na     b\n====  ====\nc     d\n====  ====\n```" in out
    assert "```text\n``gd``    constant step\n``hd``    two-loop\n```" in out
