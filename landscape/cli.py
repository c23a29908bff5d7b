"""The ``landscape`` command line: run, show, plot, compare, sweep, report, problems.

Errors are one line on stderr (``landscape: error: ...``) and a non-zero exit.
``--probe NAME:every=10,k=3`` takes the names of :mod:`landscape.registry`: the
probes this repository ships and those installed packages register.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

__all__ = ["main"]


class CLIError(Exception):
    """A user error: printed as one line, exit status 2."""


def _value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _options(pairs) -> dict:
    options = {}
    for pair in pairs or ():
        if "=" not in pair:
            raise CLIError(f"option {pair!r} must look like key=value")
        key, value = pair.split("=", 1)
        options[key.strip()] = _value(value.strip())
    return options


def probe_entry(text: str) -> dict:
    """``NAME`` or ``NAME:key=value,key=value`` -> ``{"name": NAME, key: value, ...}``.

    Each value is parsed as JSON when it can be (``every=10`` gives an int, ``at=[0,10,20]`` a list; commas
    inside brackets stay in the value), else kept as a string.

    Args:
        text: the ``--probe`` argument.

    Returns:
        The probe entry as a dict, with the name under ``"name"``.

    Raises:
        CLIError: if an option has no ``=``.
    """
    name, _, rest = text.partition(":")
    # commas inside brackets belong to a list value: at=[0,10,20]
    options = _options([p for p in re.split(r",(?![^\[]*\])", rest) if p]) if rest else {}
    return {"name": name, **options}


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return value


# -- commands --------------------------------------------------------------------------------
def cmd_run(args) -> int:
    """``landscape run``: run one optimizer on one problem, write its trace and print a summary.

    Args:
        args: the parsed ``argparse.Namespace`` of the ``run`` sub-command.

    Returns:
        The exit status: 130 when the run was interrupted, else 0.

    Raises:
        CLIError: if ``--threads`` exceeds 4 x the CPU count, or ``-o/--out`` is empty or blank.
    """
    if args.threads is not None and args.threads > 4 * (os.cpu_count() or 1):
        raise CLIError(f"--threads {args.threads} is more than 4 x the {os.cpu_count()} CPUs of this machine")
    from landscape.runner import run_spec
    from landscape.spec import RunSpec
    from landscape.trace import TraceWriter

    spec = RunSpec(problem=args.problem, model=args.model, model_options=_options(args.model_option),
                   seed=args.seed, precision=args.precision, penal=args.penal, filter=not args.no_filter,
                   optimizer=args.optimizer, optimizer_options=_options(args.option), steps=args.steps,
                   probes=[probe_entry(text) for text in args.probe or ()], snapshot_every=args.snapshot_every,
                   threads=args.threads)
    problem = spec.build_problem()
    if args.out is not None and not args.out.strip():
        raise CLIError("-o/--out is empty; give a trace file name (or leave -o out for the default under runs/)")
    out = Path(args.out or f"runs/{problem.name}_{spec.model}_{spec.optimizer}_p{spec.penal:g}_s{spec.seed}.h5")
    writer = TraceWriter(out, overwrite=args.overwrite, snapshot_every=spec.snapshot_every, spec=spec,
                         config={"model": spec.model, "model_options": dict(spec.model_options)})
    result = run_spec(spec, trace=writer, progress=not args.no_progress)   # builds the model before any file
    print(f"{result.status}: {result.message}")
    print(f"steps {result.steps}, evaluations {result.evaluations}, final loss {result.final_loss:.6g}, "
          f"best {result.best_loss:.6g} at step {result.best_step}, {result.wall_time:.1f} s")
    if result.rose and result.status != "diverged":
        print(f"note: the run ended no lower than it started ({result.final_loss:.6g} against {result.losses[0]:.6g}); "
              f"summaries and tables flag it as 'rose'")
    print(f"trace: {out}")
    return {"interrupted": 130}.get(result.status, 0)


def _open(path):
    from landscape.trace import open_trace
    return open_trace(path)


def cmd_show(args) -> int:
    """``landscape show``: print a trace's summary (and, with ``--json``, its config, versions and numerics).

    Args:
        args: the parsed ``argparse.Namespace`` of the ``show`` sub-command.

    Returns:
        The exit status, 0.
    """
    with _open(args.trace) as trace:
        summary = trace.summary()
        if args.json:
            print(json.dumps({**summary, "config": trace.config, "versions": trace.versions,
                              "numerics": trace.numerics}, indent=2))
            return 0
        width = max(len(k) for k in summary)
        for key, value in summary.items():
            if isinstance(value, float):
                value = f"{value:.6g}"
            elif isinstance(value, (list, dict)):
                value = ", ".join(value) if isinstance(value, list) else json.dumps(value)
            print(f"{key:>{width}}  {value}")
        print(f"{'numerics':>{width}}  {trace.numerics.get('mode', 'unknown')}")
    return 0


def _not_an_input(output: str, inputs) -> None:
    """Refuse an output path that is one of the inputs (``-o t.h5`` would replace the trace with a picture)."""
    if not str(output).strip():
        raise CLIError("-o/--output is empty; give a file name")
    target = Path(output).resolve()
    for path in inputs:
        if Path(path).resolve() == target:
            raise CLIError(f"the output {output} is an input of this command; write the picture elsewhere")


def cmd_plot(args) -> int:
    """``landscape plot``: draw one kind of figure from a trace and save it, then print the path.

    Args:
        args: the parsed ``argparse.Namespace`` of the ``plot`` sub-command.

    Returns:
        The exit status, 0.

    Raises:
        CLIError: if the output is empty or is the trace itself, or the kind cannot be drawn (a
            ``ValueError`` of :func:`landscape.plots.figure_for`).
    """
    from landscape import plots
    _not_an_input(args.output, [args.trace])
    with _open(args.trace) as trace:
        try:
            fig = plots.figure_for(trace, args.kind)
        except ValueError as error:
            raise CLIError(str(error)) from None
        path = plots.save(fig, args.output)
    print(path)
    return 0


def cmd_compare(args) -> int:
    """``landscape compare``: overlay one column of several traces in a figure and print a table of them.

    Args:
        args: the parsed ``argparse.Namespace`` of the ``compare`` sub-command.

    Returns:
        The exit status, 0.

    Raises:
        CLIError: if the output is empty or is one of the traces.
    """
    from landscape import plots
    _not_an_input(args.output, args.traces)
    traces = [_open(p) for p in args.traces]
    try:
        fig = plots.compare(traces, args.column, log=not args.linear)
        path = plots.save(fig, args.output)
        rows = [t.summary() for t in traces]
    finally:
        for t in traces:
            t.close()
    print(f"{'trace':<50} {'optimizer':>12} {'model':>14} {'seed':>5} {'status':>18} {'best':>12}")
    for row in rows:
        print(f"{Path(row['path']).name:<50} {row['optimizer']:>12} {row['model']:>14} {row['seed']:>5} "
              f"{row['status']:>18} {row['best_loss']:>12.6g}")
    print(path)
    return 0


def cmd_problems(args) -> int:
    """``landscape problems``: print the problem suite (sizes, volume fraction, dofs, thesis code).

    Args:
        args: the parsed ``argparse.Namespace`` of the ``problems`` sub-command.

    Returns:
        The exit status, 0.

    Raises:
        CLIError: if ``--category`` names an unknown category.
    """
    from landscape import problems
    if args.category and args.category not in problems.categories():
        raise CLIError(f"unknown category {args.category!r}; known: {', '.join(problems.categories())}")
    codes = {problems.get(c).name: c for c in problems.THESIS_CODES}
    print(f"{'name':<48} {'width':>6} {'height':>6} {'volfrac':>8} {'dofs':>8} {'thesis':>6}")
    for name in problems.names(args.category):
        p = problems.get(name)
        print(f"{name:<48} {p.width:>6} {p.height:>6} {p.volfrac:>8.3g} {p.num_dofs:>8} {codes.get(name, ''):>6}")
    return 0


def cmd_sweep(args) -> int:
    """``landscape sweep``: expand a sweep config and run its unfinished tasks (or list them, ``--dry-run``).

    Args:
        args: the parsed ``argparse.Namespace`` of the ``sweep`` sub-command.

    Returns:
        The exit status: 1 when some task failed, else 0.
    """
    import logging
    import warnings

    from landscape import sweep as sweeps
    # Dask's own chatter (ports, cancelled tasks at shutdown) is not the user's business here
    logging.getLogger("distributed").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="Port .* is already in use")
    config = sweeps.load_config(args.config)
    if args.out:
        config["out"] = args.out
    plan = sweeps.expand(config, base=None)
    done = sum(sweeps._trace_status(t.trace) in sweeps.TERMINAL for t in plan.tasks)
    print(f"sweep {plan.name}: {len(plan.tasks)} tasks ({done} already done) -> {plan.out}")
    if args.dry_run:
        for task in plan.tasks:
            print(f"  {task.name}")
        return 0
    frame = sweeps.run_sweep(plan, scheduler=args.scheduler, workers=args.workers, progress=not args.no_progress,
                             retry_failed=args.retry_failed)
    counts = frame["status"].value_counts().to_dict()
    print(", ".join(f"{k}: {v}" for k, v in counts.items()) + f"; index: {plan.index_path}")
    print(f"to look at it: landscape report {plan.out} -o {plan.out / 'report.html'}")
    return 1 if counts.get("failed") else 0


def cmd_report(args) -> int:
    """``landscape report``: write the HTML report of traces and sweep folders (:func:`landscape.reports.report`).

    Args:
        args: the parsed ``argparse.Namespace`` of the ``report`` sub-command.

    Returns:
        The exit status, 0.
    """
    from landscape.reports import report
    out = report(args.paths, args.output, title=args.title, max_points=args.max_points,
                 max_snapshots=args.max_snapshots, details=not args.overview_only, progress=not args.no_progress)
    size = out.stat().st_size / 2**20
    print(f"report: {out} ({size:.1f} MB)")
    return 0


def _plot_kinds() -> list[str]:
    from landscape.plots import KINDS
    from landscape.registry import plot_kind_names
    return sorted(KINDS) + [k for k in plot_kind_names() if k not in KINDS]


def _probe_names() -> list[str]:
    from landscape.registry import probe_names
    return probe_names()


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (no usage block) like every other error here."""

    def error(self, message):
        self.exit(2, f"landscape: error: {message} (see `{self.prog} --help`)\n")


def parser() -> argparse.ArgumentParser:
    """The argument parser of the ``landscape`` command with all its sub-commands.

    Returns:
        An ``argparse.ArgumentParser`` whose sub-commands set ``func`` to the ``cmd_*`` function to call.
    """
    top = _Parser(prog="landscape", description=__doc__.split("\n")[0])
    mode = top.add_mutually_exclusive_group()
    mode.add_argument("--deterministic", dest="deterministic", action="store_true", default=None,
                      help="pin the numerical kernels so results are bit-identical on any x86-64 CPU with AVX2 "
                           "(the same as LANDSCAPE_DETERMINISTIC=1; see landscape/numerics.py)")
    mode.add_argument("--no-deterministic", dest="deterministic", action="store_false",
                      help="the CPU's own kernels (the default unless LANDSCAPE_DETERMINISTIC=1)")
    sub = top.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run one optimizer on one problem and write its trace")
    run.add_argument("--problem", required=True, help="suite name or thesis code (A, B, D, E)")
    run.add_argument("--model", default="pixel", help="pixel, cnn, cnn_transpose, mlp")
    run.add_argument("--model-option", action="append", metavar="KEY=VALUE")
    run.add_argument("--optimizer", default="lbfgs")
    run.add_argument("--option", action="append", metavar="KEY=VALUE", help="optimizer option, e.g. m=10, lr=0.1")
    run.add_argument("--penal", type=float, default=3.0)
    run.add_argument("--no-filter", action="store_true", help="no cone filter (as the NTK paper runs the mlp)")
    run.add_argument("--precision", choices=("mixed", "float64"), default="mixed",
                     help="mixed: float32 network over float64 physics (default, as Hoyer and the thesis); "
                          "float64: everything in float64 (exact curvature work)")
    run.add_argument("--threads", type=_positive, default=None, metavar="N",
                     help="torch and BLAS threads (default: the thread policy, 1; or $LANDSCAPE_THREADS)")
    run.add_argument("--steps", type=int, default=100)
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--probe", action="append", metavar="NAME[:KEY=VALUE,...]",
                     help=f"record a probe, e.g. hutchinson:every=10,samples=20; names: {', '.join(_probe_names())}")
    run.add_argument("--out", "-o", help="trace path (default runs/<problem>_<model>_<optimizer>_p<p>_s<seed>.h5)")
    run.add_argument("--overwrite", action="store_true", help="replace an existing trace")
    run.add_argument("--snapshot-every", type=int, default=None, metavar="N")
    run.add_argument("--no-progress", action="store_true")
    run.set_defaults(func=cmd_run)

    show = sub.add_parser("show", help="summary of a trace")
    show.add_argument("trace")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_show)

    plot = sub.add_parser("plot", help="plot one thing from a trace as PNG")
    plot.add_argument("trace")
    plot.add_argument("kind", help=f"one of {', '.join(_plot_kinds())}, or the name of a probe the trace records")
    plot.add_argument("-o", "--output", required=True)
    plot.set_defaults(func=cmd_plot)

    compare = sub.add_parser("compare", help="overlay runs: median and spread across seeds")
    compare.add_argument("traces", nargs="+")
    compare.add_argument("-o", "--output", required=True)
    compare.add_argument("--column", default="loss")
    compare.add_argument("--linear", action="store_true", help="linear y axis")
    compare.set_defaults(func=cmd_compare)

    sweep = sub.add_parser("sweep", help="run a sweep config (TOML/YAML) on Dask, skipping finished tasks")
    sweep.add_argument("config")
    sweep.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://host:8786")
    sweep.add_argument("--workers", type=int, default=2, help="local worker processes (without --scheduler)")
    sweep.add_argument("--out", help="output directory (overrides the config's 'out')")
    sweep.add_argument("--dry-run", action="store_true", help="list the tasks and stop")
    sweep.add_argument("--retry-failed", action="store_true",
                       help="run the tasks whose traces ended 'failed' again (a rerun skips them otherwise)")
    sweep.add_argument("--no-progress", action="store_true")
    sweep.set_defaults(func=cmd_sweep)

    report = sub.add_parser("report", help="one self-contained HTML page for traces and sweep folders")
    report.add_argument("paths", nargs="+", metavar="PATH", help="traces, sweep folders, or folders of traces")
    report.add_argument("-o", "--output", required=True, help="the HTML file to write (a folder: FOLDER/index.html)")
    report.add_argument("--title", help="page title (default: the run's name, or the inputs)")
    report.add_argument("--max-points", type=_positive, metavar="N",
                        help="points per curve (default 800 for one run, 300 for several)")
    report.add_argument("--max-snapshots", type=_positive, metavar="N",
                        help="designs per run's slider (default 40 for one run, 12 for several)")
    report.add_argument("--overview-only", action="store_true",
                        help="table, median curves and best designs, without each run's own section")
    report.add_argument("--no-progress", action="store_true")
    report.set_defaults(func=cmd_report)

    problems = sub.add_parser("problems", help="the problem suite with sizes")
    problems.add_argument("--category")
    problems.set_defaults(func=cmd_problems)
    return top


def _numerics_relaunch(args, argv) -> int | None:
    """Start the command again in the asked-for numerics mode, which must be set before torch loads.

    From the console the process is replaced (``os.execv``); called with ``argv`` (from Python) the
    command runs in a child process and its exit status is returned. None when no restart is needed.
    """
    from landscape import numerics
    if args.deterministic is None or args.deterministic == numerics.active():
        return None
    env = {**os.environ, numerics.ENVIRONMENT: "1" if args.deterministic else "0"}
    if not args.deterministic:      # drop the pins this process set, so the child picks its own kernels
        for key, value in numerics.PINS.items():
            if env.get(key) == value:
                env.pop(key)
    command = [sys.executable, "-m", "landscape.cli", *(sys.argv[1:] if argv is None else argv)]
    if argv is None:
        sys.stdout.flush()
        os.execve(sys.executable, command, env)
    import subprocess
    return subprocess.run(command, env=env).returncode


def main(argv=None) -> int:
    """Run the ``landscape`` command line and return its exit status.

    When ``--deterministic``/``--no-deterministic`` asks for a numerics mode other than this process's, the
    command starts again in that mode (see :mod:`landscape.numerics`): from the console the process is
    replaced, from Python it runs in a child process whose status is returned. Errors are printed as one
    line on stderr instead of raised; a bad command line exits through argparse (``SystemExit`` with
    status 2), and a closed output pipe ends the command quietly with status 0.

    Args:
        argv: the arguments without the program name (default ``None``: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success, 2 for a user error (:class:`CLIError`, a trace, optimizer, problem,
        sweep or report error, a missing optional dependency, ``KeyError``, ``ValueError`` or ``OSError``),
        130 when interrupted, 1 when a sweep had failed tasks, or the sub-command's own status.
    """
    args = parser().parse_args(argv)
    relaunched = _numerics_relaunch(args, argv)
    if relaunched is not None:
        return relaunched
    from landscape.optim import OptimizerError
    from landscape.optional import MissingDependency
    from landscape.problems import ProblemError
    from landscape.reports import ReportError
    from landscape.sweep import SweepError, SweepInterrupted
    from landscape.trace import TraceError
    try:
        return args.func(args)
    except SweepInterrupted as error:
        print(f"landscape: {error}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:      # e.g. during start-up, before a run or sweep could record anything
        print("landscape: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:        # e.g. `landscape problems | head`
        sys.stdout = open(os.devnull, "w")
        return 0
    except (CLIError, TraceError, OptimizerError, ProblemError, SweepError, ReportError, MissingDependency, KeyError,
            ValueError,
            OSError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
        print(f"landscape: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
