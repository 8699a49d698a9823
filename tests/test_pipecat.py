"""The Pipecat video service in a real Pipecat pipeline (extra ``pipecat``), fed the demo sentence as TTS audio.

Pipecat needs protobuf >= 5.29, which MediaPipe (extra ``track``) refuses: these tests run in CI's
numpy-2 environment, which has the ``pipecat`` extra and not ``track``; elsewhere they skip.
"""

import asyncio
import itertools
import time
from fractions import Fraction

import numpy as np
import pytest

pytest.importorskip("pipecat", reason="needs the pipecat extra (CI's numpy-2 environment)")

from pipecat.frames.frames import (
    EndFrame,
    InterruptionFrame,
    OutputImageRawFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.workers.runner import WorkerRunner

from talkinghead.contracts.audio_io import load_audio
from talkinghead.contracts.resample import resample
from talkinghead.jobs.render import demo_audio
from talkinghead.streaming.live import LiveConfig
from talkinghead.streaming.pipecat_video import TalkingHeadVideoService
from talkinghead.streaming.session import MOUTH

RATE = 24000  # Pipecat's default output rate
FPS = 25
FRAME_NS = 1_000_000_000 // FPS
CHUNK = RATE // 50  # TTS services send 20 ms pieces (or so)


class Sink(FrameProcessor):
    """Records every frame that reaches the end of the pipeline, with when it came."""

    def __init__(self) -> None:
        super().__init__()
        self.frames: list[tuple[float, object]] = []
        self.speaking = asyncio.Event()  # set once 20 images carried speech
        self._spoken = 0

    async def process_frame(self, frame, direction) -> None:
        await super().process_frame(frame, direction)
        if direction is FrameDirection.DOWNSTREAM:
            self.frames.append((time.monotonic(), frame))
            if isinstance(frame, OutputImageRawFrame) and frame.metadata["talkinghead"].source is not None:
                self._spoken += 1
                if self._spoken >= 20:
                    self.speaking.set()
        await self.push_frame(frame, direction)

    def faces(self) -> list:
        return [f.metadata["talkinghead"] for _, f in self.frames if isinstance(f, OutputImageRawFrame)]


@pytest.fixture(scope="module")
def tts_speech():
    samples, rate = load_audio(demo_audio())  # the built-in sentence, 6.6 s
    return np.clip(np.round(resample(samples, rate, RATE) * 32768), -32768, 32767).astype("<i2")


async def utterance(worker: PipelineWorker, pcm: np.ndarray) -> None:
    """A TTS utterance as a TTS service sends it: started, 20 ms pieces at twice real time, stopped."""
    await worker.queue_frame(TTSStartedFrame())
    start = time.monotonic()
    for offset in range(0, len(pcm), CHUNK):
        await worker.queue_frame(TTSAudioRawFrame(audio=pcm[offset:offset + CHUNK].tobytes(), sample_rate=RATE,
                                                  num_channels=1))
        await asyncio.sleep(max(0.0, start + (offset + CHUNK) / RATE / 2 - time.monotonic()))
    await worker.queue_frame(TTSStoppedFrame())


def run_pipeline(engine, script, lookahead_ms: int = 100, video_delay_ms: int = 0) -> Sink:
    """The service between a TTS stand-in (``script(worker, sink)``, which queues the frames) and a sink."""
    sink = Sink()
    service = TalkingHeadVideoService(engine, config=LiveConfig(fps=Fraction(FPS), lookahead_ms=lookahead_ms),
                                      video_delay_ms=video_delay_ms)

    async def main() -> None:
        worker = PipelineWorker(Pipeline([service, sink]), params=PipelineParams(audio_out_sample_rate=RATE),
                                cancel_on_idle_timeout=False)

        async def drive() -> None:
            await asyncio.sleep(0.5)  # the pipeline starts
            await script(worker, sink)
            await worker.queue_frame(EndFrame())

        runner = WorkerRunner()
        await runner.add_workers(worker)
        await asyncio.wait_for(asyncio.gather(runner.run(), drive()), 60)

    asyncio.run(main())
    return sink


def images_and_audio(sink: Sink) -> tuple[list, list]:
    images = [f for _, f in sink.frames if isinstance(f, OutputImageRawFrame)]
    audio = [f for _, f in sink.frames if isinstance(f, TTSAudioRawFrame)]
    return images, audio


def test_two_utterances_come_out_in_step_with_idle_frames_between(engine, tts_speech):
    first, second = tts_speech, tts_speech[: 2 * RATE]

    async def script(worker, sink):
        await utterance(worker, first)
        await asyncio.sleep(len(first) / RATE / 2 + 1.5)  # its second half plays out, then 1.5 s of quiet
        await utterance(worker, second)
        await asyncio.sleep(len(second) / RATE / 2 + 0.5)

    sink = run_pipeline(engine, script)
    images, audio = images_and_audio(sink)
    faces = sink.faces()
    # the clock: frames in order from 0 with exact pts (a frame the session could not draw in time is dropped,
    # on a busy 2-core machine a few; benchmarks/pipecat_bench.py measures how many)
    indices = [f.index for f in faces]
    assert indices[0] == 0 and np.all(np.diff(indices) > 0) and len(faces) >= 0.9 * (indices[-1] + 1)
    assert [i.pts for i in images] == [k * FRAME_NS for k in indices]
    assert all(i.size == (490, 478) and len(i.image) == 490 * 478 * 3 and i.sync_with_audio for i in images)
    # the TTS audio comes out whole, sample for sample, in order
    out = np.concatenate([np.frombuffer(a.audio, "<i2") for a in audio])
    np.testing.assert_array_equal(out, np.concatenate([first, second]))
    # each piece of audio follows the picture that shows it, with that picture's time (A/V within the frame)
    order = [f for _, f in sink.frames if isinstance(f, (OutputImageRawFrame, TTSAudioRawFrame))]
    pieces = [(before, piece) for before, piece in itertools.pairwise(order) if isinstance(piece, TTSAudioRawFrame)]
    assert all(isinstance(before, OutputImageRawFrame) for before, _ in pieces)
    assert sum(before.pts == piece.pts for before, piece in pieces) >= 0.9 * len(pieces)  # the rest: after drops
    assert all(piece.pts <= before.pts and piece.pts + len(piece.audio) // 2 * 10**9 // RATE >= before.pts
               for before, piece in pieces)  # ends within the frame that shows it
    # idle frames between the utterances: no speech, the mouth at rest, for about the 1.5 s of quiet
    speaking = [f.source is not None for f in faces]
    end_first = max(k for k, s in enumerate(speaking) if s and faces[k].source[1] <= len(first))
    start_second = min(k for k, s in enumerate(speaking) if s and faces[k].source[0] >= len(first))
    assert 1.0 * FPS <= start_second - end_first - 1 <= 3.0 * FPS
    gap = faces[end_first + 3:start_second - 3]
    assert gap and max(np.abs(f.blendshapes[MOUTH]).max() for f in gap) < 0.05
    # TTSStoppedFrame leaves after the last audio of its utterance
    kinds = [type(f).__name__ for _, f in sink.frames]
    stops = [k for k, name in enumerate(kinds) if name == "TTSStoppedFrame"]
    audio_at = [k for k, name in enumerate(kinds) if name == "TTSAudioRawFrame"]
    firsts = np.cumsum([len(a.audio) // 2 for a in audio])
    last_of_first = audio_at[int(np.searchsorted(firsts, len(first)))]
    assert len(stops) == 2 and stops[0] > last_of_first and stops[1] > audio_at[-1]


def test_an_interruption_rests_the_mouth_within_3_frames_and_drops_the_speech(engine, tts_speech):
    marks = {}

    async def script(worker, sink):
        speaking = asyncio.create_task(utterance(worker, tts_speech))
        await sink.speaking.wait()
        marks["faces"] = len(sink.faces())
        speaking.cancel()  # the user barges in: the TTS stops, the pipeline interrupts
        await worker.queue_frame(InterruptionFrame())
        await asyncio.sleep(1.0)

    sink = run_pipeline(engine, script)
    assert engine.sessions == 0  # EndFrame closed it
    faces = sink.faces()
    _, audio = images_and_audio(sink)
    assert np.all(np.diff([f.index for f in faces]) > 0)
    cut = marks["faces"]
    assert np.abs(faces[cut - 1].blendshapes[MOUTH]).max() > 0.05  # it was speaking
    interruption = next(f for _, f in sink.frames if isinstance(f, InterruptionFrame))
    later = [f for f in faces if f.index >= interruption.metadata["talkinghead_next_index"]]
    assert np.abs(later[2].blendshapes[MOUTH]).max() < 1e-6  # at rest by the 3rd frame after it
    out = sum(len(a.audio) // 2 for a in audio)
    assert out < len(tts_speech)  # the rest of the speech was dropped with its frames


def test_a_video_delay_sends_each_image_behind_the_audio_of_the_frames_after_it(engine, tts_speech):
    speech = tts_speech[:RATE]

    async def script(worker, sink):
        await utterance(worker, speech)
        await asyncio.sleep(1.0)

    sink = run_pipeline(engine, script, video_delay_ms=80)  # 2 frames at 25 fps
    per_frame = RATE // FPS
    sent, behind, spoken = 0, 0, 0
    for _, frame in sink.frames:
        if isinstance(frame, TTSAudioRawFrame):
            sent += len(frame.audio) // 2
        elif isinstance(frame, OutputImageRawFrame) and frame.metadata["talkinghead"].source is not None:
            end = frame.metadata["talkinghead"].source[1]
            if end + per_frame <= len(speech):
                spoken += 1
                behind += sent == end + per_frame  # image k after the audio of frame k + 1, before frame k + 2's
    assert spoken >= 20 and behind >= 0.9 * spoken
    faces = sink.faces()
    assert np.all(np.diff([f.index for f in faces]) > 0) and faces[-1].source is None  # every image, drained
    out = np.concatenate([np.frombuffer(f.audio, "<i2") for _, f in sink.frames if isinstance(f, TTSAudioRawFrame)])
    np.testing.assert_array_equal(out, speech)


def test_the_webrtc_example_reaches_a_real_peer(engine):
    """demos/pipecat_webrtc.py served on loopback; an aiortc peer offers to receive, gets the avatar's video
    (decodable, the avatar's size, not blank) and its speech (audible)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "pipecat_webrtc", Path(__file__).resolve().parents[1] / "demos" / "pipecat_webrtc.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)

    async def main():
        async with demo.loopback_peer(demo.make_app(engine, demo.speech(None, None), every=0.3)) as tracks:
            pictures, sound = [], []

            async def take(kind, into, seconds):
                end = time.monotonic() + seconds
                while time.monotonic() < end:
                    into.append(await asyncio.wait_for(tracks[kind].recv(), 5))

            await asyncio.gather(take("video", pictures, 6.0), take("audio", sound, 6.0))
            return pictures, sound

    pictures, sound = asyncio.run(main())
    assert engine.sessions == 0  # the server's shutdown closed the pipeline's session
    images = [p.to_ndarray(format="rgb24") for p in pictures]
    assert len(images) >= 60  # about 25 a second
    assert all(i.shape == (478, 490, 3) for i in images[-10:])
    assert np.mean([i.mean() for i in images[-10:]]) > 20  # the avatar, not a black frame
    pcm = np.concatenate([s.to_ndarray().reshape(-1) for s in sound]).astype(np.float64)
    assert np.sqrt(np.mean(pcm ** 2)) > 100  # the sentence was heard (int16 scale)
