"""The engine's worker: one job at a time, live jobs before bulk ones, errors handed back."""

import threading
import time

import pytest

from talkinghead.streaming.worker import BULK, LIVE, PriorityWorker


def test_live_jobs_overtake_queued_bulk_jobs_and_order_holds_within_a_priority():
    worker = PriorityWorker()
    gate, order = threading.Event(), []
    worker.submit(gate.wait)  # holds the worker while the rest queue up
    jobs = [worker.submit(order.append, name, priority=priority)
            for name, priority in (("bulk 1", BULK), ("live 1", LIVE), ("bulk 2", BULK), ("live 2", LIVE))]
    gate.set()
    for job in jobs:
        job.result(timeout=5)
    worker.shutdown()
    assert order == ["live 1", "live 2", "bulk 1", "bulk 2"]


def test_errors_reach_the_caller_and_a_stopped_worker_refuses_work():
    worker = PriorityWorker()
    with pytest.raises(ZeroDivisionError):
        worker.submit(lambda: 1 / 0).result(timeout=5)
    assert worker.submit(sum, [1, 2]).result(timeout=5) == 3
    worker.shutdown()
    with pytest.raises(RuntimeError, match="shut down"):
        worker.submit(sum, [1])


def test_the_busy_record_keeps_only_its_window_even_when_nobody_reads_it():
    """A server that never asks for the load must not keep a record of every job it ever ran."""
    worker = PriorityWorker(window=0.2)
    for _ in range(50):
        worker.submit(time.sleep, 0.001).result()
    time.sleep(0.3)
    worker.submit(lambda: None).result()  # recording it forgets the jobs older than the window
    assert len(worker._busy) <= 2
    assert worker.busy_share() < 0.1
    worker.shutdown()
