"""Step through a library's own optimization loop (SciPy, NLopt) one iterate at a time.

Libraries such as ``scipy.optimize.fmin_l_bfgs_b`` and NLopt own their loop and
call back into Python. To offer the same ``step()`` as every other optimizer,
the library loop runs in a worker thread that hands each accepted iterate to
the caller and waits until the next ``step()`` (or ``close()``) before going
on. Only one side runs at a time, so the objective is never evaluated
concurrently; closing early raises :class:`StopLoop` inside the library's
callback, which unwinds its loop.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

import torch

__all__ = ["ExternalLoop", "StopLoop"]


class StopLoop(Exception):
    """Raised inside the library's callback to end its loop early."""


class ExternalLoop:
    """Run ``target(pause)`` in a worker thread; ``pause(item)`` hands ``item`` to :meth:`next`.

    :meth:`next` returns ``("item", item)`` for every pause, then
    ``("done", value)`` with the target's return value once; an exception in
    the target is re-raised by :meth:`next` in the caller's thread.

    The worker thread starts at the first :meth:`next` and runs with the caller's torch thread count.

    Args:
        target: the library loop, called once in the worker thread as ``target(pause)``; its return value
            is handed back by the final :meth:`next`.
        name: used in the worker thread's name, ``landscape-<name>`` (default ``"optimizer"``).
    """

    def __init__(self, target: Callable[[Callable[[Any], None]], Any], name: str = "optimizer"):
        self._target = target
        # torch's intra-op thread count is per thread: the worker takes the caller's (the thread policy's)
        self._torch_threads = torch.get_num_threads()
        self._to_worker: queue.Queue = queue.Queue(maxsize=1)
        self._to_caller: queue.Queue = queue.Queue(maxsize=1)
        self._thread = threading.Thread(target=self._work, name=f"landscape-{name}", daemon=True)
        self._started = False
        self._finished = False
        self._stopping = False

    def _pause(self, item) -> None:
        if self._stopping:   # the library swallowed a StopLoop and called back again
            raise StopLoop
        self._to_caller.put(("item", item))
        if self._to_worker.get() == "stop":
            raise StopLoop

    def _work(self):
        torch.set_num_threads(self._torch_threads)
        if self._to_worker.get() == "stop":
            return
        try:
            value = self._target(self._pause)
        except StopLoop:
            return
        except BaseException as error:   # noqa: BLE001 - handed to the caller's thread
            self._to_caller.put(("error", error))
            return
        self._to_caller.put(("done", value))

    def next(self) -> tuple[str, Any]:
        """Let the library loop run until its next pause, or to its end.

        Starts the worker thread on the first call.

        Returns:
            ``("item", item)`` for a pause, or ``("done", value)`` with the target's return value when
            the loop has ended (the worker thread is joined then).

        Raises:
            RuntimeError: the loop has already finished (a previous call returned ``"done"``, raised, or
                :meth:`close` stopped it).
            BaseException: whatever the target raised, re-raised here.
        """
        if self._finished:
            raise RuntimeError("the library loop has already finished")
        if not self._started:
            self._started = True
            self._thread.start()
        self._to_worker.put("go")
        kind, value = self._to_caller.get()
        if kind != "item":
            self._finished = True
            self._thread.join()
        if kind == "error":
            raise value
        return kind, value

    def close(self) -> None:
        """Stop a loop that is still running: the pending pause raises :class:`StopLoop` in the worker.

        Waits up to 60 s for the worker thread; does nothing if the loop never started or has ended.
        """
        if self._started and not self._finished:
            self._finished = True
            self._stopping = True
            self._to_worker.put("stop")
            self._thread.join(timeout=60)
