"""Thesis section 4.1, question 1: does early landscape information predict where a run ends?

The thesis found the Hessian "uninformative in differentiating good initializations" and suggested
that "perhaps an application of Machine Learning might uncover the hidden trends". This study
records, at steps 0, 5 and 20 of many runs, what the probes measure, and asks whether any of it
predicts the final loss better than the trivial predictor, the loss at that step.

Protocol: the thesis's CNN (``cnn_transpose``), p = 3, problems A and B, SciPy's L-BFGS-B (m = 10)
with 300 evaluations, seeds 0-49 [quick: 8 seeds, 60 evaluations, smaller probes]. At steps 0, 5
and 20 (features of step k are named ``<feature>_<k>``):

* ``loss``, ``grad_norm`` (log10);
* Hutchinson (20 Rademacher vectors): the Hessian's ``trace`` (sign-preserving log, ``asinh``),
  Frobenius norm (log10) and their ``ratio``;
* Lanczos (30 steps): the largest eigenvalue (log10) and the smallest (``asinh``);
* SLQ (2 runs of 30 steps): the density's mean and standard deviation (``asinh``) and its mass
  below zero;
* at steps 5 and 20, the L-BFGS matrix B (SLQ of its compact form): largest and smallest node
  (log10), and the trajectory: distance from the start and the norm of step k (log10, from the
  trace's steps), and ``grad_cosine_prev``, the cosine of the gradient at step k with the gradient at
  the previous probed step (0 for k = 5, 5 for k = 20; the ``trajectory`` probe compares with its own
  previous call, and it is called at steps 0, 5 and 20 only).

Analysis, per problem and per step k, with the features measured up to step k and the target
``log10(final loss)``:

* each feature's Spearman correlation with the final loss, with a 95 % bootstrap interval (BCa, 2000
  resamples over seeds; the percentile interval where BCa is undefined), its p-value and its
  Benjamini-Hochberg q-value over the features of the same problem and step (10 to 15 features are tested
  at once, so an interval that excludes zero by chance is to be expected); a feature *correlates* when its
  interval excludes zero and q < 0.05;
* out-of-fold predictions of 5-fold cross-validation repeated 5 times (averaged per seed) of the
  baseline (a line through ``log10 loss_k``), of the constant prediction (the training seeds' mean,
  which tells whether the baseline itself knows anything), ridge regression on the standardized features (its
  penalty chosen by an inner cross-validation) and gradient boosting (depth and rate chosen by an
  inner 3-fold grid search): nested cross-validation, scikit-learn;
* Rule: a predictor *beats the baseline* when the 95 % interval of the mean difference of its test-fold
  mean squared error and the baseline's, over the 25 folds, lies below zero; *loses* when it lies above;
  *no significant difference* otherwise. The interval is the corrected resampled t-test's (Nadeau and
  Bengio 2003): folds share training seeds, so the variance of the fold differences is inflated by
  ``1/J + n_test/n_train`` instead of ``1/J``, with ``J - 1`` degrees of freedom.

A run whose final loss is not finite is left out of both analyses and counted in the Markdown table; a
feature that is not finite (a log of 0) is missing, as for a step the run did not reach.

    python studies/sec_4_1_predict.py --quick
    python studies/sec_4_1_predict.py --workers 2

Writes ``sec_4_1_predict[_quick]_features.csv`` (one row per seed and problem: the feature table),
``_correlations.csv``, ``_predictors.csv``, ``.md`` and ``.png`` into the output folder; traces in
``runs/sec_4_1_predict[_quick]/``.
"""
from __future__ import annotations

# common first: it sets the output folder and pins the numerics before NumPy and torch load
from common import FIGURES, add_run_options, run_cases, setup, study_parser

import numpy as np
import pandas as pd
from scipy.stats import bootstrap, false_discovery_control, spearmanr, t

import landscape as L
from landscape.optional import require
from landscape.plots import pyplot, save

MODEL, PENAL = "cnn_transpose", 3.0
PROBLEMS = ("A", "B")
STEPS = (0, 5, 20)


def probes(quick: bool) -> list[dict]:
    """The probes of the module docstring, each at steps 0, 5 and 20 only."""
    at = {"at": list(STEPS), "last": False, "every": None}
    samples, lanczos = (6, 12) if quick else (20, 30)
    return [{"name": "hutchinson", "samples": samples, **at},
            {"name": "eigenvalues", "k": 1, "steps": lanczos, **at},
            {"name": "hessian_density", "runs": 2, "steps": lanczos, **at},
            {"name": "lbfgs_density", "runs": 2, "steps": lanczos, **at},
            {"name": "trajectory", **at}]


def _moments(nodes, weights):
    """Mean, standard deviation and negative mass of an SLQ density from its nodes and weights (runs x w)."""
    nodes = np.where(weights > 0, nodes, 0.0)        # a Lanczos run that ended early pads with NaN nodes
    w = weights / weights.sum(axis=1, keepdims=True)
    mean = float(np.mean((w * nodes).sum(axis=1)))
    second = float(np.mean((w * nodes ** 2).sum(axis=1)))
    return mean, float(np.sqrt(max(second - mean ** 2, 0.0))), float(np.mean((w * (nodes < 0)).sum(axis=1)))


def features(path) -> dict:
    """The feature row of one trace (module docstring); NaN for a step the run did not reach."""
    row = {}
    with L.open_trace(path) as trace:
        steps = trace.steps()
        row["final_loss"] = float(steps["loss"][-1])
        recorded = {name: trace.probe(name) for name in trace.probe_names}
    for k in STEPS:
        at = np.flatnonzero(steps["step"] == k)
        row[f"loss_{k}"] = np.log10(steps["loss"][at[0]]) if len(at) else np.nan
        row[f"grad_norm_{k}"] = np.log10(steps["grad_norm"][at[0]]) if len(at) else np.nan

        def value(probe, output, index=(), k=k):
            found = np.flatnonzero(recorded[probe]["step"] == k)
            return np.asarray(recorded[probe][output][found[0]])[index] if len(found) else np.nan
        row[f"trace_{k}"] = np.arcsinh(value("hutchinson", "trace"))
        row[f"frobenius_{k}"] = np.log10(value("hutchinson", "frobenius"))
        row[f"ratio_{k}"] = value("hutchinson", "ratio")
        row[f"lambda_max_{k}"] = np.log10(value("eigenvalues", "top", 0))
        row[f"lambda_min_{k}"] = np.arcsinh(value("eigenvalues", "bottom", 0))
        found = np.flatnonzero(recorded["hessian_density"]["step"] == k)
        mean, std, negative = (_moments(recorded["hessian_density"]["nodes"][found[0]],
                                        recorded["hessian_density"]["weights"][found[0]]) if len(found)
                               else (np.nan,) * 3)
        row[f"slq_mean_{k}"], row[f"slq_std_{k}"], row[f"slq_negative_{k}"] = np.arcsinh(mean), np.arcsinh(std), \
            negative
        if k > 0:
            nodes = value("lbfgs_density", "nodes")
            row[f"lbfgs_max_{k}"] = np.log10(np.nanmax(nodes)) if np.size(nodes) > 1 else np.nan
            row[f"lbfgs_min_{k}"] = np.log10(np.nanmin(nodes)) if np.size(nodes) > 1 else np.nan
            row[f"distance_{k}"] = np.log10(steps["distance"][at[0]]) if len(at) else np.nan
            row[f"step_norm_{k}"] = np.log10(steps["step_norm"][at[0]]) if len(at) else np.nan
            row[f"grad_cosine_prev_{k}"] = value("trajectory", "grad_cosine")
    return row


def columns_up_to(table: pd.DataFrame, k: int) -> list[str]:
    """The feature columns measured at steps <= k."""
    return [c for c in table.columns if c.rsplit("_", 1)[-1].isdigit() and int(c.rsplit("_", 1)[-1]) <= k]


def _interval(x: np.ndarray, y: np.ndarray, seed: int):
    """The 95 % BCa bootstrap interval of Spearman's rho (2000 resamples), the percentile interval where BCa
    is undefined (e.g. a feature constant on all but a few seeds)."""
    import warnings
    for method in ("bca", "percentile"):
        with warnings.catch_warnings():       # resamples that repeat one seed only: rho undefined, said here
            warnings.simplefilter("ignore")
            interval = bootstrap((x, y), lambda a, b: spearmanr(a, b).statistic, paired=True, vectorized=False,
                                 n_resamples=2000, method=method, random_state=seed).confidence_interval
        if np.isfinite([interval.low, interval.high]).all():
            break
    return interval


def correlations(table: pd.DataFrame, k: int, seed: int = 0) -> pd.DataFrame:
    """Spearman's rho of each feature of step k with the final loss, with a BCa bootstrap interval, its p-value
    and the Benjamini-Hochberg q-value over the features of step k (``scipy.stats.false_discovery_control``)."""
    rows = []
    target = table["final_loss"].to_numpy()
    for column in (c for c in table.columns if c.endswith(f"_{k}")):
        x = table[column].to_numpy(dtype=float)
        keep = np.isfinite(x) & np.isfinite(target)
        if keep.sum() < 4 or np.ptp(x[keep]) == 0:
            continue
        rho, p = spearmanr(x[keep], target[keep])
        interval = _interval(x[keep], target[keep], seed)
        rows.append({"step": k, "feature": column.rsplit("_", 1)[0], "rho": rho, "low": interval.low,
                     "high": interval.high, "p": p, "seeds": int(keep.sum())})
    frame = pd.DataFrame(rows)
    if len(frame):
        frame["q"] = false_discovery_control(frame["p"].to_numpy())
    return frame


def predictions(table: pd.DataFrame, k: int, folds: int, repeats: int = 5,
                seed: int = 0) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], float]:
    """Out-of-fold predictions of log10(final loss) for the baseline, ridge and gradient boosting (nested
    cross-validation; see the module docstring).

    Returns:
        ``(predicted, fold_errors, test_share)``: per predictor the predictions averaged over the repeats (one
        per seed) and the mean squared error on each test fold (``repeats * folds``, the same splits for every
        predictor), and ``n_test / n_train`` of the splits, for :func:`judge`.
    """
    require("sklearn", "the section 4.1 predictors")      # a clear error naming the extra when it is missing
    from sklearn.dummy import DummyRegressor
    from sklearn.ensemble import GradientBoostingRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LinearRegression, RidgeCV
    from sklearn.model_selection import GridSearchCV, KFold, RepeatedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    y = np.log10(table["final_loss"].to_numpy())
    inner = min(3, folds)
    models = {
        "baseline": (make_pipeline(SimpleImputer(), LinearRegression()), [f"loss_{k}"]),
        "constant": (DummyRegressor(), [f"loss_{k}"]),        # the training mean: no information at all
        "ridge": (make_pipeline(SimpleImputer(), StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13),
                                                                            cv=inner)), columns_up_to(table, k)),
        "boosting": (GridSearchCV(make_pipeline(SimpleImputer(), GradientBoostingRegressor(random_state=seed)),
                                  {"gradientboostingregressor__max_depth": [1, 2],
                                   "gradientboostingregressor__learning_rate": [0.05, 0.1],
                                   "gradientboostingregressor__n_estimators": [100]},
                                  cv=KFold(inner, shuffle=True, random_state=seed)), columns_up_to(table, k)),
    }
    out, fold_errors = {}, {}
    splits = list(RepeatedKFold(n_splits=folds, n_repeats=repeats, random_state=seed).split(y))
    for name, (model, columns) in models.items():
        X = table[columns].to_numpy(dtype=float)
        total, count, errors = np.zeros_like(y), np.zeros_like(y), []
        for train, test in splits:
            model.fit(X[train], y[train])
            predicted = model.predict(X[test])
            total[test] += predicted
            count[test] += 1
            errors.append(np.mean((predicted - y[test]) ** 2))
        out[name], fold_errors[name] = total / count, np.array(errors)
    test_share = np.mean([len(test) / len(train) for train, test in splits])
    return out, fold_errors, float(test_share)


def judge(errors: np.ndarray, baseline: np.ndarray, test_share: float,
          level: float = 0.95) -> tuple[str, float, float, float]:
    """``(verdict, mean difference, low, high)`` of the rule in the module docstring.

    Args:
        errors, baseline: a predictor's and the baseline's mean squared errors on the same test folds.
        test_share: ``n_test / n_train`` of the folds.
        level: the interval's confidence (default 0.95).

    Formula: the corrected resampled t interval of Nadeau and Bengio (2003), ``mean(d) +- t_{J-1}
    sqrt((1/J + n_test/n_train) var(d))`` over the ``J`` fold differences ``d``.
    """
    difference = np.asarray(errors, dtype=float) - np.asarray(baseline, dtype=float)
    J = len(difference)
    mean = float(difference.mean())
    half = float(t.ppf(0.5 + level / 2, J - 1) * np.sqrt((1 / J + test_share) * difference.var(ddof=1)))
    low, high = mean - half, mean + half
    word = "beats the baseline" if high < 0 else "loses to the baseline" if low > 0 else "no significant difference"
    return word, mean, low, high


def main(argv=None):
    args = setup(add_run_options(study_parser(__doc__, 8, 50)).parse_args(argv))
    suffix = "_quick" if args.quick else ""
    seeds = list(range(args.seeds or (8 if args.quick else 50)))
    evaluations = 60 if args.quick else 300
    index = run_cases(f"sec_4_1_predict{suffix}", {
        "problem": list(PROBLEMS), "model": [MODEL], "penal": [PENAL], "seed": seeds,
        "optimizer": [{"name": "scipy_lbfgsb", "m": 10, "maxfun": evaluations}]}, steps=evaluations,
        workers=args.workers, precision=args.precision, threads=args.threads, probes=probes(args.quick))
    failed = index[index["status"] == "failed"]
    if len(failed):
        raise SystemExit(f"{len(failed)} runs failed, e.g. {failed.iloc[0]['name']}: {failed.iloc[0]['error']}")
    table = pd.DataFrame([{"problem": row.problem, "seed": row.seed, **features(row.trace)}
                          for row in index.itertuples()]).sort_values(["problem", "seed"])
    table = table.replace([np.inf, -np.inf], np.nan)            # a log of 0: missing, like a step not reached
    unfinished = table[table["final_loss"].isna()]
    table = table.drop(unfinished.index)
    left_out = unfinished.groupby("problem").size().reindex(list(PROBLEMS), fill_value=0).to_dict()
    folds = 5 if len(seeds) >= 10 else 3
    corr, scores = [], []
    for problem, group in table.groupby("problem"):
        group = group.drop(columns=["problem", "seed"]).reset_index(drop=True)
        y = np.log10(group["final_loss"].to_numpy())
        for k in STEPS:
            corr.append(correlations(group, k).assign(problem=problem))
            predicted, fold_errors, test_share = predictions(group, k, folds)
            for name, values in predicted.items():
                errors = (values - y) ** 2
                word, mean, low, high = (judge(fold_errors[name], fold_errors["baseline"], test_share)
                                         if name != "baseline" else ("-", 0.0, 0.0, 0.0))
                scores.append({"problem": problem, "step": k, "predictor": name, "mse": errors.mean(),
                               # the constant's out-of-fold means anti-correlate with y by construction
                               "rho": spearmanr(values, y).statistic if name != "constant" else np.nan,
                               "difference": mean, "low": low,
                               "high": high, "verdict": word})
    corr, scores = pd.concat(corr, ignore_index=True), pd.DataFrame(scores)
    out = FIGURES / f"sec_4_1_predict{suffix}"
    table.to_csv(f"{out}_features.csv", index=False, float_format="%.6g")
    corr.to_csv(f"{out}_correlations.csv", index=False, float_format="%.4g")
    scores.to_csv(f"{out}_predictors.csv", index=False, float_format="%.4g")
    text = markdown(corr, scores, len(seeds), evaluations, folds, left_out)
    out.with_suffix(".md").write_text(text)
    print(text)
    print(f"wrote {plot(corr, scores, len(seeds), out.with_suffix('.png'))} and its tables")


def markdown(corr, scores, seeds, evaluations, folds, left_out) -> str:
    dropped = "; ".join(f"{problem}: {count}" for problem, count in left_out.items())
    lines = [f"# Section 4.1: predicting the final loss from early landscape information ({MODEL}, p = {PENAL:g}, "
             f"{seeds} seeds per problem, L-BFGS-B with {evaluations} evaluations)", "",
             f"Runs left out for a final loss that is not finite: {dropped}.", "",
             f"Out-of-fold ({folds}-fold, 5 repeats, nested) squared error of log10(final loss), averaged over the "
             "repeats per seed; the difference of the test-fold mean squared errors to the baseline's (the loss at "
             "step k) with its 95 % corrected resampled t interval (Nadeau and Bengio 2003).", "",
             "| problem | step | predictor | MSE | Spearman (prediction, truth) | difference [95 % CI] | verdict |",
             "|---|---|---|---|---|---|---|"]
    for _, r in scores.iterrows():
        rho = "-" if np.isnan(r["rho"]) else f"{r['rho']:.3f}"
        ci = "-" if r["predictor"] == "baseline" else f"{r['difference']:+.4f} [{r['low']:+.4f}, {r['high']:+.4f}]"
        lines.append(f"| {r['problem']} | {r['step']} | {r['predictor']} | {r['mse']:.4f} | {rho} | {ci} | "
                     f"{r['verdict']} |")
    tested = corr.groupby(["problem", "step"]).size()
    lines += ["", "Features whose Spearman correlation with the final loss has a 95 % bootstrap interval that "
              f"excludes zero ({tested.min()} to {tested.max()} features tested per problem and step; q: "
              "Benjamini-Hochberg over them; *correlates* when q < 0.05 as well):", "",
              "| problem | step | feature | rho [95 % CI] | p | q | verdict |", "|---|---|---|---|---|---|---|"]
    strong = corr[(corr["low"] > 0) | (corr["high"] < 0)]
    for _, r in strong.iterrows():
        lines.append(f"| {r['problem']} | {r['step']} | {r['feature']} | {r['rho']:+.3f} "
                     f"[{r['low']:+.3f}, {r['high']:+.3f}] | {r['p']:.3g} | {r['q']:.3g} | "
                     f"{'correlates' if r['q'] < 0.05 else 'not after correction'} |")
    if strong.empty:
        lines.append("| - | - | none | - | - | - | - |")
    return "\n".join(lines) + "\n"


def plot(corr, scores, seeds, path):
    plt = pyplot()
    fig, axes = plt.subplots(1, len(PROBLEMS) + 1, figsize=(13, 4.6),
                             gridspec_kw={"width_ratios": [1.4] * len(PROBLEMS) + [1]})
    for ax, problem in zip(axes, PROBLEMS):
        cell = corr[corr["problem"] == problem]
        features = list(dict.fromkeys(cell["feature"]))
        for j, k in enumerate(STEPS):
            rows = cell[cell["step"] == k].set_index("feature").reindex(features)
            y = np.arange(len(features)) + 0.25 * (j - 1)
            xerr = np.clip([rows["rho"] - rows["low"], rows["high"] - rows["rho"]], 0, None)   # percentile CIs
            ax.errorbar(rows["rho"], y, xerr=xerr, fmt="o", ms=3.5, mfc="white", color=f"C{j}",
                        label=f"step {k}", capsize=1.5)
            correlates = ((rows["low"] > 0) | (rows["high"] < 0)) & (rows["q"] < 0.05)
            ax.plot(rows["rho"][correlates], y[correlates.to_numpy()], "o", ms=3.5, color=f"C{j}", zorder=3)
        ax.axvline(0, color="0.3", lw=0.8)
        ax.set_yticks(range(len(features)), features, fontsize=7)
        ax.set(xlim=(-1, 1), xlabel="Spearman rho with the final loss (95 % CI)", title=f"problem {problem}")
        ax.invert_yaxis()
    axes[0].legend(fontsize=7)
    ax = axes[-1]
    for j, name in enumerate(("baseline", "ridge", "boosting", "constant")):
        for i, problem in enumerate(PROBLEMS):
            rows = scores[(scores["predictor"] == name) & (scores["problem"] == problem)]
            ax.plot(rows["step"], rows["mse"], marker="o", ms=4, color=f"C{j}", ls="-" if i == 0 else "--")
    ax.set(xlabel="step k of the features", ylabel="out-of-fold MSE of log10(final loss)",
           title="predictors (A solid, B dashed)", xticks=STEPS)
    from matplotlib.lines import Line2D
    ax.legend([Line2D([], [], color=f"C{j}", marker="o", ms=4) for j in range(4)],
              ["baseline: loss at step k", "ridge", "boosting", "constant"], fontsize=7, loc="center left")
    fig.suptitle(f"Section 4.1: does early landscape information predict the final loss? ({MODEL}, p = "
                 f"{PENAL:g}, {seeds} seeds per problem)\nfilled: the feature correlates (interval excludes 0 and "
                 "Benjamini-Hochberg q < 0.05); hollow: it does not", fontsize=10)
    fig.tight_layout()
    return save(fig, path)


if __name__ == "__main__":
    main()
