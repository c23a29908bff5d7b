"""Every public name of ``landscape`` and ``probes`` is documented (issue 28).

A public name is a function or class in a module's ``__all__`` (defined in this project, not
re-exported from a library), and each public method and property of such a class. It counts
as documented when it has a docstring that names every one of its parameters (a class: its
docstring and its ``__init__``'s together). The docstrings follow the Google convention
(``Args:``, ``Returns:``, ``Raises:``) that the API reference renders (docs/, mkdocstrings).
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import landscape
import probes

THRESHOLD = 0.95


def _modules():
    for package in (landscape, probes):
        yield package
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            yield importlib.import_module(info.name)


def _parameters(obj) -> list[str]:
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return []
    return [name for name, p in signature.parameters.items()
            if name not in ("self", "cls") and not name.startswith("_")
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _ours(obj) -> bool:
    return getattr(obj, "__module__", "").split(".")[0] in ("landscape", "probes")


def public_names() -> dict[str, tuple[str, list[str]]]:
    """``{qualified name: (docstring, parameters)}`` for every public name."""
    names, seen = {}, set()
    for module in _modules():
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name, None)
            if not (inspect.isfunction(obj) or inspect.isclass(obj)) or not _ours(obj) or id(obj) in seen:
                continue
            seen.add(id(obj))
            qualified = f"{obj.__module__}.{obj.__qualname__}"
            if inspect.isfunction(obj):
                names[qualified] = (obj.__doc__ or "", _parameters(obj))
                continue
            init = vars(obj).get("__init__")
            init_doc = init.__doc__ if inspect.isfunction(init) else ""
            names[qualified] = ((obj.__doc__ or "") + "\n" + (init_doc or ""), _parameters(obj))
            for attribute, value in vars(obj).items():
                if attribute.startswith("_") and attribute != "__call__":
                    continue
                if isinstance(value, property):
                    names[f"{qualified}.{attribute}"] = (value.fget.__doc__ or "", [])
                elif isinstance(value, (staticmethod, classmethod)) or inspect.isfunction(value):
                    function = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
                    names[f"{qualified}.{attribute}"] = (function.__doc__ or "", _parameters(function))
    return names


def undocumented() -> dict[str, str]:
    """``{qualified name: what is missing}``."""
    missing = {}
    for name, (doc, parameters) in public_names().items():
        if not doc.strip():
            missing[name] = "no docstring"
            continue
        absent = [p for p in parameters if not re.search(rf"\b{re.escape(p)}\b", doc)]
        if absent:
            missing[name] = "parameters not described: " + ", ".join(absent)
    return missing


def test_public_names_are_documented():
    names, missing = public_names(), undocumented()
    coverage = 1 - len(missing) / len(names)
    listing = "\n".join(f"  {name}: {what}" for name, what in sorted(missing.items()))
    assert len(names) > 300, f"only {len(names)} public names found: the walk missed modules"
    assert coverage >= THRESHOLD, f"{coverage:.1%} of {len(names)} public names documented; missing:\n{listing}"


if __name__ == "__main__":    # python tests/test_docstrings.py [module prefix]: what is missing
    import sys
    prefix = sys.argv[1] if len(sys.argv) > 1 else ""
    found = {k: v for k, v in undocumented().items() if k.startswith(prefix)}
    total = len(public_names())
    print(f"{1 - len(undocumented()) / total:.1%} of {total} documented")
    for name, what in sorted(found.items()):
        print(f"{name}: {what}")
