"""The live session's frame clock: any chunking, flushes, stalls and interrupts keep exact frame accounting."""

from fractions import Fraction

import numpy as np
import pytest
import torch

from talkinghead.audio2motion.animate import animate
from talkinghead.audio2motion.model import Audio2Motion, ModelConfig
from talkinghead.audio2motion.motion import apply_motion
from talkinghead.contracts.clock import FrameClock
from talkinghead.streaming.session import MOUTH, SessionConfig, SessionCore

SMALL = ModelConfig(dim=32, layers=1, heads=2, context_steps=16, norm_window=40)
RATE = 16000


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return Audio2Motion(SMALL).eval()


def speechy(seconds: float, seed: int = 0) -> np.ndarray:
    """Bursts of noisy tone with pauses: something the silence gate opens and closes on."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    envelope = (np.sin(2 * np.pi * 1.3 * t) > -0.2).astype(np.float32)
    return (0.3 * envelope * np.sin(2 * np.pi * 180 * t) + 0.05 * envelope * rng.normal(size=t.size)).astype(np.float32)


def drain(core: SessionCore, most: int | None = None) -> list:
    """Take the ready frames (at most ``most``), as a consumer does."""
    taken = []
    while (most is None or len(taken) < most) and (frame := core.take()) is not None:
        taken.append(frame)
    return taken


def test_any_chunking_gives_the_offline_frames_with_sources_that_tile_the_audio(model):
    audio = speechy(2.0)
    config = SessionConfig(fps=Fraction(25))
    offline = apply_motion(animate(model, audio, RATE, config.fps, config.lookahead_ms), audio, RATE, config.motion)
    rng = np.random.default_rng(1)
    for _ in range(5):
        core = SessionCore(model, RATE, config)
        position = 0
        while position < len(audio):
            size = int(rng.integers(1, 3000))
            core.push(audio[position:position + size])
            core.feed(int(rng.integers(0, 4000)))
            position += size
        core.flush()
        frames = drain(core)
        expected = FrameClock(RATE, config.fps).frames_for(len(audio))
        assert [f.index for f in frames] == list(range(len(frames))) and len(frames) >= expected
        assert all(f.pts == Fraction(f.index) / config.fps for f in frames)
        sources = [f.source for f in frames[:expected]]
        assert sources[0][0] == 0 and sources[-1][1] == len(audio)
        assert all(a[1] == b[0] for a, b in zip(sources, sources[1:]))  # no gap, no overlap
        assert all(f.source is None for f in frames[expected:])  # the flush's silence
        weights = np.stack([f.blendshapes for f in frames[:expected - 3]])
        np.testing.assert_allclose(weights, offline.blendshapes[:expected - 3], atol=1e-5)  # the tail pads differently


def test_a_stall_gets_idle_frames_and_later_audio_continues_the_clock(model):
    core = SessionCore(model, RATE)
    idle = core.idle_until(10)
    assert [f.index for f in idle[:10]] == list(range(10)) and all(f.source is None for f in idle)
    audio = speechy(1.0)
    core.push(audio)
    core.flush()
    frames = drain(core)
    assert [f.index for f in frames] == list(range(len(frames)))
    real = [f.source for f in frames if f.source is not None]
    assert real[0][0] == 0 and real[-1][1] == len(audio)
    assert all(a[1] == b[0] for a, b in zip(real, real[1:]))
    first_speech = next(f.index for f in frames if f.source is not None)
    assert first_speech >= 10  # the audio was placed after the idle frames already shown


def test_interrupt_drops_queued_audio_fades_to_rest_and_keeps_numbering(model):
    config = SessionConfig(fade_frames=3)
    core = SessionCore(model, RATE, config)
    loud = np.tile(speechy(0.5), 6)  # 3 s of continuous bursts
    core.push(loud)
    core.feed(RATE)  # 1 s fed, 2 s still queued
    taken = [core.take() for _ in range(10)]
    next_index = core.interrupt()
    assert next_index == 10 and core.pending_samples == 0 and not core.ready
    after = core.idle_until(20)
    assert [f.index for f in after][:10] == list(range(10, 20))
    last = taken[-1]
    mouths = [last.blendshapes[MOUTH]] + [f.blendshapes[MOUTH] for f in after[:5]]
    assert np.abs(mouths[3]).max() == 0 and np.abs(mouths[5]).max() == 0  # at rest on the 3rd frame, and stays
    steps = [np.abs(b - a).max() for a, b in zip(mouths, mouths[1:4])]
    assert max(steps) <= np.abs(last.blendshapes[MOUTH]).max() / 3 + 1e-6  # in thirds: no jump
    assert all(f.source is None for f in after)  # nothing of the dropped audio is shown as speech


def test_random_operations_never_duplicate_or_skip_an_index(model):
    rng = np.random.default_rng(7)
    audio = speechy(6.0, seed=3)
    for trial in range(20):
        core = SessionCore(model, RATE, SessionConfig(fps=Fraction(30000, 1001) if trial % 2 else Fraction(25)))
        position, taken = 0, []
        for _ in range(40):
            action = rng.integers(0, 6)
            if action <= 2 and position < len(audio):
                size = int(rng.integers(1, 5000))
                core.push(audio[position:position + size])
                position += size
                core.feed(int(rng.integers(0, 6000)))
            elif action == 3:
                core.interrupt()
            elif action == 4:
                core.idle_until(core.next_index + int(rng.integers(0, 5)))
            else:
                core.flush()
            taken += drain(core, int(rng.integers(0, 50)) if rng.random() < 0.5 else None)
        core.end()
        taken += drain(core)
        assert core.next_index + core.dropped == FrameClock(RATE, core.config.fps).frames_for(core.stream_samples)
        indices = [f.index for f in taken]
        assert indices == list(range(len(indices)))
        sources = [f.source for f in taken if f.source is not None]
        assert all(a[1] <= b[0] for a, b in zip(sources, sources[1:]))  # in order, never overlapping
        assert all(0 <= s[0] < s[1] <= position for s in sources)


@pytest.mark.parametrize("rate, fps, lookahead", [(16000, Fraction(25), 0), (16000, Fraction(25), 100),
                                                   (44100, Fraction(30000, 1001), 40), (8000, Fraction(24), 60)])
def test_the_pacer_is_told_exactly_when_the_next_frame_can_be_final(model, rate, fps, lookahead):
    """``audio_short`` says, without running the network, how much more audio makes the next frame final."""
    rng = np.random.default_rng(lookahead)
    core = SessionCore(model, rate, SessionConfig(fps, lookahead))
    outcomes = []
    for _ in range(600):
        short = core.audio_short()
        size = int(rng.integers(1, rate // 200))
        core.push(rng.normal(0, 0.1, size).astype(np.float32))
        outcomes.append((size >= short, bool(core.feed())))
        drain(core)
    assert all(predicted == made for predicted, made in outcomes)
    assert sum(made for _, made in outcomes) > 25  # many frames, each predicted on the chunk that completed it


def test_bad_use_is_refused(model):
    core = SessionCore(model, RATE)
    core.end()
    with pytest.raises(ValueError, match="closed"):
        core.push(np.zeros(10, np.float32))
    with pytest.raises(ValueError, match="fade_frames"):
        SessionConfig(fade_frames=0)
