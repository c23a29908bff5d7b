"""A griffe extension for the API reference: Sphinx roles in docstrings (``:class:`Foo```, ``:meth:`~a.b```)
become inline code, since the docstrings are read as Markdown by mkdocstrings."""
from __future__ import annotations

import re

import griffe

ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|obj|exc|ref):`~?([^`]+)`")


class SphinxRolesAsCode(griffe.Extension):
    """Rewrite ``:role:`target``` to ``target`` (the last dotted part when the target starts with ``~``)."""

    def on_instance(self, *, node, obj, agent, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = ROLE.sub(lambda m: f"``{m[1]}``", obj.docstring.value)
