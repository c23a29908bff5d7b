"""Experiment code built on the toolkit, kept out of its core.

* :mod:`experiments.thesis`: the thesis's tuned step sizes (appendix B, tables B.1-B.3).
* :mod:`experiments.tuning`: the step-size search of appendix B.7 (optuna TPE).
* :mod:`experiments.hard_check`: the p = 1 pixel check against the thesis's numbers,
  and the CNN objective at initialization (``python -m experiments.hard_check``).

The study scripts in ``studies/`` import from here; ``landscape`` and ``probes`` never do.
"""
