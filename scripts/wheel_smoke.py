"""The installed package as a user gets it: the main jobs and the server, run from outside any checkout.

    python scripts/wheel_smoke.py            # with the Python of an environment the wheel is installed in

Runs ``talkinghead demo`` and ``talkinghead animate`` on the built-in
sentence, then ``talkinghead serve`` with its defaults, fetches the browser
page (``/``) and its JS client (``/client.js``), and streams the built-in
sentence through one WebSocket session (``pacing: fast``), checking the frame
count against the session clock. Fails (exit 1, one line) on the first thing
that does not work. ``.ci/run`` runs it in a fresh environment holding only
the built wheel.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import urllib.request
from fractions import Fraction
from pathlib import Path

import numpy as np
from websockets.asyncio.client import connect

import talkinghead
from talkinghead.contracts.audio_io import load_audio
from talkinghead.contracts.resample import resample

RATE = 16000
FPS = 25


def check(condition: bool, message: str) -> None:
    if not condition:
        raise SystemExit(f"wheel smoke test: {message}")


def cli(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "talkinghead", *args], capture_output=True, text=True, check=False)
    check(done.returncode == 0, f"talkinghead {args[0]} failed: {done.stderr.strip().splitlines()[-1:]}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(url: str) -> tuple[str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.headers.get_content_type(), response.read()


async def session(url: str, pcm: np.ndarray) -> tuple[dict, int]:
    """Stream ``pcm`` (16 kHz int16) through one session; (the end message, frames received)."""
    async with connect(url, max_size=None) as ws:
        await ws.send(json.dumps({"type": "start", "sample_rate": RATE, "fps": FPS, "pacing": "fast",
                                  "outputs": ["video", "coefficients"]}))
        ready = json.loads(await ws.recv())
        check(ready.get("type") == "ready", f"no ready message: {ready}")
        for offset in range(0, len(pcm), RATE // 25):
            await ws.send(pcm[offset:offset + RATE // 25].tobytes())
        await ws.send(json.dumps({"type": "end"}))
        frames, end = 0, None
        async for message in ws:
            if isinstance(message, bytes):
                frames += 1
            else:
                end = json.loads(message)
        check(end is not None and end.get("type") == "end", f"no end message: {end}")
        return end, frames


async def serve_and_stream(pcm: np.ndarray) -> None:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "talkinghead", "serve", "--port", str(port), "-q"])
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                kind, page = fetch(base + "/")
                break
            except OSError:
                check(server.poll() is None, "talkinghead serve exited")
                await asyncio.sleep(0.25)
        else:
            raise SystemExit("wheel smoke test: talkinghead serve did not start")
        check(kind == "text/html" and b"<html" in page.lower(), f"/ is not the browser page ({kind})")
        kind, client = fetch(base + "/client.js")
        check(kind in ("text/javascript", "application/javascript") and b"export" in client,
              f"/client.js is not the JS client ({kind})")
        end, frames = await session(f"ws://127.0.0.1:{port}/v1/stream", pcm)
        expected = -(-len(pcm) * Fraction(FPS) // RATE)  # frames whose span starts inside the audio
        check(frames == end["frames"] == expected, f"{frames} frames received, end says {end['frames']}, "
              f"the clock {expected}")
        print(f"serve: / {len(page)} bytes, /client.js {len(client)} bytes, a session of {frames} frames "
              f"({end['dropped']} dropped)")
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    root = Path(talkinghead.__file__).resolve().parent
    check("site-packages" in root.parts, f"talkinghead imports from {root}, not an installed wheel")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        cli("demo", "-o", str(out / "demo.mp4"), "--quiet")
        check((out / "demo.mp4").stat().st_size > 10_000, "demo wrote no video")
        sentence = root / "assets" / "demo.wav"
        cli("animate", str(sentence), "-o", str(out / "demo.npz"), "--quiet")
        weights = np.load(out / "demo.npz")
        print(f"demo: {(out / 'demo.mp4').stat().st_size} bytes of MP4; animate: {sorted(weights.files)}")
    samples, rate = load_audio(sentence)
    pcm = (np.clip(resample(samples, rate, RATE), -1, 1) * 32767).astype("<i2")
    asyncio.run(serve_and_stream(pcm))
    print(f"wheel smoke test: passed ({root})")


if __name__ == "__main__":
    main()
