"""The one list of run statuses, and what each group of them means.

=======================  =============================================================================
``STOPS``                an optimizer stopped by its own rule: ``completed`` (its budget or its
                         convergence test), ``line_search_failed``, ``max_evaluations``, ``diverged``
``ENDED``                every status a finished run records: ``STOPS`` plus ``interrupted`` (SIGINT,
                         SIGTERM, Ctrl-C) and ``failed`` (an error, a full disk)
``RECORDED``             what a trace's ``/status`` can hold: ``running`` while written, then ``ENDED``
``READ``                 what a reader reports (``Trace.status``): ``RECORDED``, and ``crashed`` for a
                         ``running`` trace whose writer is gone
``FINISHED``             the tasks a sweep does not run again: ``STOPS`` and ``failed``
=======================  =============================================================================
"""
from __future__ import annotations

__all__ = ["STOPS", "ENDED", "RECORDED", "READ", "FINISHED", "rose"]

STOPS = ("completed", "line_search_failed", "max_evaluations", "diverged")
ENDED = STOPS + ("interrupted", "failed")
RECORDED = ("running",) + ENDED
READ = RECORDED + ("crashed",)
FINISHED = STOPS + ("failed",)


def rose(losses) -> bool:
    """Whether a run took steps and ended no lower than it started (or at a non-finite loss).

    Not a status: a run can climb 500 x and stay there without being ``diverged`` (that needs
    1e3 x, :class:`landscape.runner.Divergence`). ``RunResult.rose``, the trace summary's ``rose``
    and ``landscape run``'s closing note all use this definition.

    Args:
        losses: the loss at step 0 (the initialization) through the last step, a sequence of floats.

    Returns:
        True when there are at least two losses and the last is not below the first.
    """
    return bool(len(losses) > 1 and not losses[-1] < losses[0])
