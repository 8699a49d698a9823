"""Scripted, seeded noise conditions for the lip-sync benchmarks (synthesised: approximations of real rooms).

- ``white``: Gaussian white noise;
- ``pink+hum``: 1/f noise plus mains hum (50 Hz and its harmonics to 400 Hz,
  half the noise's power), a stand-in for a room with a fan and a cheap
  microphone;
- ``babble``: exactly ``voices`` other talkers (at least 4), each looped from
  a random offset at the same active level;
- ``music``: a synthesised bed of chords (harmonic tones with attack and
  decay, a new chord every 0.5–1 s), a bass line and hi-hat ticks of
  filtered noise;
- ``telephone``: the 8 kHz band with mu-law (no noise added; SNR ignored).

Levels are set against the speech's active power (frames within 40 dB of its
loudest, an approximation of ITU-T P.56), as the teacher's augmentation does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from talkinghead.audio2motion.training.augment import active_power, pink_noise, telephone

CONDITIONS = ("white", "pink+hum", "babble", "music", "telephone")


def at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``speech`` plus ``noise`` scaled to ``snr_db`` below the speech's active power."""
    speech_power, noise_power = active_power(speech), float(np.mean(noise ** 2))
    if speech_power == 0 or noise_power == 0:
        return speech.astype(np.float32)
    return (speech + noise * math.sqrt(speech_power / noise_power * 10 ** (-snr_db / 10))).astype(np.float32)


def pink_hum(n: int, rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    pink = pink_noise(n, rng)
    t = np.arange(n) / sample_rate
    phase = rng.uniform(0, 2 * np.pi, 8)
    hum = sum(np.sin(2 * np.pi * 50 * k * t + phase[k - 1]) / k for k in range(1, 9))
    hum *= math.sqrt(0.5 * np.mean(pink ** 2) / np.mean(hum ** 2))
    return pink + hum


def babble(n: int, rng: np.random.Generator, sources: Sequence[np.ndarray], voices: int = 4) -> np.ndarray:
    if voices < 4 or len(sources) < voices:
        raise ValueError(f"babble needs at least 4 voices from as many sources, got {voices} of {len(sources)}")
    out = np.zeros(n)
    for i in rng.choice(len(sources), size=voices, replace=False):
        source = np.asarray(sources[i], np.float64)
        looped = np.tile(source, -(-(n + len(source)) // len(source)))
        start = int(rng.integers(0, len(source)))
        out += looped[start:start + n] / math.sqrt(max(active_power(source.astype(np.float32)), 1e-12))
    return out


def music_bed(n: int, rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    out = np.zeros(n)
    t0 = 0
    scale = np.array([0, 2, 4, 5, 7, 9, 11])  # major scale, semitones
    while t0 < n:
        length = int(rng.uniform(0.5, 1.0) * sample_rate)
        t = np.arange(min(length, n - t0)) / sample_rate
        envelope = np.minimum(1.0, t / 0.02) * np.exp(-t / 0.6)
        root = 48 + int(rng.choice(scale))
        for note in (root, root + 4, root + 7, root - 12):  # a triad over its bass
            frequency = 440.0 * 2 ** ((note - 69) / 12)
            tone = sum(np.sin(2 * np.pi * frequency * k * t) / k for k in range(1, 7) if frequency * k < sample_rate / 2)
            out[t0:t0 + len(t)] += envelope * tone
        t0 += length
    tick = int(0.25 * sample_rate)
    burst = np.diff(rng.standard_normal(int(0.03 * sample_rate) + 1)) * np.exp(-np.arange(int(0.03 * sample_rate)) / 80)
    for start in range(0, n - len(burst), tick):
        out[start:start + len(burst)] += 0.3 * burst
    return out


def degrade(speech: np.ndarray, condition: str, snr_db: float, rng: np.random.Generator, sample_rate: int,
            babble_sources: Sequence[np.ndarray] = ()) -> np.ndarray:
    """``speech`` (float32 mono) under one of :data:`CONDITIONS` at ``snr_db``."""
    n = len(speech)
    if condition == "telephone":
        return telephone(speech, sample_rate)
    if condition == "white":
        noise = rng.standard_normal(n)
    elif condition == "pink+hum":
        noise = pink_hum(n, rng, sample_rate)
    elif condition == "babble":
        noise = babble(n, rng, babble_sources)
    elif condition == "music":
        noise = music_bed(n, rng, sample_rate)
    else:
        raise ValueError(f"condition must be one of {', '.join(CONDITIONS)}, got {condition!r}")
    return at_snr(speech, noise, snr_db)
