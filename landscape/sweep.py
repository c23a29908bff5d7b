"""Sweeps: the product of run settings, run as independent tasks on Dask, restartable, with an index.

A sweep is a declarative config (TOML or YAML; a dict in Python)::

    name = "thesis-quick"
    out = "runs/thesis-quick"            # traces in <out>/traces/, the index in <out>/index.csv
    steps = 100
    retries = 2                          # extra attempts for a task whose worker died

    [axes]
    problem = ["A", "B"]                 # suite names, thesis codes, or <category>_<W>x<H>_<volfrac>
    model = ["pixel", "cnn"]             # or tables: {kind = "cnn", latent_size = 64}
    penal = [1, 3]
    optimizer = ["lbfgs", {name = "gd", lr = 0.1}]
    seed = [0, 1, 2]
    steps = [100]                        # optional axis; otherwise the top-level steps
    precision = ["mixed"]                # optional axis: "mixed" (the default) and/or "float64"

    [[exclude]]                          # drop every task matching all listed values
    model = "cnn"
    optimizer = "oc"

Optional keys: ``probes`` (a list of ``{name = ..., every = ...}`` tables,
recorded in every trace), ``snapshot_every``, ``filter`` (bool), ``threads``
(torch and BLAS threads per task; default the policy of :mod:`landscape.threads`,
one thread, the same a ``landscape run`` of the task uses, so both give the
same numbers bit for bit).

Every task writes one trace named after its settings plus a short hash of its
full config, so names are deterministic. Execution uses Dask: a
``LocalCluster`` of single-threaded worker processes by default, or any running cluster given its scheduler
address. Completed traces are skipped on a rerun (unless they were made in the other numerics mode,
deterministic or native, see :mod:`landscape.numerics`, or record optimizer options other than those this
version builds from the same config: those are rerun and replaced); a task whose worker dies is
rescheduled by Dask up to ``retries`` more times, and its half-written trace
(status ``running``) is replaced; a task that raises is recorded as ``failed``
(in its trace and the index) and the sweep goes on. Invalid configs are
rejected before anything runs, with the bad entry named.
"""
from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import math
import os
import platform
import signal
import threading
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import numerics, problems
from .statuses import FINISHED

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Sweep", "SweepError", "load_config", "expand", "run_sweep", "load", "medians", "Task"]

AXES = ("problem", "model", "penal", "optimizer", "seed", "steps", "precision")
TOP_LEVEL = ("name", "out", "steps", "axes", "exclude", "probes", "snapshot_every", "filter", "threads", "retries")
TERMINAL = FINISHED
INDEX_COLUMNS = ("name", "status", "problem", "model", "model_options", "penal", "precision", "optimizer",
                 "optimizer_options",
                 "seed", "steps", "final_loss", "best_loss", "steps_taken", "evaluations", "wall_time", "trace",
                 "error", "config")


class SweepError(ValueError):
    """An invalid sweep config (named entry), or a sweep that cannot start."""


class SweepLocked(SweepError):
    """Another live sweep is writing into the same output folder."""


class SweepInterrupted(SweepError):
    """Ctrl-C (or SIGTERM) stopped a sweep; the index was written first."""


LOCK_NAME = ".lock"


@contextlib.contextmanager
def _locked(out: Path):
    """Hold ``out/.lock`` while a sweep writes there; a lock whose process is gone is taken over."""
    from .trace import process_alive
    path = out / LOCK_NAME
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                holder = json.loads(path.read_text() or "{}")
            except (OSError, json.JSONDecodeError):
                holder = {}
            if holder and process_alive(str(holder.get("host")), holder.get("pid", -1)):
                since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder.get("since", 0)))
                raise SweepLocked(f"sweep folder {out} is in use by pid {holder.get('pid')} on {holder.get('host')} "
                                  f"since {since}; wait for it to finish, or remove {path} if that process is "
                                  f"gone") from None
            path.unlink(missing_ok=True)     # stale: its process is gone
            continue
        with os.fdopen(fd, "w") as f:
            json.dump({"host": platform.node(), "pid": os.getpid(), "since": time.time()}, f)
        break
    else:
        raise SweepLocked(f"could not take the lock {path}")
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


@dataclass
class Task:
    """One run of a sweep: a point of the product of the axes.

    Attributes:
        name: the task's deterministic name, ``<problem>_<model>_<optimizer><options>_p<penal>_s<seed>``
            (characters other than letters, digits, ``.``, ``_`` and ``-`` replaced by ``-``) plus the first
            8 hex digits of the SHA-1 of its config.
        config: the task's settings: one value per axis of ``AXES`` (``model`` as ``{"kind", "options"}``,
            ``optimizer`` as ``{"name", "options"}``) plus ``probes``, ``snapshot_every``, ``filter`` and
            ``threads``.
        trace: where its trace is written, ``<out>/traces/<name>.h5``.
    """

    name: str
    config: dict
    trace: Path


@dataclass
class Sweep:
    """An expanded sweep config (see :func:`expand`): its tasks and where they write.

    Attributes:
        name: the sweep's name (the config's ``name``, else the name of the ``out`` folder).
        out: the output folder: traces in ``out/traces/``, the index in ``out/index.csv``, the config in
            ``out/sweep.json``.
        tasks: the tasks, in the order of the product of the axes (exclusions dropped).
        retries: how many more times Dask reschedules a task whose worker died (default 2); applied to the
            ``LocalCluster`` that :func:`run_sweep` starts itself.
        raw: the config as given, written to ``sweep.json`` (default an empty dict).
    """

    name: str
    out: Path
    tasks: list[Task]
    retries: int = 2
    raw: dict = field(default_factory=dict)

    @property
    def index_path(self) -> Path:
        """The path of the sweep's index, ``out/index.csv``."""
        return self.out / "index.csv"


# -- config ----------------------------------------------------------------------------------
def load_config(path) -> dict:
    """Read a TOML (.toml) or YAML (.yaml, .yml) sweep config.

    The file is only parsed here; :func:`expand` validates it. YAML needs the ``yaml`` extra (pyyaml).

    Args:
        path: the config file (str or path); its suffix picks the format.

    Returns:
        The config as a dict (an empty YAML file gives ``{}``).

    Raises:
        SweepError: if the file does not exist, does not parse, is nested too deeply, or has another
            suffix.
        MissingDependency: for a YAML file when pyyaml is not installed.
    """
    path = Path(path)
    if not path.exists():
        raise SweepError(f"no such sweep config: {path}")
    text = path.read_text()
    if path.suffix == ".toml":
        try:
            import tomllib
        except ModuleNotFoundError:   # Python 3.10
            import tomli as tomllib
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise SweepError(f"{path}: not valid TOML: {error}") from None
        except RecursionError:
            raise SweepError(f"{path}: nested too deeply to be a sweep config") from None
    if path.suffix in (".yaml", ".yml"):
        from .optional import require
        yaml = require("yaml", f"the YAML sweep config {path}")
        try:
            return yaml.safe_load(text) or {}
        except yaml.YAMLError as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise SweepError(f"{path}: not valid YAML: {first}") from None
        except RecursionError:
            raise SweepError(f"{path}: nested too deeply to be a sweep config") from None
    raise SweepError(f"{path}: sweep configs are .toml, .yaml or .yml files")


def _as_list(axis: str, value) -> list:
    values = value if isinstance(value, list) else [value]
    if not values:
        raise SweepError(f"axis {axis!r} is empty: the product of the axes has no task")
    return values


def _model_entry(entry) -> tuple[str, dict]:
    if isinstance(entry, str):
        return entry, {}
    if isinstance(entry, Mapping) and "kind" in entry:
        return str(entry["kind"]), {k: v for k, v in entry.items() if k != "kind"}
    raise SweepError(f"model entry {entry!r} must be a kind name or a table with 'kind'")


def _optimizer_entry(entry) -> tuple[str, dict]:
    if isinstance(entry, str):
        return entry, {}
    if isinstance(entry, Mapping) and "name" in entry:
        return str(entry["name"]), {k: v for k, v in entry.items() if k != "name"}
    raise SweepError(f"optimizer entry {entry!r} must be a name or a table with 'name'")


def _validate(config: dict) -> None:
    if not isinstance(config, Mapping):
        raise SweepError(f"a sweep config is a table of keys (name, out, steps, axes, ...) at the top level, "
                         f"got a {type(config).__name__}")
    unknown = sorted(set(config) - set(TOP_LEVEL))
    if unknown:
        import difflib
        hints = [f"{k!r} (did you mean {difflib.get_close_matches(k, TOP_LEVEL, 1)[0]!r}?)"
                 if difflib.get_close_matches(k, TOP_LEVEL, 1) else repr(k) for k in unknown]
        raise SweepError(f"unknown top-level key {', '.join(hints)}; known keys: {', '.join(TOP_LEVEL)}")
    for key, kind, what in (("name", str, "a name"), ("out", str, "a folder path"), ("probes", list, "a list of "
                            "probe tables"), ("exclude", list, "a list of [[exclude]] tables")):
        if key in config and not isinstance(config[key], kind):
            raise SweepError(f"{key}: {config[key]!r} is not {what}")
    name = config.get("name")
    if name is not None and (not name.strip() or "/" in name or "\\" in name or name in (".", "..")):
        raise SweepError(f"name: {name!r} must be a plain name (no path separators); put the folder in 'out'")
    retries = config.get("retries", 2)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise SweepError(f"retries: {retries!r} is not an integer >= 0")
    axes = config.get("axes")
    if not isinstance(axes, Mapping) or not axes:
        raise SweepError("the config needs an [axes] table (problem, model, penal, optimizer, seed)")
    for axis in axes:
        if axis not in AXES:
            raise SweepError(f"unknown axis {axis!r}; known axes: {', '.join(AXES)}")
    for required in ("problem", "optimizer"):
        if required not in axes:
            raise SweepError(f"the axes need {required!r}")
    _check_values(config, axes)
    for rule in config.get("exclude", []):
        if not isinstance(rule, Mapping) or not rule:
            raise SweepError(f"exclude entry {rule!r} must be a non-empty table")
        for axis in rule:
            if axis not in AXES:
                raise SweepError(f"exclude entry {dict(rule)!r}: unknown axis {axis!r}")


def _check_values(config: Mapping, axes: Mapping) -> None:
    """Every axis value and top-level setting, checked by :class:`~landscape.spec.RunSpec` (one value at a
    time against the first of the others), and every model built once per problem."""
    from .spec import RunSpec, RunSpecError
    steps = axes.get("steps", config.get("steps"))
    if steps is None:
        raise SweepError("give 'steps' (top level or as an axis)")
    optimizer, options = _optimizer_entry(_as_list("optimizer", axes["optimizer"])[0])
    base = {"problem": str(_as_list("problem", axes["problem"])[0]), "optimizer": optimizer,
            "optimizer_options": options, "steps": 0, "threads": config.get("threads"),
            "snapshot_every": config.get("snapshot_every"), "probes": config.get("probes", []),
            "filter": config.get("filter", True)}

    def check(**values):
        try:
            return RunSpec(**{**base, **values})
        except RunSpecError as error:
            where = f"axis {error.field!r}" if error.field in axes else error.field
            raise SweepError(f"{where}: {error.reason}") from None

    for entry in _as_list("problem", axes["problem"]):
        check(problem=str(entry))
    for entry in _as_list("optimizer", axes["optimizer"]):
        name, options = _optimizer_entry(entry)
        check(optimizer=name, optimizer_options=options)
    check()                     # the top-level settings: threads, snapshot_every, probes, filter
    for axis in ("penal", "seed", "precision", "steps"):
        values = axes.get(axis, steps if axis == "steps" else None)
        for entry in ([] if values is None else _as_list(axis, values)):
            check(**{axis: entry})
    for entry in _as_list("model", axes.get("model", ["pixel"])):
        kind, options = _model_entry(entry)
        for problem in _as_list("problem", axes["problem"]):     # built once per problem: options and sizes
            try:
                check(model=kind, model_options=options, problem=str(problem)).check_model()
            except RunSpecError as error:
                raise SweepError(f"axis 'model': {error.reason}") from None


def task_spec(task: Mapping):
    """The :class:`~landscape.spec.RunSpec` of one expanded task.

    Args:
        task: the task's config (:attr:`Task.config`); ``precision`` defaults to ``"mixed"`` and ``threads``
            to ``None`` when missing.

    Returns:
        The ``RunSpec`` that runs the task.
    """
    from .spec import RunSpec
    return RunSpec(problem=task["problem"], model=task["model"]["kind"], model_options=task["model"]["options"],
                   seed=task["seed"], precision=task.get("precision", "mixed"), penal=task["penal"],
                   filter=task["filter"], optimizer=task["optimizer"]["name"],
                   optimizer_options=task["optimizer"]["options"], steps=task["steps"], probes=task["probes"],
                   snapshot_every=task["snapshot_every"], threads=task.get("threads"))


def _matches(task: dict, rule: Mapping) -> bool:
    for axis, wanted in rule.items():
        value = task[axis]
        if axis == "model":
            value = value["kind"]
        elif axis == "optimizer":
            value = value["name"]
        if isinstance(wanted, list):
            if value not in wanted:
                return False
        elif value != wanted and not (axis == "problem" and _same_problem(value, wanted)):
            return False
    return True


def _same_problem(a, b) -> bool:
    from . import problems
    return problems.THESIS_CODES.get(a, a) == problems.THESIS_CODES.get(b, b)


def _task_name(task: dict) -> str:
    canonical = json.dumps(task, sort_keys=True, default=str)
    digest = hashlib.sha1(canonical.encode()).hexdigest()[:8]
    opts = "".join(f"_{k}{v}" for k, v in sorted(task["optimizer"]["options"].items()))
    label = (f"{task['problem']}_{task['model']['kind']}_{task['optimizer']['name']}{opts}"
             f"_p{task['penal']:g}_s{task['seed']}")
    safe = "".join(c if c.isalnum() or c in "._-" else "-" for c in label)
    return f"{safe}_{digest}"


def expand(config: dict, base: Path | None = None) -> Sweep:
    """Validate ``config`` and expand it into tasks; nothing runs.

    Every axis value and top-level setting is checked first (through :class:`~landscape.spec.RunSpec`,
    each model built once per problem), then the product of the axes is formed in the order of ``AXES``,
    minus the tasks matching an ``[[exclude]]`` entry. Defaults of the optional axes: ``model`` pixel,
    ``penal`` 3.0, ``seed`` 0, ``precision`` mixed, ``steps`` the top-level ``steps``. Problems are
    canonicalized (thesis codes kept). An exclude entry that matches no task gives a ``UserWarning``.

    Args:
        config: the sweep config as a dict (see the module docstring).
        base: folder that a relative ``out`` is taken relative to (default ``None``: the current
            directory). Without ``out``, the folder is ``runs/<name>`` (``runs/sweep`` without a name).

    Returns:
        The :class:`Sweep`.

    Raises:
        SweepError: if the config is invalid (the bad entry named), the product has no task, or two tasks
            have the same settings.
    """
    _validate(config)
    axes = config["axes"]
    out = Path(config.get("out", f"runs/{config.get('name', 'sweep')}"))
    if base is not None and not out.is_absolute():
        out = base / out
    values = {
        "problem": [problems.canonical_name(p, keep_codes=True) for p in _as_list("problem", axes["problem"])],
        "model": [dict(zip(("kind", "options"), _model_entry(m))) for m in _as_list("model", axes.get("model",
                  ["pixel"]))],
        "penal": [float(p) for p in _as_list("penal", axes.get("penal", [3.0]))],
        "optimizer": [dict(zip(("name", "options"), _optimizer_entry(o))) for o in _as_list("optimizer",
                      axes["optimizer"])],
        "seed": [int(s) for s in _as_list("seed", axes.get("seed", [0]))],
        "steps": [int(s) for s in _as_list("steps", axes.get("steps", config.get("steps")))],
        "precision": [str(p) for p in _as_list("precision", axes.get("precision", ["mixed"]))],
    }
    extra = {"probes": list(config.get("probes", [])), "snapshot_every": config.get("snapshot_every"),
             "filter": bool(config.get("filter", True)), "threads": config.get("threads")}
    tasks = []
    for combo in itertools.product(*(values[a] for a in AXES)):
        task = dict(zip(AXES, combo))
        if any(_matches(task, rule) for rule in config.get("exclude", [])):
            continue
        task.update(extra)
        name = _task_name(task)
        tasks.append(Task(name, task, out / "traces" / f"{name}.h5"))
    if not tasks:
        raise SweepError("the product of the axes minus the exclusions has no task")
    for rule in config.get("exclude", []):
        if not any(_matches(dict(zip(AXES, combo)), rule) for combo in itertools.product(*(values[a] for a in AXES))):
            warnings.warn(f"sweep: the exclude entry {dict(rule)!r} matches no task (a typo in a value?)", UserWarning,
                          stacklevel=2)
    names = [t.name for t in tasks]
    if len(set(names)) != len(names):
        raise SweepError("two tasks have the same settings (repeated axis values?)")
    return Sweep(str(config.get("name", out.name)), out, tasks, int(config.get("retries", 2)), dict(config))


# -- one task (runs on a worker) ---------------------------------------------------------------
def _trace_status(path: Path) -> str | None:
    from .trace import TraceError, open_trace
    if not path.exists():
        return None
    try:
        with open_trace(path) as trace:
            state = trace.status    # "crashed" for a running trace whose writer is gone
            if state in TERMINAL and trace.numerics.get("mode", "native") != numerics.mode():
                return "other-numerics"   # made in the other numerics mode: rerun (replaced)
            return state
    except (TraceError, OSError):
        return "unreadable"


def _reusable(task: Task, status: str | None, retry_failed: bool = False) -> bool:
    """Whether ``task``'s trace, of ``status``, stands as its result: finished (:data:`TERMINAL`), in this
    numerics mode (:func:`_trace_status` says ``other-numerics`` otherwise), made by the optimizer this version
    builds from the task's config (:func:`_options_changed`), and not a failure to retry."""
    if status not in TERMINAL or (retry_failed and status == "failed"):
        return False
    return not _options_changed(task)


def _options_changed(task: Task) -> bool:
    """Whether the finished trace of ``task`` records optimizer options other than those this version builds
    from the task's config (a new option with a new default, e.g. ``gd_ls``'s line search): such a trace
    was made by other code, so the task is rerun rather than reused. False when either side cannot be read
    (the run itself will then report it)."""
    from . import optim
    from .trace import TraceError, open_trace
    entry = task.config["optimizer"]
    try:
        built = dict(optim.build(entry["name"], **entry["options"]).options)
        with open_trace(task.trace) as trace:
            recorded = trace.config.get("optimizer_options")
    except (optim.OptimizerError, TraceError, OSError, TypeError, ValueError):
        return False
    if recorded is None:
        return False
    return json.dumps(recorded, sort_keys=True, default=str) != json.dumps(built, sort_keys=True, default=str)


def _summary(task: Task, status: str, error: str = "") -> dict:
    from .trace import open_trace
    row = {"name": task.name, "status": status, "problem": task.config["problem"],
           "model": task.config["model"]["kind"], "model_options": json.dumps(task.config["model"]["options"]),
           "penal": task.config["penal"], "precision": task.config.get("precision", "mixed"),
           "optimizer": task.config["optimizer"]["name"],
           "optimizer_options": json.dumps(task.config["optimizer"]["options"], sort_keys=True),
           "seed": task.config["seed"], "steps": task.config["steps"], "final_loss": math.nan,
           "best_loss": math.nan, "steps_taken": 0, "evaluations": 0, "wall_time": math.nan,
           "trace": str(task.trace), "error": error, "config": json.dumps(task.config, sort_keys=True, default=str)}
    if task.trace.exists():
        try:
            with open_trace(task.trace) as trace:
                s = trace.summary()
                row.update(status=s["status"] if status not in ("failed", "interrupted") else status,
                           final_loss=s["final_loss"],
                           best_loss=s["best_loss"], steps_taken=s["steps_taken"], evaluations=s["evaluations"],
                           wall_time=s["wall_time"])
                if s["status"] == "failed" and not error:
                    row["error"] = s["message"]
        except Exception as exc:   # noqa: BLE001 - reported in the index
            row.update(status="failed", error=f"trace unreadable: {exc}")
    return row


def run_task(task: Task, retry_failed: bool = False) -> dict:
    """Run one task in this process (a Dask worker), writing its trace; returns its index row.

    A task whose trace is already finished (see :data:`TERMINAL`) is not run again, unless it ``failed``
    and ``retry_failed`` is set. Any other existing trace (interrupted, left ``running`` by a dead worker,
    unreadable, made in the other numerics mode, or recording optimizer options other than those this version
    builds from the task's config) is replaced.
    An exception of the run is caught and recorded in the row as ``failed``.

    Args:
        task: the task to run.
        retry_failed: run a task whose trace ended ``failed`` again, replacing it (default False): after
            the bug that made it fail is fixed.

    Returns:
        The task's index row: a dict with the keys of ``INDEX_COLUMNS``.
    """
    from .runner import run_spec
    from .trace import TraceWriter

    status = _trace_status(task.trace)
    if _reusable(task, status, retry_failed):
        return _summary(task, status)
    try:
        spec = task_spec(task.config)
        # a trace left "running" by a worker that died is replaced (its task is being retried)
        writer = TraceWriter(task.trace, overwrite=status is not None, take_over=status is not None,
                             snapshot_every=spec.snapshot_every,
                             spec=spec, config={"model": spec.model, "model_options": dict(spec.model_options),
                                                "sweep_task": task.name})
        run_spec(spec, trace=writer, progress=False)
    except Exception as error:   # noqa: BLE001 - a failed task is recorded and the sweep goes on
        return _summary(task, "failed", f"{type(error).__name__}: {error}")
    return _summary(task, _trace_status(task.trace) or "failed")


# -- the sweep ---------------------------------------------------------------------------------
def _write_index(sweep: Sweep, rows: dict[str, dict]) -> None:
    import pandas as pd
    frame = pd.DataFrame([rows[t.name] for t in sweep.tasks if t.name in rows], columns=list(INDEX_COLUMNS))
    sweep.out.mkdir(parents=True, exist_ok=True)
    tmp = sweep.index_path.with_name(f".{sweep.index_path.name}.{os.getpid()}.tmp")
    frame.to_csv(tmp, index=False)
    os.replace(tmp, sweep.index_path)


@contextlib.contextmanager
def _sigint_ignored():
    """Start worker processes with Ctrl-C ignored (a disposition they inherit), so that a Ctrl-C
    in the terminal, which reaches the whole process group, is handled by the sweep alone: it
    stops the runs in order (:func:`_stop_workers`) instead of the workers dying mid-step."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _sigterm_as_interrupt(received: dict):
    """While the sweep runs, SIGTERM (``kill``, a batch scheduler's time limit) ends it as Ctrl-C does: the
    handler raises ``KeyboardInterrupt`` in the main thread and records ``received["signal"] = "SIGTERM"``
    for the messages. Outside the main thread, where no signal arrives, it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        received["signal"] = "SIGTERM"
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _stop_workers(client, unfinished: dict, reason: str = "Ctrl-C", wait: float = 60.0) -> None:
    """On Ctrl-C or SIGTERM: drop queued tasks, ask running ones to stop after their step, wait for their traces.

    Each running task's run ends ``interrupted`` and closes its trace (see
    :func:`landscape.runner.stop_runs`) with the message "the sweep was interrupted (``reason``)"; the
    wait is bounded, and a trace still open after it reads ``crashed`` once its worker is gone.
    """
    from .runner import allow_runs, stop_runs
    try:
        client.cancel(list(unfinished), force=True)
        client.run(stop_runs, f"the sweep was interrupted ({reason})")
        deadline = time.monotonic() + wait
        tasks = list(unfinished.values())
        while time.monotonic() < deadline and any(_trace_status(t.trace) == "running" for t in tasks):
            time.sleep(0.2)
        client.run(allow_runs)   # a cluster given by address outlives this sweep
    except Exception:   # noqa: BLE001 - the cluster may already be going down with the Ctrl-C
        pass


def run_sweep(sweep: Sweep | dict, scheduler: str | None = None, workers: int = 2, progress: bool = True,
              client=None, on_result=None, retry_failed: bool = False) -> pd.DataFrame:
    """Run every task not yet completed; returns the index as a DataFrame (also written to ``index.csv``).

    ``scheduler`` is the address of a running Dask scheduler (``tcp://host:8786``);
    without it a ``LocalCluster`` of ``workers`` single-threaded processes runs here.
    ``on_result(task, row)`` is called (in this process) as each task's index row
    arrives, finished earlier or now, for writing results as they come.
    A second sweep on the same folder is refused while this one runs
    (:class:`SweepLocked`); Ctrl-C, or SIGTERM to this process, writes the index, with the unfinished tasks
    as ``interrupted``, and raises :class:`SweepInterrupted`.

    The config is written to ``out/sweep.json`` and the index is rewritten after each task. When every
    task is already finished, no cluster is started. Needs the ``sweep`` extra (dask[distributed]).

    Args:
        sweep: a :class:`Sweep`, or a config dict that is first passed to :func:`expand`.
        scheduler: address of a running Dask scheduler (default ``None``: start a ``LocalCluster``).
        workers: number of local worker processes, one thread each (default 2); used without
            ``scheduler`` and ``client``.
        progress: show a tqdm progress bar (default True).
        client: an existing ``distributed.Client`` to submit to (default ``None``); it is not closed
            afterwards, while a client or cluster created here is.
        on_result: callable ``on_result(task, row)`` or ``None`` (the default).
        retry_failed: run the tasks whose traces ended ``failed`` again (default False: a rerun skips
            them, like every finished task).

    Returns:
        The index as a ``pandas.DataFrame`` (see :func:`load`); after a run on a cluster its
        ``attrs["seconds"]`` holds the wall time of the run.

    Raises:
        SweepLocked: if a live process holds the folder's lock.
        SweepError: if the config is invalid, ``sweep.json`` or ``index.csv`` is a symbolic link, the folder
            holds an ``index.csv`` without ``sweep.json``, or it holds a sweep of another name.
        SweepInterrupted: on Ctrl-C (``KeyboardInterrupt``) or SIGTERM, after the index is written.
        MissingDependency: if dask[distributed] is not installed.
    """
    if isinstance(sweep, dict):
        sweep = expand(sweep)
    sweep.out.mkdir(parents=True, exist_ok=True)
    with _locked(sweep.out):
        _check_same_sweep(sweep)
        return _run_sweep(sweep, scheduler, workers, progress, client, on_result, retry_failed)


def _check_same_sweep(sweep: Sweep) -> None:
    """Refuse a folder that already holds a sweep of another name (its index would be overwritten)."""
    recorded = sweep.out / "sweep.json"
    for path in (recorded, sweep.index_path):
        if path.is_symlink():
            raise SweepError(f"{path} is a symbolic link; a sweep writes its own files in its folder, never "
                             "through links")
    if not recorded.exists():
        if sweep.index_path.exists():
            raise SweepError(f"{sweep.out} holds an index.csv that no sweep wrote (no sweep.json); give this sweep "
                             "another 'out' folder")
        return
    try:
        other = json.loads(recorded.read_text()).get("name")
    except (OSError, json.JSONDecodeError, AttributeError):
        return
    if other is not None and other != sweep.name:
        raise SweepError(f"{sweep.out} holds the sweep {other!r}, not {sweep.name!r}; give this sweep its own "
                         f"'out' folder (or --out), or rename it to {other!r} to continue that one")


#: Environment variables that Dask's nanny sets for its workers and a LocalCluster started here does not.
#: ``MALLOC_TRIM_THRESHOLD_=65536`` (distributed's default) fixes glibc's thresholds, which turns off its dynamic
#: mmap threshold: every tensor above 128 KiB is then mapped and unmapped afresh, and a CNN run on a 128x128
#: grid spends as much time in the kernel (page faults) as in its own code, 1.6 to 1.8 x the step time of the
#: same run outside a worker (``benchmarks/bench_sweep_malloc.py``). Results are bit-identical either way.
WORKER_ENVIRON_UNSET = ("MALLOC_TRIM_THRESHOLD_",)


def _restore_environ(saved: dict[str, str]) -> None:
    """Put this process's ``os.environ`` back to ``saved``.

    Dask's nanny writes its workers' pre-spawn environment (Dask's ``OMP_NUM_THREADS=1`` and the like, and
    the OpenMP cap of :func:`_worker_threads_environ`) into the process that starts them, where it would
    reach the next sweep's workers, subprocesses, and the environment traces record.
    """
    for key in set(os.environ) - set(saved):
        del os.environ[key]
    for key, value in saved.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


def _worker_threads_environ(tasks) -> dict[str, str]:
    """The environment a sweep's own workers start in, for the tasks' thread counts.

    One thread for every task (the default policy): OpenMP capped at one thread
    (:func:`landscape.threads.worker_environ`, which says why). Any task with more: nothing capped.

    Args:
        tasks: the tasks to run (their ``config["threads"]``: an int or None for the policy).

    Returns:
        ``{variable: value}`` for Dask's ``distributed.nanny.pre-spawn-environ``.
    """
    from .threads import Threads, policy, worker_environ
    most = max((policy(task.config.get("threads")) for task in tasks), key=lambda t: t.torch, default=Threads())
    return worker_environ(most)


def _run_sweep(sweep, scheduler, workers, progress, client, on_result, retry_failed=False):
    from .optional import require
    require("distributed", "landscape sweep")
    from distributed import Client, LocalCluster, as_completed
    from tqdm.auto import tqdm

    record = sweep.out / f".sweep.json.{os.getpid()}.tmp"      # replaced, never written through a link
    record.write_text(json.dumps(sweep.raw, indent=2, default=str))
    os.replace(record, sweep.out / "sweep.json")
    rows: dict[str, dict] = {}
    todo = []
    for task in sweep.tasks:
        status = _trace_status(task.trace)
        if _reusable(task, status, retry_failed):
            rows[task.name] = _summary(task, status)
            if on_result is not None:
                on_result(task, rows[task.name])
        else:
            todo.append(task)
    if not todo:          # nothing to do: no cluster needed
        _write_index(sweep, rows)
        return load(sweep.index_path)
    import dask
    owned = []
    environ_before = dict(os.environ)
    if client is None:
        if scheduler is None:
            # the scheduler reads allowed-failures when it starts: a task whose worker died is
            # rescheduled at most `retries` times before it counts as failed; the workers keep glibc's own
            # malloc policy (WORKER_ENVIRON_UNSET) and one-thread workers cap OpenMP at one thread
            # (_worker_threads_environ)
            environ = {**dict.fromkeys(WORKER_ENVIRON_UNSET), **_worker_threads_environ(todo)}
            environ = {f"distributed.nanny.pre-spawn-environ.{key}": value for key, value in environ.items()}
            try:
                with dask.config.set({"distributed.scheduler.allowed-failures": sweep.retries, **environ}), \
                        _sigint_ignored():
                    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                           dashboard_address=":0")   # any free port: two sweeps at once
            finally:
                _restore_environ(environ_before)
            owned.append(cluster)
            client = Client(cluster)
        else:
            client = Client(scheduler)
        owned.insert(0, client)
    bar = tqdm(total=len(sweep.tasks), initial=len(rows), desc=f"sweep {sweep.name}", unit="task",
               disable=not progress, dynamic_ncols=True)
    start = time.perf_counter()
    received = {"signal": "Ctrl-C"}
    with _sigterm_as_interrupt(received):
        try:
            futures = {client.submit(run_task, task, retry_failed, key=f"landscape-{task.name}", pure=False): task
                       for task in todo}
            failed = finished = 0
            for future in as_completed(futures):
                task = futures[future]
                try:
                    row = future.result()
                except Exception as error:   # noqa: BLE001 - e.g. the worker died more than `retries` times
                    row = _summary(task, "failed", f"{type(error).__name__}: {error}")
                rows[task.name] = row
                failed += row["status"] == "failed"
                finished += 1
                _write_index(sweep, rows)
                if on_result is not None:
                    on_result(task, row)
                bar.update()
                bar.set_postfix(done=len(rows), running=min(len(futures) - finished, workers), failed=failed,
                                refresh=False)
        except KeyboardInterrupt:
            reason = received["signal"]
            _stop_workers(client, {f: t for f, t in locals().get("futures", {}).items() if t.name not in rows}, reason)
            for task in todo:
                rows.setdefault(task.name, _summary(task, "interrupted", f"the sweep was interrupted ({reason})"))
            _write_index(sweep, rows)
            done = sum(row["status"] != "interrupted" for row in rows.values())
            raise SweepInterrupted(f"sweep {sweep.name} interrupted: {done} of {len(sweep.tasks)} tasks done; "
                                   f"index written to {sweep.index_path}; run it again to go on") from None
        finally:
            bar.close()
            for resource in owned:
                resource.close()
            _restore_environ(environ_before)     # a restarted worker's nanny wrote it again
    _write_index(sweep, rows)
    frame = load(sweep.index_path)
    frame.attrs["seconds"] = time.perf_counter() - start
    return frame


# -- reading -----------------------------------------------------------------------------------
def load(path) -> pd.DataFrame:
    """The index of a sweep (its directory or its index.csv) as a DataFrame.

    Args:
        path: the sweep's folder or its ``index.csv``.

    Returns:
        A ``pandas.DataFrame`` with the columns of ``INDEX_COLUMNS``; only empty cells and ``nan``/``NaN``
        read as missing.

    Raises:
        SweepError: if there is no index at that path.
    """
    import pandas as pd
    path = Path(path)
    if path.is_dir():
        path = path / "index.csv"
    if not path.exists():
        raise SweepError(f"no sweep index at {path}")
    return pd.read_csv(path, keep_default_na=False, na_values=["", "nan", "NaN"])


def medians(frame, by=("problem", "model", "penal", "optimizer", "optimizer_options"), value: str = "best_loss"):
    """Median, min, max and count of ``value`` across seeds for each configuration.

    Rows with status ``failed`` are left out.

    Args:
        frame: a sweep index (see :func:`load`).
        by: the columns that define a configuration (default problem, model, penal, optimizer,
            optimizer_options: every axis but seed, steps and precision).
        value: the column to summarize (default ``"best_loss"``).

    Returns:
        A ``pandas.DataFrame`` with the ``by`` columns and ``median``, ``min``, ``max``, ``count``.
    """
    grouped = frame[frame["status"] != "failed"].groupby(list(by))[value]
    return grouped.agg(["median", "min", "max", "count"]).reset_index()
