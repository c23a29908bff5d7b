"""Why GD_LS runs end with a failed line search: each failed search replayed in mixed precision and in float64.

A GD_LS run (``gd_ls``: steepest descent with L-BFGS-B's Moré-Thuente search, the thesis's appendix B.2.4)
stops when its line search finds no step in 20 trials. The trace keeps the iterate the failed search
started from (``/final/theta``) and every trial it made (``/evaluations``). This study replays that search
from that iterate:

1. in the run's own precision (mixed: float32 network, float64 physics), checking that the replay makes the
   recorded trials exactly (the same step lengths and losses, trial for trial);
2. in float64 end to end, from the same iterate (whose float32 rounding is what the mixed run's network saw).

For every trial it records the step length ``a``, the change of the loss ``f(a) - f(0)``, the first-order
prediction ``a g'd``, whether the sufficient-decrease condition ``f(a) <= f(0) + ftol a g'd`` holds, the
slope ratio ``g(a)'d / g'd`` (the curvature condition asks ``|g(a)'d| <= gtol |g'd|``), the fraction of the
network's float32 weights that the step ``theta + a d`` changes at all, and the fraction of those that change
by exactly one unit in the last place (a trial that moves few weights, each by one float32 unit, cannot
lower the loss by ``a g'd``).

Which runs: the seeds whose status is ``line_search_failed`` in the committed GD_LS curves of the cells
asked for (``curves/full/<model>_p<p>_<problem>_GD_LS.csv``). Their traces are looked up in
``runs/matrix/traces`` (Table 3.3's matrix) and ``runs/gd_ls_failed_searches/traces``; a seed with no
trace there (the matrix reads a committed cell's first seeds back from its CSV instead of rerunning them)
is run again into the latter, with the matrix's own settings, before the replay.

    python studies/gd_ls_failed_searches.py                      # cnn_transpose, p = 3, D and E
    python studies/gd_ls_failed_searches.py --problem D --penal 3 --model cnn_transpose

Writes ``gd_ls_failed_searches.csv`` (one row per trial), ``gd_ls_failed_searches_summary.csv`` and ``.md``
(one row per run and precision) and ``gd_ls_failed_searches.png``.
"""
from __future__ import annotations

# common first: it sets the output folder and pins the numerics before NumPy and torch load
from common import FIGURES, RUNS, add_output_options, interrupted_cleanly, setup

import argparse
import dataclasses
from pathlib import Path

import matrix
import numpy as np
import pandas as pd
import torch

from landscape import numerics, threads
from landscape import problems as problems_
from landscape.optim.steps import MoreThuente
from landscape.trace import TraceError, open_trace

STEM = "gd_ls_failed_searches"
MATRIX_RUNS = RUNS / "matrix"
RERUNS = RUNS / STEM


def failed_seeds(statuses: dict) -> list[int]:
    """The seeds whose status is ``line_search_failed`` among a committed cell's statuses.

    Args:
        statuses: ``{"seed_0": status, ...}``, the first line of a cell's curve CSV (:func:`matrix.read_curves`).

    Returns:
        The seeds, sorted.
    """
    return sorted(matrix.seed_of(column) for column, status in statuses.items() if status == "line_search_failed")


def index_traces(folders, model: str) -> dict[tuple[str, float, int], Path]:
    """The GD_LS traces with L-BFGS-B's search under ``folder/traces`` of each of ``folders`` whose run ended with
    a failed line search in this process's numerics mode, keyed by (problem name, penalization, seed); where two
    folders hold the same run, the first folder's trace is kept.

    Args:
        folders: sweep folders, in order of preference; a folder that does not exist holds nothing.
        model: the model kind (``cnn_transpose``, ``pixel``, ...).

    Returns:
        ``{(problem name, penal, seed): trace path}``.
    """
    found = {}
    for folder in folders:
        for path in sorted(Path(folder, "traces").glob(f"*_{model}_gd_ls_*.h5")):
            try:
                with open_trace(path) as trace:
                    config, status, mode = trace.config, trace.status, trace.numerics.get("mode", "native")
            except TraceError:
                continue
            if (config["model"] == model and config["optimizer"] == "gd_ls" and status == "line_search_failed"
                    and config["optimizer_options"].get("search", "lbfgsb") == "lbfgsb" and mode == numerics.mode()):
                found.setdefault((config["problem"], float(config["penal"]), int(config["seed"])), path)
    return found


def rerun(missing, model: str, workers: int, threads) -> None:
    """Run the GD_LS seeds ``missing`` (``(code, penal, seed)`` triples) again into ``runs/gd_ls_failed_searches``
    with the matrix's own settings for the cell (the thesis's protocol: 700 steps, L-BFGS-B's search, mixed
    precision), as one sweep with a progress bar."""
    from landscape import sweep
    tasks = []
    for code, penal in sorted({(code, penal) for code, penal, _ in missing}):
        entry, steps = matrix.optimizer_entry("GD_LS", model, penal, code, matrix.FULL)
        seeds = sorted(seed for c, p, seed in missing if (c, p) == (code, penal))
        tasks += sweep.expand(matrix.cell_config(STEM, RERUNS, model, penal, code, entry, steps, seeds,
                                                 threads=threads)).tasks
    with interrupted_cleanly():
        sweep.run_sweep(sweep.Sweep(STEM, RERUNS, tasks, retries=2, raw={"name": STEM}), workers=workers)


def matches_curve(path: Path, committed: pd.Series) -> bool:
    """Whether a trace's losses are a committed curve column as written (``matrix.CURVE_FLOAT_FORMAT``), step for step,
    with the column's later rows holding the last loss (a run that stopped early is padded so).

    Args:
        path: the run's trace.
        committed: the seed's column of the committed curve CSV (:func:`matrix.read_curves`).
    """
    with open_trace(path) as trace:
        losses = trace.steps()["loss"]
    column = committed.to_numpy()
    return (len(losses) <= len(column)
            and all(float(matrix.CURVE_FLOAT_FORMAT % value) == written for value, written in zip(losses, column))
            and bool(np.all(column[len(losses):] == column[len(losses) - 1])))


class RecordingObjective:
    """An objective that keeps every point it is evaluated at, so that a replay can run the optimizer's own search
    and still see where each trial went. Everything else is the wrapped objective's.

    Args:
        objective: the :class:`~landscape.Objective` to wrap.
    """

    def __init__(self, objective):
        self.objective = objective
        self.points: list[torch.Tensor] = []

    def __getattr__(self, name):
        return getattr(self.objective, name)

    def value_and_grad(self, theta: torch.Tensor):
        """The wrapped objective's ``value_and_grad(theta)``, with ``theta`` kept in :attr:`points`."""
        self.points.append(theta.detach().clone())
        return self.objective.value_and_grad(theta)


def replay(spec, objective, theta: torch.Tensor) -> tuple[list[dict], object]:
    """Replay GD_LS's search from ``theta`` by taking one step of the run's own optimizer
    (``spec.build_optimizer()``, a :class:`~landscape.optim.Decomposed` ``gd_ls``: ``d = -g``, L-BFGS-B's first
    trial ``1 / |d|``, Moré-Thuente with the run's constants) on ``objective``, recording every trial.

    Args:
        spec: the run's :class:`~landscape.RunSpec` (its optimizer and options are used).
        objective: the run's objective, in the precision to replay in.
        theta: the iterate the search starts from, float64, shape (n,).

    Returns:
        The trials, each a dict (``alpha``; ``loss``; ``delta`` = f(a) - f(0); ``predicted`` = a g'd; ``armijo``:
        the sufficient-decrease condition holds; ``slope_ratio`` = g(a)'d / g'd; ``changed_weights``: the
        fraction of float32 weights the step changes; ``one_ulp``: the fraction of those that change by exactly
        one unit in the last place; ``ftol``, ``gtol``, ``loss0``, ``grad_norm``), and the step
        (:class:`~landscape.optim.Step`: ``accepted`` when the search found a step, its ``step_size``).

    Raises:
        ValueError: the spec's optimizer is not GD_LS with the L-BFGS-B search (``search="lbfgsb"``, the thesis's).
    """
    optimizer = spec.build_optimizer()
    if optimizer.name != "gd_ls" or not isinstance(optimizer.rule, MoreThuente):
        raise ValueError(f"replay needs a gd_ls run with search='lbfgsb', got optimizer {spec.optimizer!r} with "
                         f"options {spec.optimizer_options}")
    recording = RecordingObjective(objective)
    start = optimizer.start(recording, theta)
    step = optimizer.step()
    loss0, grad0 = start.loss, start.grad
    slope0 = -float(grad0 @ grad0)                      # g'd with d = -g
    ftol, gtol = optimizer.rule.ftol, optimizer.rule.gtol
    start32 = recording.points[0].to(torch.float32)
    ulp = torch.from_numpy(np.spacing(np.abs(start32.numpy())))
    trials = []
    for evaluation, point in zip(step.evaluations, recording.points[1:], strict=True):
        moved = point.to(torch.float32) - start32
        changed = moved != 0
        alpha, loss = evaluation.alpha, evaluation.loss
        trials.append({"alpha": alpha, "loss": loss, "delta": loss - loss0, "predicted": alpha * slope0,
                       "armijo": bool(loss - loss0 <= ftol * alpha * slope0),
                       "slope_ratio": evaluation.slope / slope0,
                       "changed_weights": float(changed.double().mean()),
                       "one_ulp": float((moved[changed].abs() == ulp[changed]).double().mean())
                       if bool(changed.any()) else np.nan,
                       "ftol": ftol, "gtol": gtol, "loss0": loss0, "grad_norm": float(grad0.norm())})
    return trials, step


def recorded_trials(trace) -> pd.DataFrame:
    """The trials of a trace's last, failed search: the evaluations after those its accepted steps used."""
    used = int(trace.steps()["evaluations"][-1])
    return trace.evaluations().iloc[used:]


def replay_run(path: Path, code: str) -> list[dict]:
    """Both replays of one failed run.

    Args:
        path: the run's trace.
        code: the problem's name as the tables give it (e.g. ``D``).

    Returns:
        One row per trial and precision: the run's identity (problem, model, penal, seed, ``step`` = the steps it
        had taken), the trial (:func:`replay`), ``found_step`` and ``accepted_alpha`` (the search's result),
        and for the run's own precision ``reproduces``: the replay made the recorded trials exactly (the same
        number, step lengths and losses), with the run's thread counts.
    """
    with open_trace(path) as trace:
        config, spec = trace.config, trace.spec()
        theta = torch.as_tensor(trace.final().theta, dtype=torch.float64)
        recorded, taken = recorded_trials(trace), trace.num_steps
    rows = []
    for precision in ("mixed", "float64"):
        objective = dataclasses.replace(spec, precision=precision).build_objective()
        # the run's thread counts: with more threads the float32 network sums in another order
        with threads.limited(threads.Threads.from_config(config.get("threads")) or threads.policy()):
            trials, step = replay(spec, objective, theta)
        same = (len(trials) == len(recorded)
                and np.array_equal([t["alpha"] for t in trials], recorded["alpha"].to_numpy())
                and np.array_equal([t["loss"] for t in trials], recorded["loss"].to_numpy()))
        for number, trial in enumerate(trials, 1):
            rows.append({"problem": code, "model": config["model"], "penal": float(config["penal"]),
                         "seed": int(config["seed"]), "step": taken, "precision": precision, "trial": number,
                         **trial, "found_step": bool(step.accepted),
                         "accepted_alpha": float(step.step_size) if step.accepted else np.nan,
                         "reproduces": bool(same) if precision == spec.precision else np.nan})
    return rows


def summarize(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per run and precision, from the rows of :func:`replay_run`.

    Returns:
        The start (``step``, ``loss``, ``grad_norm``), the first trial (``first_alpha``, ``first_rise``), the
        trials spent, the first *short* trial (the first whose step is below a thousandth of the first trial's:
        ``short_trial``, ``short_alpha``, ``short_delta``, ``short_predicted``, ``short_changed_weights``,
        ``short_one_ulp``), ``later_max_ratio`` (the longest later trial over the short one), the later trials
        that satisfied the sufficient-decrease condition (``later_armijo``) and the smallest slope ratio
        ``g(a)'d / g'd`` among them (above ``gtol``, the curvature condition fails), the result and ``reproduces``.
    """
    rows = []
    for (problem, penal, seed, precision), run in trials.groupby(["problem", "penal", "seed", "precision"]):
        run = run.sort_values("trial")
        first = run.iloc[0]
        short = run[run["alpha"] < 1e-3 * first["alpha"]]
        after = short.iloc[0] if len(short) else None
        later = run[run["trial"] > after["trial"]] if after is not None else run.iloc[:0]
        passed = later[later["armijo"]]
        rows.append({"problem": problem, "penal": penal, "seed": seed, "precision": precision,
                     "step": int(first["step"]), "loss": first["loss0"], "grad_norm": first["grad_norm"],
                     "first_alpha": first["alpha"], "first_rise": first["delta"], "trials": len(run),
                     **{f"short_{k}": (np.nan if after is None else after[k])
                        for k in ("trial", "alpha", "delta", "predicted", "changed_weights", "one_ulp")},
                     "later_max_ratio": later["alpha"].max() / after["alpha"] if len(later) else np.nan,
                     "later_armijo": len(passed),
                     "later_armijo_min_slope_ratio": passed["slope_ratio"].min() if len(passed) else np.nan,
                     "found_step": bool(first["found_step"]), "accepted_alpha": first["accepted_alpha"],
                     "reproduces": run["reproduces"].iloc[0]})
    return pd.DataFrame(rows)


def table(summary: pd.DataFrame) -> str:
    """The summary as a markdown table under a paragraph saying what each column is."""
    lines = [f"GD_LS runs that ended with a failed line search, each failed search replayed from the iterate it "
             f"started at (`studies/{STEM}.py`). 'Short trial': the first trial whose step is below a thousandth "
             "of the first trial's; its loss change, the first-order prediction a g'd, the share of float32 "
             "weights its step changes and the share of those that move by one unit in the last place. 'Later': "
             "the longest later trial over the short one, and how many later trials satisfied the "
             "sufficient-decrease condition (they failed the curvature condition: smallest g(a)'d / g'd). The last "
             "column: the run's losses are its committed curve as written, step for step ('rerun': the matrix "
             "had read the seed back from the curve file, and this study ran it again).", "",
             "| problem | p | seed | step | loss | precision | first trial: rise | short trial: # | a | f(a) - f(0) | "
             "a g'd | weights changed | by one ulp | later: longest / short | sufficient decrease (slope ratio) "
             "| trials | step found | replay = run | trace = committed curve |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in summary.itertuples():
        reproduces = "-" if pd.isna(r.reproduces) else ("yes" if r.reproduces else "**no**")
        curve = "-" if not hasattr(r, "matches_curve") else \
            ("yes" if r.matches_curve else "**no**") + (" (rerun)" if r.rerun else "")
        found = f"yes, a = {r.accepted_alpha:.3g}" if r.found_step else "no"
        passed = f"{r.later_armijo} ({r.later_armijo_min_slope_ratio:.4g})" if r.later_armijo else "0"
        lines.append(f"| {r.problem} | {r.penal:g} | {r.seed} | {r.step} | {r.loss:.4g} | {r.precision} | "
                     f"{r.first_rise:.3g} | {r.short_trial:.0f} | {r.short_alpha:.3g} | {r.short_delta:.3g} | "
                     f"{r.short_predicted:.3g} | {r.short_changed_weights:.2%} | {r.short_one_ulp:.1%} | "
                     f"{r.later_max_ratio:.2g} | {passed} | {r.trials} | {found} | {reproduces} | {curve} |")
    return "\n".join(lines) + "\n"


def plot(trials: pd.DataFrame, path: Path) -> None:
    """Two panels (mixed, float64) sharing both axes: every trial's loss change over its first-order prediction
    against its step length, one line per run; at or below ``-ftol`` the trial satisfies the sufficient-decrease
    condition.

    Args:
        trials: the rows of :func:`replay_run`.
        path: the image to write.
    """
    from landscape.plots import pyplot, save
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6), sharex=True, sharey=True, layout="constrained")
    palette = plt.get_cmap("tab20")
    for ax, precision in zip(axes, ("mixed", "float64")):
        part = trials[trials["precision"] == precision]
        for i, ((problem, seed), run) in enumerate(part.groupby(["problem", "seed"])):
            color = palette((2 * i) % 20 + (2 * i // 20) % 2)      # the dark shades first, then the light ones
            run = run.sort_values("alpha")
            ratio = run["delta"] / run["predicted"].abs()
            ax.plot(run["alpha"], ratio, "-", color=color, lw=0.8, alpha=0.7)
            ok = run["armijo"].to_numpy()
            ax.scatter(run["alpha"][ok], ratio[ok], color=color, marker="o", s=16, label=f"{problem} seed {seed}")
            ax.scatter(run["alpha"][~ok], ratio[~ok], facecolors="none", edgecolors=color, marker="o", s=16)
        ax.axhline(-1.0, color="0.3", lw=0.8, ls=":")
        ax.axhline(-float(part["ftol"].iloc[0]), color="0.3", lw=0.8, ls="--")
        ax.set_xscale("log")
        ax.set_yscale("symlog", linthresh=1e-4)
        ax.set_xlabel("trial step length a")
        found = part.groupby(["problem", "seed"])["found_step"].first()
        ax.set_title(f"{precision}: a step found in {int(found.sum())} of {len(found)} replays", fontsize=9)
    axes[0].set_ylabel("(f(a) - f(0)) / |a g'd|")
    axes[1].legend(fontsize=7, loc="upper left", ncol=2)
    fig.suptitle("GD_LS's failed line searches replayed from the same iterate: every trial of each search\n"
                 "dotted: the first-order prediction (-1); dashed: sufficient decrease (-ftol); "
                 "filled: the trial satisfies it, open: it does not", fontsize=9)
    save(fig, path)


def main(argv=None):
    """Find the failed GD_LS runs of the cells asked for, rerun the ones with no trace, replay all, write the
    tables and the figure; exits with a message naming what is missing when there is nothing to replay."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problem", default="D,E", help="comma-separated problems (default D,E)")
    parser.add_argument("--penal", default="3", help="comma-separated penalizations (default 3)")
    parser.add_argument("--model", default=matrix.CNN, help=f"the model kind (default {matrix.CNN})")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="torch and BLAS threads (default: the thread policy, 1)")
    parser.add_argument("--workers", type=int, default=2, help="reruns in parallel (local Dask workers)")
    args = setup(add_output_options(parser).parse_args(argv))
    try:
        penals = [float(p) for p in args.penal.split(",")]
    except ValueError:
        parser.error(f"--penal takes comma-separated numbers, got {args.penal!r}")
    cells = [(code, penal) for code in args.problem.split(",") for penal in penals]
    wanted, committed, name = [], {}, {}
    for code, penal in cells:
        try:
            name[code] = problems_.get(code).name
        except (KeyError, ValueError) as error:
            parser.error(f"--problem: {error}")
        curve = matrix.found_curve_path(args.model, penal, code, "GD_LS")
        if curve is None:
            parser.error(f"no committed GD_LS curves of {args.model} on {code}, p = {penal:g} "
                         f"({matrix.curve_name(args.model, penal, code, 'GD_LS', 'thesis', False)}); run "
                         f"table_3_3_decomposition.py --model {args.model} --problem {code} --penal {penal:g} first")
        committed[(code, penal)], statuses = matrix.read_curves(curve)
        wanted += [(code, penal, seed) for seed in failed_seeds(statuses)]
    if not wanted:
        parser.error(f"no GD_LS run of {args.model} on {args.problem}, p = {args.penal} ended with a failed line "
                     "search: nothing to replay")
    traces = index_traces([MATRIX_RUNS, RERUNS], args.model)
    missing = [(c, p, s) for c, p, s in wanted if (name[c], p, s) not in traces]
    if missing:
        print(f"{len(missing)} failed run(s) have no trace here (read back from the committed curves); running "
              f"them again into {RERUNS}", flush=True)
        rerun(missing, args.model, args.workers, args.threads)
        traces = index_traces([MATRIX_RUNS, RERUNS], args.model)
        still = [(c, p, s) for c, p, s in missing if (name[c], p, s) not in traces]
        if still:
            raise SystemExit(f"error: rerun, these runs did not end with a failed line search as their committed "
                             f"curves say: {still}; the committed curves were made in another numerics mode or "
                             "by another version")
    rows = []
    for number, (code, penal, seed) in enumerate(wanted, 1):
        print(f"[{number}/{len(wanted)}] replaying {code}, p = {penal:g}, seed {seed}", flush=True)
        rows += replay_run(traces[(name[code], penal, seed)], code)
    trials = pd.DataFrame(rows)
    summary = summarize(trials)
    summary["matches_curve"] = [matches_curve(traces[(name[r.problem], r.penal, r.seed)],
                                              committed[(r.problem, r.penal)][f"seed_{r.seed}"])
                                for r in summary.itertuples()]
    # a trace under RERUNS is this study's rerun of a seed the matrix read back (now or in an earlier invocation)
    summary["rerun"] = [traces[(name[r.problem], r.penal, r.seed)].is_relative_to(RERUNS)
                        for r in summary.itertuples()]
    FIGURES.mkdir(parents=True, exist_ok=True)
    trials.to_csv(FIGURES / f"{STEM}.csv", index=False)
    summary.to_csv(FIGURES / f"{STEM}_summary.csv", index=False)
    text = table(summary)
    (FIGURES / f"{STEM}_summary.md").write_text(text)
    plot(trials, FIGURES / f"{STEM}.png")
    print(text)


if __name__ == "__main__":
    main()
