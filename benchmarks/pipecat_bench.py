"""The Pipecat video service in a real Pipecat pipeline: latency, drops over a conversation, CPU per pipeline.

    python benchmarks/pipecat_bench.py [--lookaheads 0 40 100] [--minutes 2] [--interruptions 5] [--ears auto]

Needs the ``pipecat`` extra (CI's numpy-2 environment). Per look-ahead ``L``,
one pipeline ``[entry, TalkingHeadVideoService, exit]`` runs a conversation
of about ``--minutes``: the built-in sentence (6.6 s) as TTS audio in 20 ms
pieces at real-time pace (a streaming TTS), 2 s of quiet between turns, and
``--interruptions`` of the turns cut halfway by an ``InterruptionFrame`` (the
TTS stops, as Pipecat's does). Reported:

- latency: from the TTS piece that completes a frame's audio entering the
  service to the image that shows it leaving it (p50, p99; target L + 80 ms);
- frames: shown, dropped (indices the session skipped), and the share dropped;
- audio: whether every sample of the speech that was not interrupted came out;
- CPU: the process's CPU time over the wall time (one pipeline in the process).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from fractions import Fraction

import numpy as np
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
from talkinghead.streaming.live import Engine, LiveConfig
from talkinghead.streaming.pipecat_video import TalkingHeadVideoService

RATE = 24000
FPS = 25
CHUNK = RATE // 50
GAP_S = 2.0


class Entry(FrameProcessor):
    """Notes when each TTS sample enters the service: (samples so far, time)."""

    def __init__(self) -> None:
        super().__init__()
        self.marks: list[tuple[int, float]] = []
        self.samples = 0

    async def process_frame(self, frame, direction) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, TTSAudioRawFrame) and direction is FrameDirection.DOWNSTREAM:
            self.samples += len(frame.audio) // 2
            self.marks.append((self.samples, time.monotonic()))
        await self.push_frame(frame, direction)


class Exit(FrameProcessor):
    """Notes each image leaving the service and counts the audio."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[tuple[float, object]] = []
        self.audio_samples = 0

    async def process_frame(self, frame, direction) -> None:
        await super().process_frame(frame, direction)
        if direction is FrameDirection.DOWNSTREAM:
            if isinstance(frame, OutputImageRawFrame):
                self.images.append((time.monotonic(), frame.metadata["talkinghead"]))
            elif isinstance(frame, TTSAudioRawFrame):
                self.audio_samples += len(frame.audio) // 2
        await self.push_frame(frame, direction)


async def conversation(engine: Engine, pcm: np.ndarray, lookahead: int, turns: int, interrupted: set[int]) -> dict:
    entry, leave = Entry(), Exit()
    service = TalkingHeadVideoService(engine, config=LiveConfig(fps=Fraction(FPS), lookahead_ms=lookahead))
    worker = PipelineWorker(Pipeline([entry, service, leave]), params=PipelineParams(audio_out_sample_rate=RATE),
                            cancel_on_idle_timeout=False)
    kept = 0  # samples of turns that were not interrupted

    async def speak(turn: int) -> None:
        nonlocal kept
        await worker.queue_frame(TTSStartedFrame())
        start = time.monotonic()
        cut = len(pcm) // 2 if turn in interrupted else len(pcm)
        for offset in range(0, cut, CHUNK):
            await asyncio.sleep(max(0.0, start + offset / RATE - time.monotonic()))
            await worker.queue_frame(TTSAudioRawFrame(audio=pcm[offset:offset + CHUNK].tobytes(), sample_rate=RATE,
                                                      num_channels=1))
        if turn in interrupted:
            await worker.queue_frame(InterruptionFrame())
        else:
            kept += len(pcm)
            await worker.queue_frame(TTSStoppedFrame())
            await asyncio.sleep(max(0.0, start + len(pcm) / RATE - time.monotonic()))

    async def drive() -> None:
        await asyncio.sleep(1.0)
        for turn in range(turns):
            await speak(turn)
            await asyncio.sleep(GAP_S)
        await worker.queue_frame(EndFrame())

    wall, cpu = time.monotonic(), time.process_time()
    runner = WorkerRunner()
    await runner.add_workers(worker)
    await asyncio.gather(runner.run(), drive())
    wall, cpu = time.monotonic() - wall, time.process_time() - cpu

    ends = np.array([m[0] for m in entry.marks])
    times = np.array([m[1] for m in entry.marks])
    latencies = []
    for left, face in leave.images:
        if face.source is not None:
            k = int(np.searchsorted(ends, face.source[1]))  # the piece that completed the frame's audio
            if k < len(ends):
                latencies.append(left - times[k])
    indices = [face.index for _, face in leave.images]
    shown = len(indices)
    dropped = indices[-1] + 1 - shown
    return {"p50": 1000 * float(np.percentile(latencies, 50)), "p99": 1000 * float(np.percentile(latencies, 99)),
            "shown": shown, "dropped": dropped, "audio_ok": leave.audio_samples >= kept, "cpu": cpu / wall,
            "seconds": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lookaheads", type=int, nargs="+", default=[0, 40, 100])
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--interruptions", type=int, default=5)
    parser.add_argument("--ears", default="auto")
    args = parser.parse_args()
    samples, rate = load_audio(demo_audio())
    pcm = np.clip(np.round(resample(samples, rate, RATE) * 32768), -32768, 32767).astype("<i2")
    turn_s = len(pcm) / RATE + GAP_S
    turns = max(args.interruptions + 1, round(args.minutes * 60 / turn_s))
    interrupted = set(np.linspace(0, turns - 1, args.interruptions + 2)[1:-1].round().astype(int).tolist())
    engine = Engine(ears=args.ears)
    print(f"ears: {engine.model.config.ears}; {turns} turns of {len(pcm) / RATE:.1f} s, "
          f"{len(interrupted)} interrupted halfway; 25 fps\n")
    print("| L ms | latency p50 ms | p99 ms | target p99 | frames shown | dropped | dropped % | speech audio whole | "
          "CPU (cores) | wall s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for lookahead in args.lookaheads:
        r = asyncio.run(conversation(engine, pcm, lookahead, turns, interrupted))
        print(f"| {lookahead} | {r['p50']:.0f} | {r['p99']:.0f} | {lookahead + 80} | {r['shown']} | {r['dropped']} | "
              f"{100 * r['dropped'] / (r['shown'] + r['dropped']):.2f} | {'yes' if r['audio_ok'] else 'NO'} | "
              f"{r['cpu']:.2f} | {r['seconds']:.0f} |", flush=True)
    engine.close()


if __name__ == "__main__":
    main()
