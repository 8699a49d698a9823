"""Live latency over the WebSocket server: audio that completes frame k -> frame k sent, and start -> first frame.

    python benchmarks/live_latency.py [--seconds 15] [--runs 3] [--lookaheads 0 40 100]

One session at a time on the default avatar, 25 fps, ``realtime`` pacing,
protocol v1 on loopback (server and client in one process, one event
loop). The client streams real speech (``speech/intro_en.wav``, 16 kHz
s16le) in 20 ms messages at the wall clock's pace, each sent when its
last sample would have been recorded. The server times each
frame from the arrival of the audio message holding its last sample to
the frame's message being sent (its ``/metrics`` histogram, read raw here).
Rows: coefficients only, and video (the frame drawn and JPEG-encoded).
Medians over ``--runs`` of each run's p50 / p99; the target is p99 <=
look-ahead + 80 ms. ``start -> first frame``: from sending ``start`` to
the first frame's arrival at the client (an idle frame).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path

import numpy as np
from websockets.asyncio.client import connect

from talkinghead.audio2motion.audio_io import load_audio
from talkinghead.audio2motion.resample import resample
from talkinghead.live import Engine
from talkinghead.streaming.server import Server, ServerConfig

ROOT = Path(__file__).resolve().parents[1]
RATE = 16000


async def one_run(engine: Engine, pcm: np.ndarray, lookahead: int, outputs: list[str]) -> dict:
    server = Server(engine, ServerConfig(port=0))
    ready, stop = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(server.run(ready, stop))
    await ready.wait()
    chunk = RATE // 50
    try:
        async with connect(f"ws://127.0.0.1:{server.port}/v1/stream", max_size=None) as socket:
            started = time.perf_counter()
            await socket.send(json.dumps({"type": "start", "sample_rate": RATE, "fps": 25, "outputs": outputs,
                                          "lookahead_ms": lookahead, "pacing": "realtime"}))
            await socket.recv()
            first_frame = []

            async def send():
                t0 = time.perf_counter()
                for k, offset in enumerate(range(0, len(pcm), chunk)):
                    # a microphone delivers a 20 ms chunk when its last sample has been recorded
                    await asyncio.sleep(max(0.0, t0 + (k + 1) * chunk / RATE - time.perf_counter()))
                    await socket.send(pcm[offset:offset + chunk].tobytes())
                await socket.send(json.dumps({"type": "end"}))

            sender = asyncio.create_task(send())
            end = None
            async for message in socket:
                if isinstance(message, bytes) and not first_frame:
                    first_frame.append(time.perf_counter() - started)
                elif isinstance(message, str):
                    end = json.loads(message)
            await sender
    finally:
        stop.set()
        await task
    latencies = np.array(server.metrics.recent)
    return {"p50": float(np.percentile(latencies, 50)), "p99": float(np.percentile(latencies, 99)),
            "first": first_frame[0], "frames": end["frames"], "dropped": end["dropped"]}


async def main_async(args) -> None:
    samples, rate = load_audio(args.data / "speech" / "intro_en.wav")
    pcm = (resample(samples, rate, RATE)[: int(args.seconds * RATE)] * 32767).astype("<i2")
    engine = Engine()
    engine.renderer()  # loaded before timing
    print("| look-ahead | outputs | p50 ms | p99 ms | target p99 ms | start -> first frame ms | dropped / frames |")
    print("|---|---|---|---|---|---|---|")
    for lookahead in args.lookaheads:
        for outputs in (["coefficients"], ["video", "coefficients"]):
            runs = [await one_run(engine, pcm, lookahead, outputs) for _ in range(args.runs)]
            p50 = statistics.median(r["p50"] for r in runs) * 1000
            p99 = statistics.median(r["p99"] for r in runs) * 1000
            first = statistics.median(r["first"] for r in runs) * 1000
            print(f"| {lookahead} ms | {' + '.join(outputs)} | {p50:.0f} | {p99:.0f} | {lookahead + 80} | {first:.0f} | "
                  f"{sum(r['dropped'] for r in runs)} / {sum(r['frames'] for r in runs)} |", flush=True)
    engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--lookaheads", type=int, nargs="+", default=[0, 40, 100])
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
