"""The base loop of a video avatar: the stretch where the mouth rests most, played back and forth.

A talking video's own jaw would keep talking under any new mouth, so a
video avatar is drawn on the frames where the tracked mouth is most shut and
most still: the window of ``seconds`` with the lowest mean lip gap (inner
lips, per inter-ocular distance) plus ``speed_weight`` times its mean
frame-to-frame change. Real talking clips rarely pause for long (on the
tuning clips, stretches both shut and still lasted at most 0.5-1 s), so the
best window is taken whatever it holds, and the renderer moves the base
frame's remaining jaw and lip motion to the target's (the base mouth counts
as shut). The loop plays the window forward then backward (a ping-pong), so
it never jumps.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from talkinghead.contracts.face_model import interocular, lip_gap


@dataclass(frozen=True)
class LoopConfig:
    seconds: float = 1.0
    speed_weight: float = 5.0  # a change of 0.01 IOD per frame costs as much as a 0.05 IOD gap

    def __post_init__(self) -> None:
        if self.seconds <= 0 or self.speed_weight < 0:
            raise ValueError("seconds must be positive and speed_weight non-negative")


def mouth_activity(landmarks: np.ndarray) -> np.ndarray:
    """Per frame: lip gap (IOD) and its frame-to-frame change, as rows of a (2, T) array."""
    points = np.asarray(landmarks, np.float64)
    gap = lip_gap(points) / interocular(points)
    speed = np.abs(np.gradient(gap)) if len(gap) > 1 else np.zeros_like(gap)
    return np.stack([gap, speed])


def base_loop(landmarks: np.ndarray, fps: Fraction, config: LoopConfig = LoopConfig()) -> np.ndarray:
    """Frame indices of one ping-pong pass over the restful window (forward, then back)."""
    gap, speed = mouth_activity(landmarks)
    length = min(len(gap), max(1, int(round(config.seconds * float(fps)))))
    cost = gap + config.speed_weight * speed
    window_cost = np.convolve(cost, np.ones(length) / length, mode="valid")
    start = int(np.argmin(window_cost))
    frames = np.arange(start, start + length)
    return np.concatenate([frames, frames[-2:0:-1]]) if len(frames) > 2 else frames
