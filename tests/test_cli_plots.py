"""`landscape plot` draws probe outputs by the report's rules, and --help names the plot kinds and probes."""
import subprocess
import sys

import numpy as np

import landscape as L


class DecadesProbe:
    """A probe whose scalar spans decades (with a standard error), a short vector, and a never-finite output."""

    name = "decades"

    def due(self, step, last):
        return True

    def outputs(self, objective):
        return {"value": (), "value_se": (), "pair": (2,), "missing": ()}

    def __call__(self, context):
        return {"value": 10.0 ** context.step, "value_se": 0.1 * 10.0 ** context.step,
                "pair": np.array([1.0, 2.0]) * (context.step + 1), "missing": np.nan}


def test_probe_plot_uses_log_axes_error_bars_legends_and_names_what_it_cannot_draw(tmp_path):
    from landscape.plots import figure_for
    problem = L.problems.get("mbb_beam_16x8_0.5")
    L.run(L.Objective(problem, L.models.build("pixel", problem)), "gd_ls", steps=4, probes=[DecadesProbe()],
          trace=L.TraceWriter(tmp_path / "t.h5"), progress=False)
    with L.open_trace(tmp_path / "t.h5") as trace:
        fig = figure_for(trace, "decades")
    axes = {ax.get_ylabel(): ax for ax in fig.axes}
    value_ax, pair_ax = axes["value"], axes["pair"]
    assert value_ax.get_yscale() == "log" and pair_ax.get_yscale() == "linear"
    assert value_ax.containers and "standard error" in value_ax.get_legend().get_texts()[0].get_text()
    assert [t.get_text() for t in pair_ax.get_legend().get_texts()] == ["pair[0]", "pair[1]"]
    assert "never finite: missing" in fig.axes[0].get_title() and "missing" not in axes


def test_help_lists_the_plot_kinds_and_the_probe_names():
    plot = subprocess.run([sys.executable, "-m", "landscape.cli", "plot", "--help"], capture_output=True, text=True)
    for kind in ("pca", "surface", "interpolation", "loss", "design"):
        assert kind in plot.stdout
    run = subprocess.run([sys.executable, "-m", "landscape.cli", "run", "--help"], capture_output=True, text=True)
    for probe in ("hutchinson", "eigenvalues", "lbfgs_density", "trajectory"):
        assert probe in run.stdout


def test_runs_differing_in_anything_but_the_seed_are_different_groups_named_by_what_differs(tmp_path):
    """A sweep over precisions has the same optimizer, model and p in every run: compare and the report keep
    the precisions apart (one band each, the differing field in the label) and pool the seeds."""
    from landscape.plots import grouped
    traces = []
    for precision in ("mixed", "float64"):
        for seed in (0, 1):
            spec = L.RunSpec(problem="mbb_beam_16x8_0.5", model="mlp", precision=precision, seed=seed,
                             optimizer="lbfgs", steps=2)
            path = tmp_path / f"{precision}_{seed}.h5"
            L.run_spec(spec, trace=path, progress=False)
            traces.append(L.open_trace(path))
    groups = grouped([(t.summary(), t.config) for t in traces])
    assert sorted(len(members) for members in groups.values()) == [2, 2]
    assert sorted(label.split(" | ")[-1] for label in groups) == ["precision=float64", "precision=mixed"]
    for trace in traces:
        trace.close()
