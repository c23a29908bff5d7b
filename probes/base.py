"""The probe protocol: a schedule, a config, declared outputs and a call on a run's context.

A probe is anything with ``name``, ``due(step, last)``, ``__call__(context) -> dict``
and, to be recorded in a trace, ``outputs(objective) -> {name: shape}``
(:func:`landscape.run` checks the first three). :class:`Probe` supplies the
schedule (``every`` N steps, ``at`` listed steps, the last step), the config a
trace records, and a per-step seed; the built-in probes derive from it, and so
can a user's own (register it under the ``landscape.probes`` entry-point group
to use it from the command line and sweeps, see :mod:`landscape.registry`).

Writing a probe: subclass :class:`Probe`, give it a class attribute ``name``,
take its own options as keyword arguments (passing ``every``/``at``/``last``/``seed``
on to ``Probe.__init__``), return those options from :meth:`Probe.options`,
declare the fixed output shapes in :meth:`Probe.outputs` and compute them in
:meth:`Probe.__call__`, for example:

```python
class GradientMaxProbe(Probe):
    name = "grad_max"

    def outputs(self, objective):
        return {"grad_max": ()}

    def __call__(self, context):
        return {"grad_max": float(context.grad.abs().max())}
```
"""
from __future__ import annotations

__all__ = ["Probe"]


class Probe:
    """A schedule (``every`` N steps and/or ``at`` listed steps, plus the last step) and a config.

    The base class of the built-in probes and of user probes (see the module
    docstring). Subclasses set the class attribute ``name`` (the default is
    ``"probe"``) and implement :meth:`outputs` and :meth:`__call__`; a probe with
    options also overrides :meth:`options`, so that :meth:`config` records them.

    Args:
        every: run the probe at every step divisible by ``every`` (step 0 included), a positive
            integer; None (default) for no periodic schedule.
        at: an iterable of steps at which to run the probe as well; stored sorted and without
            duplicates, as ints (default: none).
        last: run the probe on the run's last step too (default True).
        seed: base of the per-step seeds of :meth:`seed_for`; None (default) uses the run's seed.

    Raises:
        ValueError: ``every`` is neither None nor a positive ``int``, or the schedule is empty
            (``every`` None, no ``at`` steps and ``last`` False).
    """

    name = "probe"

    def __init__(self, every: int | None = None, at=(), last: bool = True, seed: int | None = None):
        if every is not None and (not isinstance(every, int) or every < 1):
            raise ValueError(f"{self.name}: every must be a positive integer or None, got {every!r}")
        self.every, self.at, self.last, self.seed = every, sorted({int(s) for s in at}), last, seed
        if every is None and not self.at and not last:
            raise ValueError(f"{self.name}: the schedule is empty (give every=N, at=[...] or last=True)")

    def due(self, step: int, last: bool) -> bool:
        """Whether the probe runs at ``step``.

        The runner (:func:`landscape.run`, :class:`landscape.Recorder`) asks this at
        every accepted step and calls the probe when it answers True.

        Args:
            step: the step number (0 is the initialization).
            last: whether ``step`` is the run's final step.

        Returns:
            True when ``every`` divides ``step``, when ``step`` is one of the ``at`` steps, or when
            ``last`` is true and the probe was built with ``last=True``.
        """
        return ((self.every is not None and step % self.every == 0) or step in self.at
                or (last and self.last))

    def options(self) -> dict:
        """The probe's own options (keyword arguments besides the schedule) for :meth:`config`.

        Subclasses with options override this; the base class has none and returns ``{}``.
        """
        return {}

    def config(self) -> dict:
        """The probe's entry in a trace's config.

        Returns:
            ``{"name", "every", "at", "last", "seed"}`` of the schedule, merged with :meth:`options`.
        """
        return {"name": self.name, "every": self.every, "at": self.at, "last": self.last, "seed": self.seed,
                **self.options()}

    def seed_for(self, context) -> int:
        """A seed for this probe at the context's step, so that random probes differ from step to step.

        Args:
            context: the :class:`landscape.runner.ProbeContext` of the call (its ``seed`` and ``step``
                are read).

        Returns:
            ``base * 1_000_003 + step``, with ``base`` the probe's ``seed``, or the run's seed
            (``context.seed``) when the probe has none.
        """
        base = context.seed if self.seed is None else self.seed
        return int(base) * 1_000_003 + int(context.step)

    def outputs(self, objective) -> dict:   # pragma: no cover - interface
        """The names and shapes of what :meth:`__call__` returns, declared before the run starts.

        A trace creates one dataset per entry; at every call each declared output must be present
        and convert to a float64 array of exactly its declared shape (else the trace writer raises
        ``TraceError``); keys not declared are not recorded.

        Args:
            objective: the run's objective (e.g. for the number of parameters or the grid shape
                ``objective.problem.shape``).

        Returns:
            ``{output name: shape tuple}``, ``()`` for a scalar.

        Raises:
            NotImplementedError: always, in the base class; subclasses implement it.
        """
        raise NotImplementedError

    def __call__(self, context) -> dict:   # pragma: no cover - interface
        """Measure at one step.

        Args:
            context: a :class:`landscape.runner.ProbeContext`: ``step``, ``theta``, ``loss``,
                ``grad``, ``objective``, ``optimizer``, ``theta0`` (the run's start), ``seed`` (the
                run's), ``history``, ``last``, and ``memory()`` (the optimizer's curvature pairs or None).

        Returns:
            ``{output name: number or array}``, with the names and shapes of :meth:`outputs`.

        Raises:
            NotImplementedError: always, in the base class; subclasses implement it.
        """
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}({self.config()})"
