"""The two reference mouths audio2motion is measured against, and the mouth signals they are scored by.

FROZEN: built once; the baseline figures in the project's reports come from
this code as it stands. Any change to it, to the PocketSphinx settings of
:mod:`talkinghead.audio2motion.align` or to the articulation model the phone
baselines call invalidates those figures; add a new baseline beside these instead.

- :func:`energy_mouth`: the naive mouth, the jaw follows loudness.
- :func:`pocketsphinx_mouth`: PocketSphinx phone recognition fed to the
  project's articulation model (what a phone recogniser alone gives).
- :func:`text_mouth`: the text-assisted mode, the transcript force-aligned
  by PocketSphinx and fed to the same articulation model (a runtime feature,
  so it lives in :mod:`talkinghead.audio2motion.align`; the mouth signals
  likewise live in :mod:`talkinghead.contracts.mouth_signals`. Both are
  imported here unchanged).

All take 16 kHz mono float samples (resampling is the caller's job) and return ``(num_frames, 52)`` float32
ARKit weights in [0, 1]; frame ``k`` describes the instant ``(k + 1/2) / fps``,
as the lip-sync yardstick reads signals.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from talkinghead.audio2motion.align import text_mouth  # noqa: F401 (the text-assisted mode, scored here too)
from talkinghead.audio2motion.articulation import articulate
from talkinghead.contracts.arkit import ARKIT_INDEX, ARKIT_NAMES
from talkinghead.contracts.audio_io import FEATURE_RATE as SAMPLE_RATE
from talkinghead.contracts.clock import as_fraction, check_count
from talkinghead.contracts.mouth_signals import mouth_signals, reference_face  # noqa: F401 (the yardstick's signals)
from talkinghead.contracts.resample import check_samples


@dataclass(frozen=True)
class EnergyConfig:
    """The energy mouth's settings (frozen with the module)."""

    window_s: float = 0.04  # RMS window centred on each frame's midpoint
    low_percentile: float = 5.0  # per-utterance level mapped to a closed mouth ...
    high_percentile: float = 95.0  # ... and to a fully open one
    silence_dbfs: float = -60.0  # never open below this level, whatever the utterance
    min_span_db: float = 20.0  # a flat utterance (steady tone) is not stretched to full range
    jaw_open: float = 0.6  # jawOpen at full loudness
    lower_down: float = 0.2  # mouthLowerDownLeft/Right at full loudness


def _frame_args(num_frames: int, fps: Fraction | int) -> tuple[int, Fraction]:
    return check_count(num_frames, "num_frames"), as_fraction(fps, "fps")


def _frame_level_db(audio: np.ndarray, num_frames: int, fps: Fraction, window_s: float) -> np.ndarray:
    """RMS level (dBFS) of the samples within ``window_s`` around each frame midpoint; NaN past the audio."""
    centres = (np.arange(num_frames) + 0.5) * float(SAMPLE_RATE / fps)
    half = window_s * SAMPLE_RATE / 2.0
    lo = np.clip(np.round(centres - half).astype(np.int64), 0, audio.size)
    hi = np.clip(np.round(centres + half).astype(np.int64), 0, audio.size)
    energy = np.concatenate([[0.0], np.cumsum(audio * audio)])
    count = hi - lo
    mean_square = np.where(count > 0, (energy[hi] - energy[lo]) / np.maximum(count, 1), np.nan)
    return 10.0 * np.log10(np.maximum(mean_square, 1e-12))


def energy_mouth(audio_16k: np.ndarray, num_frames: int, fps: Fraction | int,
                 config: EnergyConfig = EnergyConfig()) -> np.ndarray:
    """Jaw opening from loudness: log RMS per frame, scaled per utterance by robust percentiles.

    Only ``jawOpen`` and (a little) ``mouthLowerDownLeft/Right`` move; every
    other weight is 0. Frames past the end of the audio are closed.
    """
    audio = check_samples(audio_16k, "audio samples")
    num_frames, fps = _frame_args(num_frames, fps)
    weights = np.zeros((num_frames, len(ARKIT_NAMES)), np.float32)
    level = _frame_level_db(audio, num_frames, fps, config.window_s)
    inside = level[np.isfinite(level)]
    if inside.size == 0:
        return weights
    low = max(float(np.percentile(inside, config.low_percentile)), config.silence_dbfs)
    high = max(float(np.percentile(inside, config.high_percentile)), low + config.min_span_db)
    opening = np.nan_to_num(np.clip((level - low) / (high - low), 0.0, 1.0), nan=0.0)
    weights[:, ARKIT_INDEX["jawOpen"]] = config.jaw_open * opening
    for side in ("Left", "Right"):
        weights[:, ARKIT_INDEX[f"mouthLowerDown{side}"]] = config.lower_down * opening
    return weights


def pocketsphinx_mouth(audio_16k: np.ndarray, num_frames: int, fps: Fraction | int) -> np.ndarray:
    """Mouth from PocketSphinx phone recognition (no text) through the articulation model."""
    from talkinghead.audio2motion.align import recognise_phones  # pocketsphinx is optional

    num_frames, fps = _frame_args(num_frames, fps)
    return articulate(recognise_phones(audio_16k), num_frames, fps)
