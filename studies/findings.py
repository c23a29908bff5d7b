"""The thesis's findings, each judged over the seeds by a stated statistical rule: holds, fails, or neither.

Reads the loss-curve cells the matrix studies write (``curves/`` in the output folder, then the
committed reference), for the quick or the full settings, and writes ``findings[_quick].md``: one
row per claim of chapter 3 and appendix C that the tables and figures can test, with its source,
its rule, the step sizes it was judged at, the verdict and the numbers.

The rules (one per kind of claim):

* **"X ends below Y"** (an order): a one-sided Mann-Whitney U test on the final losses of the
  seeds (each run one sample; diverged runs count as +inf). *holds* if X is lower with
  p <= 0.05, *fails* if Y is lower with p <= 0.05, otherwise *no significant difference*.
  With 3 seeds (the quick settings, D and E) only a complete separation reaches p = 0.05.
* **"X is as good as Y"** (an equivalence): a bootstrap 95 % confidence interval of the ratio of
  the median final losses (10,000 resamples of the seeds of each, seeded). *holds* if the
  interval lies within [1/1.05, 1.05], *fails* if it lies wholly outside, otherwise
  *inconclusive*.
* **"X converges in fewer steps than Y"**: the same U test on the per-seed converged steps (the
  first step after which a seed's loss stays within 5 % of its final value, the rule of
  ``matrix.converged_step``).
* **"every random start reaches the same loss"**: max / min - 1 over the seeds <= 1e-3 (holds), else
  *fails*.
* **"GD diverges on some CNN seeds but on no pixel seed"** (Figure C.1): a count over the 2000-step
  runs; *holds* if at least one CNN run diverged or rose and no pixel run did, *fails* if a pixel run
  did or no CNN run did in 10 seeds, *inconclusive* if no CNN run did in fewer seeds.

A claim about GD in Table 3.3 reads GD at step 700, as the thesis's Table 3.3 does (its Table 3.2
value); Table 3.2's claims read it at 700 and at 2000. A claim that is a sentence of the thesis's
text is tested in the text's direction, and where the thesis's own table goes the other way the row
says so ("HD_M10 converges in fewer steps than GD_LS": Figures C.7-C.8; on pixel E the table has 122
against 57). A claim read from a table takes the table's direction, so where a table cell goes
against the text (pixel E, where GD ends below L-BFGS after 2000 steps; pixel D, where m = 1 ends
above m = 10, the one exception the text names; pixel B, where HD_M10 ends above L-BFGS) the
table's direction is tested; where the table has a tie (HD_M1, L-BFGS_M1 and L-BFGS all converge
at step 19 on pixel E) the claim is "level", judged by a two-sided U test: *fails* if p <= 0.05,
otherwise *no significant difference*. The text's step-count sentences of section 3.2 describe
Figure 3.4, so they are tested on its problems, D and E. A claim involving GD or HD is judged at the
thesis's step size and, where that cell has run, at the step size re-tuned here (appendix B.7's
search, or the grid search on D and E), for pixels and the CNN alike. A cell says nothing about
the optimizer, and its row is *untested* with the reason, when half its runs or more diverged or
ended no lower than they started. When half or more *stalled* (ended lower, but with all their
progress in the first step: within 5 % of the final value from step 1 on, as HD does at the re-tuned
CNN steps), its converged steps and its memory say nothing, so claims about steps and the HD_M1 vs
HD_M10 comparison are *untested*; its final loss is still the result of its step size and is judged.

Not tested, because the thesis names no margin: "at p = 1 the optimizers converge in a similar
number of steps" (section 3.3) and "GD and L-BFGS perform similarly [on the CNN at p = 1] in terms of
number of steps" (section 3.2); Table 3.3 shows each cell's converged step beside the thesis's.

    python studies/findings.py --quick      # after the quick studies (make run does this)
    python studies/findings.py              # after the full ones
"""
from __future__ import annotations

# common first: it sets the output folder and pins the numerics before NumPy and torch load
from common import FIGURES, add_output_options

import argparse
from dataclasses import dataclass, replace

import numpy as np
from matrix import CNN, CONSTANT, FULL, QUICK, converged_step, failures_text, read_cell_at, stalled_runs, summarize
from scipy.stats import mannwhitneyu
from table_3_3_decomposition import THESIS as TABLE_3_3

from experiments.thesis import TABLE_3_2

ALPHA = 0.05            # one-sided level of the order tests
MARGIN = 0.05           # "as good as": medians within 5 %
SAME_LOSS = 1e-3        # "the same loss": max / min - 1 over seeds
FIGURE_3_4 = ("D", "E")  # the problems of Figure 3.4, which the text's step-count sentences of section 3.2 describe
VERDICTS = ("holds", "fails", "no significant difference", "inconclusive", "untested")


@dataclass
class Cell:
    """One cell's seeds: final losses (at ``at`` if given), per-seed converged steps, summary, step-size policy."""

    label: str
    finals: np.ndarray
    steps: np.ndarray
    summary: dict
    policy: str
    stalled_runs: int = 0   # runs that ended below their start with all their progress in the first step
    name: str = ""          # how the numbers name it (default: the label)

    @property
    def unusable(self) -> bool:
        """Half the runs or more diverged or ended no lower than they started."""
        return 2 * self.summary["rose"] >= self.summary["seeds"]

    @property
    def stalled(self) -> bool:
        """Half the runs or more stalled: they ended below their start, but all their progress was their first
        step (:func:`matrix.stalled`)."""
        return 2 * self.stalled_runs >= self.summary["seeds"]

    def text(self) -> str:
        flags = failures_text(self.summary)
        return f"{self.name or self.label} {self.summary['median']:.4g}" + (f" ({flags})" if flags else "")


def _steps(curve: np.ndarray) -> int:
    """A seed's converged step (5 % rule); the whole budget when it was still moving at the end."""
    step = converged_step(curve, tolerance=0.05)
    return len(curve) - 1 if step is None else step


def cell(model, penal, code, label, quick, policy="thesis", at=None) -> Cell | None:
    """A cell's seeds, or None when it has not run."""
    found = read_cell_at(model, penal, code, label, policy, quick, at=at)
    if found is None:
        return None
    losses, statuses = found
    finals = losses.iloc[-1].to_numpy(dtype=float)
    finals = np.where(np.isfinite(finals) & np.array([statuses.get(c) != "diverged" for c in losses]), finals, np.inf)
    steps = np.array([_steps(losses[c].to_numpy()) for c in losses], dtype=float)
    return Cell(label, finals, steps, summarize(losses, statuses), policy, stalled_runs=stalled_runs(losses, statuses))


def policies(model, penal, code, label, quick, at=None) -> list[Cell | None]:
    """A cell at each step-size policy that has run (the thesis's always listed, run or not)."""
    if label not in CONSTANT:
        return [cell(model, penal, code, label, quick, at=at)]
    out = [cell(model, penal, code, label, quick, "thesis", at)]
    tuned = cell(model, penal, code, label, quick, "tuned", at)
    return out + ([tuned] if tuned is not None else [])


def by_model(penal, code, label, quick, at=None) -> dict[str, list[Cell | None]]:
    """One optimizer's cells on both models, named by model ("pixel L-BFGS"), for the claims that compare them."""
    return {model: [replace(c, name=f"{model} {label}") if c else c for c in policies(model, penal, code, label,
                                                                                      quick, at=at)]
            for model in (CNN, "pixel")}


# -- the rules ----------------------------------------------------------------------------------
def order(a: np.ndarray, b: np.ndarray) -> tuple[str, str]:
    """``a`` below ``b``? One-sided Mann-Whitney U both ways: (verdict, "p = ... for the claim, ... against")."""
    claim = mannwhitneyu(a, b, alternative="less").pvalue
    against = mannwhitneyu(a, b, alternative="greater").pvalue
    verdict = "holds" if claim <= ALPHA else "fails" if against <= ALPHA else "no significant difference"
    return verdict, f"one-sided U: p = {claim:.2g} for the claim, {against:.2g} against it"


def equivalence(a: np.ndarray, b: np.ndarray, seed: int = 0, resamples: int = 10_000) -> tuple[str, str]:
    """Medians of ``a`` and ``b`` within ``MARGIN``? Bootstrap 95 % interval of the median ratio: (verdict, text)."""
    rng = np.random.default_rng(seed)
    ra = np.median(rng.choice(a, size=(resamples, len(a))), axis=1)
    rb = np.median(rng.choice(b, size=(resamples, len(b))), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = ra / rb
    low, high = np.nanpercentile(ratio, [2.5, 97.5])
    inside = 1 / (1 + MARGIN) <= low and high <= 1 + MARGIN
    outside = high < 1 / (1 + MARGIN) or low > 1 + MARGIN
    verdict = "holds" if inside else "fails" if outside else "inconclusive"
    return verdict, f"median ratio {np.median(a) / np.median(b):.4g}, 95 % interval [{low:.4g}, {high:.4g}]"


def _tag(*cells: Cell) -> str:
    used = [f"{c.label} {'thesis' if c.policy == 'thesis' else 're-tuned'}" for c in cells if c.label in CONSTANT]
    return ", ".join(dict.fromkeys(used)) or "-"      # one optimizer on two models is named once


def _untested(cells, stall: bool = False) -> str | None:
    missing = [c for c in cells if c is None]
    if missing:
        return "runs missing"
    bad = [c for c in cells if c.unusable]
    if bad:
        return "diverged or rose on half the seeds or more: " + "; ".join(c.text() for c in bad)
    still = [c for c in cells if stall and c.stalled]
    if still:
        return ("stalled on half the seeds or more (all the progress in the first step, then within 5 % of the "
                "end): " + "; ".join(c.text() for c in still))
    return None


def order_claim(claim, source, a_cells, b_cells, thesis_a, thesis_b, steps=False, text=None, stall=False,
                paired=False):
    """Rows for "a below b" (or above, or level), one per combination of step-size policies.

    The direction tested is the thesis's text's when ``text`` ("below" or "above") is given: the claim is a
    sentence of the thesis, and where its table goes the other way the numbers say so. Otherwise it is the
    table's (``thesis_a`` against ``thesis_b``); where the table has a tie (HD_M1, L-BFGS_M1 and L-BFGS all
    converge at step 19 on pixel E) the claim is "level" and a two-sided U test at the same level says
    *fails* or *no significant difference*. A stalled cell leaves a claim about steps, or one with ``stall``
    (the memory of two HD cells), untested: its converged step and its memory say nothing; its final loss
    is still a result of its step size. ``paired`` (one optimizer on two models) compares the cells at the
    same step-size policy only."""
    direction = text or ("below" if thesis_a < thesis_b else "above" if thesis_a > thesis_b else "level")
    what = {"below": "converges in fewer steps than", "above": "converges in more steps than",
            "level": "converges in as many steps as"}[direction] if steps else \
        ("ends level with" if direction == "level" else f"ends {direction}")
    against_table = text is not None and (thesis_a < thesis_b) != (text == "below") and thesis_a != thesis_b
    rows = []
    for a in a_cells:
        for b in b_cells:
            if paired and a is not None and b is not None and a.policy != b.policy:
                continue
            wording = claim.format(direction=direction, what=what)
            rule = ("two-sided" if direction == "level" else "one-sided") + " Mann-Whitney U on " + \
                ("per-seed converged steps" if steps else "final losses") + f", p <= {ALPHA}"
            reason = _untested([a, b], stall=steps or stall)
            if reason:
                rows.append((wording, source, rule, _tag(*[c for c in (a, b) if c]), "untested", reason))
                continue
            x, y = (a.steps, b.steps) if steps else (a.finals, b.finals)
            if direction == "level":
                p_value = mannwhitneyu(x, y, alternative="two-sided").pvalue
                verdict, p = ("fails" if p_value <= ALPHA else "no significant difference"), \
                    f"two-sided U: p = {p_value:.2g}"
            else:
                verdict, p = order(x, y) if direction == "below" else order(y, x)
            numbers = (f"median steps {np.median(a.steps):.0f} vs {np.median(b.steps):.0f}" if steps
                       else f"{a.text()} vs {b.text()}")
            note = " (the thesis's table goes the other way)" if against_table else ""
            rows.append((wording, source, rule, _tag(a, b), verdict,
                         f"{numbers}; {p}; thesis {thesis_a:g} vs {thesis_b:g}{note}"))
    return rows


def equivalence_claim(claim, source, a_cells, b_cells):
    rows = []
    for a in a_cells:
        for b in b_cells:
            rule = f"bootstrap 95 % interval of the median ratio within {1 + MARGIN:g}x"
            reason = _untested([a, b])
            if reason:
                rows.append((claim, source, rule, _tag(*[c for c in (a, b) if c]), "untested", reason))
                continue
            verdict, numbers = equivalence(a.finals, b.finals)
            rows.append((claim, source, rule, _tag(a, b), verdict, f"{a.text()} vs {b.text()}; {numbers}"))
    return rows


# -- the claims ---------------------------------------------------------------------------------
def _t33(model, penal, code):
    return TABLE_3_3.get(("pixel" if model == "pixel" else "cnn", int(penal), code), {})


def stiff_findings(quick: bool, problems, penal: float = 3.0) -> list[tuple]:
    """p = 3: Tables 3.2 and 3.3, Figure 3.6."""
    budgets = QUICK if quick else FULL
    rows = []
    for code in problems:
        t32 = TABLE_3_2.get(code, {})
        for model in (CNN, "pixel"):
            column = 1 if model == "pixel" else 0
            lbfgs = policies(model, penal, code, "L-BFGS", quick)
            for at, row in ((budgets.gd_short, "GD short"), (budgets.gd, "GD long")):
                rows += order_claim(f"L-BFGS {{what}} GD after {at} steps ({model}, {code})", "Table 3.2", lbfgs,
                                    policies(model, penal, code, "GD", quick, at=at), t32["L-BFGS"][column],
                                    t32[row][column])
            t33 = _t33(model, penal, code)
            m1 = policies(model, penal, code, "L-BFGS_M1", quick)
            if t33["L-BFGS_M1"][0] > 1.1 * t33["L-BFGS"][0]:       # the thesis's exception: pixel D
                rows += order_claim(f"L-BFGS with m = 1 {{what}} m = 10 ({model}, {code}; the thesis's exception)",
                                    "Figure 3.6", m1, lbfgs, t33["L-BFGS_M1"][0], t33["L-BFGS"][0])
            else:
                rows += equivalence_claim(f"L-BFGS with m = 1 as good as m = 10 ({model}, {code})", "Figure 3.6",
                                          m1, lbfgs)
            gd_ls = policies(model, penal, code, "GD_LS", quick)
            hd = {m: policies(model, penal, code, m, quick) for m in ("HD_M1", "HD_M10")}
            if model == CNN:
                for m in ("HD_M1", "HD_M10"):
                    rows += order_claim(f"line search matters most: GD_LS {{what}} {m} ({model}, {code})",
                                        "Table 3.3", gd_ls, hd[m], t33["GD_LS"][0], t33[m][0])
                rows += order_claim(f"a smaller memory makes HD worse: HD_M1 {{what}} HD_M10 ({model}, {code})",
                                    "Table 3.3", hd["HD_M1"], hd["HD_M10"], t33["HD_M1"][0], t33["HD_M10"][0],
                                    stall=True)
                rows += order_claim(f"GD_LS {{what}} L-BFGS ({model}, {code})", "Table 3.3", gd_ls, lbfgs,
                                    t33["GD_LS"][1], t33["L-BFGS"][1], steps=True)
                rows += equivalence_claim(f"GD_LS reaches minima as good as L-BFGS's ({model}, {code})",
                                          "section 3.3", gd_ls, lbfgs)
            else:
                for label, cells in (("GD_LS", gd_ls), ("HD_M1", hd["HD_M1"]), ("HD_M10", hd["HD_M10"])):
                    rows += order_claim(f"on pixels at p = 3, {label} {{what}} L-BFGS ({code})", "Table 3.3", cells,
                                        lbfgs, t33[label][0], t33["L-BFGS"][0])
                # "HD_M1 seems to converge in fewer steps than others (see Figures C.7 and C.8)": the others
                # of those figures are HD_M10 and GD_LS; against L-BFGS the table's steps are the claim
                for label in ("HD_M10", "GD_LS", "L-BFGS_M1", "L-BFGS"):
                    text = "below" if label in ("HD_M10", "GD_LS") else None
                    rows += order_claim(f"HD_M1 {{what}} {label} on pixels ({code})",
                                        "section 3.3, Figures C.7-C.8" if text else "Table 3.3", hd["HD_M1"],
                                        policies(model, penal, code, label, quick), t33["HD_M1"][1], t33[label][1],
                                        steps=True, text=text)
                rows += order_claim(f"HD_M10 {{what}} GD_LS on pixels ({code})", "section 3.3, Figures C.7-C.8",
                                    hd["HD_M10"], gd_ls, t33["HD_M10"][1], t33["GD_LS"][1], steps=True, text="below")
        named = by_model(penal, code, "L-BFGS", quick)
        rows += order_claim(f"the CNN {{what}} pixels with L-BFGS ({code})", "Table 3.2", named[CNN], named["pixel"],
                            t32["L-BFGS"][0], t32["L-BFGS"][1])
        if code in FIGURE_3_4:      # "the solution is reached in slightly fewer steps for the PixelModel"
            rows += order_claim(f"the pixel model {{what}} the CNN with L-BFGS ({code})", "section 3.2, Figure 3.4",
                                named["pixel"], named[CNN], _t33("pixel", penal, code)["L-BFGS"][1],
                                _t33(CNN, penal, code)["L-BFGS"][1], steps=True, text="below")
        rows += divergence_claim(code, penal, quick)
    return rows


def divergence_claim(code, penal, quick) -> list[tuple]:
    """Figure C.1: "even with the best step size, GD diverges for some seeds on the CNN but not on pixels",
    judged by counting the 2000-step runs that diverged or rose, at each step-size policy. A run that rose is
    counted with the diverged ones: on D the CNN's starts are 1e6 to 1e8, so a jump to a disconnected design
    (1e9) ends above the start but under the divergence factor of 1e3."""
    claim = f"GD diverges or rises on some CNN seeds and on no pixel seed ({code})"
    rule = ("count: at least one CNN run diverged or rose, no pixel run did (no CNN run failing in fewer than the "
            "thesis's 10 seeds is inconclusive)")
    rows = []
    for policy in ("thesis", "tuned"):
        cnn, pixel = cell(CNN, penal, code, "GD", quick, policy), cell("pixel", penal, code, "GD", quick, policy)
        if cnn is None or pixel is None:
            if policy == "thesis":
                rows.append((claim, "Figure C.1", rule, "GD thesis", "untested", "runs missing"))
            continue
        if pixel.summary["rose"] or cnn.summary["rose"]:
            verdict = "holds" if cnn.summary["rose"] >= 1 and pixel.summary["rose"] == 0 else "fails"
        else:   # no CNN run failed: with fewer seeds than the thesis's 10 that is no evidence against "some seeds"
            verdict = "fails" if cnn.summary["seeds"] >= len(FULL.seeds) else "inconclusive"
        rows.append((claim, "Figure C.1", rule, _tag(cnn, pixel), verdict,
                     f"diverged or rose: CNN {cnn.summary['rose']} of {cnn.summary['seeds']}, "
                     f"pixels {pixel.summary['rose']} of {pixel.summary['seeds']}"))
    return rows


def convex_findings(quick: bool, problems) -> list[tuple]:
    """p = 1 (section 3.2, Table 3.3, Figures C.3 and C.4): every optimizer ends at the same loss on both models,
    every random start of either model reaches the same loss, and the CNN converges in fewer steps than pixels
    (on D and E, Figure 3.4's problems)."""
    budgets = QUICK if quick else FULL
    rows = []
    for code in problems:
        for model in (CNN, "pixel"):
            lbfgs = policies(model, 1.0, code, "L-BFGS", quick)
            for label in ("GD", "HD_M1", "HD_M10", "GD_LS", "L-BFGS_M1"):
                at = budgets.gd_short if label == "GD" else None      # Table 3.3's GD column is step 700
                rows += equivalence_claim(f"at p = 1 {label} as good as L-BFGS ({model}, {code})", "Table 3.3",
                                          policies(model, 1.0, code, label, quick, at=at), lbfgs)
        for label in ("GD", "L-BFGS") if code in FIGURE_3_4 else ():    # "lower for the CNNModel" (Figure 3.4)
            at = budgets.gd_short if label == "GD" else None
            cells = by_model(1.0, code, label, quick, at=at)
            rows += order_claim(f"at p = 1 the CNN {{what}} pixels with {label} ({code})", "section 3.2",
                                cells[CNN], cells["pixel"], _t33(CNN, 1.0, code)[label][1],
                                _t33("pixel", 1.0, code)[label][1], steps=True, paired=True, text="below")
        for model in ("pixel", CNN):      # Figures C.4 (pixels) and C.3 (the CNN)
            found = cell(model, 1.0, code, "L-BFGS", quick)
            claim = f"at p = 1 every random start reaches the same loss ({model}, L-BFGS, {code})"
            rule = f"max / min - 1 over the seeds <= {SAME_LOSS:g}"
            source = "Figure C.4" if model == "pixel" else "Figure C.3"
            if found is None:
                rows.append((claim, source, rule, "-", "untested", "runs missing"))
                continue
            spread = np.max(found.finals) / np.min(found.finals) - 1
            rows.append((claim, source, rule, "-", "holds" if spread <= SAME_LOSS else "fails",
                         f"max / min - 1 = {spread:.1e} over {len(found.finals)} seeds"))
    return rows


def markdown(rows, quick: bool) -> str:
    counts = {v: sum(r[4] == v for r in rows) for v in VERDICTS}
    lines = [f"Thesis findings against the {'quick' if quick else 'full'} results, each judged over the seeds by "
             "the rule in its row (studies/findings.py explains the rules). "
             + ", ".join(f"{n} {v}" for v, n in counts.items() if n) + ".", "",
             "| thesis finding | source | rule | step sizes | here | numbers |", "|---|---|---|---|---|---|"]
    lines += [f"| {claim} | {source} | {rule} | {tag} | **{verdict}** | {numbers} |"
              for claim, source, rule, tag, verdict, numbers in rows]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--problem", default=None,
                        help="comma-separated thesis codes (default A,B quick, A,B,D,E full)")
    parser.add_argument("--penal", default=None, help="comma-separated penalizations (default: 3 quick, 3,1 full)")
    add_output_options(parser)
    args = parser.parse_args(argv)
    FIGURES.mkdir(parents=True, exist_ok=True)
    penals = [float(p) for p in (args.penal or ("3" if args.quick else "3,1")).split(",")]
    problems = (args.problem or ("A,B" if args.quick else "A,B,D,E")).split(",")
    rows = []
    for penal in penals:
        rows += convex_findings(args.quick, problems) if penal == 1 else stiff_findings(args.quick, problems, penal)
    out = FIGURES / ("findings" + ("_quick" if args.quick else "") + ".md")
    text = markdown(rows, args.quick)
    out.write_text(text)
    width = max(len(r[0]) for r in rows)
    for claim, _, _, tag, verdict, numbers in rows:
        print(f"{claim:<{width}}  {verdict:<26} {tag:<22} {numbers}")
    print(text.splitlines()[0].split(". ")[-1] + f"  (written to {out})")
    return 0


if __name__ == "__main__":
    main()
