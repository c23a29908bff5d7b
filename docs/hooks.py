"""MkDocs hooks (mkdocs.yml ``hooks:``): pages that are generated from the code, so they cannot drift.

- ``reference/cli.md``: the marker ``<!-- cli-help -->`` becomes the ``--help`` of ``landscape`` and of each
  sub-command, printed by the CLI's own parser (``landscape.cli.parser``).
- ``reference/trace-schema.md``: ``landscape/trace-schema.md``, the schema next to the code that writes it.

``docs/results`` is a symbolic link to ``figures/``: the committed reference (its README, tables, findings
and PNGs) is the Results section, so the gallery and the figures it shows are the committed files themselves.
"""
from __future__ import annotations

import argparse
import io
from contextlib import redirect_stdout
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parent.parent


def _help(parser: argparse.ArgumentParser) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        parser.print_help()
    return out.getvalue()


def cli_reference() -> str:
    """Markdown with the help of ``landscape`` and of each of its sub-commands."""
    from landscape.cli import parser as build_parser
    top = build_parser()
    parts = ["## `landscape`\n", "```text\n" + _help(top) + "```\n"]
    for action in top._subparsers._group_actions:          # argparse keeps its sub-parsers here
        for name, sub in action.choices.items():
            parts += [f"## `landscape {name}`\n", "```text\n" + _help(sub) + "```\n"]
    return "\n".join(parts)


def on_files(files, config):
    files.append(File.generated(config, "reference/trace-schema.md",
                                abs_src_path=str(ROOT / "landscape" / "trace-schema.md")))
    return files


def on_page_markdown(markdown, page, config, files):
    if page.file.src_uri == "reference/cli.md":
        return markdown.replace("<!-- cli-help -->", cli_reference())
    return markdown
