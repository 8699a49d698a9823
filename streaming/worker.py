"""One worker thread with two priorities: live (realtime) jobs go before bulk (fast) ones.

All model and drawing work of an engine's sessions runs here, one job at a
time, so two torch thread pools never fight over the cores; a session
streaming a file as fast as it can must not delay the frames a live caller
is waiting for, so a queued live job always runs next. Within a priority,
jobs run in the order they came.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from concurrent.futures import Future

LIVE, BULK = 0, 1


class PriorityWorker:
    def __init__(self, name: str = "talkinghead-worker") -> None:
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
            try:
                future.set_result(function(*args))
            except BaseException as error:  # handed to the caller, who decides
                future.set_exception(error)
