"""A loss-landscape and optimizer diagnostics toolkit for neurally reparameterized topology optimization.

The twice-differentiable graph: parameters -> logits (:mod:`landscape.models`)
-> constrained, filtered density (:mod:`landscape.design`) -> SIMP finite
elements and compliance (:mod:`landscape.physics`), composed by
:class:`landscape.Objective`.
"""
from . import design, models, optim, physics, precision, problems, threads
from .objective import FunctionObjective, HessianOperator, LinearOperator, Objective
from .recorder import Recorder
from .reports import report
from .runner import RunResult, run, run_spec
from .spec import RunSpec
from .trace import Trace, TraceWriter, open_trace

from ._version import __version__

__all__ = ["Objective", "FunctionObjective", "HessianOperator", "LinearOperator", "RunResult", "Recorder", "Trace", "TraceWriter", "design", "models", "optim",
           "physics", "precision", "problems", "threads", "run", "run_spec", "RunSpec", "open_trace", "report", "__version__"]
