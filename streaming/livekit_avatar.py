"""The avatar as a LiveKit Agents video generator (extra ``livekit``): the agent's speech in, face and speech out.

LiveKit Agents runs a self-hosted avatar as an ``AvatarRunner`` in the avatar's
own room participant: it reads the agent's TTS audio (a
``DataStreamAudioReceiver``, or a ``QueueAudioOutput`` in one process),
hands it to a ``VideoGenerator``, and publishes what the generator yields
through LiveKit's ``AVSynchronizer``: video frames, each followed by the
audio it shows, and ``AudioSegmentEnd`` when an utterance has played.
:class:`TalkingHeadVideoGenerator` is that generator over a live session of an
:class:`~talkinghead.streaming.live.Engine` (share one engine between the
avatars of a process).

Every frame the session releases goes out as an RGB24 ``rtc.VideoFrame``,
then the agent's audio that frame shows, sample for sample, as an
``rtc.AudioFrame`` whose ``userdata["talkinghead"]`` is the session's
:class:`~talkinghead.contracts.frame.Frame` without its picture (index,
exact ``pts``, blendshapes, pose, audio span). Audio at another rate than the
generator's is resampled (LiveKit's resampler); stereo is mixed to mono.
Between utterances the session's realtime clock yields idle frames with no
audio (a face that breathes and blinks), which is how the runner expects
silence. ``clear_buffer()`` (the agent was interrupted) calls the session's
``interrupt()``: the queued speech and its frames are dropped and the mouth
rests within 3 frames of :attr:`TalkingHeadVideoGenerator.interrupted_at`;
what LiveKit's synchronizer already holds (its queues are 100 ms) still plays.

Not run against a LiveKit server (none can be installed where this was built):
the tests drive the real ``AvatarRunner``, ``QueueAudioOutput`` and
``AVSynchronizer`` in one process, with a stand-in for the connected room.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import numpy as np

from talkinghead.contracts.frame import Frame
from talkinghead.streaming.held_audio import HeldAudio, mono_int16
from talkinghead.streaming.live import Engine, LiveConfig, Session

MISSING = "the LiveKit video generator needs the livekit extra: pip install 'talkinghead[livekit]'"
try:
    from livekit import rtc
    from livekit.agents.voice.avatar import AudioSegmentEnd, AvatarOptions, VideoGenerator
except ImportError:
    raise ImportError(MISSING) from None


class TalkingHeadVideoGenerator(VideoGenerator):
    """A live avatar session for LiveKit's ``AvatarRunner``; see the module docstring.

    ``sample_rate``: the rate of the audio it yields (and of the runner's audio
    source: build the runner with :attr:`options`). ``config``: the session's
    :class:`LiveConfig` (realtime pacing, video on; ``lookahead_ms`` trades latency
    for lip-sync). ``avatar``: a name the engine knows (default: its default avatar).
    """

    def __init__(self, engine: Engine, avatar: str | None = None, sample_rate: int = 24000,
                 config: LiveConfig = LiveConfig()) -> None:
        if config.pacing != "realtime" or not config.video:
            raise ValueError("the LiveKit video generator needs a realtime session with video")
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate}")
        self.engine, self.avatar, self.sample_rate = engine, avatar, sample_rate
        self.config = replace(config, audio=False)
        self.session: Session | None = None
        self.shown: Frame | None = None  # the frame last handed to the runner, without its picture
        self.interrupted_at: int | None = None  # the first frame after the latest interrupt
        self._held: HeldAudio[AudioSegmentEnd] = HeldAudio()  # the agent's audio not yet handed on, segment ends
        self._resampler: rtc.AudioResampler | None = None
        self._resampling: tuple[int, int] | None = None  # the resampler's (input rate, channels)

    @property
    def options(self) -> AvatarOptions:
        """The runner's options that match this generator: the avatar's size, the session's rate, mono audio."""
        height, width = self.engine.renderer(self.avatar).size
        return AvatarOptions(video_width=width, video_height=height, video_fps=float(self.config.fps),
                             audio_sample_rate=self.sample_rate, audio_channels=1)

    async def push_audio(self, frame: rtc.AudioFrame | AudioSegmentEnd) -> None:
        """The agent's audio, or the end of an utterance (its tail is drawn without waiting for more)."""
        session = self._open()
        if isinstance(frame, AudioSegmentEnd):
            if self._resampler is not None:
                for piece in self._resampler.flush():
                    await self._take_in(session, piece)
            self._held.mark(frame)
            await session.flush()
            return
        if frame.sample_rate == self.sample_rate:
            await self._take_in(session, frame)
            return
        if self._resampling != (frame.sample_rate, frame.num_channels):
            self._resampler = rtc.AudioResampler(frame.sample_rate, self.sample_rate, num_channels=frame.num_channels)
            self._resampling = (frame.sample_rate, frame.num_channels)
        for piece in self._resampler.push(frame):
            await self._take_in(session, piece)

    async def clear_buffer(self) -> None:
        """Barge-in: the speech not yet shown is dropped with its frames (its segment end too: the runner has
        told the agent the playback was interrupted)."""
        if self.session is None:
            return
        self.interrupted_at = await self.session.interrupt()
        self._held.drop()
        self._resampler = self._resampling = None

    def __aiter__(self) -> AsyncIterator[rtc.VideoFrame | rtc.AudioFrame | AudioSegmentEnd]:
        return self._frames()

    async def aclose(self) -> None:
        """Close the session (also done when the runner stops iterating)."""
        session, self.session = self.session, None
        if session is not None:
            await session.close()

    def _open(self) -> Session:
        if self.session is None:
            self.session = self.engine.session(self.avatar, self.sample_rate, self.config)
            self.session.start()
        return self.session

    async def _take_in(self, session: Session, frame: rtc.AudioFrame) -> None:
        pcm = mono_int16(frame.data.cast("B"), frame.num_channels)  # the session hears mono; the same goes out
        if len(pcm):
            self._held.push(pcm)
            await session.push_audio(pcm)

    async def _frames(self) -> AsyncIterator[rtc.VideoFrame | rtc.AudioFrame | AudioSegmentEnd]:
        session = self._open()
        width, height = session.width_height
        try:
            async for face in session:
                self.shown = replace(face, image=None)
                yield rtc.VideoFrame(width, height, rtc.VideoBufferType.RGB24, face.image.tobytes())
                taken = self._held.take(face)
                if taken is not None:
                    pcm = taken[1]
                    yield rtc.AudioFrame(pcm.tobytes(), self.sample_rate, 1, len(pcm),
                                         userdata={"talkinghead": self.shown})
                for end in self._held.due():
                    yield end
        finally:
            await self.aclose()
