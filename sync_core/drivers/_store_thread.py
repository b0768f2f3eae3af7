"""The store's own thread: jobs run in order, and a stuck one never keeps the process alive."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

__all__ = ["StoreThread"]

T = TypeVar("T")

_Job = tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]


class StoreThread:
    """One daemon thread running jobs in order (the store's connection lives in it).

    Unlike a ``ThreadPoolExecutor``, whose threads the interpreter joins at exit, a
    daemon thread still deciding a huge message does not keep the process alive.
    """

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.busy_since: float | None = None  # monotonic start of the job running, if any
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, fn, args = job
            if not future.set_running_or_notify_cancel():
                continue
            self.busy_since = time.monotonic()
            try:
                result = fn(*args)
            except BaseException as e:  # handed to the awaiting coroutine
                self.busy_since = None
                future.set_exception(e)
            else:
                # idle before the waiter resumes: it may ask (a stop deciding whether
                # the store can be closed) before this thread runs another line
                self.busy_since = None
                future.set_result(result)

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        future: Future[T] = Future()
        self._jobs.put((future, fn, args))
        return future

    def shutdown(self, wait_s: float) -> bool:
        """Let the thread end after its queued jobs; True if it did within ``wait_s``."""
        self._jobs.put(None)
        self._thread.join(wait_s)
        return not self._thread.is_alive()
