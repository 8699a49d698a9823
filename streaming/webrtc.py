"""WebRTC media for conferencing apps: a live session's pictures and sound as aiortc tracks.

:class:`AvatarTracks` opens a live :class:`~talkinghead.streaming.live.Session` and
exposes ``video`` and ``audio``, two aiortc ``MediaStreamTrack``\\ s an app
adds to its ``RTCPeerConnection``. Both run on the session's media clock:
video frame ``k`` has ``pts = k/fps`` seconds on a 1/90000 time base, and
audio sample ``m`` (s16 mono 48 kHz, 20 ms frames, 1/48000 time base) is
at ``m/48000`` seconds, counted from the same media time 0. So the two
timestamps name the same moment, which is what a receiver's lip sync needs.

Pacing is the session's: realtime, idle frames (silence, a face that still
blinks and moves) when no speech comes. The session starts when the first
track is first read (the call is up), so media time 0 is the first thing
both tracks send. Speech comes in through :meth:`AvatarTracks.push_audio`
(any rate) or from a remote audio track (:meth:`AvatarTracks.listen`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from fractions import Fraction

import av
import numpy as np

from talkinghead.contracts.audio_io import caller_pcm
from talkinghead.contracts.clock import FrameClock
from talkinghead.contracts.frame import Frame
from talkinghead.contracts.resample import StreamingResampler
from talkinghead.streaming.live import Engine, LiveConfig, Session

MISSING = "WebRTC needs the webrtc extra: pip install 'talkinghead[webrtc]'"
try:
    from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import MediaStreamError
except ImportError:
    raise ImportError(MISSING) from None

# The signalling takes its aiortc from here, so a missing extra is reported in one place.
__all__ = ["AvatarTracks", "RTCPeerConnection", "RTCSessionDescription"]

VIDEO_RATE = 90000  # RTP's video clock
AUDIO_RATE = 48000  # Opus's clock
AUDIO_FRAME = AUDIO_RATE // 50  # 20 ms
VIDEO_QUEUE = 10  # frames a slow video reader may fall behind before the oldest are dropped
AUDIO_QUEUE = 100  # 2 s: audio is only dropped when nobody reads the track

log = logging.getLogger(__name__)


class _QueueTrack(MediaStreamTrack):
    """A track fed by :class:`AvatarTracks`: frames wait in a bounded queue until aiortc reads them."""

    def __init__(self, kind: str, owner: AvatarTracks, size: int) -> None:
        super().__init__()
        self.kind = kind
        self._owner = owner
        self._queue: asyncio.Queue[av.VideoFrame | av.AudioFrame | None] = asyncio.Queue(size)

    def put(self, frame: av.VideoFrame | av.AudioFrame | None) -> None:
        """Queue a frame (``None``: the end), dropping the oldest when the reader is behind."""
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(frame)

    async def recv(self) -> av.VideoFrame | av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        self._owner.start()
        frame = await self._queue.get()
        if frame is None:
            self.stop()
            raise MediaStreamError
        return frame


class _AudioOut:
    """A session's frames' audio -> one continuous 48 kHz stream from media time 0, cut into 20 ms frames.

    Frame ``k``'s audio goes where the clock puts it (its span at the session rate); frames the session
    dropped leave silence, so sample ``m`` stays at ``m/48000`` seconds."""

    def __init__(self, rate: int, fps: Fraction) -> None:
        self._clock = FrameClock(rate, fps)
        self._resampler = None if rate == AUDIO_RATE else StreamingResampler(rate, AUDIO_RATE)
        self._placed = 0  # session-rate samples placed so far
        self._buffer = np.zeros(0, np.float32)  # 48 kHz samples not yet cut into frames
        self._sent = 0  # 48 kHz samples cut into frames so far

    def add(self, frame: Frame) -> list[av.AudioFrame]:
        span = self._clock.span(frame.index)
        audio = np.zeros(len(span), np.float32) if frame.audio is None else frame.audio[: len(span)]
        audio = np.concatenate([np.zeros(max(0, span.start - self._placed), np.float32), audio,
                                np.zeros(len(span) - len(audio), np.float32)])
        self._placed = span.stop
        if self._resampler is not None:
            audio = self._resampler.push(audio)
        self._buffer = np.concatenate([self._buffer, audio])
        frames = []
        while len(self._buffer) >= AUDIO_FRAME:
            chunk, self._buffer = self._buffer[:AUDIO_FRAME], self._buffer[AUDIO_FRAME:]
            frames.append(_audio_frame(chunk, self._sent))
            self._sent += AUDIO_FRAME
        return frames


def _audio_frame(samples: np.ndarray, pts: int) -> av.AudioFrame:
    pcm = np.clip(np.round(samples * 32768), -32768, 32767).astype(np.int16)  # the inverse of caller_pcm's scale
    frame = av.AudioFrame.from_ndarray(pcm[None, :], format="s16", layout="mono")
    frame.sample_rate, frame.pts, frame.time_base = AUDIO_RATE, pts, Fraction(1, AUDIO_RATE)
    return frame


def _video_frame(frame: Frame) -> av.VideoFrame:
    video = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame.image), format="rgb24")
    video.pts, video.time_base = round(frame.pts * VIDEO_RATE), Fraction(1, VIDEO_RATE)
    return video


def _samples(frame: av.AudioFrame) -> np.ndarray:
    """A received audio frame as mono float samples (aiortc gives packed s16, often stereo)."""
    data = frame.to_ndarray()
    channels = len(frame.layout.channels)
    data = data.T if frame.format.is_planar else data.reshape(-1, channels)
    return caller_pcm(data)


class AvatarTracks:
    """A live session as a pair of aiortc tracks, ``video`` and ``audio``, for a peer connection.

    Create it inside the event loop that runs the peer connection; ``config``'s ``fps``, ``lookahead_ms``
    and pacing apply (video and audio are always on). ``sample_rate`` is the session's rate: audio
    pushed or heard at another rate is resampled to it."""

    def __init__(self, engine: Engine, avatar: str | None = None, config: LiveConfig = LiveConfig(),
                 sample_rate: int = AUDIO_RATE) -> None:
        config = dataclasses.replace(config, video=True, audio=True)
        self.session: Session = engine.session(avatar, sample_rate, config)
        self.video = _QueueTrack("video", self, VIDEO_QUEUE)
        self.audio = _QueueTrack("audio", self, AUDIO_QUEUE)
        self._audio_out = _AudioOut(sample_rate, config.fps)
        self._resampler: StreamingResampler | None = None  # speech in at another rate -> the session's
        self._tasks: list[asyncio.Task] = []
        self._pump: asyncio.Task | None = None
        self._closed = False

    @property
    def width_height(self) -> tuple[int, int]:
        return self.session.width_height

    async def __aenter__(self) -> AvatarTracks:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    def start(self) -> None:
        """Start the session's clock (media time 0) if it has not started; the tracks call it on first read."""
        if self._pump is None and not self._closed:
            self.session.start()
            self._pump = asyncio.create_task(self._run())

    async def push_audio(self, pcm: np.ndarray, rate: int) -> None:
        """Speech for the avatar: int16 or float in [-1, 1], mono or (samples, channels), at ``rate`` Hz."""
        samples = caller_pcm(pcm)
        if rate != self.session.sample_rate:
            if self._resampler is None or self._resampler.sr_in != rate:
                self._resampler = StreamingResampler(rate, self.session.sample_rate)
            samples = self._resampler.push(samples)
        if len(samples):
            await self.session.push_audio(samples)

    def listen(self, track: MediaStreamTrack) -> None:
        """Speak what a remote audio track carries (until it ends or :meth:`close`)."""
        self._tasks.append(asyncio.create_task(self._listen(track)))

    async def _listen(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                await self.push_audio(_samples(frame), frame.sample_rate)
        except MediaStreamError:
            pass  # the remote track ended
        except ValueError as error:  # more audio than the session may queue: it cannot keep up
            log.warning("stopped listening to %s: %s", track.kind, error)

    async def _run(self) -> None:
        """The session's frames into the tracks; both end when the session does."""
        try:
            async for frame in self.session:
                self.video.put(_video_frame(frame))
                for chunk in self._audio_out.add(frame):
                    self.audio.put(chunk)
        except Exception:  # the session failed: the tracks end, the app's call goes on without the avatar
            log.exception("the avatar's session failed")
        finally:
            self.video.put(None)
            self.audio.put(None)

    async def close(self) -> None:
        """Stop listening, end both tracks and free the session."""
        self._closed = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.session.close()
        if self._pump is not None:
            await asyncio.gather(self._pump, return_exceptions=True)
        else:
            self.video.put(None)
            self.audio.put(None)
