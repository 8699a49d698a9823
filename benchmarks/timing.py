"""The one timing rule the speed benchmarks share: the median over repeated runs."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch


def median_seconds(run: Callable[[], object], runs: int, device: str = "cpu") -> float:
    """Median wall time of ``run()`` over ``runs`` calls; on CUDA, queued work is waited for."""
    times = []
    for _ in range(runs):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        run()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
