"""One worker thread with two priorities: live (realtime) jobs go before bulk (fast) ones.

All model and drawing work of an engine's sessions runs here, one job at a
time, so two torch thread pools never fight over the cores; a session
streaming a file as fast as it can must not delay the frames a live caller
is waiting for, so a queued live job always runs next. Within a priority,
jobs run in the order they came.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

LIVE, BULK = 0, 1


class PriorityWorker:
    """``window``: seconds over which :meth:`busy_share` measures."""

    def __init__(self, name: str = "talkinghead-worker", window: float = 3.0) -> None:
        self._window = window
        self._busy: collections.deque[tuple[float, float]] = collections.deque()  # (start, end) of recent jobs
        self._busy_lock = threading.Lock()
        self._jobs: list[tuple[int, int, Callable, tuple, Future]] = []
        self._order = itertools.count()
        self._ready = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, function: Callable, *args, priority: int = LIVE) -> Future:
        future: Future = Future()
        with self._ready:
            if self._stopped:
                raise RuntimeError("the worker has been shut down")
            heapq.heappush(self._jobs, (priority, next(self._order), function, args, future))
            self._ready.notify()
        return future

    def shutdown(self) -> None:
        """Run what is queued, then stop."""
        with self._ready:
            self._stopped = True
            self._ready.notify()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._jobs and not self._stopped:
                    self._ready.wait()
                if not self._jobs:
                    return
                _, _, function, args, future = heapq.heappop(self._jobs)
            if not future.set_running_or_notify_cancel():
                continue
            started = time.monotonic()
            try:
                result = function(*args)
            except BaseException as error:  # handed to the caller, who decides
                self._record(started)
                future.set_exception(error)
            else:
                self._record(started)
                future.set_result(result)

    def _record(self, started: float) -> None:
        """Note a job's run (before its caller hears of it, so a load read after an outcome counts that job)."""
        now = time.monotonic()
        with self._busy_lock:
            self._busy.append((started, now))
            self._forget(now - self._window)  # held to the window whether or not anyone reads it

    def _forget(self, before: float) -> None:
        while self._busy and self._busy[0][1] < before:
            self._busy.popleft()

    def busy_share(self) -> float:
        """The share of the last ``window`` seconds this worker spent running jobs (0 to 1)."""
        since = time.monotonic() - self._window
        with self._busy_lock:
            self._forget(since)
            busy = sum(end - max(start, since) for start, end in self._busy)
        return min(1.0, busy / self._window)
