"""The thread policy: how many threads torch and the BLAS under CHOLMOD may use, decided in one place.

Every entry point (``landscape.run``, the ``Recorder``, the command line, sweep
workers, the study scripts) asks :func:`policy` and runs under :func:`limited`,
and the counts are written into the trace's config. Thread counts change the
last bits of results (torch's reductions and OpenBLAS's blocked kernels split
their work by thread), so they are part of a run's configuration: the same
configuration gives bit-identical losses from Python, the CLI and a sweep.

The default is **one torch thread and one BLAS thread**, whatever the grid.
Measured on a 2-core machine (``benchmarks/bench_threads.py``, value and
gradient): with both cores idle, two threads are 1.0 to 1.6 x faster from
128x128 up (1.6 x at 256x256); with one busy process per core, two threads
are 3 to 40 x *slower* on every grid (OpenMP and OpenBLAS workers spin
while they wait for a core), and inside a sweep the other workers are that
load. Two threads pay off only for one large run on an idle machine, so it
is the opt-in: ``threads=2`` (``--threads 2``, ``threads = 2`` in a sweep
config, or ``LANDSCAPE_THREADS=2``).

**OpenMP in a sweep's workers.** CHOLMOD as Debian ships it (SuiteSparse 5)
opens four-thread OpenMP teams in its supernodal factorization whatever
``OMP_NUM_THREADS`` or torch's count say (the team size is the compile-time
``CHOLMOD_OMP_NUM_THREADS``); only ``OMP_THREAD_LIMIT`` caps it, and only if
it is in the environment when the OpenMP runtime loads. A sweep therefore
starts the one-thread workers of its own local cluster with :func:`worker_environ`
(``OMP_THREAD_LIMIT=1``, and ``OMP_NUM_THREADS=1`` and ``MKL_NUM_THREADS=1`` to
match); workers of a cluster passed in are the caller's. Those loops
only zero and scatter entries, so the numbers do not change (bit-identical
losses, tested). Measured: 40 steps of GD on the pixel model, problem D,
p = 3, beside a two-worker sweep on the 2 cores: 7.8 to 11.0 s uncapped,
4.6 to 5.9 s capped. In a capped process torch must stay at one thread: MKL
asked for more threads than OpenMP may start waits for them (a QR took over
100 s instead of 0.06 s), so :func:`limited` and :func:`apply` refuse counts
above :func:`openmp_limit`. Other processes are not capped (a user may raise
torch's threads at any time); to cap one, start it with
``OMP_THREAD_LIMIT=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1`` and keep torch at
one thread.
"""
from __future__ import annotations

import contextlib
import functools
import os
from dataclasses import asdict, dataclass

import torch

__all__ = ["Threads", "policy", "limited", "apply", "current", "in_force", "blas_for_solver", "worker_environ",
           "openmp_limit"]

ENVIRONMENT = "LANDSCAPE_THREADS"
#: OpenMP's cap on the threads of a process, read once, when the runtime loads
OPENMP_LIMIT = "OMP_THREAD_LIMIT"
#: no process here wants more (100,000 OpenMP threads end in an out-of-memory error inside libgomp)
MAX_THREADS = 1024


@dataclass(frozen=True)
class Threads:
    """Intra-op threads of torch and threads of the BLAS libraries (CHOLMOD's OpenBLAS, NumPy's, SciPy's).

    A frozen dataclass, recorded in a trace's config (see :meth:`to_dict`).

    Attributes:
        torch: number of torch intra-op threads, an integer from 1 to ``MAX_THREADS`` (default 1).
        blas: number of threads of every BLAS thread pool, an integer from 1 to ``MAX_THREADS`` (default 1).

    Raises:
        ValueError: if ``torch`` or ``blas`` is not an integer (a bool is refused too) or lies outside
            1 to ``MAX_THREADS`` (1024).
    """

    torch: int = 1
    blas: int = 1

    def __post_init__(self):
        for name in ("torch", "blas"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1 or value > MAX_THREADS:
                raise ValueError(f"{name} threads must be an integer from 1 to {MAX_THREADS}, got {value!r}")

    def to_dict(self) -> dict:
        """The counts as a plain ``{"torch": n, "blas": m}`` dict (the form written into a trace's config)."""
        return asdict(self)

    @classmethod
    def from_config(cls, value) -> Threads | None:
        """A recorded ``threads`` entry ({"torch": n, "blas": m}, an int, or None) back as ``Threads``.

        Args:
            value: ``None``; a ``Threads`` (returned as it is); a dict with the keys ``torch`` and/or ``blas``
                (missing keys take the field defaults); or anything else, which is passed to :func:`policy`
                (an int sets both counts).

        Returns:
            The ``Threads``, or ``None`` when ``value`` is ``None``.

        Raises:
            ValueError: if a dict has keys other than ``torch`` and ``blas``, if a count is out of range, or
                if :func:`policy` refuses the value.
        """
        if value is None:
            return None
        if isinstance(value, Threads):
            return value
        if isinstance(value, dict):
            unknown = set(value) - {"torch", "blas"}
            if unknown:
                raise ValueError(f"threads: unknown keys {sorted(unknown)}; accepted: torch, blas")
            return cls(**value)
        return policy(value)


def _requested(threads) -> int | None:
    if threads is None:
        text = os.environ.get(ENVIRONMENT, "").strip()
        if not text:
            return None
        try:
            threads = int(text)
        except ValueError:
            raise ValueError(f"{ENVIRONMENT}={text!r} is not a positive integer") from None
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive integer or None (the policy), got {threads!r}")
    return threads


def policy(threads: int | Threads | None = None) -> Threads:
    """The thread counts a run uses: ``threads`` if given, else ``$LANDSCAPE_THREADS``, else one of each.

    See the module docstring for the measurements behind the default.

    Args:
        threads: a ``Threads`` (returned unchanged), a positive int (used for both torch and BLAS), or
            ``None`` to read ``$LANDSCAPE_THREADS`` (unset or empty: one thread each).

    Returns:
        The chosen ``Threads``.

    Raises:
        ValueError: if ``threads`` is not a positive integer (bools are refused), if
            ``$LANDSCAPE_THREADS`` does not parse as an integer or is not positive, or if the count exceeds
            ``MAX_THREADS``.
    """
    if isinstance(threads, Threads):
        return threads
    count = _requested(threads)
    return Threads() if count is None else Threads(torch=count, blas=count)


def current() -> Threads:
    """The counts in force in this process now (torch's and the largest BLAS pool).

    Read from ``torch.get_num_threads()`` and threadpoolctl's ``threadpool_info()``; the BLAS count is 1
    when no BLAS pool is found.

    Returns:
        A ``Threads`` with the measured counts.
    """
    from threadpoolctl import threadpool_info
    blas = [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]
    return Threads(torch=torch.get_num_threads(), blas=max(blas) if blas else 1)


#: the counts chosen by the innermost ``limited`` block or by ``apply`` (None: nobody chose)
_chosen: list[Threads] = []
_solver_pinned = False


def in_force() -> Threads:
    """The counts this process runs with: those of the innermost :func:`limited` block or of :func:`apply`.

    Else the policy's (one thread each, or ``$LANDSCAPE_THREADS``). Unlike :func:`current`, this reports
    what was chosen, not what the libraries measure.

    Returns:
        The ``Threads`` in force.
    """
    return _chosen[-1] if _chosen else policy()


def blas_for_solver() -> None:
    """Pin the BLAS thread pools at the policy's count, once, if nobody chose thread counts.

    Called before the sparse solver's first factorization in a process where nobody chose thread counts (no
    :func:`limited` block, no :func:`apply`): hold the BLAS libraries (CHOLMOD's OpenBLAS among them) at
    the policy's count from then on. Does nothing when counts were chosen or the pin is already set.

    So a user who calls :class:`~landscape.Objective` directly, outside :func:`landscape.run`, gets the
    policy too instead of one BLAS thread per core (measured on a busy 2-core machine: a factorization on
    problem A took 70 ms with OpenBLAS's default threads and 10 ms with one). It is set once and left
    in place: switching OpenBLAS's count around every solve made Hessian-vector products 1.6 x slower
    (measured), since its worker threads are woken and parked each time. torch's own threads are left
    as they are; :func:`apply` sets both.
    """
    global _solver_pinned
    if _chosen or _solver_pinned:
        return
    from threadpoolctl import threadpool_limits
    threadpool_limits(limits=policy().blas, user_api="blas")
    _solver_pinned = True


@contextlib.contextmanager
def limited(threads: Threads):
    """Run the block with ``threads``; the previous counts come back afterwards.

    A context manager: sets torch's thread count and limits the BLAS pools (threadpoolctl) for the
    duration of the ``with`` block, and makes ``threads`` the counts reported by :func:`in_force`.

    Args:
        threads: the ``Threads`` to run the block with.

    Yields:
        ``threads``.

    Raises:
        ValueError: if ``threads.torch`` exceeds OpenMP's thread limit in this process (:func:`openmp_limit`).
    """
    from threadpoolctl import threadpool_limits
    _check_openmp_limit(threads)
    before = torch.get_num_threads()
    torch.set_num_threads(threads.torch)
    _chosen.append(threads)
    try:
        with threadpool_limits(limits=threads.blas, user_api="blas"):
            yield threads
    finally:
        _chosen.pop()
        torch.set_num_threads(before)


def apply(threads: int | Threads | None = None) -> Threads:
    """Set the policy's counts for the rest of this process (for scripts and worker processes).

    Sets torch's thread count and limits the BLAS pools (threadpoolctl) without restoring them, and makes
    the choice what :func:`in_force` reports (replacing any earlier choice).

    Args:
        threads: passed to :func:`policy`: a ``Threads``, a positive int, or ``None`` for the default.

    Returns:
        The ``Threads`` applied.

    Raises:
        ValueError: if :func:`policy` refuses ``threads``, or its torch count exceeds OpenMP's thread limit in
            this process (:func:`openmp_limit`).
    """
    from threadpoolctl import threadpool_limits
    chosen = policy(threads)
    _check_openmp_limit(chosen)
    torch.set_num_threads(chosen.torch)
    threadpool_limits(limits=chosen.blas, user_api="blas")
    _chosen[:] = [chosen]
    return chosen


def worker_environ(threads: Threads, environ=None) -> dict[str, str]:
    """The environment to start a worker process in that runs everything with ``threads`` (a sweep's workers).

    One torch thread: OpenMP capped at one thread (``OMP_THREAD_LIMIT=1``), with OpenMP's and MKL's default
    counts set to one as well (MKL asked for more threads than the cap allows waits for them); see the module
    docstring for why and what it gains. Nothing is capped (an empty dict) when ``threads`` asks for more
    than one torch thread, or when ``environ`` sets ``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS`` to another
    count: Dask passes such values of the starting process on to its workers, over any it is given.

    Args:
        threads: the counts every run in the worker uses.
        environ: the environment of the process that starts the worker (default ``None``: ``os.environ``).

    Returns:
        ``{variable: value}`` to set before the worker process starts.
    """
    environ = os.environ if environ is None else environ
    capped = {OPENMP_LIMIT: "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    if threads.torch > 1 or any(environ.get(key, value).strip() != value for key, value in capped.items()
                                if key != OPENMP_LIMIT):
        return {}
    return capped


#: ``$OMP_THREAD_LIMIT`` when this module was imported (with landscape, in practice before any OpenMP work)
_OPENMP_LIMIT_AT_START = os.environ.get(OPENMP_LIMIT, "").strip()
#: OpenMP's "no limit" as ``omp_get_thread_limit`` reports it (libgomp and LLVM's libomp: INT_MAX)
_NO_LIMIT = 2**31 - 1


@functools.lru_cache(maxsize=1)
def _runtime_limit() -> tuple[bool, int | None]:
    """``(asked, limit)``: the smallest ``omp_get_thread_limit()`` of the OpenMP runtimes loaded in this process."""
    import ctypes

    import torch  # noqa: F401 - loads the OpenMP runtime, which then keeps its limit for the process's life
    from threadpoolctl import threadpool_info
    limits = []
    for info in threadpool_info():
        if info.get("user_api") != "openmp":
            continue
        try:
            limits.append(int(ctypes.CDLL(info["filepath"]).omp_get_thread_limit()))
        except (OSError, AttributeError, KeyError):
            continue
    if not limits:
        return False, None
    least = min(limits)
    return True, least if 0 < least < _NO_LIMIT else None


def openmp_limit() -> int | None:
    """OpenMP's thread limit in this process (``OMP_THREAD_LIMIT`` as the runtime read it when it loaded).

    Asked from the loaded OpenMP runtimes (``omp_get_thread_limit`` through ctypes, the runtimes found by
    threadpoolctl; the smallest if there are several); when none can be asked, ``$OMP_THREAD_LIMIT`` as it was
    when landscape was imported. The runtime reads the variable once, so the answer is computed once.

    Returns:
        The limit, a positive integer, or None when there is none.
    """
    asked, limit = _runtime_limit()
    if asked:
        return limit
    text = _OPENMP_LIMIT_AT_START
    return int(text) if text.isdigit() and int(text) > 0 else None


def _check_openmp_limit(threads: Threads) -> None:
    limit = openmp_limit()
    if limit is not None and threads.torch > limit:
        raise ValueError(f"threads: {threads.torch} torch threads exceed OpenMP's limit in this process, "
                         f"{OPENMP_LIMIT}={limit} (MKL would wait for threads OpenMP does not start); start the "
                         f"process without {OPENMP_LIMIT}, or with {OPENMP_LIMIT}={threads.torch} or more")
