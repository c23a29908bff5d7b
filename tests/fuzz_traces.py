"""Corrupt copies of a real trace and read each one as a user would (used by test_trace_fuzz.py).

    python tests/fuzz_traces.py SOURCE.h5 WORKDIR --cases 300 --seed 0

Each case is a copy of SOURCE damaged in one way: truncated, bytes overwritten,
a dataset, group or attribute deleted, or a dataset replaced by one of another
dtype or shape. Every copy is opened with ``open_trace``, every reader a user
reaches is called, and ``landscape show`` runs on it in this process. One JSON
line per case goes to stdout *before* the case is read, and its outcome after,
so a crash names the case that caused it. Outcomes: ``ok`` (read), ``error``
(a TraceError, with its one line), ``bad`` (anything else: a traceback, a
multi-line message, ``show`` exiting other than 0 with nothing on stderr or 2
with one line, or failing on a file that reads).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import sys
from pathlib import Path

import h5py
import numpy as np

from landscape.cli import main as cli
from landscape.trace import TraceError, open_trace

MEMBERS = ["status", "message", "end_time", "heartbeat", "steps", "evaluations", "snapshots",
           "snapshots/step", "snapshots/theta", "snapshots/design", "final", "final/theta", "final/design",
           "final/best_loss", "final/best_step", "probes"]
ATTRIBUTES = ["schema", "schema_version", "config", "versions", "start_time", "writer_host", "writer_pid"]
BAD_VALUES = [np.arange(5), np.float64(3.5), np.array([b"x"] * 3), np.zeros((2, 2)), np.bytes_(b"\xff\xfe")]
BAD_ATTRIBUTES = ["[1, 2]", "{not json", "null", 7, "\"text\"", np.arange(3)]
# a config entry of the wrong JSON type, or a string carrying markup (issue 30)
BAD_CONFIG_VALUES = [[1, 2], "three", {"x": 1}, 5, -1.5, None, True, "<!--<script>--></script>\u2028"]


def corrupt(source: Path, target: Path, rng: np.random.Generator) -> str:
    """Write a damaged copy of ``source`` to ``target``; returns what was done."""
    data = bytearray(source.read_bytes())
    kind = rng.choice(["truncate", "flip", "delete", "replace", "attribute", "probe", "config"])
    if kind == "truncate":
        size = int(rng.integers(0, len(data)))
        target.write_bytes(bytes(data[:size]))
        return f"truncate to {size} of {len(data)} bytes"
    if kind == "flip":
        count = int(rng.integers(1, 64))
        where = rng.integers(0, len(data), size=count)
        for position in where:
            data[position] = int(rng.integers(0, 256))
        target.write_bytes(bytes(data))
        return f"overwrite {count} bytes at {sorted(int(w) for w in where)[:5]}..."
    shutil.copyfile(source, target)
    with h5py.File(target, "r+") as f:
        if kind == "delete":
            member = str(rng.choice([m for m in MEMBERS if m in f]))
            del f[member]
            return f"delete /{member}"
        if kind == "replace":
            member = str(rng.choice([m for m in MEMBERS if m in f and isinstance(f[m], h5py.Dataset)]))
            value = BAD_VALUES[int(rng.integers(len(BAD_VALUES)))]
            del f[member]
            f[member] = value
            return f"replace /{member} by {value!r}"[:120]
        if kind == "attribute":
            name = str(rng.choice(ATTRIBUTES))
            if rng.random() < 0.4:
                f.attrs.pop(name, None)
                return f"delete attribute {name}"
            value = BAD_ATTRIBUTES[int(rng.integers(len(BAD_ATTRIBUTES)))]
            f.attrs[name] = value
            return f"attribute {name} = {value!r}"
        if kind == "config":
            config = json.loads(f.attrs["config"])
            entry = str(rng.choice(sorted(config)))
            config[entry] = BAD_CONFIG_VALUES[int(rng.integers(len(BAD_CONFIG_VALUES)))]
            f.attrs["config"] = json.dumps(config)
            return f"config entry {entry} = {config[entry]!r}"
        probes = f["probes"]
        names = list(probes)
        if not names:
            return "no probe to damage"
        group = probes[str(rng.choice(names))]
        member = str(rng.choice(list(group)))
        del group[member]
        if rng.random() < 0.5:
            group[member] = BAD_VALUES[int(rng.integers(len(BAD_VALUES)))]
        return f"probe {group.name}/{member} damaged"


def read_everything(path: Path) -> None:
    with open_trace(path) as trace:
        trace.summary()
        _ = trace.config, trace.versions, trace.status, trace.state, trace.message, trace.end_time
        trace.frame()
        trace.evaluations()
        trace.snapshots()
        trace.final()
        _ = trace.design, trace.best_design
        for name in trace.probe_names:
            trace.probe(name)
        trace.refresh()
        repr(trace)


def check(path: Path) -> tuple[str, str]:
    try:
        read_everything(path)
        outcome, detail = "ok", ""
    except TraceError as error:
        text = str(error)
        outcome, detail = ("error" if "\n" not in text else "bad"), text
    except Exception as error:       # noqa: BLE001 - reporting it is the point
        return "bad", f"{type(error).__name__}: {error}"
    stderr, stdout = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(stdout):
        try:
            code = cli(["show", str(path)])
        except SystemExit as exit_:
            code = exit_.code
        except Exception as error:   # noqa: BLE001
            return "bad", f"show raised {type(error).__name__}: {error}"
    # show reads the header and the tables, not the snapshots or probes: damage there need not stop it
    lines = stderr.getvalue().strip().splitlines()
    if code not in (0, 2) or (code == 2 and len(lines) != 1) or (code == 0 and lines) \
            or (outcome == "ok" and code != 0):
        return "bad", f"show exited {code} with stderr {stderr.getvalue()[-500:]!r} (reading gave {outcome})"
    return outcome, detail


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path)
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    args.workdir.mkdir(parents=True, exist_ok=True)
    for case in range(args.cases):
        target = args.workdir / f"case_{case:04d}.h5"
        what = corrupt(args.source, target, rng)
        print(json.dumps({"case": case, "damage": what}), flush=True)
        outcome, detail = check(target)
        print(json.dumps({"case": case, "outcome": outcome, "detail": detail[:400]}), flush=True)
        target.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
