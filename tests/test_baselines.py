"""The frozen baseline mouths (talkinghead.evaluation.baselines) and their yardstick scores."""

from __future__ import annotations

import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from talkinghead.contracts.arkit import ARKIT_INDEX
from talkinghead.contracts.audio_io import load_audio_16k
from talkinghead.evaluation.baselines import (
    EnergyConfig,
    energy_mouth,
    mouth_signals,
    pocketsphinx_mouth,
    text_mouth,
)
from talkinghead.evaluation.labels import TUNING_CLIPS, available_clips
from talkinghead.evaluation.lipsync import best_lag

RATE = 16000
ENERGY_SHAPES = {ARKIT_INDEX[n] for n in ("jawOpen", "mouthLowerDownLeft", "mouthLowerDownRight")}


def _tone(seconds: float, amplitude: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


# ---------------------------------------------------------------- energy mouth


def test_energy_mouth_follows_loudness():
    silence = np.zeros(RATE // 2, np.float32)
    audio = np.concatenate([silence, _tone(0.5, 0.03), _tone(0.5, 0.5), silence])
    w = energy_mouth(audio, 60, 30)
    assert w.shape == (60, 52) and w.dtype == np.float32
    assert w.min() >= 0.0 and w.max() <= 1.0
    others = [i for i in range(52) if i not in ENERGY_SHAPES]
    assert not w[:, others].any()
    jaw = w[:, ARKIT_INDEX["jawOpen"]]
    # Frame k is centred at (k + 1/2)/30 s; keep away from the 40 ms windows at the edges.
    assert not jaw[:14].any() and not jaw[47:].any()  # silence: closed
    quiet, loud = jaw[17:29], jaw[32:44]
    assert np.all(quiet > 0.0) and np.all(loud > quiet.max())
    assert loud.max() == pytest.approx(EnergyConfig().jaw_open)


def test_energy_mouth_of_silence_is_closed():
    assert not energy_mouth(np.zeros(RATE, np.float32), 25, 25).any()
    faint = np.random.default_rng(0).normal(0, 1e-4, RATE).astype(np.float32)  # -80 dBFS
    assert not energy_mouth(faint, 25, 25).any()


def test_energy_mouth_closes_after_the_audio_and_counts_frames_exactly():
    audio = np.concatenate([np.zeros(RATE // 2, np.float32), _tone(0.5, 0.5)])
    w = energy_mouth(audio, 40, Fraction(30000, 1001))  # the audio ends at frame 29.97
    jaw = w[:, ARKIT_INDEX["jawOpen"]]
    assert w.shape == (40, 52)
    assert not jaw[:14].any() and np.all(jaw[16:29] > 0.5) and not jaw[31:].any()
    assert energy_mouth(audio, 0, 25).shape == (0, 52)


def test_energy_mouth_is_scaled_per_utterance():
    # Above the -60 dBFS gate, only level ratios within the utterance matter.
    audio = np.concatenate([_tone(0.3, 0.02), _tone(0.3, 0.3), _tone(0.3, 0.05)])
    np.testing.assert_allclose(energy_mouth(audio, 20, 25), energy_mouth(0.5 * audio, 20, 25),
                               atol=1e-5)


def test_a_steady_tone_is_not_stretched_to_an_open_mouth():
    jaw = energy_mouth(_tone(1.0, 0.5), 25, 25)[:, ARKIT_INDEX["jawOpen"]]
    assert jaw.max() < 0.05  # a flat level spans less than min_span_db


@pytest.mark.parametrize("kwargs", [{"num_frames": -1}, {"num_frames": 2.0}, {"fps": 0},
                                    {"audio": np.full(100, np.nan, np.float32)},
                                    {"audio": np.zeros((2, 100), np.float32)}])
def test_energy_mouth_refuses_bad_input(kwargs):
    args = {"audio": np.zeros(RATE, np.float32), "num_frames": 10, "fps": 25} | kwargs
    with pytest.raises(ValueError):
        energy_mouth(args["audio"], args["num_frames"], args["fps"])


# ---------------------------------------------------------------- mouth signals


def test_mouth_signals_read_opening_and_rounding():
    w = np.zeros((4, 52))
    w[1, ARKIT_INDEX["jawOpen"]] = 0.5
    w[2, ARKIT_INDEX["jawOpen"]] = 1.0
    w[3, ARKIT_INDEX["mouthFunnel"]] = 0.4
    w[3, ARKIT_INDEX["mouthPucker"]] = 0.3
    s = mouth_signals(w)
    assert s["aperture"].shape == s["rounding"].shape == (4,)
    assert s["aperture"][0] < s["aperture"][1] < s["aperture"][2]
    assert s["aperture"][2] > 0.2  # a wide-open jaw parts the lips by a fifth of the IOD or more
    np.testing.assert_allclose(s["rounding"], [0, 0, 0, 0.7])
    # mouthClose on an open jaw brings the lips back together (ARKit semantics).
    w[2, ARKIT_INDEX["mouthClose"]] = 1.0
    assert abs(mouth_signals(w)["aperture"][2]) < 0.5 * s["aperture"][2]


@pytest.mark.parametrize("bad", [np.zeros((3, 51)), np.zeros(52), np.full((2, 52), np.nan)])
def test_mouth_signals_refuse_bad_weights(bad):
    with pytest.raises(ValueError):
        mouth_signals(bad)


# ---------------------------------------------------------------- text-assisted mode


def test_text_mouth_closes_on_bilabials(tmp_path):
    pytest.importorskip("pocketsphinx")
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    from talkinghead.audio2motion.align import align_transcript

    text = "Papa made pasta. Mom saw my big brown dog."
    wav = Path(tmp_path) / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(wav), text], check=True, timeout=30)
    audio = load_audio_16k(wav)
    n = int(np.ceil(audio.size / RATE * 30))
    aperture = mouth_signals(text_mouth(audio, text, n, 30))["aperture"]
    assert aperture.shape == (n,)

    def at(symbols) -> np.ndarray:
        mids = [(p.start + p.end) / 2 for p in align_transcript(audio, text) if p.symbol in symbols]
        return aperture[np.minimum((np.asarray(mids) * 30).astype(int), n - 1)]

    assert at({"P", "B", "M"}).max() < at({"AA", "AW", "AO", "AY"}).min()


# ---------------------------------------------------------------- through the yardstick


@pytest.fixture(scope="module")
def tuning_scores(data_root):
    """Aperture/rounding AUC (lag 0 and best lag) of both baselines on the tuning clips."""
    pytest.importorskip("pocketsphinx")
    clips = available_clips(data_root, TUNING_CLIPS)
    if not clips:
        pytest.skip(f"no tuning clips under {data_root}")
    scores: dict[tuple[str, str], list] = {}
    for clip in clips:
        audio, n = load_audio_16k(clip.audio), len(clip.labels)
        for name, mouth in (("energy", energy_mouth), ("pocketsphinx", pocketsphinx_mouth)):
            signals = mouth_signals(mouth(audio, n, 30))
            for task in ("aperture", "rounding") if name == "pocketsphinx" else ("aperture",):
                search = best_lag(signals[task], clip.labels, 30, task, n_boot=0)
                scores.setdefault((name, task), []).append(
                    (clip.name, search.curve[0], search.best.auc, search.best_lag))
    for (name, task), rows in scores.items():
        for clip, lag0, best, lag in rows:
            print(f"{name:12s} {task:8s} {clip:15s} lag0 {lag0:.3f} best {best:.3f} @ {lag:+d}")
    return {key: np.array([row[1:] for row in rows]) for key, rows in scores.items()}


def test_energy_baseline_score(tuning_scores):
    s = tuning_scores[("energy", "aperture")]
    # Measured: lag 0 mean 0.67, best lag mean 0.78 at lag -1 on every clip.
    assert 0.6 < s[:, 0].mean() < 0.75
    assert 0.7 < s[:, 1].mean() < 0.85
    assert np.all(np.abs(s[:, 2]) <= 2)


def test_pocketsphinx_baseline_score(tuning_scores):
    aperture = tuning_scores[("pocketsphinx", "aperture")]
    rounding = tuning_scores[("pocketsphinx", "rounding")]
    # Measured: aperture 0.79-0.81 at lag 0, 0.86-0.88 at best lag (-1..-2); rounding 0.87.
    assert aperture[:, 0].mean() > 0.7 and aperture[:, 1].mean() > 0.78
    assert rounding[:, 1].mean() > 0.8
    # Both baselines beat chance and PocketSphinx beats loudness at separating P/B/M from open vowels.
    assert aperture[:, 1].mean() > tuning_scores[("energy", "aperture")][:, 1].mean()
