"""Silero speech gate: streamed equals whole, speech vs room noise, and the motion layer driven by it."""

import itertools
from fractions import Fraction

import numpy as np
import pytest

from talkinghead.audio2motion.motion import (
    MOUTH_SHAPES,
    MotionConfig,
    MotionLayer,
    SilenceConfig,
    apply_motion,
)
from talkinghead.audio2motion.speech_gate import silero_installed
from talkinghead.audio2motion.training.augment import pink_noise
from talkinghead.contracts.arkit import ARKIT_INDEX
from talkinghead.contracts.audio_io import load_audio
from talkinghead.contracts.clock import FrameClock
from talkinghead.contracts.coefficients import Coefficients
from talkinghead.contracts.resample import resample
from talkinghead.jobs.render import demo_audio

pytestmark = pytest.mark.skipif(not silero_installed(), reason="silero-vad (the `whisper` extra) is not installed")
SILERO = MotionConfig(silence=SilenceConfig(detector="silero"))
MOUTH = [ARKIT_INDEX[n] for n in MOUTH_SHAPES]


@pytest.fixture(scope="module")
def sentence() -> tuple[np.ndarray, int]:
    """The built-in demo sentence (festival speech), then 1.5 s of quiet pink room noise."""
    speech, rate = load_audio(demo_audio())
    room = 0.003 * pink_noise(int(1.5 * rate), np.random.default_rng(0)) / 0.05
    return np.concatenate([speech, room.astype(np.float32)]), rate


@pytest.mark.parametrize("rate", [16000, 44100, 8000])
def test_streamed_probabilities_equal_the_whole(sentence, rate):
    from talkinghead.audio2motion.speech_gate import SileroStream

    audio = resample(*sentence, rate)
    whole = SileroStream(rate).push(audio)
    rng, pieces, at = np.random.default_rng(rate), [], 0
    stream = SileroStream(rate)
    while at < len(audio):
        step = int(rng.integers(1, 5000))
        pieces += stream.push(audio[at:at + step])
        at += step
    assert pieces == whole and len(whole) == len(audio) * 16000 // rate // 512


def test_speech_is_heard_and_room_noise_is_not(sentence):
    from talkinghead.audio2motion.speech_gate import SileroStream

    audio, rate = sentence
    speech_seconds = len(audio) / rate - 1.5
    probability = np.array(SileroStream(rate).push(audio))
    chunk_end = (np.arange(len(probability)) + 1) * 512 / 16000
    assert np.mean(probability[chunk_end < speech_seconds] > 0.5) > 0.6
    assert np.all(probability[chunk_end > speech_seconds + 0.3] < 0.35)


def test_mouth_shuts_within_100ms_of_the_end_and_stays_shut(sentence):
    audio, rate = sentence
    fps = Fraction(30)
    frames = FrameClock(rate, fps).frames_for(len(audio))
    opened = Coefficients(np.full((frames, 52), 0.5, np.float32), np.zeros((frames, 6), np.float32), fps)
    out = apply_motion(opened, audio, rate, SILERO).blendshapes[:, MOUTH]
    end = len(audio) / rate - 1.5
    midpoints = (np.arange(frames) + 0.5) / 30
    # the festival sentence trails off quietly: measure from the last chunk Silero calls speech
    assert np.all(out[midpoints >= end + 0.1] == 0.0)
    assert out[midpoints < end - 0.2].max() > 0.4


def test_motion_layer_with_silero_streams_as_it_runs_whole(sentence):
    audio, rate = sentence
    fps = Fraction(25)
    frames = FrameClock(rate, fps).frames_for(len(audio))
    rng = np.random.default_rng(3)
    coefficients = Coefficients(rng.uniform(0, 0.5, (frames, 52)), rng.normal(0, 0.05, (frames, 6)), fps)
    whole = apply_motion(coefficients, audio, rate, SILERO, seed=2)
    layer = MotionLayer(rate, fps, SILERO, seed=2)
    cuts = np.sort(rng.choice(np.arange(1, frames), size=20, replace=False))
    pending = [coefficients[a:b] for a, b in itertools.pairwise([0, *cuts.tolist(), frames])]
    out, at = [], 0
    while at < len(audio):
        step = int(rng.integers(1, 3000))
        layer.push_audio(audio[at:at + step])
        at += step
        while pending and layer.can_apply(pending[0].end_frame):
            out.append(layer.apply(pending.pop(0)))
    layer.end_audio()
    out.extend(layer.apply(chunk) for chunk in pending)
    assert Coefficients.concat(out) == whole


def test_unknown_detector_is_refused():
    with pytest.raises(ValueError, match="detector"):
        SilenceConfig(detector="webrtc")
