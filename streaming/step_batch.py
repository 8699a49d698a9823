"""Audio2motion steps of many sessions in one network call.

A session's clock (:class:`.session.SessionCore`) calls its network
synchronously, a few times per tick, and uses each result at once. To batch
those calls across sessions without turning every session inside out, a
tick runs each session's work on a thread of its own
(:meth:`StepBatcher.run_together`): a network call made there parks until
every job of the tick has parked or finished, then the parked calls of one
network and one chunk length go through it as one batch
(``Audio2Motion.run_batch``), and the jobs go on. A live Whisper head's
encoder windows batch the same way (:class:`BatchingEncoder`). Python work stays serial
(the GIL); what is saved is the network's per-call cost, paid once per
batch instead of once per session.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any


@dataclass
class _Call:
    network: Any
    mel: Any
    state: Any
    result: Any = None
    error: BaseException | None = None
    done: bool = False


@dataclass
class _Tick:
    """One round of jobs: counts who is parked and who is done, under one condition."""

    jobs: int
    finished: int = 0
    parked: list[_Call] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def park(self, call: _Call) -> Any:
        with self.changed:
            self.parked.append(call)
            self.changed.notify_all()
            while not call.done:
                self.changed.wait()
        if call.error is not None:
            raise call.error
        return call.result

    def finish(self) -> None:
        with self.changed:
            self.finished += 1
            self.changed.notify_all()

    def serve(self) -> None:
        """On the calling thread: batch the parked calls whenever every job is parked or done, until all are done."""
        while True:
            with self.changed:
                while len(self.parked) + self.finished < self.jobs:
                    self.changed.wait()
                if self.finished == self.jobs:
                    return
                calls, self.parked = self.parked, []
            _run_calls(calls)
            with self.changed:
                for call in calls:
                    call.done = True
                self.changed.notify_all()


def _run_calls(calls: list[_Call]) -> None:
    groups: dict[tuple[int, int], list[_Call]] = {}
    for call in calls:
        groups.setdefault((id(call.network), len(call.mel)), []).append(call)
    for group in groups.values():
        network = group[0].network
        try:
            if len(group) > 1 and hasattr(network, "run_batch"):
                results = network.run_batch([c.mel for c in group], [c.state for c in group])
            else:
                results = [network.run(c.mel, c.state) for c in group]
            for call, result in zip(group, results):
                call.result = result
        except Exception as error:  # every caller of the group hears of it
            for call in group:
                call.error = error


class BatchingNetwork:
    """A motion network whose calls made inside :meth:`StepBatcher.run_together` are batched (direct elsewhere)."""

    def __init__(self, network, batcher: StepBatcher) -> None:
        self.network, self.config, self._batcher = network, network.config, batcher
        if hasattr(network, "eval"):
            network.eval()

    def run(self, mel, state):
        tick = self._batcher.current_tick()
        if tick is None:
            return self.network.run(mel, state)
        return tick.park(_Call(self.network, mel, state))


class _EncoderCalls:
    """An encoder seen as a network: a call encodes one window, a batch of one length goes in one call."""

    def __init__(self, encoder) -> None:
        self.encoder = encoder

    def run(self, window, state):
        return self.encoder.encode(window)

    def run_batch(self, windows, states):
        return self.encoder.encode_batch(windows)


class BatchingEncoder:
    """A Whisper encoder whose windows encoded inside :meth:`StepBatcher.run_together` are batched
    (``encode_batch``: the same numbers as one by one) across the tick's sessions (direct elsewhere)."""

    def __init__(self, encoder, batcher: StepBatcher) -> None:
        self._calls, self._batcher = _EncoderCalls(encoder), batcher

    def encode(self, window):
        tick = self._batcher.current_tick()
        if tick is None:
            return self._calls.run(window, None)
        return tick.park(_Call(self._calls, window, None))

    def encode_batch(self, windows):
        """A session's own burst of windows: already one batch, encoded at once."""
        return self._calls.run_batch(windows, None)


def _run_here(job: Callable[[], Any]) -> Future:
    outcome: Future = Future()
    try:
        outcome.set_result(job())
    except Exception as error:  # the job's own caller hears of it, as from a pooled job
        outcome.set_exception(error)
    return outcome


class StepBatcher:
    """Runs jobs together so their network calls batch; ``threads`` bounds the jobs of one round."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="talkinghead-step")
        self._local = threading.local()
        self._wrapped: dict[int, BatchingNetwork | BatchingEncoder] = {}
        self._lock = threading.Lock()

    def network(self, network) -> BatchingNetwork:
        """The batching face of ``network`` (one per network, so its sessions' calls group together)."""
        with self._lock:
            if id(network) not in self._wrapped:
                self._wrapped[id(network)] = BatchingNetwork(network, self)
            return self._wrapped[id(network)]

    def encoder(self, encoder) -> BatchingEncoder:
        """The batching face of a Whisper encoder (one per encoder, so its sessions' windows group together)."""
        with self._lock:
            if id(encoder) not in self._wrapped:
                self._wrapped[id(encoder)] = BatchingEncoder(encoder, self)
            return self._wrapped[id(encoder)]

    def current_tick(self) -> _Tick | None:
        return getattr(self._local, "tick", None)

    def run_together(self, jobs: list[Callable[[], Any]]) -> list[Future]:
        """Run ``jobs`` (at most ``threads`` per round), batching their network calls; their outcomes, done."""
        if len(jobs) == 1:  # nothing to batch with: no thread hand-offs
            return [_run_here(jobs[0])]
        outcomes: list[Future] = []
        for first in range(0, len(jobs), self.threads):
            round_jobs = jobs[first:first + self.threads]
            tick = _Tick(len(round_jobs))
            outcomes += [self._pool.submit(self._job, tick, job) for job in round_jobs]
            tick.serve()
        return outcomes

    def _job(self, tick: _Tick, job: Callable[[], Any]) -> Any:
        self._local.tick = tick
        try:
            return job()
        finally:
            self._local.tick = None
            tick.finish()

    def shutdown(self) -> None:
        self._pool.shutdown()
