"""Every study script explains itself: ``--help`` exits 0 and lists the options the thesis varies."""
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

STUDIES = Path(__file__).resolve().parent.parent / "studies"
SCRIPTS = sorted(p for p in STUDIES.glob("*.py")
                 if p.stem not in ("common", "matrix", "plotting", "example_cnn_curvature"))
# the options each thesis study takes where the thesis varies them
VARIED = {"table_3_2_lbfgs_vs_gd": ("--model", "--problem", "--penal", "--seeds", "--step-sizes"),
          "table_3_3_decomposition": ("--model", "--problem", "--penal", "--seeds", "--step-sizes"),
          "fig_3_6_memory": ("--model", "--problem", "--penal", "--seeds")}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_study_help_lists_its_options(script):
    done = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, cwd=STUDIES,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout
    expected = VARIED.get(script.stem, ())
    # run_quick, findings, reference_check, converged_step_rules, gallery_tables and gallery_numbers run no
    # optimization;
    # report_screenshots makes the README's pictures; gd_ls_failed_searches replays recorded searches in both
    # precisions, in this process
    if script.stem not in ("run_quick", "findings", "report_screenshots", "reference_check", "converged_step_rules",
                           "gallery_tables", "gallery_numbers", "gd_ls_failed_searches"):
        expected += ("--precision", "--threads", "--workers")
    for option in expected:
        assert option in done.stdout, f"{script.name} --help does not list {option}"


def test_a_matrix_study_rerun_from_scratch_writes_the_same_curves_bit_for_bit(tmp_path, monkeypatch):
    """The studies' reproducibility promise: the same cells run twice, in fresh folders, on two
    workers (so tasks finish in either order), give byte-identical curve CSVs."""
    monkeypatch.syspath_prepend(str(STUDIES))
    import matrix

    budgets = matrix.Budgets(lbfgs=6, gd=6, gd_short=3, descent=6, seeds=(0, 1))
    cases = [("pixel", 3.0, "A"), (matrix.CNN, 3.0, "A")]
    written = []
    for attempt in ("first", "second"):
        monkeypatch.setattr(matrix, "RUNS", tmp_path / attempt / "runs")
        monkeypatch.setattr(matrix, "CURVES", tmp_path / attempt / "curves")
        matrix.run_matrix(cases, ("GD", "L-BFGS"), budgets, workers=2, quick=True, progress=False)
        written.append({p.relative_to(tmp_path / attempt): p.read_bytes()
                        for p in sorted((tmp_path / attempt / "curves").rglob("*.csv"))})
    assert len(written[0]) == 4
    assert written[0] == written[1]
    # each cell's wall times lie beside its curves, one per seed (they differ from run to run, the curves do not)
    for curves in (tmp_path / "first" / "curves").rglob("*.csv"):
        walls = matrix.read_wall_seconds(curves)
        assert set(walls) == {"seed_0", "seed_1"} and all(w > 0 for w in walls.values())


def test_a_committed_cell_grows_by_running_only_the_seeds_it_lacks(tmp_path, monkeypatch):
    """A full-setting cell committed with seeds 0-1, asked for 0-2: only seed 2 runs, and the curves written
    equal, to the CSV's 10 digits, those of all three seeds run from scratch; the second line names the seeds
    read back, and the wall times of all three are kept."""
    monkeypatch.syspath_prepend(str(STUDIES))
    import common

    import matrix

    from landscape import sweep

    monkeypatch.setattr(common, "REFERENCE", tmp_path / "no-reference")
    cases = [("pixel", 3.0, "A")]
    grown, scratch = tmp_path / "grown", tmp_path / "scratch"
    ran = []
    real_run = sweep.run_sweep
    monkeypatch.setattr(sweep, "run_sweep", lambda combined, **kw: (ran.append(len(combined.tasks)),
                                                                      real_run(combined, **kw))[1])
    for folder, seed_sets in ((grown, ((0, 1), (0, 1, 2))), (scratch, ((0, 1, 2),))):
        monkeypatch.setattr(matrix, "RUNS", folder / "runs")
        monkeypatch.setattr(matrix, "CURVES", folder / "curves")
        for seeds in seed_sets:
            budgets = matrix.Budgets(lbfgs=6, gd=6, gd_short=3, descent=6, seeds=seeds)
            matrix.run_matrix(cases, ("GD",), budgets, workers=1, progress=False)
    assert ran == [2, 1, 3]                                 # the grown cell ran seed 2 alone
    name = matrix.curve_path("pixel", 3.0, "A", "GD", "thesis", quick=False).relative_to(matrix.CURVES)
    a, b = ((f / "curves" / name).read_text().splitlines() for f in (grown, scratch))
    assert a[0] == b[0] and a[2:] == b[2:]                  # statuses and every value to 10 digits
    assert a[1].endswith("read_back=seed_0,seed_1") and "sha256=" in b[1]
    assert set(matrix.read_wall_seconds(grown / "curves" / name)) == {"seed_0", "seed_1", "seed_2"}


def test_a_retuned_cell_whose_step_is_the_thesis_s_is_copied_not_rerun(tmp_path, monkeypatch):
    """``matrix.run_matrix --step-sizes tuned``: when the re-tuned step equals the thesis's (GD at 10 on pixels,
    p = 1, E), the committed thesis-step curves are the cell's, copied byte for byte without running anything;
    a different re-tuned step is run."""
    monkeypatch.syspath_prepend(str(STUDIES))
    import common

    import matrix

    from landscape import numerics, sweep

    monkeypatch.setattr(matrix, "CURVES", tmp_path / "curves")
    monkeypatch.setattr(matrix, "RUNS", tmp_path / "runs")
    monkeypatch.setattr(common, "REFERENCE", tmp_path / "no-reference")
    budgets = matrix.Budgets(lbfgs=6, gd=6, gd_short=3, descent=6, seeds=(0, 1))
    thesis = matrix.curve_path("pixel", 1.0, "E", "GD", "thesis", quick=False)
    thesis.parent.mkdir(parents=True)
    thesis.write_text(f"# status seed_0=completed seed_1=completed\n# numerics={numerics.mode()} sha256=0\n"
                      "step,seed_0,seed_1\n0,100,101\n1,90,91\n")
    ran = []
    monkeypatch.setattr(sweep, "run_sweep", lambda combined, **kwargs: ran.append(combined))
    monkeypatch.setattr(matrix, "tuned_step_size", lambda *a, **k: matrix.step_size("gd", "pixel", 1.0, "E"))
    matrix.run_matrix([("pixel", 1.0, "E")], ("GD",), budgets, step_sizes="tuned", progress=False)
    tuned = matrix.curve_path("pixel", 1.0, "E", "GD", "tuned", quick=False)
    assert ran == [] and tuned.read_bytes() == thesis.read_bytes()
    assert matrix.read_wall_seconds(tuned) == {}          # the copy took no run time
    tuned.unlink()
    monkeypatch.setattr(matrix, "tuned_step_size", lambda *a, **k: 5.0)
    matrix.run_matrix([("pixel", 1.0, "E")], ("GD",), budgets, step_sizes="tuned", progress=False)
    assert len(ran) == 1 and not tuned.exists()


def _write_cell(matrix, model, penal, code, label, step_sizes, finals, diverged=()):
    """A fake committed curve: every seed starts at 100 and ends at its entry of ``finals``."""
    path = matrix.curve_path(model, penal, code, label, step_sizes, quick=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    seeds = [f"seed_{i}" for i in range(len(finals))]
    status = " ".join(f"{s}={'diverged' if i in diverged else 'completed'}" for i, s in enumerate(seeds))
    rows = ["step," + ",".join(seeds), "0," + ",".join("100" for _ in seeds), "1," + ",".join(map(str, finals))]
    path.write_text(f"# status {status}\n" + "\n".join(rows) + "\n")


def test_findings_judge_constant_steps_at_both_step_sizes_and_say_untested_where_a_cell_diverged(tmp_path,
                                                                                                    monkeypatch):
    """The p = 1 "GD as good as L-BFGS" finding: one row per step-size policy; untested at the thesis's step where
    GD diverged; judged on the re-tuned cell once it exists: holds when the medians agree, fails 19 % apart."""
    monkeypatch.syspath_prepend(str(STUDIES))
    import common

    import findings
    import matrix

    monkeypatch.setattr(matrix, "CURVES", tmp_path)
    monkeypatch.setattr(common, "REFERENCE", tmp_path / "no-reference")   # only the cells written here
    monkeypatch.setattr(common, "OUT", tmp_path / "no-output")
    model = matrix.CNN
    _write_cell(matrix, model, 1.0, "A", "L-BFGS", "thesis", [21.0, 21.2, 21.4, 21.1, 21.3])
    _write_cell(matrix, model, 1.0, "A", "GD", "thesis", [1e9, 1e9, 1e9, 21.0, 21.1], diverged=(0, 1, 2))

    def verdicts():
        return {row[3]: row[4] for row in findings.convex_findings(quick=False, problems=("A",))
                if row[0] == f"at p = 1 GD as good as L-BFGS ({model}, A)"}

    assert verdicts() == {"GD thesis": "untested"}
    _write_cell(matrix, model, 1.0, "A", "GD", "tuned", [21.05, 21.25, 21.35, 21.15, 21.2])
    assert verdicts() == {"GD thesis": "untested", "GD re-tuned": "holds"}
    _write_cell(matrix, model, 1.0, "A", "GD", "tuned", [25.0, 25.1, 25.2, 25.3, 25.4])      # 19 % above
    assert verdicts()["GD re-tuned"] == "fails"


def test_findings_test_ties_as_level_text_claims_in_the_texts_direction_and_leave_stalled_memory_untested():
    """``order_claim``: the thesis's table direction, a two-sided "level" claim on a tie, the text's direction for
    a sentence of the text, the p-value named for the claim; a stalled cell (all progress in step 1) leaves a
    comparison of memories untested but its final loss is still judged."""
    import sys
    sys.path.insert(0, str(STUDIES))
    import findings

    def cell(finals, steps, stalled_runs=0, label="HD_M1"):
        summary = {"median": float(np.median(finals)), "seeds": len(finals), "diverged": 0, "rose": 0}
        return findings.Cell(label, np.asarray(finals, float), np.asarray(steps, float), summary, "-",
                             stalled_runs=stalled_runs)

    fast, slow = cell(np.ones(10), np.arange(10) + 10), cell(np.ones(10), np.arange(10) + 30, label="L-BFGS")
    (claim, _, rule, _, verdict, numbers), = findings.order_claim("HD_M1 {what} L-BFGS", "Table 3.3", [slow],
                                                                  [fast], 19, 19, steps=True)
    assert claim == "HD_M1 converges in as many steps as L-BFGS" and verdict == "fails"     # a tie: level
    assert rule.startswith("two-sided") and "two-sided U" in numbers
    level = findings.order_claim("HD_M1 {what} L-BFGS", "Table 3.3", [fast], [fast], 19, 19, steps=True)
    assert level[0][4] == "no significant difference"
    rows = findings.order_claim("HD_M1 {what} L-BFGS", "Table 3.3", [slow], [fast], 25, 19, steps=True)
    assert rows[0][0] == "HD_M1 converges in more steps than L-BFGS" and rows[0][4] == "holds"
    assert "for the claim" in rows[0][5] and "against it" in rows[0][5]
    # a sentence of the text is tested in the text's direction even where the thesis's table goes the other way
    text = findings.order_claim("HD_M10 {what} GD_LS", "section 3.3", [slow], [fast], 122, 57, steps=True,
                                text="below")
    assert text[0][0] == "HD_M10 converges in fewer steps than GD_LS" and text[0][4] == "fails"
    assert text[0][5].endswith("(the thesis's table goes the other way)")

    stuck = cell(np.full(10, 3000.0) + np.arange(10), np.ones(10), stalled_runs=10)
    stuck_too = cell(np.full(10, 3000.0) + np.arange(10) + 0.5, np.ones(10), stalled_runs=10, label="HD_M10")
    line_search = cell(np.full(10, 60.0) + np.arange(10), np.arange(10) + 50, label="GD_LS")
    memory = findings.order_claim("HD_M1 ends {direction} HD_M10", "Table 3.3", [stuck], [stuck_too], 362, 113,
                                  stall=True)
    assert memory[0][4] == "untested" and memory[0][5].startswith("stalled")
    judged = findings.order_claim("GD_LS ends {direction} HD_M1", "Table 3.3", [line_search], [stuck], 53, 362)
    assert judged[0][4] == "holds"


def test_study_panels_count_diverged_and_risen_runs_and_keep_the_clipping_note_off_the_curves(monkeypatch):
    """``plotting``: the legend of a band counts the runs that diverged and those that rose; the band leaves out
    diverged runs; the runs that leave the clipped axis are named in the panel's title, not drawn over the plot."""
    monkeypatch.syspath_prepend(str(STUDIES))
    import plotting

    from landscape.plots import pyplot
    plt = pyplot()
    steps = np.arange(4)
    good = pd.DataFrame({"seed_0": [100.0, 50, 20, 10], "seed_1": [120.0, 60, 25, 12], "seed_2": [90.0, 40, 15, 9]},
                        index=steps)
    assert plotting.status_text(good, {}) == ""
    bad = good.assign(seed_1=[120.0, 1e9, 1e9, 1e9], seed_2=[90.0, 95, 96, 97])
    statuses = {"seed_1": "diverged"}
    assert plotting.status_text(bad, statuses) == "1 diverged, 1 rose of 3"
    fig, ax = plt.subplots()
    plotting.band(ax, good, {}, "C0", "L-BFGS")
    plotting.band(ax, bad.assign(seed_2=[90.0, 40, 15, 9]), statuses, "C1", "GD")
    labels = ax.get_legend_handles_labels()[1]
    assert labels == ["L-BFGS, 3 seeds", "GD: 1 diverged of 3"]
    band_top = ax.collections[-1].get_paths()[0].vertices[:, 1].max()
    assert band_top < 1e3                                   # the diverged run is not in the band
    plotting.clipped_log_axis(ax)
    plotting.panel_title(ax, "A, pixel, p = 3")
    assert ax.get_title() == "A, pixel, p = 3\n▲ 1 run(s) leave the axes" and not ax.texts
    plt.close(fig)


def test_a_run_stalls_when_all_its_progress_is_its_first_step(monkeypatch):
    """``matrix.stalled_runs``: a run that drops in step 1 and then stays within 5 % of its end stalled; one that
    keeps descending, one that rose and one that diverged did not."""
    monkeypatch.syspath_prepend(str(STUDIES))
    import matrix

    steps = np.arange(50)
    losses = pd.DataFrame({"seed_0": np.r_[1e5, np.linspace(3000, 2990, 49)],          # stalled after step 1
                           "seed_1": 1e5 * 0.9 ** steps,                                  # descends throughout
                           "seed_2": np.r_[1e5, np.full(49, 2e5)],                        # rose
                           "seed_3": np.r_[1e5, np.full(49, 1e9)]}, index=steps)          # diverged
    assert matrix.stalled_runs(losses, {"seed_3": "diverged"}) == 1


def test_findings_rules_on_separated_equal_and_overlapping_samples():
    """The order rule (one-sided Mann-Whitney U at 5 %) and the equivalence rule (bootstrap interval of the median
    ratio within 5 %) on samples whose answer is known."""
    import sys
    sys.path.insert(0, str(STUDIES))
    import findings

    low, high = np.arange(10.0) + 100, np.arange(10.0) + 200
    assert findings.order(low, high)[0] == "holds" and findings.order(high, low)[0] == "fails"
    assert findings.order(low, low + 0.5)[0] == "no significant difference"       # a 0.5 % margin is no result
    assert findings.order(low[:3], high[:3])[0] == "holds"                      # 3 vs 3: complete separation only
    assert findings.equivalence(low, low * 1.001)[0] == "holds"
    assert findings.equivalence(low, low * 1.5)[0] == "fails"
    assert findings.equivalence(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]))[0] == "inconclusive"


def test_table_3_3_reads_gd_at_step_700_counts_risen_runs_and_gives_them_no_converged_step(tmp_path, monkeypatch):
    """Like for like with the thesis: GD is read at step 700 (its Table 3.2 value), not at the end of the 2000-step
    run; a median that is a risen run gets no converged step; both step-size policies appear with the thesis value."""
    monkeypatch.syspath_prepend(str(STUDIES))
    import common

    import matrix
    import table_3_3_decomposition as t33

    monkeypatch.setattr(matrix, "CURVES", tmp_path)
    monkeypatch.setattr(common, "REFERENCE", tmp_path / "no-reference")
    monkeypatch.setattr(common, "OUT", tmp_path / "no-output")
    steps = np.arange(2001)
    descending = 100.0 * np.exp(-steps / 200.0) + 50.0                  # 50.09 at step 700, 50.0 at 2000
    rising = 100.0 + steps                                               # ends far above its start
    for policy, columns in (("thesis", [descending] * 3), ("tuned", [rising, rising, descending])):
        path = matrix.curve_path(matrix.CNN, 3.0, "A", "GD", policy, quick=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        frame = pd.DataFrame({f"seed_{i}": c for i, c in enumerate(columns)}, index=pd.RangeIndex(2001, name="step"))
        path.write_text("# status seed_0=completed seed_1=completed seed_2=completed\n" + frame.to_csv())
    # the tuned cell recorded its wall times (3 runs of 1200 s: 1 hour); of the thesis-step one, only a seed
    # rerun since (its other runs are older and did not record it)
    matrix.wall_path(path).write_text('{"seed_0": 1200.0, "seed_1": 1200.0, "seed_2": 1200.0}')
    thesis_path = matrix.curve_path(matrix.CNN, 3.0, "A", "GD", "thesis", quick=False)
    matrix.wall_path(thesis_path).write_text('{"seed_2": 360.0}')
    monkeypatch.setattr(t33, "tuned_step_size", lambda *a, **k: 1e-7)
    table = t33.decomposition_table([(matrix.CNN, 3.0, "A")], matrix.FULL, quick=False)
    gd = table[table.optimizer == "GD"].set_index("step_sizes")
    assert gd.loc["thesis", "read_at"] == 700
    assert gd.loc["thesis", "median"] == pytest.approx(descending[700])
    assert gd.loc["thesis", "thesis"] == 79.67 and not pd.isna(gd.loc["thesis", "converged_step"])
    assert gd.loc["tuned", "rose"] == 2 and pd.isna(gd.loc["tuned", "converged_step"])
    text = t33.decomposition_markdown(table, matrix.FULL, matrix.CNN, "mixed")
    assert "2 rose" in text and "re-tuned 1e-07" in text and "79.67 (573)" in text
    assert gd.loc["tuned", "wall_hours"] == 1.0 and gd.loc["tuned", "timed_seeds"] == 3
    assert gd.loc["thesis", "wall_hours"] == pytest.approx(0.1) and gd.loc["thesis", "timed_seeds"] == 1
    assert "recorded for every run of 1 of 2 cells and for 1 runs of 1 more" in text and "1.1 hours of runs" in text


def test_the_full_table_3_3_lists_all_96_cells_and_draws_each_size_under_its_thesis_number(tmp_path):
    """``--tables-only`` at full settings tabulates every cell of the thesis's Table 3.3 (2 models x p = 1, 3 x
    A, B, D, E x 6 optimizers), a cell that has not run as "not run yet", and draws A/B as Figure C.6 and D/E as
    Figure 3.8, the thesis's numbers."""
    done = subprocess.run([sys.executable, str(STUDIES / "table_3_3_decomposition.py"), "--tables-only",
                           "--out", str(tmp_path)], capture_output=True, text=True, cwd=STUDIES, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    table = pd.read_csv(tmp_path / "table_3_3_decomposition.csv")
    thesis_policy = table[table["step_sizes"] != "tuned"]
    cells = thesis_policy.groupby(["model", "penal", "problem", "optimizer"]).size()
    assert len(cells) == 96 and (cells == 1).all()
    assert set(thesis_policy["problem"]) == {"A", "B", "D", "E"} and thesis_policy["thesis"].notna().all()
    text = (tmp_path / "table_3_3_decomposition.md").read_text()
    assert text.count("| D |") + text.count("| E |") >= 48
    assert (tmp_path / "fig_c6_decomposition.png").exists() and (tmp_path / "fig_3_8_decomposition.png").exists()
    assert not (tmp_path / "fig_3_8_decomposition_DE.png").exists()


def test_the_estimator_figure_redraws_from_the_reference_table(tmp_path):
    """``fig_b2_estimator_accuracy.py --plot-only`` draws from the committed CSV and computes nothing."""
    done = subprocess.run([sys.executable, str(STUDIES / "fig_b2_estimator_accuracy.py"), "--plot-only", "--quick",
                           "--out", str(tmp_path)], capture_output=True, text=True, cwd=STUDIES, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "fig_b2_estimator_accuracy_quick.png").stat().st_size > 10_000
    assert not (tmp_path / "fig_b2_estimator_accuracy_quick.csv").exists()


@pytest.mark.parametrize("script", ["fig_3_6_memory.py", "fig_c3_c4_per_seed.py"])
def test_plot_only_without_the_curves_names_the_missing_file(tmp_path, script):
    """``--plot-only`` into a folder that has no curves exits 1 naming the missing curve file, not a traceback."""
    done = subprocess.run([sys.executable, str(STUDIES / script), "--plot-only", "--quick", "--out", str(tmp_path)],
                          capture_output=True, text=True, cwd=STUDIES, timeout=300)
    assert done.returncode == 1
    assert "curves/quick/" in done.stderr and "without --plot-only" in done.stderr
    assert "Traceback" not in done.stderr
    assert not list(tmp_path.glob("*.png"))


def test_a_subset_of_the_matrix_never_takes_the_default_file_names(monkeypatch):
    """A run of some cells (``--problem B --penal 1 --models cnn_transpose``) writes its tables and figures
    under a suffix, so that ``--out figures`` cannot replace the full Table 3.3 with a part of it."""
    import argparse
    monkeypatch.syspath_prepend(str(STUDIES))
    import matrix

    def args(**given):
        parser = argparse.ArgumentParser()
        matrix.add_matrix_options(parser, "A,B|A,B", "3|1,3")
        return parser.parse_args([f"--{k.replace('_', '-')}={v}" for k, v in given.items()])

    assert matrix.figure_suffix(args()) == ""
    assert matrix.figure_suffix(args(models="pixel,cnn_transpose")) == ""
    assert matrix.figure_suffix(args(problem="B", penal="1", models="cnn_transpose")) == "_B_p1_cnn_transpose"
    assert matrix.figure_suffix(args(models="pixel")) == "_pixel"


def test_the_results_page_summaries_match_the_committed_tables():
    """The generated blocks of figures/README.md are what studies/gallery_tables.py builds from the tables."""
    done = subprocess.run([sys.executable, str(STUDIES / "gallery_tables.py"), "--check"], capture_output=True,
                          text=True, cwd=STUDIES, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_results_page_counts_the_verdicts_of_the_findings_rows(tmp_path, monkeypatch):
    """``gallery_tables.findings_counts`` counts the bold verdict of each row of findings.md, not its own summary
    line, so a stale count on the page fails ``--check``."""
    monkeypatch.syspath_prepend(str(STUDIES))
    import gallery_tables

    (tmp_path / "findings.md").write_text("99 holds (a stale summary line).\n\n| claim | here |\n|---|---|\n"
                                          "| a | **holds** |\n| b | **no significant difference** |\n"
                                          "| c | **holds** |\n| d | **untested** |\n")
    monkeypatch.setattr(gallery_tables, "FIGURES", tmp_path)
    assert gallery_tables.findings_counts() == ("Verdicts over all 4 rows: 2 hold, 0 fail, 1 show no significant "
                                                "difference, 0 are inconclusive and 1 are untested.\n")
    (tmp_path / "findings.md").write_text("| claim | here |\n|---|---|\n| a | **maybe** |\n")
    with pytest.raises(KeyError, match="maybe"):
        gallery_tables.findings_counts()


def test_a_results_page_cell_counts_every_failed_run_beside_the_median_or_instead_of_it(monkeypatch):
    """``gallery_tables.cell_text``: fewer than half the runs diverged or rose, the median comes with both
    counts (rose without diverging apart); half or more, the counts replace it; none, the median alone."""
    monkeypatch.syspath_prepend(str(STUDIES))
    import gallery_tables

    row = {"seeds": 10, "median": 100.5, "min": 97.47, "max": 1.334e9}
    assert gallery_tables.cell_text({**row, "diverged": 1, "rose": 3}) == "100.5, 1 div., 2 rose"
    spread = gallery_tables.cell_text({**row, "diverged": 0, "rose": 1}, spread=True)
    assert spread == "100.5, 1 rose [97.47, 1.334e+09]"
    assert gallery_tables.cell_text({**row, "diverged": 6, "rose": 10}) == "6 div., 4 rose of 10"
    assert gallery_tables.cell_text({**row, "diverged": 5, "rose": 5}) == "5 div. of 10"
    assert gallery_tables.cell_text({**row, "diverged": 0, "rose": 0}) == "100.5"


def test_the_interpolation_summary_is_what_its_committed_curves_give(tmp_path):
    """``fig_3_5_interpolation.py --summary-only`` recomputes the committed summary from the committed curves."""
    done = subprocess.run([sys.executable, str(STUDIES / "fig_3_5_interpolation.py"), "--quick", "--summary-only",
                           "--out", str(tmp_path)], capture_output=True, text=True, cwd=STUDIES, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    name = "fig_3_5_interpolation_A_cnn_transpose_p3_quick_summary.csv"
    committed = STUDIES.parent / "figures" / name
    assert (tmp_path / name).read_text() == committed.read_text()


def test_every_number_of_the_results_page_is_held_by_a_file_its_section_cites():
    """``studies/gallery_numbers.py``: no number on figures/README.md that no committed summary holds."""
    done = subprocess.run([sys.executable, str(STUDIES / "gallery_numbers.py")], capture_output=True, text=True,
                          cwd=STUDIES, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:]


def test_the_number_check_catches_what_no_cited_file_holds(tmp_path, monkeypatch):
    """The check on a small page: a number that its section's files hold passes at the precision it is quoted
    with (as a value, a percentage of a fraction, or the percentage a ratio differs from 1); a number no file
    holds, or one held only by a file another section cites, is reported; references, wall times and the
    protocol (and instruction sets, citation years) are not numbers to check."""
    monkeypatch.syspath_prepend(str(STUDIES))
    import gallery_numbers as g

    (tmp_path / "fig_x.csv").write_text("case,loss,ratio,difference\nA,51.16182,1.07464,-0.0921\n")
    (tmp_path / "table_y.md").write_text("| 8.125 |\n")
    held = ("## Figure 3.3 (C.15)\n\n`fig_x.py` (10 seeds, 300 evaluations, 31 x 31, 2 minutes): the loss ends at "
            "51.16 (51.2, 5.116e1), 7.5 % higher with m = 1, and 9.2 % below the thesis, on AVX-512 and AVX2 "
            "(as in Li et al. 2018).\n")
    page = tmp_path / "README.md"
    page.write_text(held)
    assert g.unheld(page, tmp_path) == []
    page.write_text(held + "\n1. a numbered list item\n")
    assert g.unheld(page, tmp_path) == []
    page.write_text(held + "It ends at 61.8 on B.\n")
    assert g.unheld(page, tmp_path) == [(4, "61.8")]
    # a number before a count of the protocol is checked whole, not cut at its decimal point
    page.write_text(held + "L-BFGS's 51.32 after 300 evaluations, 1.075 over 10 seeds, 1.139 of 3.\n")
    assert g.unheld(page, tmp_path) == [(4, "51.32"), (4, "1.139")]
    page.write_text(held + "Beside it, 51.17.\n\n## Other\n\n8.125 from `table_y.md`, and 51.16 from nowhere.\n")
    assert g.unheld(page, tmp_path) == [(4, "51.17"), (8, "51.16")]


def test_the_connectivity_verdict_follows_its_stated_rule(monkeypatch):
    """``sec_4_1_connectivity.verdict``: connected below 1 % on every pair, separated from 10 % on one, and a
    one-sided Wilcoxon test of the curve's barrier against the line's."""
    monkeypatch.syspath_prepend(str(STUDIES))
    from sec_4_1_connectivity import verdict

    line = np.array([0.5, 0.8, 1.2, 2.0, 0.3, 0.9])
    joined = verdict(pd.DataFrame({"line_barrier": line, "curve_barrier": np.full(6, 0.004)}))
    assert joined["verdict"] == "connected" and joined["curve_lower"] and joined["wilcoxon_p"] == pytest.approx(1 / 64)
    apart = verdict(pd.DataFrame({"line_barrier": line, "curve_barrier": [0.0, 0.0, 0.0, 0.0, 0.0, 0.5]}))
    assert apart["verdict"] == "separated" and apart["curve_barrier_max"] == 0.5
    between = verdict(pd.DataFrame({"line_barrier": line, "curve_barrier": line}))
    assert between["verdict"] == "separated" and not between["curve_lower"] and between["wilcoxon_p"] == 1.0
    partly = verdict(pd.DataFrame({"line_barrier": line, "curve_barrier": np.full(6, 0.05)}))
    assert partly["verdict"] == "partly"


def test_the_sensitivity_verdict_follows_its_stated_rule(monkeypatch):
    """``sec_4_1_sensitivity.verdict``: chaotic when the exponents are above 0 by a one-sided Wilcoxon test,
    stable when below, no significant difference otherwise (and with no finite exponent)."""
    monkeypatch.syspath_prepend(str(STUDIES))
    from sec_4_1_sensitivity import verdict

    assert verdict(np.array([0.1, 0.3, 0.2, 0.5, 0.05]))[0] == "chaotic"
    assert verdict(np.array([-0.1, -0.3, -0.2, -0.5, -0.05]))[0] == "stable"
    assert verdict(np.array([0.1, -0.3, 0.2, -0.5, 0.05]))[0] == "no significant difference"
    assert verdict(np.array([np.nan, np.nan])) == ("no significant difference", 1.0, 1.0)
    word, above, below = verdict(np.array([0.1, 0.3, 0.2, 0.5, 0.05]))
    assert above == pytest.approx(1 / 32) and below == pytest.approx(1.0)


def test_the_pca_verdicts_follow_their_stated_rules(monkeypatch):
    """``sec_4_1_pca.summarize``: the mechanism holds when the raw ratio is above the equalized one by a
    one-sided Wilcoxon test over the seeds, and a trajectory is lower-dimensional than its null only when its
    ratio is above the null's; equal pairs are no significant difference."""
    monkeypatch.syspath_prepend(str(STUDIES))
    from sec_4_1_pca import summarize

    base = {"early": 0.9, "middle": 0.9, "late": 0.9, "late_share": 0.5}
    raw = [0.99, 0.98, 0.995, 0.97, 0.985, 0.99]
    rows = [{"model": "pixel", "optimizer": "lbfgs", "seed": s, "raw": r, "equalized": r - 0.1 - 0.01 * s,
             "null": r + 0.001 * (s + 1), "null_equalized": 0.9, **base} for s, r in enumerate(raw)]
    rows += [{"model": "cnn", "optimizer": "gd_ls", "seed": s, "raw": 0.9, "equalized": 0.9, "null": 0.8 - 0.01 * s,
              "null_equalized": 0.9, **base} for s in range(6)]
    summary = summarize(pd.DataFrame(rows)).set_index("model")
    assert summary.loc["pixel", "mechanism"] == "holds"
    assert summary.loc["pixel", "p_mechanism"] == pytest.approx(1 / 64)
    assert summary.loc["pixel", "drop_median"] == pytest.approx(0.125)
    assert summary.loc["pixel", "beyond_null"] == "not significantly above its null"
    assert summary.loc["cnn", "mechanism"] == "no significant difference"
    assert summary.loc["cnn", "beyond_null"] == "lower-dimensional than its null"


def test_pca_prefix_curves_of_runs_that_stopped_early_are_padded_with_nan(monkeypatch):
    """``sec_4_1_pca.padded``: a run that stopped before the budget (a failed line search) counts up to its last
    step; the figure's median at a later step is over the runs that reached it."""
    monkeypatch.syspath_prepend(str(STUDIES))
    from sec_4_1_pca import padded

    stack = padded([np.array([0.9, 0.8, 0.7]), np.array([0.5])])
    np.testing.assert_array_equal(stack, [[0.9, 0.8, 0.7], [0.5, np.nan, np.nan]])
    np.testing.assert_array_equal(np.nanmedian(stack, axis=0), [0.7, 0.8, 0.7])


def test_the_noise_verdict_follows_its_stated_rule(monkeypatch):
    """``sec_4_1_noise.verdict``: helps when the noisy runs end lower by a one-sided Mann-Whitney U test,
    hurts when higher, no significant difference for overlapping or identical samples."""
    monkeypatch.syspath_prepend(str(STUDIES))
    from sec_4_1_noise import verdict

    clean = np.array([10.0, 11.0, 12.0, 13.0, 14.0])
    assert verdict(clean - 5, clean)[0] == "helps"
    assert verdict(clean + 5, clean)[0] == "hurts"
    assert verdict(clean + 0.5, clean)[0] == "no significant difference"
    assert verdict(clean.copy(), clean) == ("no significant difference", 1.0, 1.0)
    assert verdict(clean - 5, clean)[1] == pytest.approx(1 / 252)
    assert verdict(np.full(5, np.nan), clean)[0] == "hurts"          # a NaN loss ranks as +inf, not as no result


def test_each_seed_of_the_noise_study_draws_its_own_noise(monkeypatch):
    """``sec_4_1_noise.entries``: the baseline (scale 0) first, then every structure at every scale, all with the
    noise generator seeded by the run's seed and GD's step only for GD."""
    monkeypatch.syspath_prepend(str(STUDIES))
    from sec_4_1_noise import entries

    gd = entries("gd", 0.1, (0.1, 2.0), seed=7)
    assert len(gd) == 1 + 3 * 2 and gd[0]["noise_scale"] == 0.0
    assert {e["noise_seed"] for e in gd} == {7} and {e["lr"] for e in gd} == {0.1}
    assert all("lr" not in e for e in entries("gd_ls", 0.1, (0.5,), seed=3))


def test_the_predict_correlations_carry_benjamini_hochberg_q_values_over_the_features_of_a_step(monkeypatch):
    """``sec_4_1_predict.correlations``: Spearman's rho and p per feature of step k, and q-values that are
    SciPy's Benjamini-Hochberg adjustment of those p over the features of that step only."""
    monkeypatch.syspath_prepend(str(STUDIES))
    from scipy.stats import false_discovery_control, spearmanr
    from sec_4_1_predict import correlations

    rng = np.random.default_rng(0)
    final = rng.lognormal(size=30)
    table = pd.DataFrame({"final_loss": final, "loss_5": np.log10(final) + 0.1 * rng.normal(size=30),
                          "noise_5": rng.normal(size=30), "other_5": rng.normal(size=30),
                          "loss_0": rng.normal(size=30)})
    corr = correlations(table, 5).set_index("feature")
    assert list(corr.index) == ["loss", "noise", "other"]        # step 5's features only
    assert corr.loc["loss", "rho"] == pytest.approx(spearmanr(table["loss_5"], final).statistic)
    np.testing.assert_allclose(corr["q"], false_discovery_control(corr["p"].to_numpy()))
    assert corr.loc["loss", "q"] < 0.05 < corr.loc["noise", "q"] and (corr["q"] >= corr["p"]).all()
    assert corr.loc["loss", "low"] > 0


def test_the_predict_verdict_is_the_corrected_resampled_t_interval(monkeypatch):
    """``sec_4_1_predict.judge``: mean(d) +- t_{J-1} sqrt((1/J + n_test/n_train) var(d)) over the fold differences
    d (Nadeau and Bengio 2003); beats the baseline only when the whole interval is below zero."""
    monkeypatch.syspath_prepend(str(STUDIES))
    from scipy.stats import t
    from sec_4_1_predict import judge

    baseline = np.linspace(1.0, 2.0, 25)
    d = np.random.default_rng(1).normal(-0.05, 0.1, 25)
    word, mean, low, high = judge(baseline + d, baseline, 0.25)
    half = t.ppf(0.975, 24) * np.sqrt((1 / 25 + 0.25) * d.var(ddof=1))
    assert mean == pytest.approx(d.mean()) and (low, high) == pytest.approx((d.mean() - half, d.mean() + half))
    assert word == ("beats the baseline" if high < 0 else "loses to the baseline" if low > 0
                    else "no significant difference")
    assert judge(baseline - 0.1 + 0.001 * d, baseline, 0.25)[0] == "beats the baseline"
    assert judge(baseline + 0.1 + 0.001 * d, baseline, 0.25)[0] == "loses to the baseline"
    # the correction widens the naive interval: the same differences with n_test/n_train = 0 are narrower
    assert judge(baseline + d, baseline, 0.0)[3] - judge(baseline + d, baseline, 0.0)[2] < high - low


def test_the_noise_summary_counts_diverged_and_risen_runs_of_each_cell_and_its_baseline(monkeypatch):
    """``sec_4_1_noise.summarize``: a run that rose without diverging counts as rose, a diverged one only as
    diverged; the noise-free baseline's counts come with every noisy cell of its model and optimizer."""
    monkeypatch.syspath_prepend(str(STUDIES))
    from sec_4_1_noise import summarize

    runs = pd.DataFrame({"model": "pixel", "optimizer": "gd", "noise": "gaussian",
                         "noise_scale": [0.0, 0.0, 0.0, 0.5, 0.5, 0.5],
                         "status": ["completed", "completed", "diverged", "diverged", "completed", "completed"],
                         "rose": [False, True, True, True, True, False],
                         "final_loss": [1.0, 2.0, 3e9, 4e9, 5.0, 0.5]})
    [row] = summarize(runs).to_dict("records")
    assert (row["diverged"], row["rose"], row["clean_diverged"], row["clean_rose"]) == (1, 1, 1, 1)
    assert row["median"] == 5.0 and row["clean_median"] == 2.0 and row["seeds"] == 3


def test_the_schedule_study_reads_each_run_at_the_evaluation_budget(monkeypatch):
    """``sec_4_1_schedules.at_budget`` takes the last step within the budget (a line search may overshoot it),
    ``to_target`` the first step at or below the target, and ``compare`` says better / worse by one-sided
    Mann-Whitney U tests."""
    monkeypatch.syspath_prepend(str(STUDIES))
    from sec_4_1_schedules import at_budget, compare, to_target, within_budget

    steps = np.array([(0, 9.0, 1, 0.1), (1, 7.0, 3, 0.2), (2, 5.0, 6, 0.4), (3, 4.0, 9, 0.5)],
                     dtype=[("step", "i8"), ("loss", "f8"), ("evaluations", "i8"), ("wall_time", "f8")])
    assert at_budget(steps, 6) == 5.0 and at_budget(steps, 8) == 5.0 and at_budget(steps, 100) == 4.0
    assert at_budget(steps, 0) == 9.0
    assert list(within_budget(steps, 6)["step"]) == [0, 1, 2] and list(within_budget(steps, 0)["step"]) == [0]
    assert to_target(steps, 7.0) == (3.0, 0.2) and to_target(steps, 4.5) == (9.0, 0.5)
    assert np.isnan(to_target(steps, 3.9)).all()
    a = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert compare(a, a + 10)[0] == "better" and compare(a + 10, a)[0] == "worse"
    assert compare(a, a + 0.5)[0] == "no significant difference"


def test_the_grid_protocol_centres_on_the_b7_steps_of_a_and_b(monkeypatch):
    """``tune_step_sizes.py --protocol grid`` centres its window on the mean log10 of the B.7-tuned steps of the same
    model, optimizer and p on A and B, ignores rows found by the grid itself, and names what is missing."""
    monkeypatch.syspath_prepend(str(STUDIES))
    import tune_step_sizes

    table = pd.DataFrame({"case": ["NN3A", "NN3B", "NN3D", "NN3A"], "model": ["cnn_transpose"] * 4,
                          "optimizer": ["hd", "hd", "hd", "gd"], "m": [1.0, 1.0, 1.0, np.nan],
                          "tuned_lr": [1e-7, 1e-5, 1e-9, 5e-7], "protocol": ["tpe", "tpe", "grid", "tpe"]})
    assert tune_step_sizes.grid_center(table, "cnn_transpose", "hd", 1, 3.0) == pytest.approx(-6.0)
    with pytest.raises(KeyError, match="NN3A and NN3B for cnn_transpose gd m=None; found \\['NN3A'\\]"):
        tune_step_sizes.grid_center(table, "cnn_transpose", "gd", None, 3.0)
    with pytest.raises(KeyError, match="tune NN1A and NN1B with B.7 first"):
        tune_step_sizes.grid_center(pd.DataFrame(), "cnn_transpose", "gd", None, 1.0)


def test_the_grid_protocol_check_scores_both_picks_by_the_b7_rule(tmp_path):
    """``grid_protocol_check.py --quick``: per case, the grid's pick lies in the range it searched around the other
    problem's B.7 step (the window of +-2 decades, plus at most 0.4 of fine grid past its edge), and its score is
    the median over the same seeds as B.7's."""
    done = subprocess.run([sys.executable, str(STUDIES / "grid_protocol_check.py"), "--quick", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    frame = pd.read_csv(tmp_path / "grid_protocol_check_quick.csv")
    assert list(frame["case"]) == ["P3A", "P3B"] and list(frame["centre_from"]) == ["P3B", "P3A"]
    tuned = pd.read_csv(STUDIES.parent / "figures" / "tuned_step_sizes.csv").set_index(["case", "optimizer"])
    for row in frame.itertuples():
        centre = np.log10(tuned.loc[(row.centre_from, "gd"), "tuned_lr"])
        assert abs(np.log10(row.grid_lr) - centre) <= 2.45 and row.grid_runs <= 17
        journal = [json.loads(line) for line in (tmp_path / "tuning" / f"grid_check_{row.case}_gd_pixel_quick.jsonl")
                   .read_text().splitlines()]
        assert len(journal) == row.grid_runs and all(entry["seeds"] == [0] for entry in journal)
        assert row.seeds == 2 and row.steps == 40
    assert "- p = 3, 2 cases: median ratio" in (tmp_path / "grid_protocol_check_quick.md").read_text()


def test_a_grid_row_never_replaces_a_b7_row_and_old_rows_read_as_b7(tmp_path, capsys):
    """``tune_step_sizes.merge``: rows written before the ``protocol`` column count as B.7's; a grid row replaces
    an earlier grid row of its case but never a B.7 row; ``_tuned_by_b7`` sees B.7 rows only."""
    sys.path.insert(0, str(STUDIES))
    import tune_step_sizes as t

    out = tmp_path / "tuned.csv"
    pd.DataFrame([{"case": "P3D", "model": "pixel", "optimizer": "gd", "m": np.nan, "tuned_lr": 1.0}]).to_csv(
        out, index=False)
    grid = {"case": "P3D", "model": "pixel", "optimizer": "hd", "m": 1, "tuned_lr": 0.25, "protocol": "grid",
            "at_edge": False}
    t.merge(out, grid)
    t.merge(out, {**grid, "tuned_lr": 0.3})
    t.merge(out, {**grid, "optimizer": "gd", "m": None, "tuned_lr": 9.0})
    table = pd.read_csv(out)
    assert len(table) == 2 and list(table["protocol"]) == ["tpe", "grid"]
    assert table.set_index("optimizer").loc["gd", "tuned_lr"] == 1.0 and table["tuned_lr"].iloc[1] == 0.3
    assert "B.7's row kept over the grid's" in capsys.readouterr().out
    assert t._tuned_by_b7(out, "P3D", "pixel", "gd", None) and not t._tuned_by_b7(out, "P3D", "pixel", "hd", 1)
    with pytest.raises(ValueError, match="p = 1 or 3, got 2.0"):
        t.grid_center(table, "pixel", "gd", None, 2.0)


def test_ctrl_c_during_a_studys_sweep_exits_130_with_one_line_and_no_traceback(tmp_path, interrupt_when_started):
    """A study interrupted while its runs go: the sweep's one line (how far it got, the index written) and
    exit status 130, as ``landscape sweep`` gives."""
    code = ("import sys; from pathlib import Path; import common; common.RUNS = Path(sys.argv[1]); "
            "common.run_cases('ctrl_c', {'problem': ['A'], 'model': ['pixel'], 'seed': [0, 1], "
            "'optimizer': [{'name': 'gd', 'lr': 1e-3}]}, steps=100000, workers=1, progress=False)")
    process = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], cwd=STUDIES, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    traces = tmp_path / "ctrl_c" / "traces"
    err = interrupt_when_started(process, lambda: traces.exists() and any(traces.glob("*.h5")))
    assert process.returncode == 130, err
    assert "Traceback" not in err, err
    assert "interrupted" in err and "index written" in err and "run it again to go on" in err, err


def test_the_noise_study_redoes_its_tables_and_figure_from_a_per_run_table(monkeypatch, tmp_path):
    """``sec_4_1_noise.report`` (behind ``--from-csv``): from one row per run it writes the per-run CSV, the
    summary with quartiles, the Markdown table with one row per noisy cell, and the figure."""
    monkeypatch.syspath_prepend(str(STUDIES))
    import sec_4_1_noise as study

    from landscape.optim.noise import NOISE_KINDS

    monkeypatch.setattr(study, "FIGURES", tmp_path)
    rng = np.random.default_rng(0)
    rows = [{"model": model, "optimizer": optimizer, "seed": seed, "status": "completed", "noise": kind,
             "noise_scale": scale, "final_loss": 60 + 10 * scale + rng.random(), "rose": False}
            for model in study.MODELS for optimizer in ("gd", "gd_ls") for seed in range(4)
            for kind, scale in [("gaussian", 0.0)] + [(kind, 0.5) for kind in NOISE_KINDS]]
    study.report(pd.DataFrame(rows), "_test", {"gd": 60, "gd_ls": 30}, (0.5,), 4, {"pixel": 0.1, "cnn_transpose": 1e-6})
    summary = pd.read_csv(tmp_path / "sec_4_1_noise_test_summary.csv")
    assert len(summary) == 2 * 2 * len(NOISE_KINDS)
    assert (summary["q25"] <= summary["median"]).all() and (summary["median"] <= summary["q75"]).all()
    assert (summary["verdict"] == "hurts").all()          # every noisy run ends 5 above every noise-free one
    table = (tmp_path / "sec_4_1_noise_test.md").read_text()
    assert table.count("| hurts (p =") == len(summary)
    assert (tmp_path / "sec_4_1_noise_test.png").stat().st_size > 0


def test_the_gd_ls_replay_remakes_a_failed_search_trial_for_trial(tmp_path, monkeypatch):
    """gd_ls_failed_searches replays the failed search from the trace's last iterate by taking one step of the run's
    own optimizer: in the run's precision (here the mixed-precision CNN on a tiny beam) it makes the recorded
    trials exactly, loss for loss, and fails as the run did; runs that completed are not indexed."""
    monkeypatch.syspath_prepend(str(STUDIES))
    import gd_ls_failed_searches as study

    import landscape as L
    problem = "mbb_beam_16x8_0.5"
    spec = L.RunSpec(problem=problem, model="cnn_transpose", optimizer="gd_ls", optimizer_options={"maxls": 3},
                     steps=60, seed=0)
    L.run_spec(spec, trace=tmp_path / "a" / "traces" / "X_cnn_transpose_gd_ls_p3_s0.h5", progress=False)
    L.run_spec(dataclasses.replace(spec, optimizer_options={"maxls": 4}, seed=1),
               trace=tmp_path / "b" / "traces" / "X_cnn_transpose_gd_ls_p3_s1.h5", progress=False)
    found = study.index_traces([tmp_path / "a", tmp_path / "b", tmp_path / "missing"], "cnn_transpose")
    key = (L.problems.get(problem).name, 3.0, 0)
    assert list(found) == [key]    # seed 1 completed its 60 steps
    path = found[key]
    rows = pd.DataFrame(study.replay_run(path, "beam"))
    mixed = rows[rows.precision == "mixed"]
    assert len(mixed) == 3 and mixed.reproduces.all() and not mixed.found_step.any()
    assert set(rows.precision) == {"mixed", "float64"} and rows[rows.precision == "float64"].reproduces.isna().all()
    assert ((mixed.changed_weights >= 0) & (mixed.changed_weights <= 1)).all()
    objective = spec.build_objective()
    for other in ({"optimizer": "gd", "optimizer_options": {"lr": 0.1}}, {"optimizer_options": {"search": "wolfe"}}):
        with pytest.raises(ValueError, match="gd_ls run with search='lbfgsb'"):   # another search: refused by name
            study.replay(dataclasses.replace(spec, **other), objective, objective.theta0)
    summary = study.summarize(rows)
    assert len(summary) == 2 and "| beam | 3 | 0 |" in study.table(summary)
    # the trace against a committed curve column: as written (10 digits), padded with the last loss
    with L.open_trace(path) as trace:
        written = [float(f"{loss:.10g}") for loss in trace.steps()["loss"]]
    assert study.matches_curve(path, pd.Series(written + [written[-1]] * 5))
    assert not study.matches_curve(path, pd.Series(written[:-1] + [written[-1] * 1.001]))
