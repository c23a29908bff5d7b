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

__all__ = ["STOPS", "ENDED", "RECORDED", "READ", "FINISHED"]

STOPS = ("completed", "line_search_failed", "max_evaluations", "diverged")
ENDED = STOPS + ("interrupted", "failed")
RECORDED = ("running",) + ENDED
READ = RECORDED + ("crashed",)
FINISHED = STOPS + ("failed",)
