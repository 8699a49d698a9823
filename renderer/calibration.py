"""Calibration: one meaning of "jawOpen 0.5" for audio2motion and a tracked avatar.

audio2motion's weights come from the project's articulation model; a
tracked video's weights come from its face through the solver. Their scales
differ per channel and per person. A :class:`Calibration` maps each mouth and
jaw channel through quantile knots, then clamps every channel to the range
the avatar was seen in, so it is never asked for a face it never made.
Enrollment fits it (:mod:`talkinghead.jobs.calibration`).
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
