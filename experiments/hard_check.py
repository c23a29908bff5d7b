"""The hard check of the graph, the first step of ``make run``.

1. The hard check of the graph: PixelModel, p = 1, SciPy's L-BFGS-B exactly as
   the thesis ran it (maxfun 300, factr 1, pgtol 1e-14) from the constant
   start ``volfrac * mask`` must reach the thesis's compliance on problems A and B.
2. The CNN objective on problem A: loss, gradient norm and one exact
   Hessian-vector product at initialization.

Designs are saved as PNG under ``runs/demo/``.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

# isort: off
# landscape first: with LANDSCAPE_DETERMINISTIC=1 it pins the numerics before NumPy and torch load
from landscape import Objective, models, optim, problems, run, threads
# isort: on

import numpy as np
import torch

THESIS_P1_PIXEL = {"A": 21.27, "B": 6.13, "D": 18.44, "E": 96.63}


def pixel_lbfgs(code: str, maxfun: int = 300):
    """Run the thesis's L-BFGS-B on the p = 1 pixel problem; returns (loss, design, seconds)."""
    problem = problems.get(code)
    objective = Objective(problem, models.build("pixel", problem), penal=1.0)
    start = time.perf_counter()
    result = run(objective, optim.build("scipy_lbfgsb", maxfun=maxfun), steps=maxfun)
    return result.best_loss, result.best_design, time.perf_counter() - start


def save_design(design: np.ndarray, title: str, path: Path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(3, 3 * design.shape[0] / design.shape[1] + 0.4))
    ax.imshow(design, cmap="Greys", vmin=0, vmax=1, interpolation="nearest")
    ax.set_title(title, fontsize=8)
    ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", default="A,B",
                        help="thesis codes to check (A, B, D, E; D and E take about a minute each)")
    parser.add_argument("--out", default="runs/demo", help="folder for the design images")
    parser.add_argument("--csv", default=None, metavar="PATH",
                        help="also write the numbers (every digit: loss, evaluations, the CNN at init) as a CSV")
    args = parser.parse_args(argv)
    threads.apply()     # the thread policy (one thread): thread counts change the last bits
    codes = [c.strip() for c in args.problems.split(",") if c.strip()]
    bad = [c for c in codes if c not in THESIS_P1_PIXEL]
    if bad:
        parser.error(f"unknown thesis code(s) {bad}; accepted: {', '.join(THESIS_P1_PIXEL)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    print("PixelModel, p = 1, L-BFGS-B (maxfun 300, factr 1, pgtol 1e-14), constant start")
    print(f"{'code':<5}{'problem':<38}{'ours':>10}{'thesis':>9}{'rel. diff':>11}{'time':>8}")
    ok = True
    rows = []
    for code in codes:
        loss, design, seconds = pixel_lbfgs(code)
        rows.append({"check": f"pixel_p1_lbfgsb_{code}", "thesis": THESIS_P1_PIXEL[code], "value": repr(float(loss))})
        thesis = THESIS_P1_PIXEL[code]
        rel = abs(loss - thesis) / thesis
        ok &= rel < 2e-3
        print(f"{code:<5}{problems.THESIS_CODES[code]:<38}{loss:>10.4f}{thesis:>9.2f}{rel:>10.2%}"
              f"{seconds:>7.1f}s")
        save_design(design, f"{code}: pixel, p=1, L-BFGS-B, c={loss:.3f}", out / f"pixel_p1_{code}.png")

    problem = problems.get("A")
    objective = Objective(problem, models.build("cnn", problem, seed=0), penal=3.0)
    theta = objective.theta0
    value, grad = objective.value_and_grad(theta)
    v = torch.randn(objective.num_params, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    hv = objective.hvp(theta, v)
    print(f"\nCNN on A, p = 3, at initialization ({objective.num_params} parameters): "
          f"loss {value:.4f}, |grad| {float(grad.norm()):.4e}, v'Hv {float(v @ hv):.4e}")
    save_design(objective.design(theta).numpy(), "A: CNN at initialization", out / "cnn_init_A.png")
    rows += [{"check": f"cnn_A_init_{name}", "thesis": "", "value": repr(value)} for name, value in
             (("loss", float(value)), ("grad_norm", float(grad.norm())), ("vHv", float(v @ hv)))]
    if args.csv:
        import csv
        Path(args.csv).parent.mkdir(parents=True, exist_ok=True)
        with open(args.csv, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["check", "thesis", "value"], lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    print(f"designs saved in {out}/")
    if not ok:
        raise SystemExit("the p = 1 pixel check missed the thesis values by more than 0.2 %")


if __name__ == "__main__":
    main()
