"""Hostile clients against ``talkinghead serve``, while two well-behaved sessions keep streaming.

    python benchmarks/live_hostile.py [--port 8799] [--rounds 2]

The server runs as its own process (``talkinghead serve``, default avatar,
default limits: 1 MiB messages, 16 sessions, 10 s send timeout). Two good
clients stream real speech at the wall clock's pace for the whole run
(realtime; video and coefficients, or ``--good-outputs coefficients``) and
count their frames. Meanwhile, one
after another: malformed JSON, audio before ``start``, a 100 MB message, a
wrong sample rate, 1 000 connections opened and dropped (50 at a time),
and a client that starts a video session and never reads (``--attacks``
picks some, to see what each costs the good sessions). Reported: what
each got (its error code and close code), the good sessions' frame rate
and drops, and the server's resident memory before, at its peak, and after
(the baseline is taken after one short warm-up video session); the whole
sequence runs ``--rounds`` times on one server, so a one-off can be told
from growth.
All traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

sys.path.insert(0, str(Path(__file__).resolve().parent))
from live_latency import served  # noqa: E402  (the same server process)

from talkinghead.contracts.audio_io import load_audio  # noqa: E402
from talkinghead.contracts.resample import resample  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RATE = 16000


def rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def good_client(url: str, pcm: np.ndarray, outputs: list[str], results: list) -> None:
    async with connect(url, max_size=None) as socket:
        await socket.send(json.dumps({"type": "start", "sample_rate": RATE, "outputs": outputs}))
        await socket.recv()
        started = time.perf_counter()

        async def send():
            chunk = RATE // 50
            for k, offset in enumerate(range(0, len(pcm), chunk)):
                await asyncio.sleep(max(0.0, started + (k + 1) * chunk / RATE - time.perf_counter()))
                await socket.send(pcm[offset:offset + chunk].tobytes())
            await socket.send(json.dumps({"type": "end"}))

        sender = asyncio.create_task(send())
        frames, end = 0, None
        async for message in socket:
            if isinstance(message, bytes):
                frames += 1
            else:
                end = json.loads(message)
        await sender
        results.append((frames, end, time.perf_counter() - started))


async def one_shot(url: str, messages: list) -> str:
    """Send ``messages``; what came back: the last error code and the close code."""
    code = None
    socket = await connect(url, max_size=None)
    try:
        for message in messages:
            await socket.send(message)
        while True:
            reply = await asyncio.wait_for(socket.recv(), 15)
            if isinstance(reply, str) and json.loads(reply).get("type") == "error":
                code = json.loads(reply)["code"]
    except ConnectionClosed as closed:
        return f"error `{code}`, close {closed.rcvd.code if closed.rcvd else 'none'}"
    except asyncio.TimeoutError:
        return "no answer in 15 s"
    finally:
        with contextlib.suppress(Exception):  # the client library may already have dropped the transport
            await socket.close()


async def warm_up(url: str, pcm: np.ndarray) -> None:
    """One short video session first: the baseline is a server that has served, its caches made."""
    async with connect(url, max_size=None) as socket:
        await socket.send(json.dumps({"type": "start", "sample_rate": RATE, "outputs": ["video"], "pacing": "fast"}))
        await socket.send(pcm[: 2 * RATE].tobytes())
        await socket.send(json.dumps({"type": "end"}))
        async for _ in socket:
            pass
    await asyncio.sleep(2)


async def never_reads(url: str, port: int) -> str:
    """A video session whose client sends audio, then never reads again. It cannot see the server's close
    (it reads nothing), so the server's side is watched: its ``slow_client`` error count in /metrics."""
    async with connect(url, max_size=None, max_queue=1) as socket:
        await socket.send(json.dumps({"type": "start", "sample_rate": RATE, "outputs": ["video"], "pacing": "fast"}))
        silence = np.zeros(RATE, "<i2").tobytes()
        for _ in range(25):
            await socket.send(silence)
        cut_before = await asyncio.to_thread(slow_clients, port)
        socket.transport.pause_reading()  # stop reading from the socket altogether
        started = time.perf_counter()
        while time.perf_counter() - started < 60:
            await asyncio.sleep(0.25)
            if await asyncio.to_thread(slow_clients, port) > cut_before:
                return f"cut off by the server {time.perf_counter() - started:.1f} s after it stopped reading"
        return "still served after 60 s"


def slow_clients(port: int) -> int:
    """The server's count of clients it cut off for taking nothing (``/metrics``)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as response:
        for line in response.read().decode().splitlines():
            if line.startswith('talkinghead_client_errors_total{code="slow_client"}'):
                return int(line.split()[-1])
    return 0


async def churn(host: str, port: int, count: int) -> str:
    """``count`` WebSocket connections opened and dropped without a word (50 at a time)."""
    started, done = time.perf_counter(), 0

    async def one():
        nonlocal done
        async with connect(f"ws://{host}:{port}/v1/stream"):
            pass
        done += 1

    for first in range(0, count, 50):
        await asyncio.gather(*(one() for _ in range(min(50, count - first))), return_exceptions=True)
    return f"{done} of {count} opened and dropped in {time.perf_counter() - started:.1f} s"


ATTACKS = {
    "json": ("malformed JSON", lambda url, port: one_shot(url, ["{type: start"])),
    "early": ("audio before start", lambda url, port: one_shot(url, [b"\x00" * 640])),
    "big": ("a 100 MB message",
            lambda url, port: one_shot(url, [json.dumps({"type": "start"}), b"\x00" * (100 << 20)])),
    "rate": ("wrong sample rate",
             lambda url, port: one_shot(url, [json.dumps({"type": "start", "sample_rate": 44100.5})])),
    "churn": ("1 000 connections opened and dropped", lambda url, port: churn("127.0.0.1", port, 1000)),
    "reader": ("a client that never reads", lambda url, port: never_reads(url, port)),
}


async def attack(url: str, port: int, pid: int, names: list[str], samples: list) -> list[tuple[str, str]]:
    """The attacks ``names``, one after another; the server's memory is sampled after each."""
    out = []
    for name in names:
        title, run = ATTACKS[name]
        out.append((title, await run(url, port)))
        samples.append(rss_mb(pid))
    return out


async def main_async(args) -> None:
    samples, rate = load_audio(args.data / "speech" / "intro_en.wav")
    pcm = (resample(samples, rate, RATE)[: int(args.seconds * RATE)] * 32767).astype("<i2")
    async with served(args.port) as (url, server):
        await warm_up(url, pcm)
        before = rss_mb(server.pid)
        print(f"good sessions: {args.good_outputs}\n")
        for round_number in range(1, args.rounds + 1):
            results, memory = [], [rss_mb(server.pid)]
            good = [asyncio.create_task(good_client(url, pcm, args.good_outputs.split("+"), results)) for _ in range(2)]
            await asyncio.sleep(2)
            outcomes = await attack(url, args.port, server.pid, args.attacks, memory)
            await asyncio.gather(*good)
            await asyncio.sleep(3)
            after = rss_mb(server.pid)
            print(f"### round {round_number}\n\n| client | what it got |\n|---|---|")
            for name, outcome in outcomes:
                print(f"| {name} | {outcome} |")
            print("\n| good session | frames | dropped | seconds | frames / s |\n|---|---|---|---|---|")
            for k, (frames, end, seconds) in enumerate(results):
                print(f"| {k + 1} | {end['frames']} | {end['dropped']} | {seconds:.1f} | {frames / seconds:.1f} |")
            print(f"\nserver resident memory: {memory[0]:.0f} MB at the round's start ({before:.0f} MB after the "
                  f"warm-up), {max(memory):.0f} MB at its highest sample, {after:.0f} MB after\n", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--port", type=int, default=8799)
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--rounds", type=int, default=2, help="the whole sequence again, on the same server")
    parser.add_argument("--good-outputs", default="video+coefficients", help="the good sessions' outputs")
    parser.add_argument("--attacks", nargs="+", choices=list(ATTACKS), default=list(ATTACKS),
                        help="which attacks, in this order (default: all)")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
