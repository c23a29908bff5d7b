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

``grid_step_size`` is a cheaper, stated stand-in for the large problems, where
30 trials over the tables' seeds cost hours per case: a coarse grid (0.5
decades) over a window around a given centre, then the 0.1 grid around the
best coarse point, on the same score.
"""
from __future__ import annotations

import json
import math
import statistics
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from landscape import models
from landscape.objective import Objective
from landscape.optim import OptimizerError

__all__ = ["tune_step_size", "grid_step_size", "grid_points", "score_step_size", "seed_objectives", "TuningResult",
           "THESIS_RANGES"]

THESIS_RANGES = {"pixel": (-3.0, 1.0), "cnn": (-6.0, 0.3)}
_WORST = 1e300


@dataclass
class TuningResult:
    """One step-size search's outcome (:func:`tune_step_size` or :func:`grid_step_size`).

    Fields: the case (``optimizer``, ``problem`` name, ``model``, ``penal``, ``steps``, ``seeds``); the
    ``search_range`` in ``log10(lr)`` (TPE: the range sampled; grid: the lowest and highest point scored);
    the winner (``best_lr``, the step its trial ran, exactly ``10.0 ** best_log10_lr`` with ``best_log10_lr`` on
    the 0.1 grid; ``best_value``, its median final loss); ``trials``, one
    record per trial or grid point; ``protocol`` (``"tpe"`` or ``"grid"``); and ``at_edge``, True when a
    grid's winner is its lowest or highest point scored, so a better step may lie beyond the search.
    """

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
    protocol: str = "tpe"
    at_edge: bool = False

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

    _check_optimizer(optimizer)
    if search_range is None:
        search_range = THESIS_RANGES["pixel" if model == "pixel" else "cnn"]
    low, high = (float(v) for v in search_range)
    if not low < high:
        raise ValueError(f"search_range must be (low, high) with low < high, got {search_range!r}")
    seeds = _check_seeds(seeds)
    objectives = seed_objectives(problem, model, penal, seeds, model_options, precision)
    records: list[dict] = []

    def score(trial):
        x = round(trial.suggest_float("log10_lr", low, high, step=0.1), 1)
        lr = 10.0 ** x
        for earlier in trial.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
            if round(earlier.params["log10_lr"], 1) == x:
                records.append({"trial": trial.number, "log10_lr": x, "lr": lr,
                                "median_final_loss": earlier.value, "repeat_of": earlier.number})
                return earlier.value
        value, finals, statuses = score_step_size(objectives, optimizer, lr, m, steps)
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
            x = round(trial.params["log10_lr"], 1)
            records.append({"trial": trial.number, "log10_lr": x, "lr": 10.0 ** x, "median_final_loss": trial.value})
    remaining = trials - sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    if remaining > 0:
        study.optimize(score, n_trials=remaining, show_progress_bar=progress)
    best = study.best_trial
    # the step the best trial ran: optuna's parameter is low + k * 0.1 in floating point (-1.5999999999999999),
    # whose power differs from 10 ** -1.6 in the last bits, which HD's chaotic runs amplify to other results
    x = round(best.params["log10_lr"], 1)
    result = TuningResult(optimizer, problem_name, model, float(penal), steps,
                          seeds, (low, high), 10.0 ** x, x, best.value, records)
    if out is not None:
        result.save(out)
    return result


def grid_points(center: float, half_width: float, spacing: float, search_range: tuple[float, float]) -> list[float]:
    """The grid ``c + k * spacing`` for every integer k with ``|k * spacing| <= half_width``, inside ``search_range``.

    Args:
        center: in ``log10(lr)``; ``c`` is it rounded to appendix B.7's 0.1 grid, a half going up (toward the
            larger step): -1.45 gives -1.4.
        half_width: the window's half width in decades, >= 0.
        spacing: the grid's spacing in decades, > 0.
        search_range: ``(low, high)``; points outside it are dropped.

    Returns:
        the points, sorted, each rounded to one decimal.
    """
    low, high = search_range
    c = tenths(center) / 10
    count = math.floor(half_width / spacing + 1e-9)
    points = (round(c + k * spacing, 1) for k in range(-count, count + 1))
    return sorted({x for x in points if low - 1e-9 <= x <= high + 1e-9})


def tenths(x: float) -> int:
    """``x`` in whole tenths, a half going up: ``tenths(-1.45) == -14``, ``tenths(0.25) == 3``.

    The tolerance of 1e-6 tenths makes a mean such as ``(log10(0.0251) + log10(0.0501)) / 2``, which lies a
    rounding error away from -1.45, count as the half it is.
    """
    return math.floor(x * 10 + 0.5 + 1e-6)


def grid_step_size(problem, model: str = "pixel", optimizer: str = "gd", *, center: float, penal: float = 3.0,
                   steps: int = 100, seeds: Sequence[int] = (0,), half_width: float = 2.0, coarse: float = 0.5,
                   fine: float = 0.1, search_range: tuple[float, float] | None = None, m: int = 10,
                   out=None, journal=None, progress: bool = True, model_options: dict | None = None,
                   precision: str = "mixed") -> TuningResult:
    """Coarse-to-fine grid search of ``log10(lr)``: a cheaper, stated stand-in for appendix B.7's TPE search.

    Stage 1 scores ``c + k * coarse`` for ``|k * coarse| <= half_width``, ``c`` being ``center`` on B.7's 0.1
    grid (see :func:`grid_points`); stage 2 scores ``x* + j * fine`` for ``0 < |j * fine| < coarse`` around the
    best coarse point ``x*``. Points outside ``search_range`` (default the thesis's range for the model, see
    ``THESIS_RANGES``) are dropped. The score is B.7's: the median final loss over ``seeds`` after ``steps``
    steps, a non-finite final loss scoring 1e300. The best point wins and an exact tie goes to the smaller
    step; on a flat plateau (p = 1, where every stable step reaches the optimum) steps whose scores differ
    in the fifth digit are equally good and the pick among them is arbitrary. With the defaults that is at
    most 9 + 8 = 17 runs per seed, against up to 30 trials for TPE.

    Args:
        problem: a thesis code or problem name, or a ``Problem``.
        model, optimizer, penal, steps, seeds, m, model_options, precision: as in :func:`tune_step_size`.
        center: the window's centre in ``log10(lr)`` (e.g. the step size tuned on a similar problem).
        half_width, coarse, fine: the window's half width and the two grid spacings, in decades.
        journal: a ``.jsonl`` file; every scored point is appended as it finishes, and a rerun with the same
            settings (problem name, model and its options, optimizer, m, p, steps, seeds, precision) reuses
            it, so an interrupted search resumes; a last line cut short by a killed process is scored again.
        out: where to save the result (see :meth:`TuningResult.save`).

    Returns:
        the :class:`TuningResult`: ``protocol="grid"``; ``search_range`` the lowest and highest ``log10(lr)``
        scored (the window, extended by the fine grid when the best coarse point is on its edge);
        ``at_edge`` True (with a warning) when the winner is one of those two ends; one record per scored
        point, in the order scored.

    Raises:
        OptimizerError: for an optimizer other than ``gd`` and ``hd``.
        ValueError: for no seeds, spacings that are not positive multiples of 0.1 with ``fine < coarse``, a
            negative ``half_width``, a window entirely outside ``search_range``, or a journal written by
            another search or damaged before its last line.
        KeyboardInterrupt: when a run is cut short (it has no score; the journal keeps the points before it).
    """
    _check_optimizer(optimizer)
    seeds = _check_seeds(seeds)
    for name, spacing in (("coarse", coarse), ("fine", fine)):
        if not (spacing > 0 and abs(spacing * 10 - round(spacing * 10)) < 1e-9):
            raise ValueError(f"{name} must be a positive multiple of 0.1 (B.7's grid), got {spacing!r}")
    if not fine < coarse:
        raise ValueError(f"fine must be smaller than coarse, got fine={fine!r}, coarse={coarse!r}")
    if not half_width >= 0:
        raise ValueError(f"half_width must be >= 0 decades, got {half_width!r}")
    if search_range is None:
        search_range = THESIS_RANGES["pixel" if model == "pixel" else "cnn"]
    search_range = (float(search_range[0]), float(search_range[1]))
    first = grid_points(center, half_width, coarse, search_range)
    if not first:
        raise ValueError(f"the window {center:g} +- {half_width:g} lies entirely outside the search range "
                         f"{search_range}")
    objectives = seed_objectives(problem, model, penal, seeds, model_options, precision)
    settings = {"problem": objectives[0].problem.name, "model": model, "optimizer": optimizer,
                "m": m if optimizer == "hd" else None, "penal": float(penal), "steps": int(steps), "seeds": seeds,
                "precision": precision, "model_options": json.loads(json.dumps(model_options or {}, sort_keys=True))}
    scored = _read_grid_journal(journal, settings)
    records: list[dict] = []

    from tqdm.auto import tqdm
    per_side = math.ceil(coarse / fine - 1e-9) - 1     # fine points on each side: 0 < j * fine < coarse
    bar = tqdm(total=len(first) + 2 * per_side, unit="lr", disable=not progress,
               desc=f"grid {optimizer} on {settings['problem']}")

    def score_all(points):
        for x in points:
            if x not in scored:
                value, finals, statuses = score_step_size(objectives, optimizer, 10.0 ** x, m, steps)
                scored[x] = {"log10_lr": x, "lr": 10.0 ** x, "median_final_loss": value,
                             **{f"seed_{s}": f for s, f in zip(seeds, finals)}, "statuses": ",".join(statuses)}
                if journal is not None:
                    with open(journal, "a") as handle:
                        handle.write(json.dumps({**settings, **scored[x]}) + "\n")
            records.append(scored[x])
            bar.update()
            bar.set_postfix(log10_lr=x, median=f"{scored[x]['median_final_loss']:.4g}")

    score_all(first)
    best = min(records, key=lambda r: (r["median_final_loss"], r["log10_lr"]))["log10_lr"]
    second = [x for x in grid_points(best, per_side * fine, fine, search_range) if x != best]
    bar.total = len(first) + len(second)
    score_all(second)
    bar.close()
    winner = min(records, key=lambda r: (r["median_final_loss"], r["log10_lr"]))
    searched = (min(r["log10_lr"] for r in records), max(r["log10_lr"] for r in records))
    result = TuningResult(optimizer, settings["problem"], model, float(penal), steps, seeds, searched,
                          winner["lr"], winner["log10_lr"], winner["median_final_loss"], records, protocol="grid",
                          at_edge=winner["log10_lr"] in searched and searched[0] < searched[1])
    if result.at_edge:
        warnings.warn(f"grid search of {optimizer} on {settings['problem']}: the best step 10^{winner['log10_lr']:g} "
                      f"is the edge of the range searched {searched}; a better one may lie beyond", stacklevel=2)
    if out is not None:
        result.save(out)
    return result


def _read_grid_journal(journal, settings: dict) -> dict[float, dict]:
    """The points a grid search's journal already holds, by ``log10(lr)``; refuses other settings."""
    if journal is None:
        return {}
    journal = Path(journal)
    journal.parent.mkdir(parents=True, exist_ok=True)
    if not journal.exists():
        return {}
    scored = {}
    lines = journal.read_text().splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):    # a write cut short by a killed process: that point is scored again
                break
            raise ValueError(f"{journal} line {number} is not JSON; the journal is damaged") from None
        other = {key: entry.get(key) for key in settings}
        if other != settings:
            changed = {key: (other[key], settings[key]) for key in settings if other[key] != settings[key]}
            raise ValueError(f"{journal} line {number} was written by another search (recorded, asked: {changed}); "
                             f"give another journal file or delete this one")
        scored[round(entry["log10_lr"], 1)] = {key: value for key, value in entry.items() if key not in settings}
    return scored


def _check_optimizer(optimizer: str) -> None:
    if optimizer not in ("gd", "hd"):
        raise OptimizerError(f"step-size search is for the constant-step optimizers 'gd' and 'hd', "
                             f"got {optimizer!r}")


def _check_seeds(seeds) -> list[int]:
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    return seeds


def seed_objectives(problem, model: str, penal: float, seeds: Sequence[int], model_options: dict | None = None,
                    precision: str = "mixed") -> list[Objective]:
    """One objective per seed, as the searches score them.

    Args:
        problem: a thesis code or problem name (built through :class:`landscape.spec.RunSpec`, so exactly
            as a run of that spec), or a ``Problem`` (built with :func:`landscape.models.build`).
        model, penal, model_options, precision: the parameterization, the SIMP exponent p, the model's
            options and the network's precision.
        seeds: the model seeds, one objective each.

    Returns:
        the objectives, in the order of ``seeds``.

    Raises:
        whatever building the spec or the model raises for a bad name or option (``RunSpec`` names the
        accepted values).
    """
    if isinstance(problem, str):
        from landscape.spec import RunSpec
        return [RunSpec(problem=problem, model=model, model_options=model_options or {}, seed=s,
                        precision=precision, penal=penal).build_objective() for s in seeds]
    return [Objective(problem, models.build(model, problem, seed=s, precision=precision, **(model_options or {})),
                      penal) for s in seeds]


def score_step_size(objectives, optimizer: str, lr: float, m: int, steps: int) -> tuple[float, list[float], list[str]]:
    """Appendix B.7's score of one step size: the median final loss of ``steps`` steps over ``objectives``.

    Args:
        objectives: one per seed (see :func:`seed_objectives`).
        optimizer, lr, m: ``gd`` or ``hd`` (with memory ``m``) at constant step ``lr``.
        steps: the step budget.

    Returns:
        ``(median, finals, statuses)``: the median final loss (a non-finite final loss counts as 1e300, so a
        diverged run scores worst), each run's final loss and its status.

    Raises:
        KeyboardInterrupt: when a run was cut short (it has no score).
    """
    from landscape.optim import build
    from landscape.runner import run

    options = {"lr": lr} if optimizer == "gd" else {"lr": lr, "m": m}
    finals, statuses = [], []
    for objective in objectives:
        result = run(objective, build(optimizer, **options), steps=steps, progress=False)
        if result.status == "interrupted":   # a cut-short run has no score: the search stops
            raise KeyboardInterrupt(result.message)
        final = result.final_loss
        finals.append(final if math.isfinite(final) else _WORST)
        statuses.append(result.status)
    return min(statistics.median(finals), _WORST), finals, statuses
