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

from talkinghead.contracts.frame import Frame as FaceFrame
from talkinghead.streaming.held_audio import HeldAudio, mono_int16
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
    engine knows (default: its default avatar). ``video_delay_ms``: each image
    goes out that much later against its audio (whole frames), for a
    transport whose audio path holds sound longer than its video path holds
    pictures (measured for ``SmallWebRTCTransport``: ``benchmarks/pipecat_receiver.py``).
    """

    def __init__(self, engine: Engine, avatar: str | None = None, config: LiveConfig = LiveConfig(),
                 video_delay_ms: int = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        if config.pacing != "realtime" or not config.video:
            raise ValueError("the Pipecat service needs a realtime session with video")
        if video_delay_ms < 0:
            raise ValueError(f"video_delay_ms must be >= 0, got {video_delay_ms}")
        self.video_delay_frames = round(video_delay_ms * config.fps / 1000)
        self._delayed: collections.deque[OutputImageRawFrame] = collections.deque()  # images held that long
        self.engine, self.avatar, self.config = engine, avatar, replace(config, audio=False)
        self.session: Session | None = None
        self._emitter: asyncio.Task | None = None
        self._held: HeldAudio[Frame] = HeldAudio()  # the TTS audio not yet re-emitted, and TTSStoppedFrames
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
            self._held.mark(frame)
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
        pcm = mono_int16(frame.audio, frame.num_channels)  # the session hears mono; the same mono goes out again
        self._context_id = frame.context_id
        self._held.push(pcm)
        await self.session.push_audio(pcm)

    async def _interrupt(self) -> int | None:
        if self.session is None:
            return None
        index = await self.session.interrupt()
        await self._push_delayed()  # the images held go now
        for held in self._held.drop():  # the speech not yet re-emitted goes with its frames; held frames go now
            await self.push_frame(held)
        return index

    async def _finish(self) -> None:
        if self.session is None:
            return
        await self.session.end()
        if self._emitter is not None:
            await self._emitter  # every frame out before the EndFrame
        await self._push_delayed()
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
            self._delayed.append(image)  # image k goes out after the audio of frames up to k + delay - 1
            await self._push_delayed(keep=self.video_delay_frames)
            await self._emit_audio(face)
            for held in self._held.due():
                await self.push_frame(held)

    async def _push_delayed(self, keep: int = 0) -> None:
        while len(self._delayed) > keep:
            await self.push_frame(self._delayed.popleft())

    async def _emit_audio(self, face: FaceFrame) -> None:
        """The TTS audio up to the end of ``face``'s span (and any a dropped frame before it spanned)."""
        taken = self._held.take(face)
        if taken is None:
            return
        lead, pcm = taken
        audio = TTSAudioRawFrame(audio=pcm.tobytes(), sample_rate=self.sample_rate, num_channels=1,
                                 context_id=self._context_id)
        # on the frame clock: the frame's own samples start at its pts (earlier ones a dropped frame spanned)
        audio.pts = int(face.pts * NS) + (-lead * NS) // self.sample_rate
        await self.push_frame(audio)
