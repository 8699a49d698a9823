"""The base loop of a video avatar: stretches where the mouth rests, played back and forth.

A talking video's own jaw would keep talking under any new mouth, so the
frames a video avatar is drawn on are chosen where the tracked mouth is
nearly shut and still: the lip gap (inner lips, per inter-ocular distance)
below a low quantile of the video's and changing little from frame to frame.
Runs of such frames at least ``min_seconds`` long are kept; the loop plays
the longest forward then backward (a ping-pong), so it never jumps.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from talkinghead.renderer.face_model import interocular, lip_gap


@dataclass(frozen=True)
class LoopConfig:
    gap_quantile: float = 0.35  # a resting frame's lip gap is below this quantile of the video's
    max_speed: float = 0.01  # and changes by less than this (IOD per frame)
    min_seconds: float = 0.8

    def __post_init__(self) -> None:
        if not 0 < self.gap_quantile <= 1 or self.max_speed <= 0 or self.min_seconds <= 0:
            raise ValueError("gap_quantile must be in (0, 1], max_speed and min_seconds positive")


def resting_runs(landmarks: np.ndarray, fps: Fraction, config: LoopConfig = LoopConfig()) -> list[tuple[int, int]]:
    """``(start, stop)`` frame ranges (stop exclusive) where the mouth rests, longest first."""
    points = np.asarray(landmarks, np.float64)
    gap = lip_gap(points) / interocular(points)
    speed = np.abs(np.gradient(gap)) if len(gap) > 1 else np.zeros_like(gap)
    resting = (gap <= np.quantile(gap, config.gap_quantile)) & (speed < config.max_speed)
    shortest = max(1, int(np.ceil(config.min_seconds * float(fps))))
    runs, start = [], None
    for i, rest in enumerate([*resting, False]):
        if rest and start is None:
            start = i
        elif not rest and start is not None:
            if i - start >= shortest:
                runs.append((start, i))
            start = None
    return sorted(runs, key=lambda run: run[0] - run[1])


def base_loop(landmarks: np.ndarray, fps: Fraction, config: LoopConfig = LoopConfig()) -> np.ndarray:
    """Frame indices of one ping-pong pass over the longest resting run (forward, then back).

    Refuses a video with no resting stretch: an avatar needs frames with a shut mouth.
    """
    runs = resting_runs(landmarks, fps, config)
    if not runs:
        raise ValueError(
            f"no stretch of at least {config.min_seconds} s with the mouth at rest; "
            "enroll a video with pauses between sentences"
        )
    frames = np.arange(*runs[0])
    return np.concatenate([frames, frames[-2:0:-1]]) if len(frames) > 2 else frames
