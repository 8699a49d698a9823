"""A video's own audio/video offset, found without labels.

The mouth predicted from the video's audio (audio2motion's aperture) and the
mouth tracked from its picture should move together; the lag that best
correlates them (Pearson r over the overlapping frames) is the offset. Sign
as in the lip-sync yardstick: at lag ``L`` predicted frame ``j`` is compared
with tracked frame ``j + L``, so a positive lag means the picture is late.

The estimate is trusted only when the peak correlation clears a floor and
beats every chance alignment of the same two signals by a margin (the
tracked one rotated circularly by far more than any plausible offset: a
null that has the signals' own smoothness); otherwise the offset is 0 and the caller
should warn (a face that barely moves its lips, or a dub, has no usable
offset).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OffsetEstimate:
    lag: int  # frames; positive = the picture is late; 0 when not confident
    correlation: float  # Pearson r at the best lag
    chance: float  # the largest r of the far, circular (chance) alignments
    confident: bool
    curve: dict[int, float]  # r at every lag searched


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    scale = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / scale) if scale > 0 else 0.0


def estimate_av_offset(predicted: np.ndarray, tracked: np.ndarray, max_lag: int = 15,
                       min_correlation: float = 0.2, min_margin: float = 0.05) -> OffsetEstimate:
    """Lag in ``-max_lag..max_lag`` maximising r(predicted[j], tracked[j + lag]) (both at the video's rate).

    Signals shorter than ``8 * max_lag`` frames (4 s at 30 fps) give an untrusted 0.
    """
    predicted = np.asarray(predicted, np.float64)
    tracked = np.asarray(tracked, np.float64)
    if predicted.ndim != 1 or tracked.ndim != 1:
        raise ValueError("predicted and tracked must be 1-D signals")
    n = min(len(predicted), len(tracked))
    if not (np.isfinite(predicted[:n]).all() and np.isfinite(tracked[:n]).all()):
        raise ValueError("predicted and tracked must be finite")
    if n < 8 * max_lag:  # too short for the far chance alignments: no trusted answer
        return OffsetEstimate(0, float("nan"), float("nan"), False, {})
    curve = {}
    for lag in range(-max_lag, max_lag + 1):
        start, stop = max(0, -lag), min(n, n - lag)
        curve[lag] = _pearson(predicted[start:stop], tracked[start + lag:stop + lag])
    best = max(curve, key=lambda lag: (curve[lag], -abs(lag)))
    chance = max(_pearson(predicted[:n], np.roll(tracked[:n], shift)) for shift in range(3 * max_lag, n - 3 * max_lag))
    confident = curve[best] >= min_correlation and curve[best] >= chance + min_margin
    return OffsetEstimate(best if confident else 0, curve[best], chance, confident, curve)
