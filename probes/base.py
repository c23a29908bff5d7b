"""The probe protocol: a schedule, a config, declared outputs and a call on a run's context.

A probe is anything with ``name``, ``due(step, last)``, ``__call__(context) -> dict``
and, to be recorded in a trace, ``outputs(objective) -> {name: shape}``
(:func:`landscape.run` checks the first three). :class:`Probe` supplies the
schedule (``every`` N steps, ``at`` listed steps, the last step), the config a
trace records, and a per-step seed; the built-in probes derive from it, and so
can a user's own (register it under the ``landscape.probes`` entry-point group
to use it from the command line and sweeps, see :mod:`landscape.registry`).
"""
from __future__ import annotations

__all__ = ["Probe"]


class Probe:
    """A schedule (``every`` N steps and/or ``at`` listed steps, plus the last step) and a config."""

    name = "probe"

    def __init__(self, every: int | None = None, at=(), last: bool = True, seed: int | None = None):
        if every is not None and (not isinstance(every, int) or every < 1):
            raise ValueError(f"{self.name}: every must be a positive integer or None, got {every!r}")
        self.every, self.at, self.last, self.seed = every, sorted({int(s) for s in at}), last, seed
        if every is None and not self.at and not last:
            raise ValueError(f"{self.name}: the schedule is empty (give every=N, at=[...] or last=True)")

    def due(self, step: int, last: bool) -> bool:
        return ((self.every is not None and step % self.every == 0) or step in self.at
                or (last and self.last))

    def options(self) -> dict:
        return {}

    def config(self) -> dict:
        return {"name": self.name, "every": self.every, "at": self.at, "last": self.last, "seed": self.seed,
                **self.options()}

    def seed_for(self, context) -> int:
        base = context.seed if self.seed is None else self.seed
        return int(base) * 1_000_003 + int(context.step)

    def outputs(self, objective) -> dict:   # pragma: no cover - interface
        raise NotImplementedError

    def __call__(self, context) -> dict:   # pragma: no cover - interface
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}({self.config()})"
