"""Which input frame each output frame of a dub is drawn on, when it is shown, and how much speech drives it.

The output keeps the input's own frame times (variable-rate input
included) for as long as the video lasts. Longer speech extends the video
by playing its quietest stretch back and forth (a ping-pong never jumps;
the stretch that ends the video is taken when it is nearly as quiet as the
quietest, so there is no cut at all). Shorter speech leaves a tail: with
``rest`` the new, silent speech keeps driving (the mouth rests closed);
with ``original`` the drive fades to the frame's own mouth over a few
frames and the rest passes through untouched. Input frames that must not be
redrawn (:mod:`.passthrough`) pass through untouched wherever they are shown,
with the same fade before and after them, so the mouth never pops; the
stretch looped for longer speech avoids them.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from talkinghead.contracts.face_model import interocular

TAILS = ("rest", "original")


@dataclass(frozen=True)
class PlanConfig:
    stretch_seconds: float = 2.0  # longest stretch looped to extend the video
    seamless_slack: float = 1.5  # the stretch ending the video is taken if its motion is within this factor
    fade_frames: int = 4  # frames from the new mouth to the frame's own: the ``original`` tail, untouched frames


@dataclass(frozen=True)
class DubPlan:
    source: np.ndarray  # (N,) int: the input frame each output frame is drawn on
    times: list[Fraction]  # presentation times, seconds
    durations: list[Fraction]
    speech: np.ndarray  # (N,) float in [0,1]: 1 = the new speech drives the mouth, 0 = the frame passes through
    stretch: np.ndarray  # input frames the extension loops over (empty: none)

    def __len__(self) -> int:
        return len(self.source)

    @property
    def duration(self) -> Fraction:
        return self.times[-1] + self.durations[-1]


def frame_motion(landmarks: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Per frame: mean landmark displacement from the previous frame, in inter-ocular distances (inf: no face)."""
    points = np.asarray(landmarks, np.float64)
    step = np.linalg.norm(np.diff(points[..., :2], axis=0), axis=-1).mean(-1) / interocular(points[1:])
    motion = np.concatenate([step[:1], step]) if len(step) else np.zeros(len(points))
    return np.where(np.asarray(valid, bool), motion, np.inf)


def quiet_stretch(motion: np.ndarray, length: int, slack: float) -> np.ndarray:
    """Input frames of the stretch to loop: the quietest ``length`` frames, or the last ones if nearly as quiet."""
    length = max(1, min(length, len(motion)))
    finite = np.where(np.isfinite(motion), motion, 1e6)
    cost = np.convolve(finite, np.ones(length) / length, mode="valid")
    start = int(np.argmin(cost))
    if cost[-1] <= slack * cost[start]:
        start = len(cost) - 1
    return np.arange(start, start + length)


def ping_pong(stretch: np.ndarray, count: int, from_end: bool) -> np.ndarray:
    """``count`` frames bouncing over ``stretch``: leaving its last frame backwards, or entering at its first."""
    if len(stretch) == 1:
        return np.repeat(stretch, count)
    cycle = np.concatenate([stretch[-2::-1], stretch[1:]]) if from_end else np.concatenate([stretch, stretch[-2:0:-1]])
    return np.resize(cycle, count)


def fade_around(untouched: np.ndarray, fade_frames: int) -> np.ndarray:
    """Per frame, the drive's weight: 0 on untouched frames, rising linearly over ``fade_frames`` away from them."""
    marked = np.flatnonzero(untouched)
    if not len(marked):
        return np.ones(len(untouched))
    frames = np.arange(len(untouched))
    after = np.clip(np.searchsorted(marked, frames), 0, len(marked) - 1)
    before = np.clip(after - 1, 0, len(marked) - 1)
    distance = np.minimum(np.abs(frames - marked[after]), np.abs(frames - marked[before]))
    return np.clip(distance / (fade_frames + 1), 0, 1)


def plan_dub(times: list[Fraction], durations: list[Fraction], landmarks: np.ndarray, valid: np.ndarray,
             speech_seconds: Fraction, fps: Fraction, tail: str = "rest", max_stretch: int | None = None,
             config: PlanConfig = PlanConfig(), untouched: np.ndarray | None = None) -> DubPlan:
    """Plan a dub of a video (its frames' times, durations and track) to speech lasting ``speech_seconds``.

    Input frames without a face (not ``valid``) and ``untouched`` ones (T,) bool pass through."""
    if tail not in TAILS:
        raise ValueError(f"tail must be one of {', '.join(TAILS)}, got {tail!r}")
    untouched = ~np.asarray(valid, bool) | (False if untouched is None else np.asarray(untouched, bool))
    n = len(times)
    video_end = times[-1] + durations[-1]
    source = np.arange(n)
    out_times, out_durations = list(times), list(durations)
    speech = np.ones(n)
    stretch = np.zeros(0, int)
    if speech_seconds > video_end:
        extra = int(np.ceil((speech_seconds - video_end) * fps))
        length = int(round(config.stretch_seconds * float(fps)))
        if max_stretch is not None:
            length = min(length, max_stretch)
        stretch = quiet_stretch(frame_motion(landmarks, ~untouched), length, config.seamless_slack)
        source = np.concatenate([source, ping_pong(stretch, extra, from_end=stretch[-1] == n - 1)])
        out_times += [video_end + Fraction(j) / fps for j in range(extra)]
        out_durations += [1 / fps] * extra
        speech = np.ones(len(source))
    elif tail == "original":
        after = np.array([t >= speech_seconds for t in times])
        if after.any():
            first = int(np.argmax(after))
            fade = np.clip(1 - (np.arange(n) - first + 1) / (config.fade_frames + 1), 0, 1)
            speech = np.where(after, fade, 1.0)
    speech = np.minimum(speech, fade_around(untouched, config.fade_frames)[source])
    return DubPlan(source, out_times, out_durations, speech, stretch)
