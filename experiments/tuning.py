"""Step-size search for the constant-step optimizers (``gd``, ``hd``), as in thesis appendix B.7.

The thesis searched ``x = log10(lr)`` on a grid of step 0.1 (Hyperopt's
``quniform``) over ``[-6, 0.3]`` for CNN models and ``[-3, 1]`` for pixel
models, with the Tree-structured Parzen Estimator and 30 trials, minimizing
the median final loss over a few seeds after a fixed number of steps. This
uses optuna's ``TPESampler`` (seeded) on the same grid. A run that diverges
scores its last loss (or 1e300 if that is not finite), so TPE learns to avoid
it. The grid makes TPE propose the same step size again; a repeated proposal
reuses the earlier score instead of rerunning it (runs are deterministic), so
30 trials cost as many runs as there are distinct step sizes among them.
Results are written as JSON (the best step size and every trial) and CSV.
"""
from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from landscape import models
from landscape.objective import Objective
from landscape.optim import OptimizerError

__all__ = ["tune_step_size", "TuningResult", "THESIS_RANGES"]

THESIS_RANGES = {"pixel": (-3.0, 1.0), "cnn": (-6.0, 0.3)}
_WORST = 1e300


@dataclass
class TuningResult:
    optimizer: str
    problem: str
    model: str
    penal: float
    steps: int
    seeds: list[int]
    search_range: tuple[float, float]
    best_lr: float
    best_log10_lr: float
    best_value: float
    trials: list[dict] = field(default_factory=list)

    def save(self, path) -> Path:
        """Write ``path`` (.json) and the trials next to it as .csv; returns the JSON path."""
        import pandas as pd
        path = Path(path).with_suffix(".json")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2))
        pd.DataFrame(self.trials).to_csv(path.with_suffix(".csv"), index=False)
        return path


def tune_step_size(problem, model: str = "pixel", optimizer: str = "gd", *, penal: float = 3.0,
                   steps: int = 100, seeds: Sequence[int] = (0, 1, 2), trials: int = 30,
                   search_range: tuple[float, float] | None = None, m: int = 10,
                   sampler_seed: int = 0, out=None, progress: bool = True,
                   model_options: dict | None = None, precision: str = "mixed",
                   storage: str | None = None) -> TuningResult:
    """TPE search of ``log10(lr)`` for ``optimizer`` (``gd`` or ``hd`` with memory ``m``).

    ``precision`` is the network's (see :mod:`landscape.precision`); every trial
    runs under the thread policy of :func:`landscape.run`. ``storage`` makes the
    search resumable (finished trials are kept and a rerun continues up to
    ``trials``): an optuna storage URL such as ``sqlite:///runs/tuning/case.db``,
    or a path ending in ``.jsonl`` for optuna's journal file, which is plain text
    and can be committed so a search resumes on another machine.
    """
    from landscape.optional import require
    optuna = require("optuna", "the step-size search")

    from landscape.optim import build
    from landscape.runner import run

    if optimizer not in ("gd", "hd"):
        raise OptimizerError(f"step-size search is for the constant-step optimizers 'gd' and 'hd', "
                             f"got {optimizer!r}")
    if search_range is None:
        search_range = THESIS_RANGES["pixel" if model == "pixel" else "cnn"]
    low, high = (float(v) for v in search_range)
    if not low < high:
        raise ValueError(f"search_range must be (low, high) with low < high, got {search_range!r}")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    if isinstance(problem, str):      # a named problem: the objectives come from run specs
        from landscape.spec import RunSpec
        objectives = [RunSpec(problem=problem, model=model, model_options=model_options or {}, seed=s,
                              precision=precision, penal=penal).build_objective() for s in seeds]
    else:
        objectives = [Objective(problem, models.build(model, problem, seed=s, precision=precision,
                                                      **(model_options or {})), penal) for s in seeds]
    records: list[dict] = []

    def score(trial):
        x = round(trial.suggest_float("log10_lr", low, high, step=0.1), 1)
        lr = 10.0 ** x
        for earlier in trial.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
            if round(earlier.params["log10_lr"], 1) == x:
                records.append({"trial": trial.number, "log10_lr": x, "lr": lr,
                                "median_final_loss": earlier.value, "repeat_of": earlier.number})
                return earlier.value
        options = {"lr": lr} if optimizer == "gd" else {"lr": lr, "m": m}
        finals, statuses = [], []
        for objective in objectives:
            result = run(objective, build(optimizer, **options), steps=steps, progress=False)
            if result.status == "interrupted":   # a cut-short run has no score: the trial fails, the search stops
                raise KeyboardInterrupt(result.message)
            final = result.final_loss
            finals.append(final if math.isfinite(final) else _WORST)
            statuses.append(result.status)
        value = min(statistics.median(finals), _WORST)
        records.append({"trial": trial.number, "log10_lr": x, "lr": lr, "median_final_loss": value,
                        **{f"seed_{s}": f for s, f in zip(seeds, finals)},
                        "statuses": ",".join(statuses)})
        return value

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    problem_name = objectives[0].problem.name    # the full name also for a thesis code: journals resume by it
    name = f"{optimizer}_m{m}_{problem_name}_{model}_p{penal:g}_{steps}_{low:g}_{high:g}"
    if storage is not None and str(storage).endswith(".jsonl"):
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend
        Path(storage).parent.mkdir(parents=True, exist_ok=True)
        storage = JournalStorage(JournalFileBackend(str(storage)))
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=sampler_seed),
                                storage=storage, study_name=name, load_if_exists=storage is not None)
    for trial in study.trials:   # a resumed search: earlier trials count toward the budget and the records
        if trial.state == optuna.trial.TrialState.COMPLETE:
            records.append({"trial": trial.number, "log10_lr": trial.params["log10_lr"],
                            "lr": 10.0 ** trial.params["log10_lr"], "median_final_loss": trial.value})
    remaining = trials - sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    if remaining > 0:
        study.optimize(score, n_trials=remaining, show_progress_bar=progress)
    best = study.best_trial
    result = TuningResult(optimizer, problem_name, model, float(penal), steps,
                          seeds, (low, high), 10.0 ** best.params["log10_lr"], best.params["log10_lr"],
                          best.value, records)
    if out is not None:
        result.save(out)
    return result
