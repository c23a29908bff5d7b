"""Thesis Figures 3.6 and C.5: L-BFGS with m = 1 against m = 10.

The same cases as the decomposition study (whose traces it reuses when they
exist): median loss curves of L-BFGS_M1 and L-BFGS (m = 10), and the ratio of
their final losses.

    python studies/fig_3_6_memory.py --quick   # A and B, p = 3, pixel and CNN, 1 seed, 150 steps
    python studies/fig_3_6_memory.py           # A, B, D, E, p = 1 and 3, 10 seeds, 300 steps
"""
from __future__ import annotations

import argparse
import json

from common import FIGURES, curves, finish_case_axes, plot_median, run_cases

from landscape.plots import _pyplot, save


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    codes, penals, seeds, steps = (("A", "B"), (3,), [0], 150) if args.quick else (("A", "B", "D", "E"), (1, 3),
                                                                                  list(range(10)), 300)
    study = "table_3_3" + ("_quick" if args.quick else "")      # the decomposition study's traces
    cases = [(m, p, c) for m in ("pixel", args.model) for p in penals for c in codes]
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(cases), figsize=(4.2 * len(cases), 3.8), squeeze=False)
    for ax, (model, penal, code) in zip(axes[0], cases):
        axes_ = {"problem": [code], "model": [model], "penal": [penal], "seed": seeds,
                 "optimizer": [{"name": "lbfgs", "m": 1}, {"name": "lbfgs", "m": 10}]}
        groups = curves(run_cases(study, axes_, steps, workers=args.workers, progress=False))
        finals = {}
        for (_, _, _, _, options), curve in groups.items():
            m = json.loads(options)["m"]
            finals[m] = curve[1][-1]
            plot_median(ax, curve, "C3" if m == 1 else "C0", f"L-BFGS m = {m}")
        finish_case_axes(ax, f"{model}, p = {penal:g}, {code}: m=1 {finals[1]:.4g}, m=10 {finals[10]:.4g}")
        print(f"{model:5s} p={penal:g} {code}: final m = 1 {finals[1]:.4g}, m = 10 {finals[10]:.4g}, "
              f"ratio {finals[1] / finals[10]:.3f}")
    fig.tight_layout()
    out = save(fig, FIGURES / ("fig_3_6_memory" + ("_quick" if args.quick else "") + ".png"))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
