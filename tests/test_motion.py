"""The motion layer: silence gate, intensity/idle, blinks, head motion, streaming == offline."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest

from talkinghead.audio2motion.motion import (
    BLINK_SHAPES,
    MOUTH_SHAPES,
    BlinkConfig,
    HeadConfig,
    MotionConfig,
    MotionLayer,
    SilenceConfig,
    apply_motion,
)
from talkinghead.contracts.arkit import ARKIT_INDEX, ARKIT_NAMES
from talkinghead.contracts.clock import FrameClock
from talkinghead.contracts.coefficients import Coefficients

JAW = ARKIT_INDEX["jawOpen"]
MOUTH = [ARKIT_INDEX[n] for n in MOUTH_SHAPES]
BLINK = [ARKIT_INDEX[n] for n in BLINK_SHAPES]
OTHER = [i for i, n in enumerate(ARKIT_NAMES) if n not in MOUTH_SHAPES + BLINK_SHAPES]
NO_HEAD = HeadConfig(scale=0.0)
NO_BLINK = BlinkConfig(enabled=False)


def noise(seconds: float, sr: int, level: float, rng: np.random.Generator) -> np.ndarray:
    return (level * rng.standard_normal(round(seconds * sr))).astype(np.float32)


def speechlike(seconds: float, sr: int, rng: np.random.Generator, level: float = 0.1) -> np.ndarray:
    """Noise at ``level`` with a 30 ms dip (40 dB down, like a stop closure) every 250 ms.

    Real speech dips like this within any second or so, which is what lets the
    VAD's minimum-tracking floor tell it from stationary noise.
    """
    t = np.arange(round(seconds * sr)) / sr
    envelope = np.where((t % 0.25) < 0.22, 1.0, 0.01)
    return (noise(seconds, sr, level, rng) * envelope).astype(np.float32)


def speech_then_silence(sr: int, speech_s: float, silence_s: float, seed: int = 0) -> np.ndarray:
    """A loud noise burst (the 'speech') over a -60 dBFS noise floor, then the floor alone."""
    rng = np.random.default_rng(seed)
    n = round(speech_s * sr)
    total = n + round(silence_s * sr)
    audio = noise(total / sr, sr, 0.001, rng)
    audio[:n] += speechlike(n / sr, sr, rng)
    return audio


def mouth_input(frames: int, fps=30, start: int = 0, seed: int = 0) -> Coefficients:
    """jawOpen 0.6 throughout, other shapes random, a random pose."""
    rng = np.random.default_rng(seed)
    weights = rng.uniform(0.0, 0.5, (frames, 52)).astype(np.float32)
    weights[:, JAW] = 0.6
    return Coefficients(weights, rng.normal(0, 0.05, (frames, 6)), fps, start)


def midpoints(c: Coefficients) -> np.ndarray:
    return c.times() + 0.5 / float(c.fps)


def run(audio, sr, fps, config: MotionConfig, seed=0) -> tuple[Coefficients, Coefficients]:
    inp = mouth_input(FrameClock(sr, Fraction(fps)).frames_for(len(audio)), fps)
    return inp, apply_motion(inp, audio, sr, config, seed)


# ------------------------------------------------------------------ silence
@pytest.mark.parametrize(
    ("sr", "fps"), [(16000, 30), (44100, 25), (22050, Fraction(30000, 1001)), (48000, 60)]
)
def test_silence_closes_mouth_within_100ms_and_keeps_it_closed(sr, fps):
    config = MotionConfig(blink=NO_BLINK, head=NO_HEAD)
    for speech_s in [*np.linspace(1.0, 1.01, 6), 1.2161]:  # every phase against blocks and frames
        audio = speech_then_silence(sr, speech_s, 2.0)
        inp, out = run(audio, sr, fps, config)
        mid = midpoints(out)
        after = mid >= speech_s + 0.1
        assert np.all(out.blendshapes[after][:, MOUTH] == 0.0), speech_s
        speaking = (mid >= 0.05) & (mid <= speech_s)
        assert np.array_equal(
            out.blendshapes[speaking][:, MOUTH], inp.blendshapes[speaking][:, MOUTH]
        )
        # No snap shut: some frame between the end of speech and +100 ms is partly open.
        closing = (mid > speech_s) & ~after & (out.blendshapes[:, JAW] > 0)
        assert closing.any() or fps == 25


def test_digital_silence_closes_too_and_a_pause_between_words_does_not():
    sr, rng = 16000, np.random.default_rng(1)
    word = speechlike(0.4, sr, rng)
    gap = np.zeros(int(0.03 * sr), np.float32)  # a 30 ms stop closure
    audio = np.concatenate([word, gap, word, np.zeros(sr, np.float32)])
    inp, out = run(audio, sr, 30, MotionConfig(blink=NO_BLINK, head=NO_HEAD))
    mid = midpoints(out)
    talking = (mid >= 0.05) & (mid <= 0.83)
    assert np.array_equal(out.blendshapes[talking, JAW], inp.blendshapes[talking, JAW])
    assert np.all(out.blendshapes[mid >= 0.83 + 0.1][:, MOUTH] == 0.0)


def test_mouth_comes_back_when_speech_resumes():
    sr, rng = 16000, np.random.default_rng(2)
    audio = np.concatenate(
        [speechlike(0.8, sr, rng), noise(1.0, sr, 0.001, rng), speechlike(0.8, sr, rng)]
    )
    inp, out = run(audio, sr, 30, MotionConfig(blink=NO_BLINK, head=NO_HEAD))
    mid = midpoints(out)
    assert np.all(out.blendshapes[(mid >= 0.9) & (mid < 1.8), JAW] == 0.0)
    back = (mid >= 1.8 + 0.05) & (mid <= 2.6)
    assert np.array_equal(out.blendshapes[back][:, MOUTH], inp.blendshapes[back][:, MOUTH])


def test_speech_from_the_first_sample_is_not_taken_for_noise():
    sr = 16000
    audio = speechlike(3.0, sr, np.random.default_rng(3))
    inp, out = run(audio, sr, 30, MotionConfig(blink=NO_BLINK, head=NO_HEAD))
    assert np.array_equal(out.blendshapes[2:, JAW], inp.blendshapes[2:, JAW])


def test_the_floor_adapts_to_a_steady_noise_that_starts_mid_file():
    sr, rng = 16000, np.random.default_rng(8)
    hum = noise(6.0, sr, 0.03, rng)  # a fan at -30 dBFS, from 1 s to 7 s
    audio = np.concatenate([speechlike(1.0, sr, rng), hum, np.zeros(sr, np.float32)])
    audio[6 * sr : 7 * sr] += speechlike(1.0, sr, rng, level=0.3)  # talking over the fan
    inp, out = run(audio, sr, 30, MotionConfig(blink=NO_BLINK, head=NO_HEAD))
    mid = midpoints(out)
    assert np.all(out.blendshapes[(mid >= 3.0) & (mid < 6.0), JAW] == 0.0)
    talking = (mid >= 6.05) & (mid < 7.0)
    assert np.array_equal(out.blendshapes[talking, JAW], inp.blendshapes[talking, JAW])
    assert np.all(out.blendshapes[mid >= 7.1, JAW] == 0.0)


# ------------------------------------------------------------ intensity, idle
def test_intensity_scales_mouth_shapes_only():
    sr = 16000
    audio = speechlike(2.0, sr, np.random.default_rng(4))
    inp, full = run(audio, sr, 30, MotionConfig())
    _, half = run(audio, sr, 30, MotionConfig(intensity=0.5))
    _, double = run(audio, sr, 30, MotionConfig(intensity=2.0))
    speaking = slice(3, None)
    np.testing.assert_allclose(
        half.blendshapes[speaking][:, MOUTH], 0.5 * inp.blendshapes[speaking][:, MOUTH], rtol=1e-6
    )
    np.testing.assert_allclose(
        double.blendshapes[speaking][:, MOUTH],
        np.minimum(1.0, 2.0 * inp.blendshapes[speaking][:, MOUTH]),
        rtol=1e-6,
    )
    assert double.blendshapes[speaking, JAW].max() == 1.0  # 1.2 clipped
    for other in (half, double):
        keep = BLINK + OTHER
        assert np.array_equal(other.blendshapes[:, keep], full.blendshapes[:, keep])
        assert np.array_equal(other.pose, full.pose)
    assert np.array_equal(full.blendshapes[:, OTHER], inp.blendshapes[:, OTHER])


def test_idle_style_closes_the_mouth_and_keeps_blinking_and_moving():
    sr = 16000
    audio = speechlike(12.0, sr, np.random.default_rng(5))
    inp, out = run(audio, sr, 30, MotionConfig(style="idle"))
    assert np.all(out.blendshapes[:, MOUTH] == 0.0)
    assert out.blendshapes[:, BLINK].max() == 1.0
    assert np.abs(out.pose - inp.pose).max() > np.radians(0.5)
    assert np.array_equal(out.blendshapes[:, OTHER], inp.blendshapes[:, OTHER])


# ------------------------------------------------------------------ blinks
def blink_onsets(c: Coefficients) -> np.ndarray:
    b = c.blendshapes[:, ARKIT_INDEX["eyeBlinkLeft"]]
    rise = (b > 0) & (np.concatenate([[0.0], b[:-1]]) == 0)
    return c.times()[rise]


def silent_input(seconds: float, fps, sr: int = 16000) -> tuple[Coefficients, np.ndarray]:
    audio = np.zeros(round(seconds * sr), np.float32)
    return Coefficients.zeros(FrameClock(sr, Fraction(fps)).frames_for(len(audio)), fps), audio


def test_blink_intervals_and_rate():
    inp, audio = silent_input(60.0, 30)
    cfg = MotionConfig(blink=BlinkConfig(double_probability=0.0))
    counts = []
    for seed in range(5):
        out = apply_motion(inp, audio, 16000, cfg, seed)
        onsets = blink_onsets(out)
        gaps = np.diff(np.concatenate([[0.0], onsets]))
        assert gaps.min() >= 2.0 - 1 / 30 and gaps.max() <= 5.0 + 1 / 30
        counts.append(len(onsets))
        assert np.array_equal(out.blendshapes[:, BLINK[0]], out.blendshapes[:, BLINK[1]])
    assert 12 <= min(counts) and max(counts) <= 30
    assert 14 <= np.mean(counts) <= 22  # 60 s / 3.5 s mean interval ~ 17


def test_double_blinks_happen_and_still_keep_the_interval():
    inp, audio = silent_input(300.0, 30)
    onsets = blink_onsets(apply_motion(inp, audio, 16000, MotionConfig(), seed=7))
    gaps = np.diff(onsets)
    doubles = gaps < 0.5
    assert 0.03 <= doubles.mean() <= 0.25  # probability 0.1 per blink
    primaries = np.concatenate([[onsets[0]], onsets[1:][~doubles]])
    assert np.diff(primaries).min() >= 2.0 - 1 / 30 and np.diff(primaries).max() <= 5.0 + 1 / 30


def test_blink_shape_fast_close_slower_open_about_150ms():
    inp, audio = silent_input(6.0, 1000)
    out = apply_motion(inp, audio, 16000, MotionConfig(blink=BlinkConfig(double_probability=0.0)))
    b = out.blendshapes[:, BLINK[0]]
    on = np.flatnonzero(b > 0)
    first = on[: np.argmax(np.diff(on) > 1)] if (np.diff(on) > 1).any() else on
    duration = (first[-1] - first[0] + 1) / 1000
    peak = first[0] + np.argmax(b[first])
    assert 0.14 <= duration <= 0.16
    assert (peak - first[0]) / 1000 < (first[-1] - peak) / 1000  # close faster than open
    assert b[peak] == 1.0


@pytest.mark.parametrize("fps", [24, 25, 30, Fraction(30000, 1001)])
def test_every_blink_closes_fully_at_video_rates(fps):
    inp, audio = silent_input(30.0, fps)
    b = apply_motion(inp, audio, 16000, MotionConfig(), seed=3).blendshapes[:, BLINK[0]]
    runs = [list(g) for k, g in itertools.groupby(b, key=lambda v: v > 0) if k]
    assert len(runs) >= 6
    assert all(max(r) == 1.0 and len(r) <= 6 for r in runs)


# ------------------------------------------------------------- head motion
def test_head_motion_bounds_and_smoothness():
    head = HeadConfig()
    amp = np.array([*np.radians(head.rotation_deg), *head.translation])
    breath = np.array([np.radians(head.breath_pitch_deg), 0, 0, 0, head.breath_ty, 0])
    sr, fps = 16000, 30
    rng = np.random.default_rng(6)
    speech = np.concatenate(
        [speechlike(20, sr, rng), noise(20, sr, 0.001, rng), speechlike(20, sr, rng)]
    )
    silence = noise(60, sr, 0.001, rng)
    zero = Coefficients.zeros(FrameClock(sr, fps).frames_for(len(speech)), fps)
    for audio, boost in ((silence, 1.0), (speech, 1.0 + head.speech_boost)):
        pose = apply_motion(zero, audio, sr, MotionConfig(blink=NO_BLINK)).pose.astype(np.float64)
        peak = np.abs(pose).max(0)
        assert np.all(peak <= amp * boost + breath + 1e-6)
        assert np.all(peak >= 0.3 * amp)  # it does move, on every axis
        assert np.degrees(peak[:3]).max() >= 1.0
        second = np.abs(np.diff(pose, 2, axis=0)).max(0)
        assert np.all(second[:3] < 1e-3) and np.all(second[3:] < 1e-3)
    quiet = apply_motion(zero, silence, sr, MotionConfig(blink=NO_BLINK)).pose[:, 1]
    loud = apply_motion(zero, speech, sr, MotionConfig(blink=NO_BLINK)).pose[:, 1]
    assert np.all(np.abs(loud) >= np.abs(quiet) - 1e-7)  # yaw: same curve, larger while speaking
    assert np.abs(loud[300:600]).max() > 1.2 * np.abs(quiet[300:600]).max()


def test_head_motion_off_leaves_pose_untouched():
    audio = speech_then_silence(16000, 1.0, 1.0)
    inp, out = run(audio, 16000, 30, MotionConfig(head=NO_HEAD))
    assert np.array_equal(out.pose, inp.pose)


# ------------------------------------------------------------ determinism
def test_seeded_determinism_and_seeds_differ():
    audio = speech_then_silence(16000, 4.0, 8.0)
    a = run(audio, 16000, 30, MotionConfig(), seed=11)[1]
    assert a == run(audio, 16000, 30, MotionConfig(), seed=11)[1]
    b = run(audio, 16000, 30, MotionConfig(), seed=12)[1]
    assert not np.array_equal(a.pose, b.pose)
    assert not np.array_equal(a.blendshapes[:, BLINK], b.blendshapes[:, BLINK])
    assert np.array_equal(a.blendshapes[:, MOUTH], b.blendshapes[:, MOUTH])  # seeds touch no VAD


@pytest.mark.parametrize(
    ("sr", "fps"), [(16000, 30), (22050, Fraction(30000, 1001)), (44100, 25), (8000, 60)]
)
def test_streaming_equals_offline_for_any_chunking(sr, fps):
    rng = np.random.default_rng(sr)
    audio = np.concatenate(
        [
            speech_then_silence(sr, 0.7, 0.6, 1),
            speech_then_silence(sr, 1.3, 0.9, 2),
            speechlike(0.5, sr, rng),
        ]
    )
    if sr == 8000:
        audio = (audio * 32767).astype(np.int16)  # int16 PCM is read as the animator reads it
    frames = FrameClock(sr, Fraction(fps)).frames_for(len(audio))
    coeffs = mouth_input(frames, fps)
    offline = apply_motion(coeffs, audio, sr, seed=5)
    for trial in range(4):
        layer = MotionLayer(sr, fps, seed=5)
        cuts = np.sort(rng.choice(np.arange(1, frames), size=rng.integers(1, 40), replace=False))
        pending = [coeffs[a:b] for a, b in itertools.pairwise([0, *cuts.tolist(), frames])]
        out, pos = [], 0
        while pos < len(audio):
            step = int(rng.integers(1, 4000)) if trial else int(rng.integers(1, 60))
            layer.push_audio(audio[pos : pos + step])
            pos += step
            while pending and layer.can_apply(pending[0].end_frame):
                out.append(layer.apply(pending.pop(0)))
        layer.end_audio()
        out.extend(layer.apply(chunk) for chunk in pending)
        assert Coefficients.concat(out) == offline


@pytest.mark.parametrize(("sr", "fps"), [(16000, 30), (44100, 25), (16000, 60)])
def test_every_frame_the_animator_emits_can_be_applied_at_once(sr, fps):
    torch = pytest.importorskip("torch")
    from talkinghead.audio2motion.animate import StreamingAnimator
    from talkinghead.audio2motion.model import Audio2Motion, ModelConfig

    torch.manual_seed(0)
    model = Audio2Motion(ModelConfig(dim=32, layers=1, heads=2, ff_mult=1, context_steps=16))
    animator = StreamingAnimator(model, sr, fps, lookahead_ms=0)
    layer = MotionLayer(sr, fps)
    audio = speech_then_silence(sr, 0.6, 0.3)
    rng = np.random.default_rng(0)
    pos, applied = 0, 0
    while pos < len(audio):
        chunk = audio[pos : pos + int(rng.integers(1, sr // 20))]
        pos += len(chunk)
        layer.push_audio(chunk)
        frames = animator.push(chunk)
        assert layer.can_apply(frames.end_frame)
        applied += len(layer.apply(frames))
    assert applied > 0


# --------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "make",
    [
        lambda: MotionConfig(intensity=-0.1),
        lambda: MotionConfig(intensity=float("nan")),
        lambda: MotionConfig(style="dance"),
        lambda: MotionConfig(blink=BlinkConfig(interval_s=(5.0, 2.0))),
        lambda: MotionConfig(blink=BlinkConfig(close_ms=0.0)),
        lambda: MotionConfig(blink=BlinkConfig(double_probability=1.5)),
        lambda: MotionConfig(head=HeadConfig(scale=-1.0)),
        lambda: MotionConfig(head=HeadConfig(rotation_deg=(1.0, 2.0))),
        lambda: MotionConfig(silence=SilenceConfig(hangover_ms=70, release_ms=40)),
        lambda: MotionConfig(silence=SilenceConfig(hangover_ms=15)),
        lambda: MotionConfig(silence=SilenceConfig(on_db=6.0, off_db=9.0)),
        lambda: MotionConfig(blink="yes"),
        lambda: MotionLayer(0, 30),
        lambda: MotionLayer(16000, 29.97),
        lambda: MotionLayer(16000, 30, seed=-1),
        lambda: MotionLayer(16000, 30).push_audio(np.zeros((2, 3, 4))),
        lambda: MotionLayer(16000, 30).push_audio(np.array([0.0, np.nan])),
    ],
)
def test_bad_values_are_value_errors(make):
    with pytest.raises(ValueError):
        make()


def test_bad_calls_are_value_errors():
    layer = MotionLayer(16000, 30)
    layer.push_audio(np.zeros(16000, np.float32))
    with pytest.raises(ValueError, match="needs caller audio"):
        layer.apply(Coefficients.zeros(40, 30))
    with pytest.raises(ValueError, match="fps"):
        layer.apply(Coefficients.zeros(3, 25))
    layer.apply(Coefficients.zeros(10, 30))
    with pytest.raises(ValueError, match="in order"):
        layer.apply(Coefficients.zeros(3, 30, start_frame=5))
    layer.end_audio()
    assert len(layer.apply(Coefficients.zeros(60, 30, start_frame=10))) == 60  # padded with silence
    with pytest.raises(ValueError, match="after end_audio"):
        layer.push_audio(np.zeros(10, np.float32))


# ---------------------------------------------------------------- real data
def test_vad_silence_agrees_with_labelled_pauses(data_root):
    from talkinghead.contracts.audio_io import load_audio
    from talkinghead.evaluation.labels import available_clips

    clips = available_clips(data_root, ("speech/intro_en",))
    if not clips:
        pytest.skip("speech/intro_en labels not found")
    clip = clips[0]
    audio, sr = load_audio(clip.audio)
    _, out = run(audio, sr, 30, MotionConfig(blink=NO_BLINK, head=NO_HEAD))
    closed = out.blendshapes[:, JAW] == 0.0
    labels = clip.labels[: len(closed)]
    silent = labels == "SIL"
    in_long_pause, settled = np.zeros_like(silent), np.zeros_like(silent)
    start = 0
    for is_sil, run_ in itertools.groupby(silent):
        n = len(list(run_))
        if is_sil and n / 30 > 0.2:
            in_long_pause[start : start + n] = True
            settled[start + 3 : start + n] = True  # past the 100 ms the gate may take to close
        start += n
    agreement = closed[in_long_pause].mean()
    settled_agreement = closed[settled].mean()
    false_close = closed[~silent].mean()
    print(
        f"intro_en: long pauses closed {agreement:.3f} (after 100 ms {settled_agreement:.3f}), "
        f"speech frames closed {false_close:.3f}"
    )
    assert in_long_pause.sum() >= 60
    assert settled_agreement >= 0.95
    assert agreement >= 0.85
    assert false_close <= 0.05


# ------------------------------------------------------------ anticipation
def test_anticipation_opens_earlier_and_closes_at_the_same_time():
    sr = 16000
    rng = np.random.default_rng(4)
    audio = np.concatenate([noise(1.0, sr, 0.001, rng), speech_then_silence(sr, 0.8, 0.8, 3)])
    gated = {}
    for ms in (0, 100):
        config = MotionConfig(blink=NO_BLINK, head=NO_HEAD, silence=SilenceConfig(anticipation_ms=ms))
        _, out = run(audio, sr, 100, config)
        gated[ms] = out.blendshapes[:, JAW] > 0
    first = {ms: int(np.argmax(open_)) for ms, open_ in gated.items()}
    last = {ms: len(open_) - int(np.argmax(open_[::-1])) for ms, open_ in gated.items()}
    assert first[0] - first[100] == 10  # 100 ms earlier at 100 fps
    assert last[0] == last[100]


def test_anticipation_needs_that_much_more_audio_and_streams_like_offline():
    sr, fps = 16000, 30
    audio = speech_then_silence(sr, 0.7, 0.6, 1)
    config = MotionConfig(silence=SilenceConfig(anticipation_ms=100))
    plain, ahead = MotionLayer(sr, fps), MotionLayer(sr, fps, config)
    for layer in (plain, ahead):
        layer.push_audio(audio[:sr // 2])
    frames = FrameClock(sr, Fraction(fps)).frames_for(sr // 2)
    assert plain.can_apply(frames - 1) and not ahead.can_apply(frames - 1)
    coeffs = mouth_input(FrameClock(sr, Fraction(fps)).frames_for(len(audio)), fps)
    offline = apply_motion(coeffs, audio, sr, config)
    layer, out, pos, done = MotionLayer(sr, fps, config), [], 0, 0
    while pos < len(audio):
        layer.push_audio(audio[pos:pos + 700])
        pos += 700
        end = done
        while end < len(coeffs) and layer.can_apply(end + 1):
            end += 1
        if end > done:
            out.append(layer.apply(coeffs[done:end]))
            done = end
    layer.end_audio()
    out.append(layer.apply(coeffs[done:]))
    assert Coefficients.concat(out) == offline
