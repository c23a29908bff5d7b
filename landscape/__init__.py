"""A loss-landscape and optimizer diagnostics toolkit for neurally reparameterized topology optimization.

The twice-differentiable graph: parameters -> logits (:mod:`landscape.models`)
-> constrained, filtered density (:mod:`landscape.design`) -> SIMP finite
elements and compliance (:mod:`landscape.physics`), composed by
:class:`landscape.Objective`.

With ``LANDSCAPE_DETERMINISTIC=1`` in the environment, the numerical kernels are
pinned before torch and NumPy load (:mod:`landscape.numerics`).
"""
from . import numerics

if numerics.requested():
    numerics.pin_environment()

from . import design, models, optim, physics, precision, problems, threads
from ._version import __version__
from .objective import FunctionObjective, HessianOperator, LinearOperator, Objective
from .recorder import Recorder
from .reports import report
from .runner import RunResult, run, run_spec
from .spec import RunSpec
from .trace import Trace, TraceWriter, open_trace

if numerics.active():
    numerics.configure_torch()
    numerics.warn_if_incomplete()

__all__ = ["Objective", "FunctionObjective", "HessianOperator", "LinearOperator", "RunResult", "Recorder", "Trace",
           "TraceWriter", "design", "models", "numerics", "optim", "physics", "precision", "problems", "threads",
           "run", "run_spec", "RunSpec", "open_trace", "report", "__version__"]
