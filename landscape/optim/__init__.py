"""Optimizers, decomposed as in the thesis: a direction rule times a step rule, plus references.

=================  ===========================  =========================  ===================
name               direction                    step                       thesis name
=================  ===========================  =========================  ===================
``gd``             ``-g``                       constant ``lr``            GD
``gd_ls``          ``-g``                       L-BFGS-B's line search     GD_LS
``hd``             ``-H_m g`` (two-loop)        constant ``lr``            HD_M1, HD_M10
``lbfgs``          ``-H_m g`` (two-loop)        SciPy's strong-Wolfe       L-BFGS_M1, L-BFGS
``scipy_lbfgsb``   SciPy's L-BFGS-B as the thesis ran it (maxfun = steps,  L-BFGS (reference)
                   factr 1, pgtol 1e-14), memory reconstructed
``oc``             optimality criteria (pixel only, move 0.2)              Hoyer's baseline
``mma``            NLopt's MMA (pixel only)                                Hoyer's baseline
``adam``           ``torch.optim.Adam``                                    Hoyer's Adam
``pgd``            ``-P g``: ``P`` = ``I``, L-BFGS's   constant ``lr``, or a      section 4.1's
                   ``gamma I``, a secant diagonal   schedule ``lr`` ->         schedules and
                   or Hutchinson's diagonal         ``lr_end``                 preconditioners
``noisy``          any of the above but OC and MMA, fed noisy          section 4.1's SGD
                   gradients (:mod:`landscape.optim.noise`)            question
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
from .directions import (
    HutchinsonDiagonal,
    LBFGSDirection,
    LBFGSMemory,
    ScaledIdentity,
    SecantDiagonal,
    SteepestDescent,
    two_loop,
)
from .mma import MMA
from .noise import NoisyGradient, noisy
from .oc import OC
from .scipy_lbfgsb import ScipyLBFGSB
from .steps import SCHEDULE_SHAPES, SEARCHES, ConstantStep, MoreThuente, ScheduledStep, StrongWolfe

__all__ = ["build", "NAMES", "Optimizer", "OptimizerError", "Step", "Evaluation", "Memory",
           "Decomposed", "SteepestDescent", "LBFGSDirection", "LBFGSMemory", "two_loop",
           "ScaledIdentity", "SecantDiagonal", "HutchinsonDiagonal", "PRECONDITIONERS",
           "ConstantStep", "ScheduledStep", "StrongWolfe", "MoreThuente", "SEARCHES", "ScipyLBFGSB", "OC", "MMA",
           "Adam",
           "NoisyGradient"]


# each line search's constants and their defaults (``search`` option of gd_ls and lbfgs): the sufficient-decrease
# and curvature constants first (0 < first < second < 1), integer defaults are trial counts (>= 1)
_SEARCH_CONSTANTS = {"lbfgsb": {"ftol": 1e-3, "gtol": 0.9, "xtol": 0.1, "maxls": 20},
                     "wolfe": {"c1": 1e-4, "c2": 0.9, "max_iter": 10}}


def _line_search(name, search, **given):
    """The step rule ``search`` names with the constants ``given`` (None: the default), and the options to record.

    Raises:
        OptimizerError: an unknown ``search``; a constant of the other search; a constant out of range.
    """
    if search not in SEARCHES:
        raise OptimizerError(f"{name}: search={search!r}; accepted: {', '.join(map(repr, SEARCHES))}")
    defaults = _SEARCH_CONSTANTS[search]
    foreign = sorted(k for k, v in given.items() if v is not None and k not in defaults)
    if foreign:
        raise OptimizerError(f"{name}: {', '.join(foreign)} belong(s) to the other line search; search={search!r} "
                             f"takes {', '.join(defaults)}")
    constants = {}
    for key, default in defaults.items():
        value = given.get(key) if given.get(key) is not None else default
        constants[key] = (check_count(name, key, value, minimum=1) if isinstance(default, int)
                          else check_positive(name, key, value))
    low, high = list(defaults)[:2]
    if not constants[low] < constants[high] < 1:
        raise OptimizerError(f"{name}: the line search's constants need 0 < {low} < {high} < 1, got "
                             f"{constants[low]} and {constants[high]}")
    return SEARCHES[search](**constants), {"search": search, **constants}


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


def gd_ls(search="lbfgsb", ftol=None, gtol=None, xtol=None, maxls=None, c1=None, c2=None,
          max_iter=None) -> Decomposed:
    """Gradient descent with a line search: the thesis's GD_LS (appendix B.2.4).

    The direction is ``-g``. The thesis ran GD_LS as SciPy's L-BFGS-B restarted at every step (its first
    iteration is steepest descent with a line search), so the default search is L-BFGS-B's own
    (:class:`MoreThuente`: Moré-Thuente's ``dcsrch`` with ``ftol`` 1e-3, ``gtol`` 0.9, ``xtol`` 0.1, at most
    ``maxls`` 20 trials, first trial ``1 / |g|``); ``search="wolfe"`` takes SciPy's ``line_search``
    (:class:`StrongWolfe`, ``c1`` 1e-4, ``c2`` 0.9, ``max_iter`` 10, first trial ``min(1, 1 / |g|)``), what this
    optimizer used before. The same steps as :func:`lbfgs` with ``m = 0`` and the same ``search``.

    Args:
        search: ``"lbfgsb"`` (default) or ``"wolfe"``.
        ftol: ``lbfgsb``'s sufficient-decrease constant (None: 1e-3).
        gtol: ``lbfgsb``'s curvature constant (None: 0.9).
        xtol: ``lbfgsb``'s relative interval width at which ``dcsrch`` stops (None: 0.1).
        maxls: ``lbfgsb``'s most trials per search (None: 20).
        c1: ``wolfe``'s sufficient-decrease constant (None: 1e-4).
        c2: ``wolfe``'s curvature constant (None: 0.9).
        max_iter: ``wolfe``'s most bracketing trials (None: 10).

    Returns:
        A :class:`Decomposed` optimizer named ``gd_ls`` whose options are ``search`` and its constants.

    Raises:
        OptimizerError: an unknown ``search``, a constant of the other search, a constant not a finite number
            > 0, not ``0 < ftol < gtol < 1`` (``c1 < c2``), or ``maxls`` / ``max_iter`` not an integer >= 1.
    """
    rule, options = _line_search("gd_ls", search, ftol=ftol, gtol=gtol, xtol=xtol, maxls=maxls, c1=c1, c2=c2,
                                 max_iter=max_iter)
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


def lbfgs(m=10, search="wolfe", c1=None, c2=None, max_iter=None, ftol=None, gtol=None, xtol=None,
          maxls=None) -> Decomposed:
    """L-BFGS: the two-loop direction with a line search (thesis L-BFGS and L-BFGS_M1).

    The direction is ``-H_m g`` (:class:`LBFGSDirection`); the step comes from SciPy's strong-Wolfe
    ``line_search`` (:class:`StrongWolfe`, the default, ``c1`` 1e-4, ``c2`` 0.9, ``max_iter`` 10) or, with
    ``search="lbfgsb"``, from L-BFGS-B's (:class:`MoreThuente`, see :func:`gd_ls`). When the search fails
    along a quasi-Newton direction the memory is dropped and the search retried along ``-g`` (see
    :mod:`landscape.optim.decomposed`). The thesis's L-BFGS cells run SciPy's own L-BFGS-B
    (``scipy_lbfgsb``).

    Args:
        m: the number of curvature pairs kept, an integer >= 0 (default 10).
        search: ``"wolfe"`` (default) or ``"lbfgsb"``.
        c1: ``wolfe``'s sufficient-decrease constant (None: 1e-4).
        c2: ``wolfe``'s curvature constant (None: 0.9).
        max_iter: ``wolfe``'s most bracketing trials (None: 10).
        ftol: ``lbfgsb``'s sufficient-decrease constant (None: 1e-3).
        gtol: ``lbfgsb``'s curvature constant (None: 0.9).
        xtol: ``lbfgsb``'s relative interval width at which ``dcsrch`` stops (None: 0.1).
        maxls: ``lbfgsb``'s most trials per search (None: 20).

    Returns:
        A :class:`Decomposed` optimizer named ``lbfgs`` whose options are ``m``, ``search`` and its constants.

    Raises:
        OptimizerError: ``m`` not an integer >= 0, or a bad ``search`` or constant (see :func:`gd_ls`).
    """
    m = check_count("lbfgs", "m", m)
    rule, options = _line_search("lbfgs", search, ftol=ftol, gtol=gtol, xtol=xtol, maxls=maxls, c1=c1, c2=c2,
                                 max_iter=max_iter)
    return Decomposed(LBFGSDirection(m), rule, "lbfgs", m=m, **options)


PRECONDITIONERS = ("identity", "scaled_identity", "secant_diagonal", "hutchinson_diagonal")
# the options each preconditioner takes (with their defaults); the others must be left out
_PRECONDITIONER_OPTIONS = {"identity": {}, "scaled_identity": {}, "secant_diagonal": {"m": 10, "clip": 100.0},
                           "hutchinson_diagonal": {"samples": 4, "refresh": 10, "damping": 0.01, "seed": 0}}


def pgd(preconditioner="identity", lr=None, lr_end=None, ramp=None, shape=None, m=None, clip=None, samples=None,
        refresh=None, damping=None, seed=None) -> Decomposed:
    """Preconditioned gradient descent, ``theta+ = theta - alpha_k P g``, with a constant or scheduled step.

    The thesis's section 4.1 asks whether GD improves with "a simple and increasing step size schedule" or
    with gradients rescaled "using simple matrices". ``P`` (the direction rule) is one of
    :data:`PRECONDITIONERS`:

    * ``identity``: ``P = I`` (GD; with a schedule, GD with an increasing step);
    * ``scaled_identity``: ``P = gamma I``, ``gamma = s'y / y'y`` of the last pair (:class:`ScaledIdentity`;
      the Barzilai-Borwein step at ``lr = 1``);
    * ``secant_diagonal``: a diagonal fitted to the last ``m`` pairs, clipped to ``clip`` times ``gamma``
      (:class:`SecantDiagonal`);
    * ``hutchinson_diagonal``: ``1 / (|h| + damping mean|h|)`` with ``h`` Hutchinson's Hessian diagonal from
      ``samples`` products every ``refresh`` steps, seeded with ``seed`` (:class:`HutchinsonDiagonal`).

    The step (the step rule) is ``lr`` every step (:class:`ConstantStep`), or, with ``lr_end`` and ``ramp``,
    the schedule ``lr -> lr_end`` over ``ramp`` steps of ``shape`` ``exponential`` (default) or ``linear``
    (:class:`ScheduledStep`). ``pgd(lr=x)`` takes exactly the steps of ``gd(lr=x)``.

    Args:
        preconditioner: one of :data:`PRECONDITIONERS` (default ``"identity"``).
        lr: the (first) step, a finite number > 0; required.
        lr_end: the schedule's last step, > 0 (absent, with ``ramp`` and ``shape``: a constant step).
        ramp: the schedule's length in steps, an integer >= 1.
        shape: the schedule's shape, one of :data:`~landscape.optim.steps.SCHEDULE_SHAPES` (default
            ``"exponential"``).
        m: ``secant_diagonal``'s pairs, an integer >= 1 (default 10).
        clip: ``secant_diagonal``'s clip ratio, >= 1 (default 100).
        samples: ``hutchinson_diagonal``'s products per estimate, an integer >= 1 (default 4).
        refresh: ``hutchinson_diagonal``'s steps between estimates, an integer >= 1 (default 10).
        damping: ``hutchinson_diagonal``'s damping relative to the mean of ``|h|``, >= 0 (default 0.01).
        seed: ``hutchinson_diagonal``'s seed of the Rademacher vectors, an integer >= 0 (default 0).

    Returns:
        A :class:`Decomposed` optimizer named ``pgd``; its options are the preconditioner, the step's options
        and the preconditioner's own (defaults filled in).

    Raises:
        OptimizerError: an unknown preconditioner or shape, a missing ``lr``, ``lr_end`` without ``ramp`` or
            the reverse, a value out of range, or an option that the chosen preconditioner does not take.
    """
    if preconditioner not in PRECONDITIONERS:
        raise OptimizerError(f"pgd: preconditioner must be one of {', '.join(PRECONDITIONERS)}, "
                             f"got {preconditioner!r}")
    lr = _lr("pgd", lr)
    options = {"preconditioner": preconditioner, "lr": lr}
    if (lr_end is None) != (ramp is None):
        raise OptimizerError(f"pgd: a schedule needs both lr_end and ramp, got lr_end={lr_end!r}, ramp={ramp!r}")
    if lr_end is None:
        if shape is not None:
            raise OptimizerError(f"pgd: shape={shape!r} needs a schedule (lr_end and ramp)")
        rule = ConstantStep(lr)
    else:
        shape = "exponential" if shape is None else shape
        if shape not in SCHEDULE_SHAPES:
            raise OptimizerError(f"pgd: shape must be one of {', '.join(SCHEDULE_SHAPES)}, got {shape!r}")
        lr_end = check_positive("pgd", "lr_end", lr_end)
        ramp = check_count("pgd", "ramp", ramp, minimum=1)
        rule = ScheduledStep(lr, lr_end, ramp, shape)
        options.update(lr_end=lr_end, ramp=ramp, shape=shape)
    given = {"m": m, "clip": clip, "samples": samples, "refresh": refresh, "damping": damping, "seed": seed}
    accepted = _PRECONDITIONER_OPTIONS[preconditioner]
    wrong = sorted(k for k, v in given.items() if v is not None and k not in accepted)
    if wrong:
        raise OptimizerError(f"pgd: option(s) {', '.join(wrong)} do not apply to preconditioner "
                             f"{preconditioner!r}; it takes {', '.join(accepted) or 'none'}")
    own = {k: accepted[k] if given[k] is None else given[k] for k in accepted}
    if preconditioner == "identity":
        direction = SteepestDescent()
    elif preconditioner == "scaled_identity":
        direction = ScaledIdentity()
    elif preconditioner == "secant_diagonal":
        own["m"] = check_count("pgd", "m", own["m"], minimum=1)
        own["clip"] = check_positive("pgd", "clip", own["clip"])
        if own["clip"] < 1:
            raise OptimizerError(f"pgd: clip must be >= 1, got {own['clip']!r}")
        direction = SecantDiagonal(own["m"], own["clip"])
    else:
        own["samples"] = check_count("pgd", "samples", own["samples"], minimum=1)
        own["refresh"] = check_count("pgd", "refresh", own["refresh"], minimum=1)
        own["damping"] = check_positive("pgd", "damping", own["damping"], allow_zero=True)
        own["seed"] = check_count("pgd", "seed", own["seed"])
        direction = HutchinsonDiagonal(**own)
    return Decomposed(direction, rule, "pgd", **options, **own)


_FACTORIES = {"gd": gd, "gd_ls": gd_ls, "hd": hd, "lbfgs": lbfgs, "scipy_lbfgsb": ScipyLBFGSB,
              "oc": OC, "mma": MMA, "adam": Adam, "pgd": pgd,
              "noisy": noisy}
NAMES = tuple(_FACTORIES)
# built-in wrappers: their **options are another optimizer's, checked when they build it
_WRAPPERS = {"noisy"}


def accepted_options(name: str) -> tuple[str, ...]:
    """The option names optimizer ``name`` takes.

    Read from the signature of the optimizer's factory or class (``gd_ls`` and ``lbfgs`` list both line
    searches' constants; each search takes only its own). A wrapper (``noisy``) lists its own options; it also
    takes those of the optimizer it wraps.

    Args:
        name: an optimizer name, one of :data:`NAMES`.

    Returns:
        The accepted keyword names, in signature order.

    Raises:
        KeyError: ``name`` is not one of :data:`NAMES`.
    """
    factory = _factory(name)
    if factory is None:
        raise KeyError(name)
    parameters = _parameters(factory)
    names = [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"]
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
    plugin_any = (name not in _FACTORIES or name in _WRAPPERS) and _takes_any_keyword(factory)
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
