"""Fitting the renderer's calibration at enrollment: audio2motion's scale onto a tracked face's.

audio2motion's weights come from the project's articulation model; a
tracked video's weights come from its face through the solver. Their scales
differ per channel and per person. Calibration maps each mouth and jaw
channel by quantile matching, frame for frame over the enrollment video
(audio2motion run on the video's own audio, offset-corrected): the q-th
quantile of the prediction goes to the q-th quantile of the tracked weight.
Quantiles rather than a regression, because the two correlate only loosely
frame by frame (r ~ 0.3-0.5 on real clips) and a regression would shrink the
mouth towards its mean; matching distributions keeps the avatar's own range
and rhythm of motion. Every channel, calibrated or not, is then clamped to
the range the avatar was seen in, so it is never asked for a face it never
made.
"""

from __future__ import annotations

import numpy as np

from talkinghead.contracts.arkit import ARKIT_NAMES
from talkinghead.renderer.calibration import Calibration


def align(predicted: np.ndarray, tracked: np.ndarray, lag: int) -> tuple[np.ndarray, np.ndarray]:
    """The overlapping frames with ``predicted[j]`` beside ``tracked[j + lag]`` (lag: picture late > 0)."""
    n = min(len(predicted), len(tracked))
    start, stop = max(0, -lag), min(n, n - lag)
    if stop - start < 2:
        raise ValueError(f"lag {lag} leaves no overlap between {len(predicted)} and {len(tracked)} frames")
    return predicted[start:stop], tracked[start + lag:stop + lag]


def fit_calibration(predicted: np.ndarray, tracked: np.ndarray, lag: int = 0, knots: int = 21) -> Calibration:
    """Fit from audio2motion's weights on the enrollment audio and the tracked weights (both T,52)."""
    predicted, tracked = (np.asarray(a, np.float64) for a in (predicted, tracked))
    for name, array in (("predicted", predicted), ("tracked", tracked)):
        if array.ndim != 2 or array.shape[1] != len(ARKIT_NAMES) or not np.isfinite(array).all():
            raise ValueError(f"{name} must be finite (T, {len(ARKIT_NAMES)}), got {array.shape}")
    if knots < 2:
        raise ValueError(f"knots must be at least 2, got {knots}")
    source, target = align(predicted, tracked, lag)
    levels = np.linspace(0, 1, knots)
    knots_in = np.quantile(source, levels, axis=0).T  # (52, K)
    knots_out = np.quantile(target, levels, axis=0).T
    # np.interp needs increasing knots: ties (a channel often at 0) get a hair of spacing.
    knots_in = np.maximum.accumulate(knots_in + 1e-9 * np.arange(knots), axis=1)
    return Calibration(knots_in, knots_out, tracked.min(0), tracked.max(0))
