"""Calibration maps audio2motion's scale onto the avatar's, keeps other channels, clamps to the seen range."""

import numpy as np
import pytest

from talkinghead.contracts.arkit import ARKIT_INDEX
from talkinghead.jobs.calibration import align, fit_calibration

JAW = ARKIT_INDEX["jawOpen"]
BLINK = ARKIT_INDEX["eyeBlinkLeft"]


def pair(frames: int = 900, lag: int = 0, seed: int = 0):
    """A predicted jaw on one scale and the avatar's on another (a monotone warp), ``lag`` frames late."""
    rng = np.random.default_rng(seed)
    smooth = np.convolve(rng.standard_normal(frames + 40), np.hanning(9), mode="same")[20:-20]
    predicted = np.zeros((frames, 52))
    predicted[:, JAW] = np.clip(0.1 + 0.15 * smooth, 0, 1)
    tracked = np.zeros((frames, 52))
    tracked[:, JAW] = np.roll(0.05 + 0.6 * predicted[:, JAW] ** 1.5, lag)
    tracked[:, BLINK] = (rng.random(frames) < 0.05) * 0.9
    return predicted, tracked


def test_quantile_map_recovers_a_monotone_change_of_scale():
    predicted, tracked = pair()
    calibration = fit_calibration(predicted, tracked)
    mapped = calibration.apply(predicted)
    assert np.abs(mapped[:, JAW] - tracked[:, JAW]).max() < 0.02
    assert np.corrcoef(mapped[:, JAW], tracked[:, JAW])[0, 1] > 0.999


def test_channels_audio2motion_does_not_drive_pass_through_clamped():
    predicted, tracked = pair()
    calibration = fit_calibration(predicted, tracked)
    blink = np.zeros((3, 52))
    blink[:, BLINK] = [0.0, 0.5, 1.0]  # the motion layer's blink, not calibrated
    assert np.allclose(calibration.apply(blink)[:, BLINK], [0.0, 0.5, 0.9])  # clamped to the seen 0.9


def test_driving_past_the_enrollment_range_is_clamped():
    predicted, tracked = pair()
    calibration = fit_calibration(predicted, tracked)
    wide = np.zeros((2, 52))
    wide[:, JAW] = [0.0, 1.0]
    out = calibration.apply(wide)[:, JAW]
    assert out[0] >= tracked[:, JAW].min() - 1e-6 and out[1] <= tracked[:, JAW].max() + 1e-6


def test_the_offset_is_taken_out_before_fitting():
    predicted, tracked = pair(lag=4)
    first, second = align(predicted, tracked, 4)
    assert np.allclose(second[:, JAW], 0.05 + 0.6 * first[:, JAW] ** 1.5)
    with pytest.raises(ValueError, match="no overlap"):
        align(predicted[:3], tracked[:3], 5)


def test_bad_input_is_refused():
    predicted, tracked = pair()
    with pytest.raises(ValueError, match="finite"):
        fit_calibration(predicted[:, :10], tracked)
    bad = tracked.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        fit_calibration(predicted, bad)
