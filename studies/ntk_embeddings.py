"""The NTK paper's qualitative results (seed 000): embeddings, NTK eigen-images, filter radius vs length-scale.

On a Michell-type problem (michell_centered_both, problem A's family) with the
coordinate MLP (NTK parameterization, cosine activation, no cone filter, p = 3):

1. optimized shapes for raw, torus and Fourier embeddings (L-BFGS), with their
   compliance, filter radius and translation-invariance score at initialization;
2. the top eigen-images of the empirical NTK (logits) at initialization;
3. the NTK filter radius at half maximum against the Fourier length-scale.

Writes ``ntk_shapes[_quick].png``, ``ntk_eigenimages[_quick].png``, ``ntk_radius_vs_length_scale[_quick].png``
and ``ntk_embeddings[_quick].csv`` (every number the figures show: per embedding its NTK radius, invariance and
compliance; per Fourier length-scale its radius) into the output folder; traces in ``runs/ntk/``.

    python studies/ntk_embeddings.py --quick    # 16x32 grid, width 256, 100 steps (~1 minute)
    python studies/ntk_embeddings.py            # 32x64 (problem A), width 1000, 300 steps
"""
from __future__ import annotations

# common first: it sets the output folder and pins the numerics before NumPy and torch load
from common import FIGURES, RUNS, add_run_options, setup

import argparse

import pandas as pd

import landscape as L
from landscape.plots import pyplot, save
from probes.linalg import extreme_eigenpairs
from probes.ntk import filter_radius, kernel_row, ntk, translation_invariance

EMBEDDINGS = {"raw": {"embedding": "raw"}, "torus": {"embedding": "torus"},
              "fourier (ell = 4)": {"embedding": "fourier", "length_scale": 4.0}}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = setup(add_run_options(parser).parse_args(argv))
    size, width, steps = ((16, 32), 256, 100) if args.quick else ((32, 64), 1000, 300)
    suffix = "_quick" if args.quick else ""
    problem = L.problems.resized("A", *size)
    height_, width_ = problem.shape
    centre = (height_ // 2, width_ // 2)
    window = max(2, min(problem.shape) // 4 - 1)

    def objective(**options):
        model = L.models.build("mlp", problem, seed=0, widths=(width, width), **options, precision=args.precision)
        return L.Objective(problem, model, penal=3.0, filter=False)

    rows, designs, eigen_images = [], {}, {}
    for label, options in EMBEDDINGS.items():
        obj = objective(**options)
        op = ntk(obj)
        radius = filter_radius(kernel_row(op, *centre), *centre)
        invariance = translation_invariance(op, window=window)
        pairs = extreme_eigenpairs(op, k=3, steps=30, seed=0)
        eigen_images[label] = [pairs.top_vectors[:, i].reshape(problem.shape).numpy() for i in range(3)]
        trace = RUNS / "ntk" / f"{problem.name}_{options['embedding']}{suffix}.h5"
        result = L.run(obj, "lbfgs", steps=steps, trace=L.TraceWriter(trace, overwrite=True))
        designs[label] = (result.best_design, result.best_loss)
        rows.append((label, radius, invariance, result.best_loss))
    print(f"{problem.name}, MLP width {width} x 2, cosine, no filter, p = 3, L-BFGS {steps} steps")
    print(f"{'embedding':<20} {'NTK radius':>11} {'invariance':>11} {'compliance':>11}")
    for label, radius, invariance, loss in rows:
        print(f"{label:<20} {radius:>11.2f} {invariance:>11.3f} {loss:>11.4g}")

    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(9, 5.5))
    for ax, (label, (design, loss)), row in zip(axes, designs.items(), rows):
        ax.imshow(design, cmap="Greys", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(f"{label}\ncompliance {loss:.4g}\nradius {row[1]:.2f}, invariance {row[2]:.3f}", fontsize=8)
        ax.set_axis_off()
    fig.suptitle(f"MLP embeddings on {problem.name} (no filter, p = 3)", fontsize=9)
    fig.tight_layout()
    save(fig, FIGURES / f"ntk_shapes{suffix}.png")

    fig, axes = plt.subplots(3, 3, figsize=(7, 9))
    for i, (label, images) in enumerate(eigen_images.items()):
        for j, image in enumerate(images):
            axes[i, j].imshow(image, cmap="RdBu_r", interpolation="nearest")
            axes[i, j].set_axis_off()
            axes[i, j].set_title(f"{label}: eigen-image {j + 1}", fontsize=7)
    fig.tight_layout()
    save(fig, FIGURES / f"ntk_eigenimages{suffix}.png")

    scales = [1.0, 2.0, 4.0, 8.0, 16.0] if not args.quick else [1.0, 2.0, 4.0, 8.0]
    radii = [filter_radius(kernel_row(ntk(objective(embedding="fourier", length_scale=s)), *centre), *centre)
             for s in scales]
    print("Fourier length-scale -> NTK radius: " + ", ".join(f"{s:g}: {r:.2f}" for s, r in zip(scales, radii)))
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ax.plot(scales, radii, "o-")
    ax.set(xscale="log", xlabel="Fourier length-scale ell (elements)", ylabel="NTK radius at half maximum",
           title=f"filter radius vs length-scale, {problem.name}")
    ax.title.set_fontsize(9)
    fig.tight_layout()
    save(fig, FIGURES / f"ntk_radius_vs_length_scale{suffix}.png")
    table = [{"kind": "embedding", "name": label, "length_scale": options.get("length_scale"), "ntk_radius": radius,
              "invariance": invariance, "compliance": loss}
             for (label, radius, invariance, loss), options in zip(rows, EMBEDDINGS.values())]
    table += [{"kind": "fourier length-scale", "name": "fourier", "length_scale": s, "ntk_radius": r}
              for s, r in zip(scales, radii)]
    pd.DataFrame(table).to_csv(FIGURES / f"ntk_embeddings{suffix}.csv", index=False, float_format="%.6g")
    print(f"wrote the figures and ntk_embeddings{suffix}.csv into {FIGURES}")


if __name__ == "__main__":
    main()
