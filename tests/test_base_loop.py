"""Base loop: resting stretches are found, talking is skipped, the loop never jumps."""

from fractions import Fraction

import numpy as np
import pytest

from talkinghead.renderer import topology
from talkinghead.renderer.base_loop import LoopConfig, base_loop, resting_runs


def talking_video(gaps: np.ndarray) -> np.ndarray:
    """Landmarks of the default neutral with the inner-lip midpoints parted by ``gaps`` (IOD)."""
    neutral = np.asarray(topology.load_topology().neutral, np.float64)
    frames = np.repeat(neutral[None], len(gaps), 0)
    frames[:, topology.UPPER_LIP_INNER_MID, 1] += gaps / 2
    frames[:, topology.LOWER_LIP_INNER_MID, 1] -= gaps / 2
    return frames


def schedule(fps: int = 30) -> np.ndarray:
    """1 s rest, 2 s talking (syllables at 4 Hz), 1.5 s rest, 1 s talking."""
    talk = lambda seconds: 0.15 + 0.12 * np.sin(np.arange(seconds * fps) / fps * 2 * np.pi * 4)  # noqa: E731
    rest = lambda seconds: np.zeros(int(seconds * fps))  # noqa: E731
    return np.concatenate([rest(1), talk(2), rest(1.5), talk(1)])


def test_resting_runs_are_the_pauses_longest_first():
    runs = resting_runs(talking_video(schedule()), Fraction(30))
    assert runs == [(91, 134), (0, 29)]  # the frames next to talking move, so they are not at rest


def test_the_loop_plays_the_longest_pause_forward_then_back_without_jumps():
    loop = base_loop(talking_video(schedule()), Fraction(30))
    assert loop[0] == 91 and loop.max() == 133 and loop.min() == 91
    assert set(np.abs(np.diff(loop)).tolist()) == {1}
    assert abs(int(loop[-1]) - int(loop[0])) == 1  # wrapping around is one step too
    assert len(loop) == 2 * 43 - 2


def test_a_video_that_never_rests_is_refused():
    always_talking = 0.15 + 0.12 * np.sin(np.arange(150) / 30 * 2 * np.pi * 4)
    with pytest.raises(ValueError, match="mouth at rest"):
        base_loop(talking_video(always_talking), Fraction(30), LoopConfig(gap_quantile=0.35, max_speed=0.001))
