"""A/V offset without labels: recovers known shifts, refuses to guess on unrelated signals."""

import numpy as np
import pytest

from talkinghead.jobs.av_offset import estimate_av_offset


def mouth_like(n: int, seed: int) -> np.ndarray:
    """Syllable-rate bumps: smoothed noise, rectified, like an aperture track."""
    rng = np.random.default_rng(seed)
    raw = np.convolve(rng.standard_normal(n + 20), np.hanning(7), mode="same")[10:-10]
    return np.clip(raw, 0, None)


@pytest.mark.parametrize("shift", [-7, -2, 0, 3, 11])
def test_a_known_shift_is_found_through_noise(shift):
    audio_side = mouth_like(600, seed=1)
    picture = np.roll(audio_side, shift) + 0.3 * np.random.default_rng(2).standard_normal(600)
    estimate = estimate_av_offset(audio_side, picture)
    assert estimate.confident and estimate.lag == shift
    assert estimate.correlation > 0.5


def test_unrelated_signals_give_no_offset():
    estimate = estimate_av_offset(mouth_like(600, seed=1), mouth_like(600, seed=5))
    assert not estimate.confident and estimate.lag == 0


def test_sign_matches_the_yardstick_picture_late_is_positive():
    audio_side = mouth_like(400, seed=3)
    late_picture = np.concatenate([np.zeros(4), audio_side[:-4]])  # the picture shows each event 4 frames later
    assert estimate_av_offset(audio_side, late_picture).lag == 4


def test_too_short_a_signal_gives_an_untrusted_zero():
    signal = mouth_like(100, seed=4)
    estimate = estimate_av_offset(signal, np.roll(signal, 3))
    assert not estimate.confident and estimate.lag == 0


@pytest.mark.parametrize("bad, message", [
    ((np.zeros((100, 2)), np.zeros(100)), "1-D"),
    ((np.full(100, np.nan), np.zeros(100)), "finite"),
])
def test_bad_input_is_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        estimate_av_offset(*bad)
