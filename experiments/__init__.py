"""Experiment code built on the toolkit, kept out of its core.

* :mod:`experiments.thesis`: the thesis's tuned step sizes (appendix B, tables B.1-B.3).
* :mod:`experiments.tuning`: the step-size search of appendix B.7 (optuna TPE).
* :mod:`experiments.hard_check`: the p = 1 pixel check against the thesis's numbers,
  and the CNN objective at initialization (``python -m experiments.hard_check``).
* :mod:`experiments.estimator_check`: the small CNN of appendix B.5 on which the curvature
  estimators are checked against a dense Hessian (Figure B.2 and the tests).

The study scripts in ``studies/`` import from here; ``landscape`` and ``probes`` never do.
"""
