"""Why GD_LS runs end with a failed line search: each failed search replayed in mixed precision and in float64.

A GD_LS run (``gd_ls``: steepest descent with L-BFGS-B's Moré-Thuente search, the thesis's appendix B.2.4)
stops when its line search finds no step in 20 trials. The trace keeps the iterate the failed search
started from (``/final/theta``) and every trial it made (``/evaluations``). This study replays that search
from that iterate:

1. in the run's own precision (mixed: float32 network, float64 physics), checking that the replay makes the
   recorded trials, step for step;
2. in float64 end to end, from the same iterate (whose float32 rounding is what the mixed run's network saw).

For every trial it records the step length ``a``, the change of the loss ``f(a) - f(0)``, the first-order
prediction ``a g'd`` and the sufficient-decrease bound ``ftol a g'd`` (Armijo: ``f(a) <= f(0) + ftol a g'd``),
the slope ratio ``g(a)'d / g'd``, and the fraction of the network's float32 weights that the step
``theta + a d`` changes at all (a trial that moves few or none of them cannot lower the loss by ``a g'd``).

Reads the traces of the Table 3.3 matrix (``runs/matrix/traces``; run
``table_3_3_decomposition.py --problem D,E --penal 3 --seeds 10`` first), or of the sweep folders given
with ``--runs``, and replays the runs whose status is ``line_search_failed``.

    python studies/gd_ls_failed_searches.py                      # cnn_transpose, p = 3, D and E
    python studies/gd_ls_failed_searches.py --problem D --penal 3 --model cnn_transpose

Writes ``gd_ls_failed_searches.csv`` (one row per trial), ``gd_ls_failed_searches_summary.csv`` and ``.md``
(one row per run and precision) and ``gd_ls_failed_searches.png``.
"""
from __future__ import annotations

# common first: it sets the output folder and pins the numerics before NumPy and torch load
from common import FIGURES, RUNS, add_output_options, setup

import argparse
import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from landscape import numerics
from landscape import problems as problems_
from landscape.optim.steps import MoreThuente
from landscape.trace import open_trace

STEM = "gd_ls_failed_searches"
SEARCH_OPTIONS = ("ftol", "gtol", "xtol", "maxls")


def failed_runs(folder: Path, problems, penals, model: str) -> list[tuple[str, float, int, Path]]:
    """The GD_LS traces under ``folder/traces`` of ``model`` on ``problems`` (codes) x ``penals`` whose run ended
    with a failed line search, recorded in this process's numerics mode, as (code, penal, seed, path), sorted."""
    names = {problems_.get(code).name: code for code in problems}
    found = []
    for path in sorted(Path(folder, "traces").glob(f"*_{model}_gd_ls_*.h5")):
        with open_trace(path) as trace:
            config = trace.config
            if (config["problem"] in names and float(config["penal"]) in penals and config["model"] == model
                    and trace.status == "line_search_failed"
                    and trace.numerics.get("mode", "native") == numerics.mode()):
                found.append((names[config["problem"]], float(config["penal"]), int(config["seed"]), path))
    return sorted(found)


def replay(objective, theta: torch.Tensor, options: dict) -> tuple[list[dict], object]:
    """Replay GD_LS's search from ``theta``: ``d = -g``, L-BFGS-B's first trial ``1 / |d|``, ``MoreThuente`` with the
    run's constants; the same arithmetic as ``Decomposed._search`` (``theta + a d`` in float64).

    Returns:
        The trials (``alpha``, ``loss``, ``delta`` = f(a) - f(0), ``predicted`` = a g'd, ``armijo`` (bool),
        ``slope_ratio`` = g(a)'d / g'd, ``changed_weights`` = fraction of float32 weights the step changes)
        and the search's :class:`LineResult`.
    """
    loss0, grad0 = objective.value_and_grad(theta)
    d = -grad0
    slope0 = float(grad0 @ d)
    rule = MoreThuente(**{k: options[k] for k in SEARCH_OPTIONS if k in options})
    start32 = theta.to(torch.float32)
    trials = []

    def line(alpha):
        point = torch.add(theta, d, alpha=alpha)
        loss, grad = objective.value_and_grad(point)
        slope = float(grad @ d)
        trials.append({"alpha": alpha, "loss": loss, "delta": loss - loss0, "predicted": alpha * slope0,
                       "armijo": bool(loss - loss0 <= rule.ftol * alpha * slope0), "slope_ratio": slope / slope0,
                       "changed_weights": float((point.to(torch.float32) != start32).double().mean())})
        return loss, grad, slope

    result = rule.search(line, loss0, slope0, rule.first_trial(d, False))
    for trial in trials:
        trial.update(loss0=loss0, grad_norm=float(grad0.norm()))
    return trials, result


def replay_run(path: Path, code: str) -> list[dict]:
    """Both replays of one failed run (of problem ``code``): one row per trial and precision, with the run's
    identity, whether the
    mixed replay made the recorded trials (``reproduces``), and whether the search found a step."""
    with open_trace(path) as trace:
        config, spec = trace.config, trace.spec()
        theta = torch.as_tensor(trace.final().theta, dtype=torch.float64)
        evaluations = trace.evaluations()
    failed_step = int(evaluations["step"].iloc[-1])
    recorded = evaluations[evaluations["step"] == failed_step]["alpha"].to_numpy()[-int(config["optimizer_options"]
                                                                                          .get("maxls", 20)):]
    rows = []
    for precision in ("mixed", "float64"):
        objective = dataclasses.replace(spec, precision=precision).build_objective()
        trials, result = replay(objective, theta, config["optimizer_options"])
        alphas = np.array([t["alpha"] for t in trials])
        same = (len(alphas) <= len(recorded)
                and np.allclose(alphas, recorded[len(recorded) - len(alphas):], rtol=1e-9, atol=0.0))
        for number, trial in enumerate(trials, 1):
            rows.append({"problem": code, "model": config["model"], "penal": float(config["penal"]),
                         "seed": int(config["seed"]), "step": failed_step, "precision": precision, "trial": number,
                         **trial, "found_step": bool(result.ok),
                         "accepted_alpha": float(result.alpha) if result.ok else np.nan,
                         "reproduces": bool(same) if precision == spec.precision else np.nan})
    return rows


def summarize(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per run and precision: the start, the first trial's rise, the trials spent, the shortest trial,
    the first trial after the overshoot (the first whose step is below a thousandth of the first), and the result."""
    rows = []
    for (problem, penal, seed, precision), run in trials.groupby(["problem", "penal", "seed", "precision"],
                                                                  sort=True):
        first = run.iloc[0]
        short = run[run["alpha"] < 1e-3 * first["alpha"]]
        after = short.iloc[0] if len(short) else None
        rows.append({"problem": problem, "penal": penal, "seed": seed, "precision": precision,
                     "step": int(first["step"]), "loss": first["loss0"], "grad_norm": first["grad_norm"],
                     "first_alpha": first["alpha"], "first_rise": first["delta"], "trials": len(run),
                     "short_alpha": np.nan if after is None else after["alpha"],
                     "short_delta": np.nan if after is None else after["delta"],
                     "short_predicted": np.nan if after is None else after["predicted"],
                     "short_changed_weights": np.nan if after is None else after["changed_weights"],
                     "found_step": bool(first["found_step"]), "accepted_alpha": first["accepted_alpha"],
                     "reproduces": run["reproduces"].iloc[0]})
    return pd.DataFrame(rows)


def table(summary: pd.DataFrame) -> str:
    """The summary as a markdown table, with a one-line header naming what was replayed."""
    lines = [f"GD_LS runs that ended with a failed line search, the failed search replayed from the same iterate "
             f"(`studies/{STEM}.py`). 'After the overshoot' is the first trial at most a thousandth of the first "
             "trial's step: its loss change, the first-order prediction a g'd, and the fraction of float32 "
             "weights that its step changes.", "",
             "| problem | p | seed | step | loss | precision | first trial: rise | after the overshoot: a | "
             "f(a) - f(0) | a g'd | weights changed | trials | step found | replay = run |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in summary.itertuples():
        reproduces = "-" if pd.isna(r.reproduces) else ("yes" if r.reproduces else "**no**")
        found = f"yes, a = {r.accepted_alpha:.3g}" if r.found_step else "no"
        lines.append(f"| {r.problem} | {r.penal:g} | {r.seed} | {r.step} | {r.loss:.4g} | {r.precision} | "
                     f"{r.first_rise:.3g} | {r.short_alpha:.3g} | {r.short_delta:.3g} | {r.short_predicted:.3g} | "
                     f"{r.short_changed_weights:.2%} | {r.trials} | {found} | {reproduces} |")
    return "\n".join(lines) + "\n"


def plot(trials: pd.DataFrame, path: Path) -> None:
    """Two panels (mixed, float64): every trial's loss change over its first-order prediction, against its step
    length, one line per run; below -ftol the trial satisfies the sufficient-decrease condition."""
    from landscape.plots import pyplot, save
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4), sharey=True, layout="constrained")
    for ax, precision in zip(axes, ("mixed", "float64")):
        part = trials[trials["precision"] == precision]
        for i, ((problem, seed), run) in enumerate(part.groupby(["problem", "seed"])):
            color = plt.get_cmap("tab20")(i % 20)
            run = run.sort_values("alpha")
            ratio = run["delta"] / run["predicted"].abs()
            ax.plot(run["alpha"], ratio, "-", color=color, lw=0.8, alpha=0.7)
            ok = run["armijo"].to_numpy()
            ax.scatter(run["alpha"][ok], ratio[ok], color=color, marker="o", s=16,
                       label=f"{problem} seed {seed}")
            ax.scatter(run["alpha"][~ok], ratio[~ok], facecolors="none", edgecolors=color, marker="o", s=16)
        ax.axhline(-1.0, color="0.3", lw=0.8, ls=":")
        ax.axhline(-1e-3, color="0.3", lw=0.8, ls="--")
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
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problem", default="D,E", help="comma-separated problems (default D,E)")
    parser.add_argument("--penal", default="3", help="comma-separated penalizations (default 3)")
    parser.add_argument("--model", default="cnn_transpose")
    parser.add_argument("--runs", type=Path, nargs="+", default=[RUNS / "matrix"], metavar="DIR",
                        help="the sweep folders whose traces are replayed (default runs/matrix)")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="torch and BLAS threads (default: the thread policy, 1)")
    args = setup(add_output_options(parser).parse_args(argv))
    problems = args.problem.split(",")
    try:
        penals = [float(p) for p in args.penal.split(",")]
    except ValueError:
        parser.error(f"--penal takes comma-separated numbers, got {args.penal!r}")
    paths = sorted(run for folder in args.runs for run in failed_runs(folder, problems, penals, args.model))
    if not paths:
        folders = ", ".join(f"{folder}/traces" for folder in args.runs)
        parser.error(f"no {args.model} GD_LS trace on {args.problem}, p = {args.penal} under {folders} ended "
                     f"with a failed line search in the {numerics.mode()} numerics mode; run "
                     "table_3_3_decomposition.py for these cases first")
    rows = []
    for number, (code, _, _, path) in enumerate(paths, 1):
        print(f"[{number}/{len(paths)}] {path.name}", flush=True)
        rows += replay_run(path, code)
    trials = pd.DataFrame(rows)
    summary = summarize(trials)
    FIGURES.mkdir(parents=True, exist_ok=True)
    trials.to_csv(FIGURES / f"{STEM}.csv", index=False)
    summary.to_csv(FIGURES / f"{STEM}_summary.csv", index=False)
    text = table(summary)
    (FIGURES / f"{STEM}_summary.md").write_text(text)
    plot(trials, FIGURES / f"{STEM}.png")
    print(text)


if __name__ == "__main__":
    main()
