"""A griffe extension for the API reference: the code's reStructuredText habits, read as Markdown.

mkdocstrings reads docstrings as Markdown; the code base writes some reST, which this rewrites on load:

- Sphinx roles (``:class:`Foo```, ``:meth:`~a.b```) become inline code;
- a paragraph ending in ``::`` and the indented block after it become a fenced code block;
- simple tables (``===  ===`` borders) and aligned lists of ````name````  description lines become
  fenced text blocks, so their columns stay aligned.
"""
from __future__ import annotations

import re
import textwrap

import griffe

ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|obj|exc|ref):`(~?)([^`]+)`")
BORDER = re.compile(r"^\s*=+(\s+=+)+\s*$")
ALIGNED = re.compile(r"^``[^`]+``\s{2,}\S")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def rest_to_markdown(text: str) -> str:
    """``text`` with reST literal blocks, simple tables and aligned lists fenced, and roles as code."""
    lines, out, i = text.split("\n"), [], 0
    while i < len(lines):
        line = lines[i]
        if BORDER.match(line):                                   # a simple table: three borders
            block, borders = [], 0
            while i < len(lines) and borders < 3:
                borders += bool(BORDER.match(lines[i]))
                block.append(lines[i])
                i += 1
            out += ["```text", *block, "```"]
            continue
        if line.rstrip().endswith("::"):                         # a literal block follows
            head = line.rstrip()[:-1]
            out.append("" if head.strip() == ":" else head)
            i += 1
            while i < len(lines) and not lines[i].strip():
                i += 1
            depth = _indent(lines[i]) if i < len(lines) else 0
            block = []
            while i < len(lines) and depth and (not lines[i].strip() or _indent(lines[i]) >= depth):
                block.append(lines[i])
                i += 1
            while block and not block[-1].strip():
                block.pop()
            out += ["", "```text", *textwrap.dedent("\n".join(block)).split("\n"), "```", ""]
            continue
        if ALIGNED.match(line):                                  # ``name``   description, aligned
            block = []
            while i < len(lines) and lines[i].strip():
                block.append(lines[i])
                i += 1
            out += ["```text", *block, "```"]
            continue
        out.append(line)
        i += 1
    return ROLE.sub(lambda m: f"``{m[2].rsplit('.', 1)[-1] if m[1] else m[2]}``", "\n".join(out))


class SphinxRolesAsCode(griffe.Extension):
    """Rewrite each docstring with :func:`rest_to_markdown` as griffe loads it."""

    def on_instance(self, *, node, obj, agent, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rest_to_markdown(obj.docstring.value)
