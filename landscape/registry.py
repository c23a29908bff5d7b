"""Probes and plot kinds by name, for the command line, sweeps and plots.

The probes and plot kinds this repository ships are listed here, so they are
found in a plain checkout too (nothing needs to be pip-installed). Other
packages add their own through entry points, read once per process::

    [project.entry-points."landscape.probes"]
    my_probe = "my_package.probes:MyProbe"          # a class: MyProbe(**options)

    [project.entry-points."landscape.plot_kinds"]
    my_plot = "my_package.plots:my_plot"            # a function: my_plot(trace) -> Figure

    [project.entry-points."landscape.optimizers"]
    my_optimizer = "my_package.optim:build"         # a factory: build(**options) -> landscape.optim.Optimizer

A third-party name that is already taken by a built-in one is ignored, so an
installed package cannot silently change what ``--probe hutchinson`` measures.
Targets are ``module:attribute`` strings, imported only when used: the core
(``landscape``) never imports the ``probes`` package at import time.
"""
from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

__all__ = ["RegistryError", "BUILTIN_PROBES", "BUILTIN_PLOT_KINDS", "probe_names", "probe_class",
           "build_probe", "plot_kind_names", "plot_kind", "optimizer_names", "optimizer_factory"]

BUILTIN_PROBES = {
    "hutchinson": "probes.curvature:HutchinsonProbe",
    "eigenvalues": "probes.curvature:EigenvalueProbe",
    "overlap": "probes.curvature:OverlapProbe",
    "hessian_density": "probes.curvature:HessianDensityProbe",
    "lbfgs_density": "probes.curvature:LBFGSDensityProbe",
    "b_vs_h": "probes.curvature:BvsHProbe",
    "trajectory": "probes.trajectory:TrajectoryProbe",
    "ntk": "probes.ntk:NTKProbe",
}
BUILTIN_PLOT_KINDS = {
    "pca": "probes.plots:trace_pca",
    "surface": "probes.plots:trace_surface",
    "interpolation": "probes.plots:trace_interpolation",
}


class RegistryError(ValueError):
    """An unknown name, or options a probe does not take."""


@functools.cache
def _table(group: str) -> dict[str, str]:
    # the built-in optimizers live in landscape.optim itself (its _FACTORIES), which also keeps their names
    builtin = {"landscape.probes": BUILTIN_PROBES, "landscape.plot_kinds": BUILTIN_PLOT_KINDS}.get(group, {})
    table = dict(builtin)
    for ep in entry_points(group=group):
        table.setdefault(ep.name, ep.value)
    return table


def _load(target: str) -> Any:
    module, _, attribute = target.partition(":")
    value = importlib.import_module(module)
    for part in attribute.split("."):
        value = getattr(value, part)
    return value


def probe_names() -> list[str]:
    """Every probe that ``--probe NAME`` and a sweep's ``probes`` accept."""
    return sorted(_table("landscape.probes"))


def probe_class(name: str) -> Callable:
    """The probe class registered as ``name``."""
    table = _table("landscape.probes")
    if name not in table:
        raise RegistryError(f"unknown probe {name!r}; available: {', '.join(sorted(table))}")
    return _load(table[name])


def build_probe(name: str, options: dict | None = None):
    """The probe ``name`` built with ``options`` (keyword arguments of its class)."""
    cls = probe_class(name)
    try:
        return cls(**(options or {}))
    except TypeError as error:
        raise RegistryError(f"bad options for probe {name!r}: {error}") from None


def plot_kind_names() -> list[str]:
    """Plot kinds registered here or by installed packages (beyond the built-in curves of :mod:`landscape.plots`)."""
    return sorted(_table("landscape.plot_kinds"))


def plot_kind(name: str) -> Callable | None:
    """The function ``trace -> Figure`` registered as ``name``, or None."""
    target = _table("landscape.plot_kinds").get(name)
    return None if target is None else _load(target)


def optimizer_names() -> list[str]:
    """Optimizers that installed packages register in the ``landscape.optimizers`` entry-point group.

    The built-in ones are :data:`landscape.optim.NAMES`; :func:`landscape.optim.build` looks here
    only for a name that is not built in, so a package cannot change what ``lbfgs`` means.
    """
    return sorted(_table("landscape.optimizers"))


def optimizer_factory(name: str) -> Callable | None:
    """The factory ``build(**options) -> Optimizer`` registered as ``name``, or None."""
    target = _table("landscape.optimizers").get(name)
    return None if target is None else _load(target)
