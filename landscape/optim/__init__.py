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
    """Gradient descent with a constant step: the thesis's GD (appendix B.2.2).

    Each step is ``theta+ = theta - lr g`` (direction ``-g``, :class:`ConstantStep`), one evaluation per step.

    Args:
        lr: the step size, a finite number > 0; required (the thesis's tuned values are in appendix B,
            tables B.1 to B.3).

    Returns:
        A :class:`Decomposed` optimizer named ``gd`` with options ``{"lr": lr}``.

    Raises:
        OptimizerError: ``lr`` missing, or not a finite number > 0.
    """
    lr = _lr("gd", lr)
    return Decomposed(SteepestDescent(), ConstantStep(lr), "gd", lr=lr)


def gd_ls(**wolfe) -> Decomposed:
    """Gradient descent with a strong-Wolfe line search: the thesis's GD_LS (appendix B.2.4).

    The direction is ``-g`` and the step comes from :class:`StrongWolfe`; the same steps as :func:`lbfgs`
    with ``m = 0`` (the thesis's "L-BFGS with m = 0").

    Args:
        **wolfe: the line-search constants ``c1`` (default 1e-4), ``c2`` (default 0.9) and ``max_iter``
            (the bracketing trials, default 10).

    Returns:
        A :class:`Decomposed` optimizer named ``gd_ls`` with options ``c1``, ``c2``, ``max_iter``.

    Raises:
        OptimizerError: ``c1`` or ``c2`` not a finite number > 0, not ``0 < c1 < c2 < 1``, or
            ``max_iter`` not an integer >= 1.
    """
    rule, options = _wolfe("gd_ls", **wolfe)
    return Decomposed(SteepestDescent(), rule, "gd_ls", **options)


def hd(m=10, lr=None) -> Decomposed:
    """Hessian descent: the L-BFGS direction with a constant step, the thesis's HD (appendix B.2.3).

    Each step is ``theta+ = theta - lr H_m g`` with ``H_m g`` from the two-loop recursion (thesis
    Algorithm 3) over the last ``m`` curvature pairs; no line search.

    Args:
        m: the number of curvature pairs kept, an integer >= 0 (default 10; the thesis ran 1 and 10,
            HD_M1 and HD_M10; 0 keeps none, which is plain gradient descent).
        lr: the step size, a finite number > 0; required (thesis appendix B, tables B.2 and B.3).

    Returns:
        A :class:`Decomposed` optimizer named ``hd`` with options ``{"m": m, "lr": lr}``.

    Raises:
        OptimizerError: ``m`` not an integer >= 0, or ``lr`` missing or not a finite number > 0.
    """
    m = check_count("hd", "m", m)
    lr = _lr("hd", lr)
    return Decomposed(LBFGSDirection(m), ConstantStep(lr), "hd", m=m, lr=lr)


def lbfgs(m=10, **wolfe) -> Decomposed:
    """L-BFGS: the two-loop direction with a strong-Wolfe line search (thesis L-BFGS and L-BFGS_M1).

    The direction is ``-H_m g`` (:class:`LBFGSDirection`), the step :class:`StrongWolfe`; when the search fails
    along a quasi-Newton direction the memory is dropped and the search retried along ``-g`` (see
    :mod:`landscape.optim.decomposed`).

    Args:
        m: the number of curvature pairs kept, an integer >= 0 (default 10).
        **wolfe: the line-search constants ``c1`` (default 1e-4), ``c2`` (default 0.9) and ``max_iter``
            (default 10), as for :func:`gd_ls`.

    Returns:
        A :class:`Decomposed` optimizer named ``lbfgs`` with options ``m``, ``c1``, ``c2``, ``max_iter``.

    Raises:
        OptimizerError: ``m`` not an integer >= 0, or bad line-search constants (see :func:`gd_ls`).
    """
    m = check_count("lbfgs", "m", m)
    rule, options = _wolfe("lbfgs", **wolfe)
    return Decomposed(LBFGSDirection(m), rule, "lbfgs", m=m, **options)


_FACTORIES = {"gd": gd, "gd_ls": gd_ls, "hd": hd, "lbfgs": lbfgs, "scipy_lbfgsb": ScipyLBFGSB,
              "oc": OC, "mma": MMA, "adam": Adam}
NAMES = tuple(_FACTORIES)


def accepted_options(name: str) -> tuple[str, ...]:
    """The option names optimizer ``name`` takes (the strong-Wolfe ones for the line-search rules).

    Read from the signature of the optimizer's factory or class; a factory taking ``**wolfe``
    (``gd_ls``, ``lbfgs``) also accepts ``c1``, ``c2`` and ``max_iter``.

    Args:
        name: an optimizer name, one of :data:`NAMES`.

    Returns:
        The accepted keyword names, in signature order.

    Raises:
        KeyError: ``name`` is not one of :data:`NAMES`.
    """
    import inspect
    factory = _factory(name)
    if factory is None:
        raise KeyError(name)
    parameters = _parameters(factory)
    names = [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"]
    if name in _FACTORIES and _takes_any_keyword(factory):
        names += [p for p in inspect.signature(_wolfe).parameters if p != "name"]
    return tuple(names)


def _factory(name: str):
    """The built-in factory ``name``, else one an installed package registers (``landscape.optimizers``
    entry points, :mod:`landscape.registry`), else None."""
    if name in _FACTORIES:
        return _FACTORIES[name]
    from landscape.registry import optimizer_factory
    return optimizer_factory(name)


def _parameters(factory) -> list:
    """The parameters of a factory function, or of a class's ``__init__``."""
    import inspect
    return list(inspect.signature(factory.__init__ if inspect.isclass(factory) else factory).parameters.values())


def _takes_any_keyword(factory) -> bool:
    return any(p.kind == p.VAR_KEYWORD for p in _parameters(factory))


def build(name: str, **options) -> Optimizer:
    """The optimizer called ``name`` (one of :data:`NAMES`) with ``options``.

    Args:
        name: the optimizer's name (see the table in the module docstring).
        **options: its options, checked against :func:`accepted_options` (e.g. ``lr`` for ``gd`` and
            ``hd``, ``m`` for ``hd``, ``lbfgs`` and ``scipy_lbfgsb``).

    Returns:
        A fresh, unstarted :class:`Optimizer`.

    A name that is not built in is looked up among the optimizers installed packages register in the
    ``landscape.optimizers`` entry-point group (:func:`landscape.registry.optimizer_factory`).

    Raises:
        OptimizerError: an unknown name (with close matches suggested), an option the optimizer does not take,
            options its factory refuses (a bad value, a missing ``lr``, NLopt missing for ``mma``), or a
            registered factory that does not return an :class:`Optimizer`.
    """
    from landscape.registry import optimizer_names
    if not isinstance(name, str):
        raise OptimizerError(f"an optimizer name must be a string, got {name!r}")
    factory = _factory(name)
    if factory is None:
        known = [*NAMES, *(n for n in optimizer_names() if n not in _FACTORIES)]
        close = difflib.get_close_matches(name, known, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise OptimizerError(f"unknown optimizer {name!r}{hint}; known: {', '.join(known)}")
    plugin_any = name not in _FACTORIES and _takes_any_keyword(factory)
    unknown = [] if plugin_any else sorted(set(options) - set(accepted_options(name)))
    if unknown:
        raise OptimizerError(f"unknown option(s) {', '.join(map(repr, unknown))} for optimizer {name!r}; "
                             f"accepted: {', '.join(accepted_options(name)) or 'none'}")
    try:
        optimizer = factory(**options)
    except TypeError as error:
        raise OptimizerError(f"bad options for optimizer {name!r}: {error}") from None
    if not isinstance(optimizer, Optimizer):
        raise OptimizerError(f"the factory registered as optimizer {name!r} returned {type(optimizer).__name__}, "
                             f"not a landscape.optim.Optimizer")
    return optimizer
