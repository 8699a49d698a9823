"""Live latency over the WebSocket server: audio that completes frame k -> frame k sent, and start -> first frame.

    python benchmarks/live_latency.py [--seconds 15] [--runs 3] [--lookaheads 0 40 100] [--ears auto|mel|whisper]

One session at a time on the default avatar, 25 fps, ``realtime`` pacing,
protocol v1 on loopback: ``talkinghead serve`` runs as its own process
(so the client does not share its interpreter). The client streams real
speech (``speech/intro_en.wav``, 16 kHz s16le) in 20 ms messages at the
wall clock's pace, each sent when its last sample would have been
recorded. Latency of frame k: from sending the audio message that holds
its last sample to receiving the frame (``time.monotonic``, one clock for
both processes; loopback adds well under a millisecond).
Rows: coefficients only, and video (the frame drawn and JPEG-encoded).
Medians over ``--runs`` of each run's p50 / p99; the target is p99 <=
look-ahead + 50 ms. ``--ears`` is the server's (a live Whisper head's
look-ahead bounds all the audio a frame hears; the mel model's is its
head's). ``start -> first frame``: from sending ``start`` to
the first frame's arrival at the client (an idle frame).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from websockets.asyncio.client import connect

from talkinghead.contracts.audio_io import load_audio
from talkinghead.contracts.resample import resample

ROOT = Path(__file__).resolve().parents[1]
RATE = 16000


async def one_run(url: str, pcm: np.ndarray, lookahead: int, outputs: list[str]) -> dict:
    chunk = RATE // 50
    sent: list[tuple[int, float]] = []  # (samples sent, when)
    latencies, first_frame = [], None
    async with connect(url, max_size=None) as socket:
        started = time.monotonic()
        await socket.send(json.dumps({"type": "start", "sample_rate": RATE, "fps": 25, "outputs": outputs,
                                      "lookahead_ms": lookahead, "pacing": "realtime"}))
        await socket.recv()

        async def send():
            t0 = time.monotonic()
            for k, offset in enumerate(range(0, len(pcm), chunk)):
                # a microphone delivers a 20 ms chunk when its last sample has been recorded
                await asyncio.sleep(max(0.0, t0 + (k + 1) * chunk / RATE - time.monotonic()))
                await socket.send(pcm[offset:offset + chunk].tobytes())
                sent.append((offset + len(pcm[offset:offset + chunk]), time.monotonic()))
            await socket.send(json.dumps({"type": "end"}))

        sender = asyncio.create_task(send())
        end = None
        async for message in socket:
            now = time.monotonic()
            if isinstance(message, str):
                end = json.loads(message)
                continue
            first_frame = first_frame if first_frame is not None else now - started
            length = int.from_bytes(message[:4], "big")
            source = json.loads(message[4:4 + length])["source"]
            if source is not None:
                done = next((when for count, when in sent if count >= source[1]), None)
                if done is not None:
                    latencies.append(now - done)
        await sender
    return {"p50": float(np.percentile(latencies, 50)), "p99": float(np.percentile(latencies, 99)),
            "first": first_frame, "frames": end["frames"], "dropped": end["dropped"]}


async def main_async(args) -> None:
    samples, rate = load_audio(args.data / "speech" / "intro_en.wav")
    pcm = (resample(samples, rate, RATE)[: int(args.seconds * RATE)] * 32767).astype("<i2")
    async with served(args.port, "--ears", args.ears) as (url, _):
        print(f"ears: {args.ears}\n")
        print("| look-ahead | outputs | p50 ms | p99 ms | target p99 ms | start -> first frame ms | dropped / frames |")
        print("|---|---|---|---|---|---|---|")
        for lookahead in args.lookaheads:
            for outputs in (["coefficients"], ["video", "coefficients"]):
                runs = [await one_run(url, pcm, lookahead, outputs) for _ in range(args.runs)]
                p50 = statistics.median(r["p50"] for r in runs) * 1000
                p99 = statistics.median(r["p99"] for r in runs) * 1000
                first = statistics.median(r["first"] for r in runs) * 1000
                print(f"| {lookahead} ms | {' + '.join(outputs)} | {p50:.0f} | {p99:.0f} | {lookahead + 50} | "
                      f"{first:.0f} | {sum(r['dropped'] for r in runs)} / {sum(r['frames'] for r in runs)} |",
                      flush=True)


@contextlib.asynccontextmanager
async def served(port: int, *options: str):
    """``talkinghead serve`` in its own process while the block runs; yields its stream URL and the process."""
    server = subprocess.Popen([sys.executable, "-m", "talkinghead", "serve", "--port", str(port), "-q", *options])
    url = f"ws://127.0.0.1:{port}/v1/stream"
    try:
        for _ in range(240):
            try:
                async with connect(url):
                    break
            except OSError:
                await asyncio.sleep(0.25)
        else:
            raise RuntimeError("the server did not start")
        yield url, server
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--lookaheads", type=int, nargs="+", default=[0, 40, 100])
    parser.add_argument("--port", type=int, default=8798)
    parser.add_argument("--ears", choices=("auto", "mel", "whisper"), default="auto", help="the server's ears")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
