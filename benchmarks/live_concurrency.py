"""How many simultaneous 25 fps live sessions this machine sustains with under 1% dropped frames.

    python benchmarks/live_concurrency.py [--sessions 1 2 4 8 12 16] [--seconds 20] [--outputs coefficients]
                                          [--no-step-batching] [--avatar DIR] [--ears auto|mel|whisper] [--workers N] [--admission] [--overload]

``talkinghead serve`` runs as its own process (default avatar or ``--avatar``, realtime
pacing); N clients in one other process each stream real speech at the
wall clock's pace (as in ``live_latency.py``) at the same time. Per N: the
share of frames dropped (from the server's ``end`` messages), the median
over sessions of their p99 latency, and whether every session kept its
clock (frames = the session's length in frames).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from live_latency import RATE, one_run, served  # noqa: E402  (the same client)
from websockets.asyncio.client import connect  # noqa: E402

from talkinghead.contracts.audio_io import load_audio  # noqa: E402
from talkinghead.contracts.resample import resample  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


async def main_async(args) -> None:
    samples, rate = load_audio(args.data / "speech" / "intro_en.wav")
    pcm = (resample(samples, rate, RATE)[: int(args.seconds * RATE)] * 32767).astype("<i2")
    outputs = args.outputs.split("+")
    most = str(max(args.sessions))
    options = ["--max-sessions", most, "--max-sessions-per-token", most, "--ears", args.ears] + (
        ["--no-step-batching"] if args.no_step_batching else []) + (["--avatar", str(args.avatar)] if args.avatar else []) + (
        ["--workers", str(args.workers)] if args.workers else []) + ([] if args.admission else ["--no-load-admission"])
    async with served(args.port, *options) as (url, _):
        print(f"outputs: {' + '.join(outputs)}; ears {args.ears}; audio2motion "
              f"{'not ' * args.no_step_batching}batched per tick\n")
        print("| sessions | frames | dropped | dropped % | median p99 latency ms | worst p99 ms |")
        print("|---|---|---|---|---|---|")
        refusals = []
        for count in args.sessions:
            sessions = [one_run(url, np.roll(pcm, 3217 * k), args.lookahead, outputs) for k in range(count)]
            if args.overload:  # one more than this round's count, asked for once the others have settled
                sessions.append(one_more(url, outputs, refusals))
            runs = [r for r in await asyncio.gather(*sessions) if r is not None]
            frames, dropped = sum(r["frames"] for r in runs), sum(r["dropped"] for r in runs)
            p99 = [r["p99"] * 1000 for r in runs]
            print(f"| {count} | {frames} | {dropped} | {100 * dropped / frames:.2f} | {statistics.median(p99):.0f} | "
                  f"{max(p99):.0f} |", flush=True)
            await asyncio.sleep(3)  # the server closes this round's sessions before the next round opens more
        for count, (reply, seconds) in zip(args.sessions, refusals):
            print(f"\none more beside {count}: {reply} after {1000 * seconds:.0f} ms")


async def one_more(url: str, outputs: list[str], refusals: list) -> None:
    """A session asked for 5 s into a round (the others' costs measured by then): the server's answer to it, and
    how long that took. Admitted, it is ended at once (the round's figures are the others')."""
    await asyncio.sleep(5)
    started = time.monotonic()
    async with connect(url) as socket:
        await socket.send(json.dumps({"type": "start", "sample_rate": RATE, "outputs": outputs}))
        reply = json.loads(await socket.recv())
        refusals.append((f"{reply['type']} {reply.get('code', '')}".strip(), time.monotonic() - started))
        if reply["type"] == "ready":
            await socket.send(json.dumps({"type": "end"}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 2, 4, 8, 12, 16])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--outputs", default="coefficients", help="coefficients, or video+coefficients")
    parser.add_argument("--lookahead", type=int, default=100)
    parser.add_argument("--port", type=int, default=8797)
    parser.add_argument("--avatar", type=Path, default=None, help="an avatar bundle to serve (default: the built-in one)")
    parser.add_argument("--ears", choices=("auto", "mel", "whisper"), default="auto", help="the server's ears")
    parser.add_argument("--no-step-batching", action="store_true", help="the server runs each session's network alone")
    parser.add_argument("--workers", type=int, default=None, help="the server's lanes (default: one per core)")
    parser.add_argument("--overload", action="store_true",
                        help="each round, ask for one session more than its count (with --admission: is it refused?)")
    parser.add_argument("--admission", action="store_true",
                        help="leave the server's admission by measured load on (off: every session is let in)")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
