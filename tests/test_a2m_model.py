"""The audio2motion network and its streaming wrapper: streaming equals offline,
the clock's frame count, bounded look-ahead, save/load, bad input."""

from fractions import Fraction

import numpy as np
import pytest
import torch

from talkinghead.audio2motion.animate import (
    StreamingAnimator,
    animate,
    frames_covered,
    sample_steps,
)
from talkinghead.audio2motion.model import (
    Audio2Motion,
    ModelConfig,
    load_model,
    running_mean,
    save_model,
)

SMALL = ModelConfig(dim=32, layers=2, heads=2, context_steps=16, norm_window=40, dropout=0.0)


@pytest.fixture(scope="module")
def model() -> Audio2Motion:
    torch.manual_seed(0)
    return Audio2Motion(SMALL).eval()


def speech_like(seconds: float, sample_rate: int, seed: int = 0) -> np.ndarray:
    """Noise bursts with pauses, so the features change over time."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sample_rate)
    envelope = (np.sin(np.arange(n) / sample_rate * 2 * np.pi * 3) > 0).astype(np.float32)
    return (rng.standard_normal(n) * 0.1 * envelope).astype(np.float32)


def stream(model, audio, sample_rate, fps, lookahead_ms, rng):
    animator = StreamingAnimator(model, sample_rate, fps, lookahead_ms)
    parts, i = [], 0
    while i < len(audio):
        n = int(rng.integers(1, sample_rate // 4))
        parts.append(animator.push(audio[i:i + n]))
        i += n
    parts.append(animator.flush())
    return parts


@pytest.mark.parametrize("sample_rate, fps, lookahead_ms", [
    (16000, 30, 100), (44100, 25, 0), (8000, "30000/1001", 200), (22050, 60, 40), (48000, 24, 20),
])
def test_streaming_equals_offline_for_random_chunkings(model, sample_rate, fps, lookahead_ms):
    audio = speech_like(2.3, sample_rate)
    offline = animate(model, audio, sample_rate, fps, lookahead_ms)
    for seed in range(2):
        parts = stream(model, audio, sample_rate, fps, lookahead_ms, np.random.default_rng(seed))
        starts = np.cumsum([0] + [len(p.blendshapes) for p in parts])[:-1]
        assert [p.start_frame for p in parts] == list(starts)
        weights = np.concatenate([p.blendshapes for p in parts])
        pose = np.concatenate([p.pose for p in parts])
        assert weights.shape == offline.blendshapes.shape
        assert np.abs(weights - offline.blendshapes).max() < 1e-3
        assert np.abs(pose - offline.pose).max() < 1e-3


@pytest.mark.parametrize("n, sample_rate, fps", [(16000, 16000, 30), (12345, 44100, 25), (7, 8000, 60), (999, 22050, Fraction(30000, 1001))])
def test_frame_count_is_the_clocks(model, n, sample_rate, fps):
    coefficients = animate(model, speech_like(1.0, sample_rate)[:n], sample_rate, fps, 40)
    assert len(coefficients.blendshapes) == -(-n * Fraction(fps) // sample_rate)
    assert coefficients.fps == Fraction(fps)


def test_lookahead_is_bounded(model):
    """Changing audio after time t leaves every frame well before t unchanged."""
    sample_rate, fps, lookahead_ms = 16000, 30, 100
    audio = speech_like(3.0, sample_rate)
    changed = audio.copy()
    cut = 2.0
    changed[int(cut * sample_rate):] = np.random.default_rng(9).standard_normal(len(audio) - int(cut * sample_rate)) * 0.3
    a = animate(model, audio, sample_rate, fps, lookahead_ms).blendshapes
    b = animate(model, changed, sample_rate, fps, lookahead_ms).blendshapes
    # a frame's midpoint + look-ahead + mel half-window + resampler reach + one step of interpolation
    safe = int((cut - 0.1 - 0.0125 - 0.01 - 0.02 - 0.01) * fps - 0.5)
    assert np.abs(a[:safe] - b[:safe]).max() == 0.0
    assert np.abs(a[safe + 6:] - b[safe + 6:]).max() > 0.0


def test_frames_covered_needs_the_step_after_the_midpoint():
    assert frames_covered(1, Fraction(30)) == 0
    # two steps: at 0.01 and 0.03 s; 30 fps midpoints 1/60 = 0.0167 (covered), 0.05 (not)
    assert frames_covered(2, Fraction(30)) == 1
    values = np.arange(4, dtype=np.float32)[:, None]
    # step s is at 0.01 + 0.02 s: the 50 fps midpoints are the steps themselves
    assert np.allclose(sample_steps(values, range(4), Fraction(50))[:, 0], [0, 1, 2, 3])


def test_save_and_load_round_trip(model, tmp_path):
    path = tmp_path / "a2m.pt"
    save_model(model, path)
    loaded = load_model(path)
    audio = speech_like(1.0, 16000)
    a = animate(model, audio, 16000, 30, 40).blendshapes
    b = animate(loaded, audio, 16000, 30, 40).blendshapes
    assert loaded.config == model.config
    assert np.abs(a - b).max() < 5e-3  # float16 storage


@pytest.mark.parametrize("audio, message", [
    (np.zeros(0, np.float32), "empty"),
    (np.array([0.0, np.nan], np.float32), "NaN"),
    (np.zeros((2, 3, 4), np.float32), "shape"),
])
def test_bad_audio_is_refused(model, audio, message):
    with pytest.raises(ValueError, match=message):
        animate(model, audio, 16000)


@pytest.mark.parametrize("lookahead_ms", [-20, 30, 220])
def test_bad_lookahead_is_refused(model, lookahead_ms):
    with pytest.raises(ValueError, match="look-ahead"):
        StreamingAnimator(model, 16000, 30, lookahead_ms)


def test_stereo_and_int16_are_accepted(model):
    mono = speech_like(0.5, 16000)
    stereo = np.stack([mono, mono], 1)
    as_int16 = (mono * 32767).astype(np.int16)
    a = animate(model, mono, 16000).blendshapes
    assert np.abs(animate(model, stereo, 16000).blendshapes - a).max() < 1e-6
    assert np.abs(animate(model, as_int16, 16000).blendshapes - a).max() < 1e-3


def test_push_after_flush_is_refused(model):
    animator = StreamingAnimator(model, 16000)
    animator.push(speech_like(0.2, 16000))
    animator.flush()
    with pytest.raises(ValueError, match="after flush"):
        animator.push(np.zeros(10, np.float32))


def test_missing_weights_file_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no audio2motion weights"):
        load_model(tmp_path / "nothing.pt")


def test_stream_state_keeps_fixed_shapes(model):
    """The state a chunk returns has the initial state's shapes whatever the chunk length (ONNX carries it)."""
    mel = torch.randn(1, 2 * 60, SMALL.n_mels)
    expected = model.initial_state(1)
    shapes = lambda s: [s.mel_history.shape, s.step_history.shape, *(k.shape for k in s.keys + s.values)]
    state, done = None, 0
    for steps in (1, 2, 30, 7, 20):
        _, state = model(mel[:, 2 * done:2 * (done + steps)], state)
        done += steps
        assert shapes(state) == shapes(expected)
        assert int(state.steps_done) == done


def test_padded_initial_state_computes_the_same_as_no_state(model):
    mel = torch.randn(2, 2 * 25, SMALL.n_mels) - 4.0
    with torch.inference_mode():
        a, _ = model(mel)
        b, _ = model(mel, model.initial_state(2))
    assert torch.abs(a - b).max() < 1e-5


def test_running_mean_counts_only_real_frames():
    mel = torch.randn(1, 12, 3) + 5.0
    padded = torch.zeros(1, 9, 3)
    plain = running_mean(mel, torch.zeros(1, 0, 3), 10)
    assert torch.allclose(running_mean(mel, padded, 10, frames_before=0), plain)
    assert torch.allclose(plain[:, 0], mel[:, 0])  # the first frame's mean is itself, not diluted by padding
    assert torch.allclose(plain[:, 11], mel[:, 2:12].mean(1), atol=1e-6)
    history = torch.cat([torch.zeros(1, 5, 3), mel[:, :4]], 1)  # 4 real frames behind 5 padded ones
    assert torch.allclose(running_mean(mel[:, 4:], history, 10, frames_before=4), plain[:, 4:], atol=1e-6)


@pytest.mark.parametrize("sample_rate", [16000, 44100])
def test_offline_blocks_do_not_change_the_output(model, monkeypatch, sample_rate):
    """Long files go through the front end and the network in blocks (bounded memory)."""
    audio = speech_like(2.3, sample_rate)
    whole = animate(model, audio, sample_rate, 30, 100)
    monkeypatch.setattr("talkinghead.audio2motion.animate.OFFLINE_BLOCK_STEPS", 7)
    blocks = animate(model, audio, sample_rate, 30, 100)
    assert np.abs(blocks.blendshapes - whole.blendshapes).max() < 1e-5
    assert np.abs(blocks.pose - whole.pose).max() < 1e-5
