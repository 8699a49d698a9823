"""Whisper ears: the encoder's time grid and windows, the model file's check, the network on Whisper
features, which ears made a result (coefficients, avatars) and the one-line errors around them."""

from fractions import Fraction

import numpy as np
import pytest
import torch

from talkinghead.audio2motion import ears as ears_module
from talkinghead.audio2motion.animate import StreamingAnimator, animate
from talkinghead.audio2motion.ears import choose_ears
from talkinghead.audio2motion.model import (
    WHISPER_DIM,
    Audio2Motion,
    ModelConfig,
    check_calibrated_on,
    model_identity,
    save_model,
)
from talkinghead.contracts.coefficients import Coefficients

TINY = ModelConfig.for_ears("whisper")
SMALL = ModelConfig(dim=32, layers=2, heads=2, context_steps=16, dropout=0.0, ears="whisper", norm_window=0)
needs_whisper = pytest.mark.skipif(not ears_module.whisper_installed(), reason="the `whisper` extra is not installed")


def speech_like(seconds: float, sample_rate: int = 16000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * sample_rate)
    envelope = (np.sin(np.arange(n) / sample_rate * 2 * np.pi * 3) > 0).astype(np.float32)
    return (rng.standard_normal(n) * 0.1 * envelope).astype(np.float32)


@pytest.fixture(scope="module")
def encoder():
    if not ears_module.whisper_installed():
        pytest.skip("the `whisper` extra is not installed")
    from talkinghead.audio2motion.whisper import shared_encoder

    return shared_encoder()


def test_config_for_whisper_ears():
    assert TINY.ears == "whisper" and TINY.frames_per_step == 1 and TINY.feature_dim == WHISPER_DIM
    assert TINY.norm_window == 0 and TINY.silence == 0.0
    with pytest.raises(ValueError, match="ears must be one of"):
        ModelConfig(ears="wav2vec")


def test_whisper_ears_network_streams_as_it_runs_whole():
    torch.manual_seed(0)
    model = Audio2Motion(SMALL).eval()
    features = torch.randn(1, 60, WHISPER_DIM)
    with torch.no_grad():
        whole, _ = model(features)
        first, state = model(features[:, :23])
        second, _ = model(features[:, 23:], state)
    assert whole.shape == (1, 60, SMALL.max_lookahead_steps + 1, SMALL.head_width)
    assert torch.allclose(torch.cat([first, second], 1), whole, atol=1e-5)


@needs_whisper
def test_log_mel_is_whispers_own():
    from talkinghead.audio2motion.whisper import whisper_log_mel

    mel = whisper_log_mel(speech_like(1.0))
    assert mel.shape == (80, 100)
    # Whisper clamps at 8 (log10 units) below the window's peak, then maps x -> (x + 4) / 4
    assert mel.max() - mel.min() <= 2.0 + 1e-6


@needs_whisper
def test_frames_lie_on_the_global_20ms_grid(encoder):
    from talkinghead.audio2motion.whisper import Windowing, step_features, steps_for

    audio = speech_like(3.3)
    frames = encoder.frames(audio, Windowing(30.0, 20.0))
    assert frames.shape == (steps_for(len(audio)) + 1, WHISPER_DIM) and steps_for(len(audio)) == 165
    assert step_features(frames).shape == (165, WHISPER_DIM)
    # one window holding the whole (padded) signal is exactly the encoder on it
    padded = np.pad(audio, (0, len(frames) * 320 - len(audio)))
    assert np.allclose(frames, encoder.encode(padded), atol=1e-5)


@needs_whisper
def test_each_frame_comes_from_the_window_whose_centre_is_nearest(encoder):
    from talkinghead.audio2motion.whisper import Windowing

    audio = speech_like(5.0)
    windowing = Windowing(2.0, 1.0)  # windows [0, 2), [1, 3), ... s; centres 1, 2, 3 ... s
    frames = encoder.frames(audio, windowing)
    second = encoder.encode(audio[16000:48000])  # the window [1, 3) s: frames 50..149
    # frames 75..124 (1.5 s to 2.5 s) are nearest its centre at 2 s
    assert np.allclose(frames[75:125], second[25:75], atol=1e-5)
    assert not np.allclose(frames[74], second[24], atol=1e-3)


@needs_whisper
def test_encoder_windows_must_be_whole_frames(encoder):
    with pytest.raises(ValueError, match="whole 20 ms frames"):
        encoder.encode(np.zeros(1000, np.float32))


def test_windowing_is_checked():
    from talkinghead.audio2motion.whisper import Windowing

    with pytest.raises(ValueError, match="multiple of 20 ms"):
        Windowing(1.01, 0.5)
    with pytest.raises(ValueError, match="leaves gaps"):
        Windowing(1.0, 2.0)


def test_a_changed_model_file_is_refused(tmp_path):
    from talkinghead.audio2motion.whisper import WhisperUnavailable, _verified

    (tmp_path / "model.bin").write_bytes(b"not whisper")
    with pytest.raises(WhisperUnavailable, match="SHA-256"):
        _verified(tmp_path)


@needs_whisper
def test_animate_with_whisper_ears_records_them():
    torch.manual_seed(0)
    model = Audio2Motion(SMALL).eval()
    audio = speech_like(1.37, 22050)
    out = animate(model, audio, 22050, 25, 40)
    assert len(out) == 35  # ceil(1.37 * 25)
    assert out.source == "audio2motion:whisper"


def test_a_full_window_head_cannot_stream():
    model = Audio2Motion(SMALL).eval()
    with pytest.raises(ValueError, match="offline only"):
        StreamingAnimator(model, 16000, 25, 100)


LIVE = ModelConfig(dim=32, layers=2, heads=2, context_steps=16, dropout=0.0, ears="whisper", norm_window=0,
                   live_window=25, live_hop=2)


@needs_whisper
@pytest.mark.parametrize(("sample_rate", "fps", "lookahead_ms"), [(16000, 25, 0), (22050, 30, 100), (8000, 25, 40)])
def test_live_whisper_streams_as_the_same_windows_run_whole(sample_rate, fps, lookahead_ms):
    torch.manual_seed(0)
    model = Audio2Motion(LIVE).eval()
    audio = speech_like(2.3, sample_rate, seed=1)
    whole = animate(model, audio, sample_rate, fps, lookahead_ms)
    animator = StreamingAnimator(model, sample_rate, fps, lookahead_ms)
    rng, pieces, at = np.random.default_rng(sample_rate), [], 0
    while at < len(audio):
        step = int(rng.integers(1, 4000))
        pieces.append(animator.push(audio[at:at + step]))
        at += step
    pieces.append(animator.flush())
    streamed = Coefficients.concat(pieces)
    assert len(streamed) == len(whole) == -(-len(audio) * fps // sample_rate)
    assert np.abs(streamed.blendshapes - whole.blendshapes).max() < 1e-4
    assert streamed.source == "audio2motion:whisper"


@needs_whisper
@pytest.mark.parametrize("lookahead_ms", [0, 40, 100, 200])
@pytest.mark.parametrize(("sample_rate", "fps"), [(16000, 30), (22050, 25)])
def test_live_whisper_lookahead_is_bounded(sample_rate, fps, lookahead_ms):
    """Audio later than frame k's span end + L (windows, hop, step grid and resampler counted) leaves frames
    0..k bit-identical (and does change later ones)."""
    torch.manual_seed(0)
    model = Audio2Motion(LIVE).eval()
    audio = speech_like(2.0, sample_rate, seed=2)
    base = animate(model, audio, sample_rate, fps, lookahead_ms).blendshapes
    for k in (24, 25, 26):  # a whole period of the 30 fps frame grid on the 50 Hz step grid
        cut = -(-(k + 1) * sample_rate // fps) + lookahead_ms * sample_rate // 1000
        changed = audio.copy()
        changed[cut:] = speech_like(2.0, sample_rate, seed=3)[cut:]
        after = animate(model, changed, sample_rate, fps, lookahead_ms).blendshapes
        assert np.array_equal(base[:k + 1], after[:k + 1]), k
        assert not np.array_equal(base, after)


@needs_whisper
def test_live_whisper_lookahead_spends_its_budget():
    """The longest head within L, else head 0 read late: never more than 20 ms of L left unused."""
    from talkinghead.audio2motion.animate import live_reach, reading_for
    from talkinghead.audio2motion.whisper import LiveWindowing

    model = Audio2Motion(LIVE).eval()
    reach = live_reach(LIVE.live_hop, 16000, Fraction(30))
    assert reach == Fraction(3, 100) + Fraction(LIVE.live_hop, 50) - Fraction(1, 60)
    for lookahead_ms in range(0, 201, 20):
        reading = reading_for(model, lookahead_ms, 16000, Fraction(30))
        used = reach + Fraction(reading.head - reading.delay, 50)
        assert used <= Fraction(lookahead_ms, 1000) < used + Fraction(1, 50)
        assert reading.head == 0 or reading.delay == 0
    assert LiveWindowing(LIVE.live_window, LIVE.live_hop).lookahead_s() == pytest.approx(0.03 + 0.02 * (LIVE.live_hop - 1))


def test_coefficients_keep_their_source(tmp_path):
    zero = Coefficients.zeros(4, Fraction(25))
    c = Coefficients(zero.blendshapes, zero.pose, zero.fps, 0, "audio2motion:whisper")
    for name in ("c.npz", "c.json"):
        c.save(tmp_path / name)
        assert Coefficients.load(tmp_path / name).source == "audio2motion:whisper"
    assert c[1:3].source == "audio2motion:whisper"
    assert Coefficients.concat([c[:2], c[2:]]).source == "audio2motion:whisper"
    assert Coefficients.zeros(2, 25).source == ""


def test_identity_names_ears_and_weights(tmp_path):
    torch.manual_seed(0)
    model = Audio2Motion(SMALL).eval()
    identity = model_identity(model)
    assert identity.startswith("whisper:") and len(identity) == len("whisper:") + 12
    save_model(model, tmp_path / "a2m.pt")
    from talkinghead.audio2motion.model import load_model

    assert model_identity(load_model(tmp_path / "a2m.pt")) == identity  # as saved, so loading keeps it
    torch.manual_seed(1)
    assert model_identity(Audio2Motion(SMALL)) != identity


def test_calibration_mismatch_is_one_line():
    torch.manual_seed(0)
    model = Audio2Motion(SMALL).eval()
    check_calibrated_on(model, None)
    check_calibrated_on(model, "whisper")  # a bundle that recorded no digest: the ears must agree
    check_calibrated_on(model, model_identity(model))
    for other in ("mel", "mel:0123456789ab", "whisper:0123456789ab"):
        with pytest.raises(ValueError, match="was calibrated on audio2motion") as error:
            check_calibrated_on(model, other, "avatar x")
        assert "\n" not in str(error.value)


def test_auto_ears_fall_back_to_mel_with_a_notice(monkeypatch):
    said = []
    monkeypatch.setattr(ears_module, "whisper_installed", lambda: False)
    assert choose_ears("auto", said.append) == "mel" and len(said) == 1 and "whisper" in said[0]
    monkeypatch.setattr(ears_module, "whisper_installed", lambda: True)
    assert choose_ears("auto", said.append) == "whisper" and len(said) == 1
    assert choose_ears("mel") == "mel"
    with pytest.raises(ValueError, match="ears must be one of"):
        choose_ears("ears")


@needs_whisper
def test_corpus_sidecars_cover_every_step_in_order(tmp_path, encoder):
    from talkinghead.audio2motion.training.corpus import (
        Example,
        read_shard,
        shard_path,
        write_shard,
    )
    from talkinghead.audio2motion.training.whisper_corpus import (
        read_features,
        shard_features,
        write_features,
    )
    from talkinghead.audio2motion.whisper import LiveWindowing, Windowing

    rng = np.random.default_rng(0)
    steps = [30, 12, 51]
    examples = [Example(np.zeros((2 * n, 80), np.float32), np.zeros((n, 52), np.float32), np.zeros(n, int), {},
                        speech_like(n * 0.02 - 0.005, seed=int(rng.integers(100)))) for n in steps]
    write_shard(shard_path(tmp_path, 0), examples)
    write_features(tmp_path, encoder, Windowing(30.0, 20.0), progress=False)
    write_features(tmp_path, encoder, LiveWindowing(25, 2), progress=False)
    live = read_features(tmp_path, steps, name="whisper-live-25-2")
    assert [len(f) for f in live] == steps
    features = read_features(tmp_path, steps)
    assert [len(f) for f in features] == steps
    kept = read_shard(shard_path(tmp_path, 0), with_audio=True)  # the int16 audio the sidecar was made from
    joined = shard_features([e.audio for e in kept], steps, encoder, Windowing(30.0, 20.0))
    assert np.abs(np.concatenate(features) - joined).max() <= 1e-3 * np.abs(joined).max() + 1e-3  # float16
    with pytest.raises(ValueError, match="cover"):
        read_features(tmp_path, [30, 12, 50])


@needs_whisper
def test_a_batch_of_windows_encodes_as_each_alone(encoder):
    windows = [speech_like(0.6, seed=s) for s in range(3)]
    for batched, window in zip(encoder.encode_batch(windows), windows):
        assert np.abs(batched - encoder.encode(window)).max() < 1e-4
    with pytest.raises(ValueError, match="one length"):
        encoder.encode_batch([windows[0], windows[1][:3200]])


def test_the_shipped_live_head_shares_the_offline_heads_calibrations():
    """Avatars enrolled with Whisper ears (calibrated on the offline head) stream live with its live twin."""
    from talkinghead.audio2motion.model import load_model

    offline, live = load_model(ears="whisper"), load_model(ears="whisper", live=True)
    assert live.config.live_windowing is not None and offline.config.live_windowing is None
    assert live.config.calibrates_as == model_identity(offline) != model_identity(live)
    check_calibrated_on(live, model_identity(offline))
    check_calibrated_on(live, model_identity(live))
    with pytest.raises(ValueError, match="calibrated on audio2motion whisper:0123456789ab"):
        check_calibrated_on(live, "whisper:0123456789ab")
    with pytest.raises(ValueError, match="calibrated on"):
        check_calibrated_on(load_model(ears="mel"), model_identity(offline))
