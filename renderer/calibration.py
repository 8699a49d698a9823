"""Calibration: one meaning of "jawOpen 0.5" for audio2motion and a tracked avatar.

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

from dataclasses import dataclass

import numpy as np

from talkinghead.contracts.arkit import ARKIT_NAMES

#: Channels audio2motion drives and calibration maps (the rest pass through, clamped).
DRIVEN = tuple(i for i, name in enumerate(ARKIT_NAMES) if name.startswith(("jaw", "mouth")))


@dataclass(frozen=True)
class Calibration:
    """Per-channel quantile knots ``(52, K)`` in and out, and the avatar's range ``(52,)``."""

    knots_in: np.ndarray
    knots_out: np.ndarray
    low: np.ndarray
    high: np.ndarray

    def apply(self, weights: np.ndarray) -> np.ndarray:
        """audio2motion weights (T,52) -> the avatar's weights (T,52)."""
        weights = np.asarray(weights, np.float64)
        if weights.ndim != 2 or weights.shape[1] != len(ARKIT_NAMES):
            raise ValueError(f"weights must be (T, {len(ARKIT_NAMES)}), got {weights.shape}")
        out = weights.copy()
        for c in DRIVEN:
            out[:, c] = np.interp(weights[:, c], self.knots_in[c], self.knots_out[c])
        return np.clip(out, self.low, self.high).astype(np.float32)

    def invert(self, weights: np.ndarray) -> np.ndarray:
        """The avatar's weights (T,52) -> audio2motion's scale (mouth and jaw channels; the rest unchanged)."""
        out = np.asarray(weights, np.float64).copy()
        for c in DRIVEN:
            rising = np.maximum.accumulate(self.knots_out[c] + 1e-9 * np.arange(self.knots_out.shape[1]))
            out[:, c] = np.interp(out[:, c], rising, self.knots_in[c])
        return out.astype(np.float32)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"knots_in": self.knots_in, "knots_out": self.knots_out, "low": self.low, "high": self.high}


def at_rest(weights: np.ndarray) -> np.ndarray:
    """A frame's own weights (52,) with mouth and jaw at rest: a base frame counts as mouth shut."""
    rest = np.array(weights, np.float32)
    rest[list(DRIVEN)] = 0.0
    return rest


def driven_by(base: np.ndarray, driving: np.ndarray) -> np.ndarray:
    """A base frame's weights (52,) with the mouth and jaw channels of ``driving`` (52,)."""
    weights = np.array(base, np.float32)
    weights[list(DRIVEN)] = np.asarray(driving)[list(DRIVEN)]
    return weights


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
