"""Re-tune the constant step sizes of GD and HD as thesis appendix B.7 did (tables B.1-B.3).

TPE (optuna) over log10(lr) on a 0.1 grid, [-6, 0.3] for CNN and [-3, 1] for
pixel models, objective = median final loss over seeds after a step budget.
The thesis's tuned values do not carry over to this toolkit's CNN (its GD and HD
runs diverge with them, see ``figures/README.md``), so the decomposition study
can use these instead (``table_3_3_decomposition.py --tuned``).

    python studies/tune_step_sizes.py --quick   # CNN, p = 3, A and B; 8 trials of 40 steps, 1 seed
    python studies/tune_step_sizes.py           # every case of tables B.1-B.3: 30 trials, their budgets

Writes ``runs/tuning/<case>.json/.csv`` and ``figures/tuned_step_sizes.csv``.
"""
from __future__ import annotations

import argparse

import pandas as pd

from common import FIGURES, RUNS

import landscape as L
from landscape.optim.thesis import STEP_SIZES, case_code, step_size
from landscape.optim.tuning import tune_step_size

VARIANTS = (("gd", None), ("hd", 1), ("hd", 10))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--model", default="cnn")
    args = parser.parse_args(argv)
    if args.quick:
        cases = [(args.model, 3, "A"), (args.model, 3, "B")]
        trials, seeds = 8, (0,)
    else:
        cases = [(m, p, c) for m in ("pixel", args.model) for p in (3, 1) for c in "ABDE"]
        trials, seeds = 30, None
    rows = []
    for model, penal, code in cases:
        thesis_model = "pixel" if model == "pixel" else "cnn"
        for optimizer, m in VARIANTS:
            table = "gd" if optimizer == "gd" else f"hd_m{m}"
            budget, n_seeds, thesis_lr = STEP_SIZES[table][case_code(thesis_model, penal, code)]
            steps = 40 if args.quick else budget
            run_seeds = seeds or tuple(range(n_seeds))
            name = f"{case_code(thesis_model, penal, code)}_{optimizer}{m or ''}_{model}" + ("_quick" if args.quick else "")
            result = tune_step_size(L.problems.get(code), model, optimizer, penal=penal, steps=steps,
                                    seeds=run_seeds, trials=trials, m=m or 10, out=RUNS / "tuning" / name,
                                    progress=False)
            rows.append({"case": case_code(thesis_model, penal, code), "model": model, "optimizer": optimizer,
                         "m": m, "steps": steps, "seeds": len(run_seeds), "trials": trials,
                         "tuned_lr": result.best_lr, "tuned_median_final": result.best_value,
                         "thesis_lr": step_size(optimizer, thesis_model, penal, code, m=m)})
            print(f"{name}: tuned lr {result.best_lr:.3g} (median final {result.best_value:.4g}); thesis {thesis_lr:g}")
    frame = pd.DataFrame(rows)
    out = FIGURES / ("tuned_step_sizes" + ("_quick" if args.quick else "") + ".csv")
    frame.to_csv(out, index=False)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
