"""Optional dependencies: each serves one edge feature and is an extra of the package.

==============  ==================================  =====================================
extra           installs                            needed by
==============  ==================================  =====================================
``sweep``       dask[distributed]                   :func:`landscape.sweep.run_sweep`, ``landscape sweep``
``yaml``        pyyaml                              YAML sweep configs (TOML needs nothing)
``mma``         nlopt                               the ``mma`` baseline optimizer
``tuning``      optuna                              :mod:`experiments.tuning`
``shapes``      scikit-image                        the ``hoop`` and ``staircase`` problems
``xarray``      xarray                              :meth:`landscape.Trace.to_xarray`
``report``      plotly, jinja2                      :func:`landscape.report`, ``landscape report``
``predict``     scikit-learn                        ``studies/sec_4_1_predict.py`` (cross-validated predictors)
``all``         every one of these                  (``make setup`` installs it)
==============  ==================================  =====================================
"""
from __future__ import annotations

import importlib

__all__ = ["MissingDependency", "require", "EXTRAS"]

EXTRAS = {"distributed": "sweep", "dask": "sweep", "yaml": "yaml", "nlopt": "mma", "optuna": "tuning",
          "skimage": "shapes", "xarray": "xarray", "plotly": "report", "jinja2": "report", "sklearn": "predict"}
_PACKAGES = {"distributed": "dask[distributed]", "dask": "dask[distributed]", "yaml": "pyyaml",
             "skimage": "scikit-image", "sklearn": "scikit-learn"}


class MissingDependency(ImportError):
    """An optional dependency that a feature needs is not installed."""


def require(module: str, feature: str):
    """Import and return ``module``, or raise :class:`MissingDependency` naming the extra that installs it.

    Args:
        module: dotted module name to import, e.g. ``"plotly.graph_objects"``; its top-level package picks
            the extra from :data:`EXTRAS` (``all`` when it is not listed).
        feature: what needs the module, in words; it starts the error message.

    Returns:
        The imported module.

    Raises:
        MissingDependency: if importing ``module`` raises ``ImportError``; the message gives the pip
            command that installs the extra and the package.
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        extra = EXTRAS.get(module.split(".")[0], "all")
        package = _PACKAGES.get(module.split(".")[0], module.split(".")[0])
        raise MissingDependency(f"{feature} needs {package}, which is not installed: "
                                f"pip install 'nrto-landscape[{extra}]' (or pip install {package})") from None
