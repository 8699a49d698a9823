"""The LiveKit Agents video generator under LiveKit's own AvatarRunner, in one process (extra ``livekit``).

No LiveKit server can run here, so the room is a stand-in with just what the runner calls on a connected
room; everything else is LiveKit's: the agent side's ``QueueAudioOutput``, the ``AvatarRunner``, its
``AVSynchronizer`` and the audio and video sources that pace playout. What the synchronizer receives is
recorded. These tests run in CI's numpy-2 environment, which has the extra; elsewhere they skip.
"""

import asyncio
import time
from fractions import Fraction

import numpy as np
import pytest

pytest.importorskip("livekit.agents", reason="needs the livekit extra (CI's numpy-2 environment)")

from livekit import rtc
from livekit.agents.voice.avatar import AvatarRunner, QueueAudioOutput

from talkinghead.contracts.audio_io import load_audio
from talkinghead.contracts.resample import resample
from talkinghead.jobs.render import demo_audio
from talkinghead.streaming.live import LiveConfig
from talkinghead.streaming.livekit_avatar import TalkingHeadVideoGenerator
from talkinghead.streaming.session import MOUTH

RATE = 24000
FPS = 25
PER_FRAME = RATE // FPS


class ConnectedRoom(rtc.EventEmitter):
    """Stands in for a connected ``rtc.Room``: what ``AvatarRunner`` calls on one, publishing nowhere."""

    def __init__(self) -> None:
        super().__init__()
        self.local_participant = self
        self.published: list[str] = []

    def isconnected(self) -> bool:
        return True

    async def publish_track(self, track, options):
        self.published.append(track.name)
        return self

    async def wait_for_subscription(self) -> None:
        return None


class Avatar:
    """The agent's audio output, the runner and the generator, with what the synchronizer received."""

    def __init__(self, engine, input_rate: int | None = RATE) -> None:
        self.generator = TalkingHeadVideoGenerator(engine, sample_rate=RATE, config=LiveConfig(fps=Fraction(FPS)))
        self.output = QueueAudioOutput(sample_rate=input_rate)
        self.room = ConnectedRoom()
        self.runner = AvatarRunner(self.room, audio_recv=self.output, video_gen=self.generator,
                                   options=self.generator.options)
        self.pushed: list[tuple[float, object, object]] = []  # (when, video or audio frame, face shown)
        sync = self.runner.av_sync
        original = sync.push

        async def record(frame, timestamp=None):
            self.pushed.append((time.monotonic(), frame, self.generator.shown))
            await original(frame, timestamp)

        sync.push = record

    async def __aenter__(self):
        await self.runner.start()
        return self

    async def __aexit__(self, *exc):
        await self.runner.aclose()
        await self.generator.aclose()

    async def say(self, pcm: np.ndarray, rate: int = RATE, channels: int = 1) -> None:
        """What the agent's TTS does: 20 ms frames at twice real time, then the end of the segment."""
        chunk = rate // 50 * channels
        start = time.monotonic()
        for offset in range(0, len(pcm), chunk):
            piece = pcm[offset:offset + chunk]
            await self.output.capture_frame(rtc.AudioFrame(piece.tobytes(), rate, channels, len(piece) // channels))
            await asyncio.sleep(max(0.0, start + (offset + chunk) / channels / rate / 2 - time.monotonic()))
        self.output.flush()

    def video(self) -> list[tuple[float, rtc.VideoFrame, object]]:
        return [(t, f, face) for t, f, face in self.pushed if isinstance(f, rtc.VideoFrame)]

    def audio(self) -> list[rtc.AudioFrame]:
        return [f for _, f, _ in self.pushed if isinstance(f, rtc.AudioFrame)]


@pytest.fixture(scope="module")
def speech():
    samples, rate = load_audio(demo_audio())
    return np.clip(np.round(resample(samples, rate, RATE) * 32768), -32768, 32767).astype("<i2")[: 3 * RATE]


def test_the_runner_plays_the_speech_with_the_face_that_shows_it_then_idles(engine, speech):
    async def main():
        async with Avatar(engine) as avatar:
            began = time.monotonic()
            await avatar.say(speech)
            finished = await asyncio.wait_for(avatar.output.wait_for_playout(), 10)
            played = time.monotonic()
            await asyncio.sleep(1.0)  # quiet: idle frames
            return avatar, began, finished, played, time.monotonic()

    avatar, began, finished, played, ended = asyncio.run(main())
    assert avatar.room.published == ["avatar_audio", "avatar_video"]
    video, audio = avatar.video(), avatar.audio()
    faces = [face for _, _, face in video]
    # the clock: frames in order from 0, 25 a second of wall time (the synchronizer's queue paces the generator)
    indices = [f.index for f in faces]
    assert indices[0] == 0 and np.all(np.diff(indices) > 0)
    assert abs(len(video) - (ended - began) * FPS) <= 0.1 * (ended - began) * FPS + 5
    assert all(f.width == 490 and f.height == 478 and f.type == rtc.VideoBufferType.RGB24 and len(f.data) == 490 * 478 * 3
               for _, f, _ in video)
    # the agent's audio comes out whole, sample for sample, at the generator's rate, mono
    out = np.concatenate([np.frombuffer(a.data, "<i2") for a in audio])
    np.testing.assert_array_equal(out, speech)
    assert all(a.sample_rate == RATE and a.num_channels == 1 for a in audio)
    # each audio frame follows the picture that shows it: one frame's span, the face's own
    order = [f for _, f, _ in avatar.pushed]
    for k, frame in enumerate(order):
        if isinstance(frame, rtc.AudioFrame):
            face = frame.userdata["talkinghead"]
            assert isinstance(order[k - 1], rtc.VideoFrame) and avatar.pushed[k - 1][2] is face
            assert face.source[1] - face.source[0] == PER_FRAME and frame.samples_per_channel <= 2 * PER_FRAME
    spoken = [a.userdata["talkinghead"] for a in audio]
    assert max(np.abs(f.blendshapes[MOUTH]).max() for f in spoken) > 0.3
    # the runner told the agent the segment played to the end, about when it had
    assert not finished.interrupted and finished.playback_position == pytest.approx(len(speech) / RATE, abs=1e-6)
    assert played - began < len(speech) / RATE + 0.6
    # then idle frames: no audio, the mouth at rest
    idle = [face for t, _, face in video if t > played + 0.3]
    assert len(idle) >= 0.5 * FPS and all(f.source is None for f in idle)
    assert max(np.abs(f.blendshapes[MOUTH]).max() for f in idle) < 0.05
    assert engine.sessions == 0  # the runner's close ended the iteration, which closed the session


def test_clear_buffer_rests_the_mouth_within_3_frames_and_drops_the_speech(engine, speech):
    async def main():
        async with Avatar(engine) as avatar:
            speaking = asyncio.create_task(avatar.say(speech))
            while len(avatar.audio()) < 20:
                await asyncio.sleep(0.02)
            speaking.cancel()
            avatar.output.clear_buffer()  # what the agent does on barge-in
            finished = await asyncio.wait_for(avatar.output.wait_for_playout(), 5)
            await asyncio.sleep(0.6)
            return avatar, finished

    avatar, finished = asyncio.run(main())
    generator = avatar.generator
    assert finished.interrupted and 0 < finished.playback_position < len(speech) / RATE
    faces = [face for _, _, face in avatar.video()]
    assert np.all(np.diff([f.index for f in faces]) > 0)
    after = [f for f in faces if f.index >= generator.interrupted_at]
    assert len(after) >= 3 and np.abs(after[2].blendshapes[MOUTH]).max() < 1e-6
    assert sum(a.samples_per_channel for a in avatar.audio()) < len(speech)


def test_audio_at_another_rate_and_in_stereo_is_resampled_and_mixed_down(engine, speech):
    rate = 16000
    mono = np.clip(np.round(resample(speech.astype(np.float32) / 32768, RATE, rate) * 32768), -32768, 32767)
    stereo = np.repeat(mono.astype("<i2"), 2)  # both channels the same: the mix is the mono itself

    async def main():
        async with Avatar(engine, input_rate=None) as avatar:
            await avatar.say(stereo, rate=rate, channels=2)
            finished = await asyncio.wait_for(avatar.output.wait_for_playout(), 10)
            return avatar, finished

    avatar, finished = asyncio.run(main())
    audio = avatar.audio()
    assert all(a.sample_rate == RATE and a.num_channels == 1 for a in audio)
    out = np.concatenate([np.frombuffer(a.data, "<i2") for a in audio]).astype(np.float32) / 32768
    assert abs(len(out) - len(speech)) <= PER_FRAME
    assert not finished.interrupted and finished.playback_position == pytest.approx(len(out) / RATE, abs=1e-6)
    # the same speech: its envelope in 10 ms steps matches the original's
    def envelope(x):
        return np.sqrt(np.mean(x[: len(x) // 240 * 240].reshape(-1, 240) ** 2, axis=1))
    a, b = envelope(out), envelope(speech.astype(np.float32) / 32768)
    n = min(len(a), len(b))
    assert np.corrcoef(a[:n], b[:n])[0, 1] > 0.95


def test_bad_settings_are_refused_in_one_line(engine):
    with pytest.raises(ValueError, match="realtime session with video"):
        TalkingHeadVideoGenerator(engine, config=LiveConfig(pacing="fast"))
    with pytest.raises(ValueError, match="sample_rate must be positive"):
        TalkingHeadVideoGenerator(engine, sample_rate=0)
