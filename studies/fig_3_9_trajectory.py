"""Thesis Figure 3.9: distance from the initialization and gradient norm along L-BFGS and GD.

Protocol (``studies/matrix.py``): p = 3 (``--penal 1`` for Figure C.16), seed 0, the thesis's CNN (``cnn_transpose``)
and the random-start PixelModel; L-BFGS is SciPy's L-BFGS-B (m = 10) with the
step budget as its evaluation budget; GD takes the step size re-tuned here
(``figures/tuned_step_sizes.csv``, appendix B.7 protocol) where that exists, and
otherwise the CNN value ``--lr-cnn`` (default 3e-7, below the stable threshold
measured on A; the thesis's tuned values diverge on the CNN) or the thesis's
table B.1 value for pixels; each panel's title says which. The loss curve is
drawn behind each panel.

    python studies/fig_3_9_trajectory.py --quick   # problem A, 150 steps
    python studies/fig_3_9_trajectory.py           # problems A and D, 700 steps (the thesis's GD budget)
    python studies/fig_3_9_trajectory.py --penal 1 # Figure C.16: the same at p = 1
"""
from __future__ import annotations

import argparse
import hashlib

from common import FIGURES, RUNS, add_run_options, setup
from matrix import CNN, model_entry, tuned_step_size

import landscape as L
from experiments.thesis import step_size
from landscape.plots import pyplot, save
from landscape.spec import RunSpec


def gd_step(model: str, code: str, lr_cnn: float, penal: float = 3.0) -> tuple[float, str]:
    """The GD step size of a panel and where it comes from."""
    try:
        return tuned_step_size("gd", model, penal, code), "re-tuned"
    except (FileNotFoundError, KeyError):
        if model == "pixel":
            return step_size("gd", "pixel", penal, code), "thesis B.1"
        return lr_cnn, "--lr-cnn"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--model", default=CNN, help=f"the CNN kind (default {CNN}, the thesis's)")
    parser.add_argument("--problem", default=None, help="comma-separated thesis codes (default A quick, A,D full)")
    parser.add_argument("--lr-cnn", type=float, default=3e-7, help="CNN GD step where none is re-tuned")
    parser.add_argument("--penal", type=float, default=3.0, help="penalization (3: Figure 3.9; 1: Figure C.16)")
    args = setup(add_run_options(parser).parse_args(argv))
    steps = 150 if args.quick else 700
    codes = (args.problem or ("A" if args.quick else "A,D")).split(",")
    panels = [(model, code) for code in codes for model in (args.model, "pixel")]
    plt = pyplot()
    fig, axes = plt.subplots(len(panels), 2, figsize=(11, 3.3 * len(panels)), squeeze=False)
    for row, (model, code) in enumerate(panels):
        lr, source = gd_step(model, code, args.lr_cnn, args.penal)
        entry = model_entry(model)
        kind, options = (entry["kind"], {k: v for k, v in entry.items() if k != "kind"}) \
            if isinstance(entry, dict) else (entry, {})
        for col, (optimizer, optimizer_options, label) in enumerate((
                ("scipy_lbfgsb", {"m": 10, "maxfun": steps}, "L-BFGS"),
                ("gd", {"lr": lr}, f"GD lr={lr:.3g} ({source})"))):
            spec = RunSpec(problem=code, model=kind, model_options=options, seed=0, precision=args.precision,
                           penal=args.penal,
                           optimizer=optimizer, optimizer_options=optimizer_options, steps=steps)
            digest = hashlib.sha1(spec.to_json().encode()).hexdigest()[:8]
            path = RUNS / "fig_3_9" / f"{code}_{model}_{optimizer}_{steps}_{digest}.h5"
            if path.exists():
                with L.open_trace(path) as trace:
                    frame, status = trace.frame(), trace.status
                if status in ("running", "interrupted", "failed"):
                    path.unlink()
            if not path.exists():
                result = L.run_spec(spec, trace=path)
                frame, status = result.frame(), result.status
            ax = axes[row, col]
            ax.plot(frame.index, frame["distance"], color="C0", label="|theta - theta0|")
            ax.set_ylabel("distance from init", color="C0")
            twin = ax.twinx()
            twin.semilogy(frame.index, frame["grad_norm"], color="C1", label="|g|")
            twin.semilogy(frame.index, frame["loss"], color="0.6", ls="--", lw=1, label="loss")
            twin.set_ylabel("|g| (orange), loss (grey)")
            twin.grid(False)
            ends = f"{frame['loss'].iloc[0]:.4g} -> {frame['loss'].iloc[-1]:.4g}"
            ax.set_title(f"{code}, {model}, {label}: loss {ends}" + ("" if status == "completed" else f" ({status})"),
                         fontsize=9)
            print(f"{code} {model:13s} {label:28s}: distance {frame['distance'].iloc[-1]:.4g}, "
                  f"|g| {frame['grad_norm'].iloc[0]:.3g} -> {frame['grad_norm'].iloc[-1]:.3g}, loss {ends}, {status}")
    for ax in axes[-1]:
        ax.set_xlabel("step (accepted iterate)")
    number = "3.9" if args.penal == 3 else "C.16" if args.penal == 1 else "3.9 (other p)"
    fig.suptitle(f"Figure {number}: distance from the initialization and gradient norm (p = {args.penal:g}, seed 0, "
                 f"{steps} steps)", fontsize=10)
    fig.tight_layout()
    suffix = ("" if args.penal == 3 else f"_p{args.penal:g}") + ("_quick" if args.quick else "")
    out = save(fig, FIGURES / f"fig_3_9_trajectory{suffix}.png")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
