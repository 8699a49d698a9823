"""Base loop: the restful window is found, talking is skipped, the loop never jumps."""

from fractions import Fraction

import numpy as np
import pytest

from talkinghead.contracts import topology
from talkinghead.renderer.base_loop import LoopConfig, base_loop


def talking_video(gaps: np.ndarray) -> np.ndarray:
    """Landmarks of the default neutral with the inner-lip midpoints parted by ``gaps`` (IOD)."""
    neutral = np.asarray(topology.load_topology().neutral, np.float64)
    frames = np.repeat(neutral[None], len(gaps), 0)
    frames[:, topology.UPPER_LIP_INNER_MID, 1] += gaps / 2
    frames[:, topology.LOWER_LIP_INNER_MID, 1] -= gaps / 2
    return frames


def talk(seconds: float, fps: int = 30) -> np.ndarray:
    return 0.15 + 0.12 * np.sin(np.arange(int(seconds * fps)) / fps * 2 * np.pi * 4)


def test_the_window_lands_in_the_pause_and_plays_back_and_forth():
    gaps = np.concatenate([talk(1), np.zeros(45), talk(2)])  # 1.5 s pause at frames 30..74
    loop = base_loop(talking_video(gaps), Fraction(30), LoopConfig(seconds=1.0))
    assert 30 <= loop.min() and loop.max() < 75
    assert set(np.abs(np.diff(loop)).tolist()) == {1}
    assert abs(int(loop[-1]) - int(loop[0])) == 1  # wrapping around is one step too
    assert len(loop) == 2 * 30 - 2


def test_with_no_pause_the_quietest_stretch_is_taken():
    gaps = np.concatenate([talk(2), 0.4 * talk(1), talk(2)])  # a softly spoken second in the middle
    loop = base_loop(talking_video(gaps), Fraction(30), LoopConfig(seconds=1.0))
    assert 55 <= loop.min() and loop.max() < 95  # within a few frames of the soft second (60..89)


def test_a_video_shorter_than_the_window_loops_all_of_it():
    loop = base_loop(talking_video(talk(0.5)), Fraction(30), LoopConfig(seconds=2.0))
    assert loop.min() == 0 and loop.max() == 14


def test_bad_config_is_refused():
    with pytest.raises(ValueError):
        LoopConfig(seconds=0)
