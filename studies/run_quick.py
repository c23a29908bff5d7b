"""The quick thesis reproduction behind ``make run``: every study with ``--quick``, then a summary.

Runs, in order, the p = 1 pixel check (``experiments.hard_check``) and the quick version
of every study script, each as its own process so one failure does not stop the
rest, prints a table of what ran, how long it took, and what it wrote, and ends
with the thesis's findings checked against the quick results (``studies/findings.py``:
holds / fails / untested, with the numbers), a report of its runs
(``landscape report``, written to ``runs/report_quick.html``), and the reference check
(``studies/reference_check.py``): every quick cell and table against the committed reference.

Everything runs in the deterministic numerics mode (:mod:`landscape.numerics`) and writes into
the output folder, ``runs/figures/`` by default, never into tracked files. Traces are reused
across reruns (``runs/``). ``--out figures`` (``make figures``) regenerates the committed quick
reference on purpose, with its environment record ``figures/reference.json``.

    python studies/run_quick.py            # about 13 min on 2 cores from scratch (measured 12 min 48 s)
    python studies/run_quick.py --only fig_3_3_plane ntk_embeddings
    python studies/run_quick.py --out figures    # make figures
"""
from __future__ import annotations

# common first: it sets the output folder and pins the numerics before NumPy and torch load
from common import FIGURES, ROOT, add_output_options, writes_reference

import argparse
import subprocess
import sys
import time

STUDIES = [
    ("hard_check", [sys.executable, "-m", "experiments.hard_check"],
     "thesis p = 1 pixel values (A, B) and the CNN at init"),
    ("fig_b2_estimator_accuracy", ["--quick"], "Figure B.2: estimator accuracy"),
    ("fig_3_3_plane", ["--quick"], "Figure 3.3: plane around the initialization (D, CNN)"),
    ("fig_3_5_interpolation", ["--quick"], "Figure 3.5: the four interpolations (A, CNN)"),
    ("table_3_2_lbfgs_vs_gd", ["--quick"], "Table 3.2 / Figures 3.4, C.1, C.2: L-BFGS vs GD (A, B, p = 3, 3 seeds)"),
    ("table_3_3_decomposition", ["--quick"], "Table 3.3 / Figure C.6: L-BFGS taken apart (A, B, p = 3, 3 seeds)"),
    ("fig_3_6_memory", ["--quick"], "Figures 3.6, C.5: L-BFGS m = 1 vs m = 10 (3 seeds)"),
    ("fig_c3_c4_per_seed", ["--quick"], "Figures C.3, C.4: every seed, L-BFGS and GD (3 seeds)"),
    ("fig_3_7_b_vs_h", ["--quick"], "Figure 3.7: Hessian vs L-BFGS (m = 1) densities"),
    ("fig_3_9_trajectory", ["--quick"], "Figure 3.9: distance and gradient norm, L-BFGS vs GD"),
    ("tune_step_sizes", ["--quick"], "Appendix B.7: step-size search (CNN, A and B)"),
    ("table_3_3_decomposition", ["--quick", "--step-sizes", "tuned", "--models", "cnn_transpose"],
     "Table 3.3 / Figure C.6 on the CNN with the step sizes just re-tuned (GD, HD)"),
    ("fig_b1_density_hessian", ["--quick"], "Figure B.1: density-space Hessian spectra, p = 1"),
    ("sec_4_1_pca", ["--quick"], "Section 4.1: is PCA of the trajectory misleading? (A, 2 seeds)"),
    ("hoyer_fig3_mbb", ["--quick"], "Hoyer et al. Figure 3: MBB beam, four optimizers"),
    ("ntk_embeddings", ["--quick"], "NTK paper: embeddings, eigen-images, radius"),
]


#: run folders that the closing report covers: the quick matrix (a sweep), and traces with probes or snapshots
REPORTED = ("matrix_quick", "fig_3_7", "fig_3_9", "sec_4_1")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", help="run only these studies")
    add_output_options(parser)
    args = parser.parse_args(argv)
    FIGURES.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, command, what in STUDIES:
        if args.only and name not in args.only:
            continue
        if name == "hard_check":
            command = [*command, "--csv", str(FIGURES / "hard_check_quick.csv")]
        else:
            command = [sys.executable, str(ROOT / "studies" / f"{name}.py"), *command]
        print(f"\n=== {name}: {what}", flush=True)
        start = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT)
        rows.append((name, "ok" if done.returncode == 0 else f"FAILED ({done.returncode})",
                     time.perf_counter() - start, what))
    print("\nQuick thesis reproduction: summary")
    print(f"{'study':<28} {'result':<12} {'seconds':>8}  what")
    for name, result, seconds, what in rows:
        print(f"{name:<28} {result:<12} {seconds:>8.0f}  {what}")
    print(f"figures and tables: {FIGURES} (the reference: figures/, see figures/README.md); traces: runs/")
    if not args.only:
        print("\nThesis findings against the quick results (3 seeds, short budgets; figures/findings_quick.md):")
        subprocess.run([sys.executable, str(ROOT / "studies" / "findings.py"), "--quick"], cwd=ROOT)
        inputs = [str(ROOT / "runs" / name) for name in REPORTED if (ROOT / "runs" / name).exists()]
        if inputs:
            print("\nA report of these runs (open it in a browser):", flush=True)
            done = subprocess.run([sys.executable, "-m", "landscape.cli", "report", *inputs, "-o",
                                   str(ROOT / "runs" / "report_quick.html"), "--title",
                                   "Quick thesis reproduction: the runs of make run"], cwd=ROOT)
            rows.append(("report", "ok" if done.returncode == 0 else f"FAILED ({done.returncode})", 0.0, "report"))
        if writes_reference():
            from reference_check import RECORD, write_record
            write_record(FIGURES / RECORD)
            print(f"\nthe environment of this reference: {FIGURES / RECORD}")
        else:
            print("\nThe reference check: this run's quick cells and tables against the committed ones", flush=True)
            subprocess.run([sys.executable, str(ROOT / "studies" / "reference_check.py"), "--quick"], cwd=ROOT)
    return 0 if all(r[1] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
