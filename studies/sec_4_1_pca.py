"""Thesis section 4.1, question 4: is PCA of the trajectory misleading?

The thesis sees two principal components explain nearly all of an optimizer's trajectory and
offers a mechanism: "later steps are so large that they mask the influence of the early steps".
This study tests that mechanism. For each run it keeps the Gram matrix of the iterates (not the
iterates: 300 snapshots of the CNN are 1.2 GB) and measures, centred at the last iterate as
Li et al. 2018 (``probes.trajectory``):

* ``raw``: PC1 + PC2 of the whole trajectory (the thesis's number), and of every prefix;
* ``equalized``: the same directions with every step rescaled to unit length, so that no step
  can mask another (``equalized_gram``);
* ``early``, ``middle``, ``late``: the three thirds of the trajectory on their own;
* the null model of each: a walk with the same step lengths in mutually orthogonal directions
  (``orthogonal_walk_gram``), which is what random directions in many dimensions give. Even it
  looks low-dimensional (Antognini and Sohl-Dickstein 2018), so a ratio means something only next
  to its null;
* ``late_share``: the fraction of the path length travelled in the last third of the steps.

Protocol: problem A, p = 3, random-start pixels and the thesis's CNN (``cnn_transpose``),
L-BFGS (m = 10, strong Wolfe) and GD_LS (L-BFGS-B's line search), 300 steps, seeds 0-9 [quick: 40 steps, seeds 0-1].

Statistical rules, per model and optimizer over the seeds (one-sided Wilcoxon signed-rank tests,
paired by seed, at 5 %):

* the mechanism *holds* when the raw ratio exceeds the equalized one (and the median drop is
  stated); otherwise *no significant difference*;
* the trajectory is *lower-dimensional than its null* when the raw ratio exceeds the null's of
  the same step lengths, and *not significantly above its null* otherwise.

    python studies/sec_4_1_pca.py --quick
    python studies/sec_4_1_pca.py --workers 2     # about 40 minutes on 2 cores

Writes ``sec_4_1_pca[_quick].png`` (per panel, the median over seeds of the variance that PC1 + PC2 leave
unexplained in every prefix, with min-max bands), ``.csv`` (one row per run),
``_summary.csv`` and ``.md`` (the verdicts) into the output folder; each run's Gram matrix goes to
``runs/sec_4_1_pca/`` and is reused on a rerun.
"""
from __future__ import annotations

# common first: it sets the output folder and pins the numerics before NumPy and torch load
from common import FIGURES, RUNS, add_run_options, setup, study_parser

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd
from scipy.stats import wilcoxon
from tqdm import tqdm

import landscape as L
from landscape.plots import pyplot, save
from probes.trajectory import (
    equalized_gram,
    explained_variance_by_prefix,
    explained_variance_from_gram,
    iterate_gram,
    orthogonal_walk_gram,
    step_lengths,
)

PROBLEM = "A"
MODELS = ("pixel", "cnn_transpose")
OPTIMIZERS = ("lbfgs", "gd_ls")
ALPHA = 0.05


def gram_path(model, optimizer, seed, steps, precision):
    """Where one run's Gram matrix is kept: named by everything that makes it, the numerics mode and a hash of
    the optimizer's options as this version builds them (a cached run of a since-changed optimizer, such as
    ``gd_ls`` before its line search became L-BFGS-B's, is not reused)."""
    import hashlib
    import json
    mode = L.numerics.mode()      # a run reused from the other numerics mode would not be this mode's
    options = json.dumps(L.optim.build(optimizer).options, sort_keys=True, default=str)
    tag = hashlib.sha256(options.encode()).hexdigest()[:8]
    return (RUNS / "sec_4_1_pca"
            / f"{PROBLEM}_{model}_{optimizer}_{tag}_p3_s{seed}_{steps}_{precision}_{mode}.npz")


def run_one(model, optimizer, seed, steps, precision) -> str:
    """Run one trajectory, keeping its iterates in memory, and save their Gram matrix and losses."""
    path = gram_path(model, optimizer, seed, steps, precision)
    if path.exists():
        return str(path)
    problem = L.problems.get(PROBLEM)
    options = {"init": "random"} if model == "pixel" else {}
    objective = L.Objective(problem, L.models.build(model, problem, seed=seed, precision=precision, **options),
                            penal=3.0)
    thetas = [objective.theta0.detach().numpy().copy()]     # the callback sees the accepted steps from 1 on
    result = L.run(objective, optimizer, steps=steps, seed=seed, progress=False,
                   callback=lambda record: thetas.append(record.theta.detach().numpy().copy()))
    gram = iterate_gram(np.stack(thetas))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, gram=gram, losses=np.asarray(result.losses), status=result.status)
    tmp.replace(path)
    return str(path)


def measures(gram: np.ndarray) -> dict:
    """Every ratio of the module docstring for one trajectory's Gram matrix."""
    k = gram.shape[0]
    lengths = step_lengths(gram)
    thirds = np.linspace(0, k - 1, 4).round().astype(int)
    two = lambda g: float(np.nansum(explained_variance_from_gram(g, 2)))   # noqa: E731
    row = {"iterates": k, "raw": two(gram), "raw_pc1": float(explained_variance_from_gram(gram, 1)[0]),
           "equalized": two(equalized_gram(gram)), "null": two(orthogonal_walk_gram(lengths)),
           "null_equalized": two(orthogonal_walk_gram(np.ones_like(lengths))),
           "late_share": float(lengths[thirds[2]:].sum() / lengths.sum())}
    for name, a, b in zip(("early", "middle", "late"), thirds[:-1], thirds[1:]):
        row[name] = two(gram[a:b + 1, a:b + 1])
    return row


def prefix_curves(gram: np.ndarray) -> dict:
    """PC1 + PC2 of every prefix, for the raw, equalized and null trajectories."""
    lengths = step_lengths(gram)
    curves = {"raw": gram, "equalized": equalized_gram(gram), "null": orthogonal_walk_gram(lengths)}
    return {name: explained_variance_by_prefix(gram=g, components=2).sum(axis=1) for name, g in curves.items()}


def padded(curves: list) -> np.ndarray:
    """Seeds x prefixes, each seed's curve padded with NaN after its last step (L-BFGS may stop before the budget),
    so that a step's median and range are over the seeds that reached it."""
    out = np.full((len(curves), max(len(c) for c in curves)), np.nan)
    for row, curve in zip(out, curves):
        row[:len(curve)] = curve
    return out


def one_sided(a, b) -> float:
    """p-value of the one-sided Wilcoxon signed-rank test that a > b (paired); 1 when every pair is equal."""
    differences = np.asarray(a) - np.asarray(b)
    if np.all(differences == 0):
        return 1.0
    return float(wilcoxon(a, b, alternative="greater").pvalue)


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (model, optimizer), group in runs.groupby(["model", "optimizer"], sort=False):
        row = {"model": model, "optimizer": optimizer, "seeds": len(group)}
        for column in ("raw", "equalized", "null", "null_equalized", "early", "middle", "late", "late_share"):
            row[f"{column}_median"] = group[column].median()
            row[f"{column}_min"], row[f"{column}_max"] = group[column].min(), group[column].max()
        row["drop_median"] = (group["raw"] - group["equalized"]).median()
        row["p_mechanism"] = one_sided(group["raw"], group["equalized"])
        row["p_beyond_null"] = one_sided(group["raw"], group["null"])
        row["mechanism"] = "holds" if row["p_mechanism"] < ALPHA else "no significant difference"
        row["beyond_null"] = ("lower-dimensional than its null" if row["p_beyond_null"] < ALPHA
                              else "not significantly above its null")
        rows.append(row)
    return pd.DataFrame(rows)


def markdown(summary: pd.DataFrame, steps: int, seeds: int) -> str:
    def cell(row, name):
        return f"{row[f'{name}_median']:.3f} [{row[f'{name}_min']:.3f}, {row[f'{name}_max']:.3f}]"
    lines = [f"# Section 4.1: is PCA of the trajectory misleading? (problem {PROBLEM}, p = 3, {steps} steps, "
             f"{seeds} seeds)", "",
             "PC1 + PC2 of the iterates centred at the last one: median [min, max] over seeds. `equalized`: every "
             "step at unit length; `null`: orthogonal steps of the same lengths; `late share`: the share of the "
             "path length in the last third of the steps. Rules: one-sided Wilcoxon signed-rank, paired by seed, "
             f"at {ALPHA:g}.", "",
             "| model | optimizer | raw | equalized | null | early | middle | late | late share | mechanism "
             "(raw > equalized) | raw vs null |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for _, row in summary.iterrows():
        lines.append(f"| {row['model']} | {row['optimizer']} | {cell(row, 'raw')} | {cell(row, 'equalized')} | "
                     f"{cell(row, 'null')} | {cell(row, 'early')} | {cell(row, 'middle')} | {cell(row, 'late')} | "
                     f"{cell(row, 'late_share')} | {row['mechanism']} (median drop {row['drop_median']:.3f}, "
                     f"p = {row['p_mechanism']:.3g}) | {row['beyond_null']} (p = {row['p_beyond_null']:.3g}) |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = setup(add_run_options(study_parser(__doc__, 2, 10)).parse_args(argv))
    steps = 40 if args.quick else 300
    seeds = range(args.seeds or (2 if args.quick else 10))
    tasks = [(m, o, s, steps, args.precision) for m in MODELS for o in OPTIMIZERS for s in seeds]
    with ProcessPoolExecutor(max_workers=args.workers or 1,
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        paths = list(tqdm(pool.map(run_one, *zip(*tasks)), total=len(tasks), desc="sec_4_1_pca runs", unit="run"))
    rows, curves = [], {}
    for (model, optimizer, seed, _, _), path in zip(tasks, paths):
        with np.load(path) as data:
            gram, losses, status = data["gram"], data["losses"], str(data["status"])
        rows.append({"model": model, "optimizer": optimizer, "seed": seed, "status": status,
                     "final_loss": float(losses[-1]), **measures(gram)})
        curves.setdefault((model, optimizer), []).append(prefix_curves(gram))
    runs = pd.DataFrame(rows)
    summary = summarize(runs)
    suffix = "_quick" if args.quick else ""
    plt = pyplot()
    fig, axes = plt.subplots(len(MODELS), len(OPTIMIZERS), figsize=(10, 6.6), sharey=True, squeeze=False)
    styles = {"raw": ("C0", "-", "iterates"), "equalized": ("C1", "-", "steps equalized"),
              "null": ("0.4", "--", "orthogonal walk, same lengths")}
    for (i, model), (j, optimizer) in ((a, b) for a in enumerate(MODELS) for b in enumerate(OPTIMIZERS)):
        ax = axes[i, j]
        for name, (color, style, label) in styles.items():
            # the variance PC1 + PC2 leave unexplained, on a log axis: 0.99 and 0.999 are far apart there
            stack = np.clip(1 - padded([c[name] for c in curves[(model, optimizer)]]), 1e-7, 1)
            x = np.arange(1, stack.shape[1] + 1)[2:]      # PC1 + PC2 says something from 4 iterates on
            ax.plot(x, np.nanmedian(stack, axis=0)[2:], color=color, ls=style, label=label)
            ax.fill_between(x, np.nanmin(stack, axis=0)[2:], np.nanmax(stack, axis=0)[2:], color=color, alpha=0.15,
                            lw=0)
        row = summary[(summary.model == model) & (summary.optimizer == optimizer)].iloc[0]
        ax.set_title(f"{model}, {optimizer}: PC1 + PC2 explain {row['raw_median']:.3f} of the whole, "
                     f"{row['equalized_median']:.3f} equalized", fontsize=8)
        ax.set_yscale("log")
        ax.set(xlabel="last step of the prefix" if i == len(MODELS) - 1 else "")
        if j == 0:
            ax.set_ylabel("1 - (PC1 + PC2) (unexplained)")
    axes[0, 0].legend(fontsize=7, loc="best")
    fig.suptitle(f"Section 4.1: PCA of every prefix of the trajectory, problem {PROBLEM}, p = 3, "
                 f"median and min-max over {len(seeds)} seeds", fontsize=10)
    fig.tight_layout()
    out = save(fig, FIGURES / f"sec_4_1_pca{suffix}.png")
    runs.to_csv(out.with_suffix(".csv"), index=False, float_format="%.6g")
    summary.to_csv(FIGURES / f"sec_4_1_pca{suffix}_summary.csv", index=False, float_format="%.6g")
    text = markdown(summary, steps, len(seeds))
    (FIGURES / f"sec_4_1_pca{suffix}.md").write_text(text)
    print(text)
    print(f"wrote {out}, its .csv, .md and _summary.csv")


if __name__ == "__main__":
    main()
