"""Optimizers, decomposed as in the thesis: a direction rule times a step rule, plus references.

=================  ===========================  =========================  ===================
name               direction                    step                       thesis name
=================  ===========================  =========================  ===================
``gd``             ``-g``                       constant ``lr``            GD
``gd_ls``          ``-g``                       strong-Wolfe line search   GD_LS
``hd``             ``-H_m g`` (two-loop)        constant ``lr``            HD_M1, HD_M10
``lbfgs``          ``-H_m g`` (two-loop)        strong-Wolfe line search   L-BFGS_M1, L-BFGS
``scipy_lbfgsb``   SciPy's L-BFGS-B as the thesis ran it (maxfun = steps,  L-BFGS (reference)
                   factr 1, pgtol 1e-14), memory reconstructed
``oc``             optimality criteria (pixel only, move 0.2)              Hoyer's baseline
``mma``            NLopt's MMA (pixel only)                                Hoyer's baseline
``adam``           ``torch.optim.Adam``                                    Hoyer's Adam
=================  ===========================  =========================  ===================

``build(name, **options)`` makes one; see :mod:`landscape.optim.base` for the
stepping protocol and :func:`landscape.run` to run one with a budget, a
progress bar, probes and a trace.
"""
from __future__ import annotations

import difflib

from .adam import Adam
from .base import Evaluation, Memory, Optimizer, OptimizerError, Step, check_count, check_positive
from .decomposed import Decomposed
from .directions import LBFGSDirection, LBFGSMemory, SteepestDescent, two_loop
from .mma import MMA
from .oc import OC
from .scipy_lbfgsb import ScipyLBFGSB
from .steps import ConstantStep, StrongWolfe

__all__ = ["build", "NAMES", "Optimizer", "OptimizerError", "Step", "Evaluation", "Memory",
           "Decomposed", "SteepestDescent", "LBFGSDirection", "LBFGSMemory", "two_loop",
           "ConstantStep", "StrongWolfe", "ScipyLBFGSB", "OC", "MMA", "Adam"]


def _wolfe(name, c1=1e-4, c2=0.9, max_iter=10):
    c1 = check_positive(name, "c1", c1)
    c2 = check_positive(name, "c2", c2)
    max_iter = check_count(name, "max_iter", max_iter, minimum=1)
    if not c1 < c2 < 1:
        raise OptimizerError(f"{name}: the strong-Wolfe constants need 0 < c1 < c2 < 1, got c1={c1}, c2={c2}")
    return StrongWolfe(c1, c2, max_iter), {"c1": c1, "c2": c2, "max_iter": max_iter}


def _lr(name, lr):
    if lr is None:
        raise OptimizerError(f"{name} needs a step size: {name}(lr=...) with lr > 0 "
                             f"(the thesis's tuned values are in appendix B, tables B.1 to B.3; "
                             f"experiments.tuning searches one)")
    return check_positive(name, "lr", lr)


def gd(lr=None) -> Decomposed:
    lr = _lr("gd", lr)
    return Decomposed(SteepestDescent(), ConstantStep(lr), "gd", lr=lr)


def gd_ls(**wolfe) -> Decomposed:
    rule, options = _wolfe("gd_ls", **wolfe)
    return Decomposed(SteepestDescent(), rule, "gd_ls", **options)


def hd(m=10, lr=None) -> Decomposed:
    m = check_count("hd", "m", m)
    lr = _lr("hd", lr)
    return Decomposed(LBFGSDirection(m), ConstantStep(lr), "hd", m=m, lr=lr)


def lbfgs(m=10, **wolfe) -> Decomposed:
    m = check_count("lbfgs", "m", m)
    rule, options = _wolfe("lbfgs", **wolfe)
    return Decomposed(LBFGSDirection(m), rule, "lbfgs", m=m, **options)


_FACTORIES = {"gd": gd, "gd_ls": gd_ls, "hd": hd, "lbfgs": lbfgs, "scipy_lbfgsb": ScipyLBFGSB,
              "oc": OC, "mma": MMA, "adam": Adam}
NAMES = tuple(_FACTORIES)


def accepted_options(name: str) -> tuple[str, ...]:
    """The option names optimizer ``name`` takes (the strong-Wolfe ones for the line-search rules)."""
    import inspect
    factory = _FACTORIES[name]
    target = factory.__init__ if inspect.isclass(factory) else factory
    names = [p.name for p in inspect.signature(target).parameters.values()
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"]
    if any(p.kind == p.VAR_KEYWORD for p in inspect.signature(target).parameters.values()):
        names += [p for p in inspect.signature(_wolfe).parameters if p != "name"]
    return tuple(names)


def build(name: str, **options) -> Optimizer:
    """The optimizer called ``name`` (one of :data:`NAMES`) with ``options``."""
    if name not in _FACTORIES:
        close = difflib.get_close_matches(str(name), NAMES, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise OptimizerError(f"unknown optimizer {name!r}{hint}; known: {', '.join(NAMES)}")
    factory = _FACTORIES[name]
    unknown = sorted(set(options) - set(accepted_options(name)))
    if unknown:
        raise OptimizerError(f"unknown option(s) {', '.join(map(repr, unknown))} for optimizer {name!r}; "
                             f"accepted: {', '.join(accepted_options(name)) or 'none'}")
    try:
        return factory(**options)
    except TypeError as error:
        raise OptimizerError(f"bad options for optimizer {name!r}: {error}") from None
