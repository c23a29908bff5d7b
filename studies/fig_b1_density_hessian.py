"""Thesis Figure B.1: the Hessian with respect to the physical densities is positive semi-definite for p = 1.

For each thesis problem, the eigenvalue density (SLQ, thesis settings k = 3,
o = 50, sigma^2 = 1e-4) of the Hessian of the compliance with respect to the
densities entering the SIMP model, at the pixel model's initial design, and
the smallest and largest Ritz values after 80 Lanczos steps (the thesis checked
the smallest eigenvalue numerically too). A Ritz value bounds the smallest
eigenvalue from above, so it supports but does not prove positivity; the exact
check on coarse grids, with dense eigenvalues, is in the test suite.

    python studies/fig_b1_density_hessian.py --quick   # A and B at 32x64, D and E at 64x64
    python studies/fig_b1_density_hessian.py           # the thesis sizes (D and E at 128x128)

Writes ``fig_b1_density_hessian[_quick].png`` and ``.csv`` (per problem: the number of densities, the smallest
and largest Ritz value, the smallest and largest SLQ node) into the output folder.
"""
from __future__ import annotations

# common first: it sets the output folder and pins the numerics before NumPy and torch load
from common import FIGURES, add_run_options, setup

import argparse

import numpy as np
import pandas as pd

import landscape as L
from landscape.plots import density_scale, pyplot, save
from probes import THESIS, density_hessian, extreme_eigenpairs, slq


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = setup(add_run_options(parser).parse_args(argv))
    plt = pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.6))
    rows = []
    for ax, code in zip(axes, "ABDE"):
        problem = L.problems.get(code)
        if args.quick and code in "DE":
            problem = L.problems.resized(code, 64, 64)
        objective = L.Objective(problem, L.models.build("pixel", problem, precision=args.precision), penal=1.0)
        H = density_hessian(objective)
        pairs = extreme_eigenpairs(H, k=1, steps=80, vectors=False)
        lowest, highest = float(pairs.bottom[0]), float(pairs.top[0])
        density = slq(H, **THESIS)
        floor, limits = density_scale(density.density)
        ax.semilogy(density.grid, density.density.clip(floor))
        ax.set(ylim=limits, xlabel="eigenvalue", ylabel="density")
        ax.axvline(0, color="0.5", lw=0.8, ls="--")
        ax.set_title(f"{problem.name}, p = 1\nRitz values: smallest {lowest:.3g}, largest {highest:.3g}", fontsize=8)
        smallest_node, largest_node = density.extremes
        rows.append({"problem": code, "name": problem.name, "densities": H.shape[0], "smallest_ritz": lowest,
                     "largest_ritz": highest, "smallest_node": smallest_node, "largest_node": largest_node})
        print(f"{code} {problem.name}: {H.shape[0]} densities; smallest Ritz value {lowest:.4g}, largest "
              f"{highest:.4g}; all Ritz values and the SLQ nodes >= 0: "
              f"{'yes' if lowest >= 0 and np.nanmin(density.nodes) >= -1e-10 * highest else 'NO'}")
    fig.tight_layout()
    out = save(fig, FIGURES / ("fig_b1_density_hessian" + ("_quick" if args.quick else "") + ".png"))
    pd.DataFrame(rows).to_csv(out.with_suffix(".csv"), index=False, float_format="%.6g")
    print(f"wrote {out} and {out.with_suffix('.csv').name}")


if __name__ == "__main__":
    main()
