"""The avatar as a Pipecat video service (extra ``pipecat``): after TTS, speech in, the face and its speech out.

Put :class:`TalkingHeadVideoService` after the TTS service of a Pipecat
pipeline. It opens one live session of an :class:`~talkinghead.streaming.live.Engine`
(share one engine between the pipelines of a process: models and avatars are
loaded once, and the engine's worker batches their sessions) when the
pipeline starts, feeds it the TTS audio, and sends on downstream, for every
frame the session releases, an ``OutputImageRawFrame`` and then the TTS
audio that frame shows. Each image's ``metadata["talkinghead"]`` is the
session's :class:`~talkinghead.contracts.frame.Frame` without its picture:
its index, exact ``pts``, blendshapes, pose and audio span.

Why the audio is held back: Pipecat's output transport plays audio and shows
images on separate queues, so a face drawn a look-ahead after its audio
would trail the voice. The service swallows the TTS audio and re-emits it
in frame-sized pieces behind the image that shows it; each image is marked
``sync_with_audio``, so the transport shows it once all earlier audio has
been sent, which puts image ``k`` at the start of its own sound. The
re-emitted audio is the TTS audio itself, sample for sample (a frame the
session drops for lateness loses its picture, not its sound).
``TTSStoppedFrame`` is held until the audio before it has gone out.

Between utterances the session's realtime clock inserts idle frames (a face
that breathes and blinks). ``InterruptionFrame`` calls ``interrupt()``: the
queued speech and its frames are dropped and the mouth returns to rest
within 3 frames of the index it passes on in
``metadata["talkinghead_next_index"]``. ``EndFrame`` draws the rest and then passes;
``CancelFrame`` closes at once.
"""

from __future__ import annotations

import asyncio
import collections
from dataclasses import replace

import numpy as np

from talkinghead.contracts.frame import Frame as FaceFrame
from talkinghead.streaming.live import Engine, LiveConfig, Session

MISSING = "the Pipecat service needs the pipecat extra: pip install 'talkinghead[pipecat]'"
try:
    from pipecat.frames.frames import (
        CancelFrame,
        EndFrame,
        Frame,
        InterruptionFrame,
        OutputImageRawFrame,
        StartFrame,
        TTSAudioRawFrame,
        TTSStoppedFrame,
    )
    from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
except ImportError:
    raise ImportError(MISSING) from None

NS = 1_000_000_000


class TalkingHeadVideoService(FrameProcessor):
    """A live avatar session driven by the TTS audio that passes through; see the module docstring.

    ``config``: the session's :class:`LiveConfig` (realtime pacing, video on;
    its ``lookahead_ms`` trades latency for lip-sync). ``avatar``: a name the
    engine knows (default: its default avatar).
    """

    def __init__(self, engine: Engine, avatar: str | None = None, config: LiveConfig = LiveConfig(),
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if config.pacing != "realtime" or not config.video:
            raise ValueError("the Pipecat service needs a realtime session with video")
        self.engine, self.avatar, self.config = engine, avatar, replace(config, audio=False)
        self.session: Session | None = None
        self._emitter: asyncio.Task | None = None
        self._unsent: collections.deque[np.ndarray] = collections.deque()  # TTS audio (int16) from _emitted on
        self._pushed = 0  # samples pushed into the session
        self._emitted = 0  # samples re-emitted downstream
        self._held: collections.deque[tuple[int, Frame]] = collections.deque()  # (samples before it, frame)
        self._context_id: str | None = None

    @property
    def sample_rate(self) -> int:
        """The session's audio rate: the pipeline's output rate (TTS audio at another rate is refused)."""
        return self.session.sample_rate if self.session is not None else 0

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, StartFrame):
            await self._open()
            await self.push_frame(frame, direction)
        elif isinstance(frame, TTSAudioRawFrame) and direction is FrameDirection.DOWNSTREAM:
            await self._take_audio(frame)
        elif isinstance(frame, TTSStoppedFrame) and self.session is not None:
            self._held.append((self._pushed, frame))
            await self.session.flush()  # the utterance's tail is drawn without waiting for more audio
        elif isinstance(frame, InterruptionFrame):
            index = await self._interrupt()
            if index is not None:  # the first frame after it (images already on their way may arrive later)
                frame.metadata["talkinghead_next_index"] = index
            await self.push_frame(frame, direction)
        elif isinstance(frame, EndFrame):
            await self._finish()
            await self.push_frame(frame, direction)
        elif isinstance(frame, CancelFrame):
            await self._close()
            await self.push_frame(frame, direction)
        else:
            await self.push_frame(frame, direction)

    async def cleanup(self) -> None:
        await super().cleanup()
        await self._close()

    # ---------------------------------------------------------------- input
    async def _open(self) -> None:
        if self.session is not None:
            return
        rate = self.processor_setup.audio_out_sample_rate if self.processor_setup else 24000
        self.session = self.engine.session(self.avatar, rate, self.config)
        self.session.start()
        self._emitter = self.create_task(self._emit(self.session), name="talkinghead-frames")

    async def _take_audio(self, frame: TTSAudioRawFrame) -> None:
        if self.session is None or frame.sample_rate != self.sample_rate:
            await self.push_error(error_msg=f"TTS audio at {frame.sample_rate} Hz: the avatar session runs at the "
                                            f"pipeline's output rate, {self.sample_rate} Hz")
            return
        pcm = np.frombuffer(frame.audio, "<i2")
        if frame.num_channels > 1:  # the session hears mono; the same mono goes out again
            pcm = np.round(pcm.reshape(-1, frame.num_channels).mean(axis=1)).astype("<i2")
        self._context_id = frame.context_id
        self._unsent.append(pcm)
        self._pushed += len(pcm)
        await self.session.push_audio(pcm)

    async def _interrupt(self) -> int | None:
        if self.session is None:
            return None
        index = await self.session.interrupt()
        # the speech not yet re-emitted is dropped with its frames; held control frames go now
        self._unsent.clear()
        self._emitted = self._pushed
        while self._held:
            await self.push_frame(self._held.popleft()[1])
        return index

    async def _finish(self) -> None:
        if self.session is None:
            return
        await self.session.end()
        if self._emitter is not None:
            await self._emitter  # every frame out before the EndFrame
        await self._close()

    async def _close(self) -> None:
        session, self.session = self.session, None
        if session is not None:
            await session.close()
        if self._emitter is not None and not self._emitter.done():
            await self.cancel_task(self._emitter)
        self._emitter = None

    # ---------------------------------------------------------------- output
    async def _emit(self, session: Session) -> None:
        width, height = session.width_height
        async for face in session:
            image = OutputImageRawFrame(image=face.image.tobytes(), size=(width, height), format="RGB")
            image.pts = int(face.pts * NS)
            image.sync_with_audio = True  # shown once the audio before it has been sent
            image.metadata["talkinghead"] = replace(face, image=None)  # its index, pts, coefficients, span
            await self.push_frame(image)
            await self._emit_audio(face)
            while self._held and self._held[0][0] <= self._emitted:
                await self.push_frame(self._held.popleft()[1])

    async def _emit_audio(self, face: FaceFrame) -> None:
        """The TTS audio up to the end of ``face``'s span (and any a dropped frame before it spanned)."""
        if face.source is None:
            return
        first, end = face.source
        if end <= self._emitted:  # a frame drawn before an interrupt dropped its speech
            return
        start, pieces = self._emitted, []
        while self._emitted < end and self._unsent:  # (a span never reaches past the audio pushed)
            chunk = self._unsent.popleft()
            take = min(len(chunk), end - self._emitted)
            if take < len(chunk):
                self._unsent.appendleft(chunk[take:])
            pieces.append(chunk[:take])
            self._emitted += take
        if not pieces:
            return
        audio = TTSAudioRawFrame(audio=np.concatenate(pieces).tobytes(), sample_rate=self.sample_rate,
                                 num_channels=1, context_id=self._context_id)
        # on the frame clock: the frame's own samples start at its pts (earlier ones a dropped frame spanned)
        audio.pts = int(face.pts * NS) + (start - first) * NS // self.sample_rate
        await self.push_frame(audio)

