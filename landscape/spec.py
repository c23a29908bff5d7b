"""One run, described once: :class:`RunSpec`, validated, buildable and stored in every trace.

A spec names everything a run depends on (problem, parameterization and its
options and seed, precision, penalization, filter, optimizer and its options,
step budget, probes, snapshot schedule, threads). The command line, sweeps,
the step-size search and the trace reader all go through it, so a
configuration is checked in one place and rebuilt the same way everywhere::

    spec = RunSpec(problem="A", model="cnn_transpose", optimizer="gd", optimizer_options={"lr": 1e-6},
                   steps=500, seed=3)
    result = landscape.run_spec(spec, trace="runs/a.h5")   # or spec.build_objective(), spec.build_optimizer()
    RunSpec.from_json(spec.to_json()) == spec              # True; open_trace("runs/a.h5").spec() == spec too

Checks that need no model (names, types, ranges, optimizer and probe options)
run when the spec is made; :meth:`check_model` also builds the model once, to
check its options and size (``landscape sweep --dry-run`` does this once per
distinct model and problem).
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

__all__ = ["RunSpec", "RunSpecError"]


class RunSpecError(ValueError):
    """A field of a run specification that cannot be run: ``field`` and ``reason`` (the bad value, what is accepted).

    The message is ``"<field>: <reason>"``.

    Args:
        field: the name of the offending field (e.g. ``"steps"``, ``"probes"``), or ``"spec"`` for the whole.
        reason: what is wrong with it.
    """

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


def _frozen(mapping, what: str) -> Mapping[str, Any]:
    if mapping is None:
        return MappingProxyType({})
    if not isinstance(mapping, Mapping):
        raise RunSpecError(what, f"{mapping!r} is not a table of key = value")
    return MappingProxyType({str(k): v for k, v in dict(mapping).items()})


#: seeds and step counts are stored as 64-bit integers in traces
_LARGEST = 2 ** 63 - 1


def _integer(value, what: str, low: int | None = None, accepted: str | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or (low is not None and value < low):
        raise RunSpecError(what,
                           f"{value!r} is not {accepted or 'an integer' + (f' >= {low}' if low is not None else '')}")
    if abs(value) > _LARGEST:
        raise RunSpecError(what, f"{value} does not fit a 64-bit integer (|{what}| <= 2**63 - 1)")
    return int(value)


@dataclass(frozen=True)
class RunSpec:
    """A validated, immutable description of one run (see the module docstring).

    The fields are checked when the spec is made; the mapping fields are stored read-only and the problem
    under its canonical name (:func:`landscape.problems.canonical_name`, thesis codes such as ``A`` kept).

    Attributes:
        problem: the problem's suite name or thesis code (:func:`landscape.problems.get`).
        model: the parameterization, one of :data:`landscape.models.KINDS` (default ``"pixel"``).
        model_options: the model's options (checked when the model is built: :meth:`check_model`).
        seed: the run's seed, an integer that fits 64 bits (default 0); also the model's unless ``model_seed``.
        precision: ``"mixed"`` or ``"float64"`` (:data:`landscape.precision.PRECISIONS`; default ``"mixed"``).
        penal: the SIMP penalization exponent, a finite number >= 1 (default 3.0).
        filter: apply the density filter (default True).
        volume_constraint: map logits through the constrained sigmoid whose mean over the design region is
            the volume fraction (default True).
        model_seed: the model's seed when it differs from ``seed`` (default None: ``seed``).
        optimizer: an optimizer name (:data:`landscape.optim.NAMES`; default ``"lbfgs"``), or an external one
            (see :attr:`external`).
        optimizer_options: the optimizer's options, checked by building it (not for external optimizers).
        steps: the step budget, an integer >= 0 (default 100).
        probes: probe names or tables ``{"name": ..., **options}``, stored as tables (default none).
        snapshot_every: keep theta and the design every N steps in the trace, a positive integer or None
            (default None).
        threads: the thread count of the run, a positive integer or None for the policy of
            :mod:`landscape.threads` (default None).

    Raises:
        RunSpecError: a field that fails its check, naming the field: an unknown problem, model kind,
            precision, optimizer or probe, options the optimizer or a probe refuses, a value of the wrong type
            or out of range.
    """

    problem: str
    model: str = "pixel"
    model_options: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    precision: str = "mixed"
    penal: float = 3.0
    filter: bool = True
    volume_constraint: bool = True
    model_seed: int | None = None       # the model's seed when it is not ``seed`` (None: ``seed``)
    optimizer: str = "lbfgs"
    optimizer_options: Mapping[str, Any] = field(default_factory=dict)
    steps: int = 100
    probes: tuple = ()
    snapshot_every: int | None = None
    threads: int | None = None

    def __post_init__(self):
        from . import models, optim, problems
        from .precision import PRECISIONS
        set_ = lambda name, value: object.__setattr__(self, name, value)   # noqa: E731 - frozen fields
        try:
            problems.get(str(self.problem))
        except (KeyError, ValueError) as error:
            raise RunSpecError("problem", str(error.args[0])) from None
        set_("problem", problems.canonical_name(self.problem, keep_codes=True))
        if self.model not in models.KINDS:
            raise RunSpecError("model", f"unknown model kind {self.model!r}; accepted: {', '.join(models.KINDS)}")
        set_("model_options", _frozen(self.model_options, "model_options"))
        set_("seed", _integer(self.seed, "seed"))
        if self.precision not in PRECISIONS:
            raise RunSpecError("precision", f"{self.precision!r}; accepted: {', '.join(PRECISIONS)}")
        if isinstance(self.penal, bool) or not isinstance(self.penal, (int, float)) \
                or not 1 <= self.penal < math.inf:
            raise RunSpecError("penal", f"{self.penal!r} is not a finite number >= 1")
        set_("penal", float(self.penal))
        if not isinstance(self.filter, bool):
            raise RunSpecError("filter", f"{self.filter!r} is not true or false")
        if not isinstance(self.volume_constraint, bool):
            raise RunSpecError("volume_constraint", f"{self.volume_constraint!r} is not true or false")
        if self.model_seed is not None:
            set_("model_seed", _integer(self.model_seed, "model_seed"))
        set_("optimizer_options", _frozen(self.optimizer_options, "optimizer_options"))
        if not self.external:
            try:
                optim.build(self.optimizer, **self.optimizer_options)
            except optim.OptimizerError as error:
                raise RunSpecError("optimizer", str(error)) from None
        set_("steps", _integer(self.steps, "steps", 0))
        set_("probes", tuple(self._probe_entry(p) for p in (self.probes or ())))
        if self.snapshot_every is not None:
            set_("snapshot_every", _integer(self.snapshot_every, "snapshot_every", 1,
                                            "a positive integer (or leave it out)"))
        if self.threads is not None:
            from .threads import policy
            try:
                policy(self.threads)
            except ValueError as error:
                raise RunSpecError("threads", str(error)) from None
        self.build_probes()          # options a probe does not take are refused now

    @property
    def external(self) -> bool:
        """Whether the optimizer is external: run by someone else's loop and recorded by :class:`~landscape.Recorder`.

        An external optimizer is named by its qualified class (``torch.optim.LBFGS``), ``external``, or anything
        with a dot; its options are recorded, not checked, and :meth:`build_optimizer` refuses it.
        """
        return isinstance(self.optimizer, str) and (self.optimizer == "external" or "." in self.optimizer)

    @staticmethod
    def _probe_entry(entry) -> Mapping[str, Any]:
        if isinstance(entry, str):
            entry = {"name": entry}
        if not isinstance(entry, Mapping) or "name" not in entry:
            raise RunSpecError("probes", f"entry {entry!r} is not a probe name or a table with 'name'")
        return _frozen(entry, "a probe entry")

    # -- building ---------------------------------------------------------------------
    def build_problem(self):
        """A fresh :class:`~landscape.problems.Problem` of ``problem`` (:func:`landscape.problems.get`)."""
        from . import problems
        return problems.get(self.problem)

    def build_model(self, problem=None):
        """The parameterization, seeded with ``seed``; bad options or sizes raise :class:`RunSpecError`.

        Built by :func:`landscape.models.build` with ``model_options``, ``precision`` and ``model_seed`` (or
        ``seed`` when that is None).

        Args:
            problem: the :class:`~landscape.problems.Problem` to parameterize (default: :meth:`build_problem`).

        Returns:
            The model, a ``torch.nn.Module``.

        Raises:
            RunSpecError: the model cannot be built (a TypeError, ValueError or RuntimeError of the model,
                e.g. an unknown option or a size it does not fit).
        """
        from . import models
        problem = problem if problem is not None else self.build_problem()
        try:
            return models.build(self.model, problem, seed=self.seed if self.model_seed is None else self.model_seed,
                                precision=self.precision, **self.model_options)
        except (TypeError, ValueError, RuntimeError) as error:
            raise RunSpecError("model", f"{self.model} with options {dict(self.model_options)} on {self.problem}: "
                                        f"{error}") from None

    def check_model(self) -> None:
        """Build the model once (options, sizes, memory); raises :class:`RunSpecError` if it cannot be."""
        self.build_model()

    def build_objective(self):
        """The :class:`~landscape.Objective` this spec describes.

        A fresh problem and model, with ``penal``, ``filter``, ``volume_constraint`` and ``precision``.

        Raises:
            RunSpecError: the model cannot be built (see :meth:`build_model`).
        """
        from .objective import Objective
        problem = self.build_problem()
        return Objective(problem, self.build_model(problem), penal=self.penal, filter=self.filter,
                         volume_constraint=self.volume_constraint, precision=self.precision)

    def build_optimizer(self):
        """The optimizer this spec names (:func:`landscape.optim.build`).

        Raises:
            RunSpecError: an external optimizer (its own loop drives it; record it with the Recorder).
        """
        from . import optim
        if self.external:
            raise RunSpecError("optimizer", f"{self.optimizer!r} is run by its own loop, not by landscape.run; "
                                            "record it with landscape.Recorder")
        return optim.build(self.optimizer, **self.optimizer_options)

    def build_probes(self) -> list:
        """The probes this spec lists, built with their options (:func:`landscape.registry.build_probe`).

        Returns:
            A list of fresh probe objects, in the order of ``probes``.

        Raises:
            RunSpecError: an unknown probe, or options its class does not take.
        """
        from .registry import RegistryError, build_probe
        built = []
        for entry in self.probes:
            try:
                built.append(build_probe(entry["name"], {k: v for k, v in entry.items() if k != "name"}))
            except RegistryError as error:
                raise RunSpecError("probes", str(error)) from None
        return built

    # -- round trip -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (tables as dicts, probes as a list).

        Returns:
            ``{field: value}`` for every field.
        """
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["model_options"] = dict(self.model_options)
        out["optimizer_options"] = dict(self.optimizer_options)
        out["probes"] = [dict(p) for p in self.probes]
        return out

    def to_json(self) -> str:
        """The spec as JSON text (:meth:`to_dict`, keys sorted); :meth:`from_json` reads it back."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSpec:
        """A spec from :meth:`to_dict` output, or from a trace's config (which holds more keys).

        Keys that are not fields are ignored. Values as traces record them are read back: a ``threads``
        table gives its ``torch`` count, a missing ``precision`` (traces from before the option) means
        ``"float64"``, a ``filter`` or ``volume_constraint`` of None means True, and a ``model_seed`` equal to
        ``seed`` becomes None.

        Args:
            data: the table of values.

        Returns:
            The validated spec.

        Raises:
            RunSpecError: ``data`` is not a mapping, has no ``problem``, or holds a value that fails the
                checks of :class:`RunSpec`.
        """
        if not isinstance(data, Mapping):
            raise RunSpecError("spec", f"a run spec is a table, got a {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if isinstance(values.get("threads"), Mapping):       # a trace records the counts it ran with
            values["threads"] = values["threads"].get("torch")
        if values.get("precision") is None:
            values["precision"] = "float64"        # traces from before the precision option
        for key in ("volume_constraint", "filter"):
            if values.get(key, True) is None:      # recorded as None for objectives without the option
                values[key] = True
        if values.get("model_seed") == values.get("seed", 0):
            values["model_seed"] = None            # the common case: the model seeded with the run's seed
        if "problem" not in values:
            raise RunSpecError("problem", "a run spec needs a problem")
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> RunSpec:
        """A spec from JSON text such as :meth:`to_json` writes (see :meth:`from_dict`).

        Args:
            text: the JSON text.

        Returns:
            The validated spec.

        Raises:
            RunSpecError: ``text`` is not JSON, or its table is not a valid spec.
        """
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as error:
            raise RunSpecError("spec", f"not JSON: {error}") from None

    def __hash__(self):
        return hash(self.to_json())

    def __eq__(self, other):
        return isinstance(other, RunSpec) and self.to_dict() == other.to_dict()
