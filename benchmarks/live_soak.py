"""A real-time soak: N live video sessions for hours; drift, latency, drops, memory, descriptors and threads per minute.

    python benchmarks/live_soak.py --minutes 120 [--sessions 2] [--csv soak.csv] [--plot soak.png]

``talkinghead serve`` runs in its own process; N clients each hold one
session for the whole run, streaming real speech (``speech/intro_en.wav``,
looped) at the wall clock's pace in 20 ms messages, video + coefficients,
look-ahead 100 ms. Every minute one row per run goes to ``--csv`` (flushed:
a run cut off keeps what it measured, and run again on the same file it goes
on from the last minute with a fresh server; run it in the background and
read the file as it grows):

- ``lag_frames``: per session, the audio sent (in frames) minus the frames
  received, the worst over sessions: flat over hours means no drift (it holds
  the look-ahead and the frames in flight; growth would be the clock slipping);
- ``p99_ms``: the minute's p99 latency over all sessions (audio that completes
  a frame sent -> the frame received);
- ``dropped``: frames the server skipped that minute (gaps in the indices);
- ``rss_mb``, ``fds``, ``threads``: the server process's, from ``/proc``.

``--plot`` draws the CSV (latency p99, memory, drops per minute) as a PNG.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import csv
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from live_latency import RATE, served  # noqa: E402  (the same server)
from websockets.asyncio.client import connect  # noqa: E402

from talkinghead.contracts.audio_io import load_audio  # noqa: E402
from talkinghead.contracts.resample import resample  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CHUNK = RATE // 50  # 20 ms messages
FRAME = RATE // 25
FIELDS = ["minute", "sessions", "lag_frames", "p99_ms", "dropped", "frames", "rss_mb", "fds", "threads"]


class Client:
    """One session held open: what it sent and what came back, read a minute at a time."""

    def __init__(self) -> None:
        self.sent: collections.deque[tuple[int, float]] = collections.deque()  # (samples sent, when), not yet shown
        self.samples = 0
        self.frames = 0
        self.last_index = -1
        self.dropped = 0
        self.latencies: list[float] = []

    async def run(self, url: str, pcm: np.ndarray, stop: asyncio.Event) -> None:
        async with connect(url, max_size=None) as socket:
            await socket.send(json.dumps({"type": "start", "sample_rate": RATE, "fps": 25, "lookahead_ms": 100,
                                          "outputs": ["video", "coefficients"], "pacing": "realtime"}))
            await socket.recv()
            sender = asyncio.create_task(self._send(socket, pcm, stop))
            async for message in socket:
                if isinstance(message, str):
                    continue
                now = time.monotonic()
                length = int.from_bytes(message[:4], "big")
                header = json.loads(message[4:4 + length])
                self.frames += 1
                self.dropped += max(0, header["index"] - self.last_index - 1)
                self.last_index = header["index"]
                if header["source"] is not None:  # frames come in order: what they have covered is forgotten
                    while self.sent and self.sent[0][0] < header["source"][1]:
                        self.sent.popleft()
                    if self.sent:
                        self.latencies.append(now - self.sent[0][1])
            await sender

    async def _send(self, socket, pcm: np.ndarray, stop: asyncio.Event) -> None:
        start = time.monotonic()
        k = 0
        while not stop.is_set():
            offset = (k * CHUNK) % (len(pcm) - CHUNK)
            await asyncio.sleep(max(0.0, start + (k + 1) * CHUNK / RATE - time.monotonic()))
            await socket.send(pcm[offset:offset + CHUNK].tobytes())
            self.samples += CHUNK
            self.sent.append((self.samples, time.monotonic()))
            k += 1
        await socket.send(json.dumps({"type": "end"}))

    def minute(self) -> tuple[int, list[float], int, int]:
        """(lag in frames, this minute's latencies, dropped, frames) since the last call."""
        latencies, self.latencies = self.latencies, []
        dropped, self.dropped = self.dropped, 0
        frames, self.frames = self.frames, 0
        return self.samples // FRAME - (self.last_index + 1), latencies, dropped, frames


def process_stats(pid: int) -> tuple[float, int, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    field = {line.split(":")[0]: line.split(":")[1].split() for line in status.splitlines() if ":" in line}
    return int(field["VmRSS"][0]) / 1024, len(os.listdir(f"/proc/{pid}/fd")), int(field["Threads"][0])


async def soak(args) -> None:
    samples, rate = load_audio(args.data / "speech" / "intro_en.wav")
    pcm = (resample(samples, rate, RATE) * 32767).astype("<i2")
    stop = asyncio.Event()
    new = not args.csv.exists()
    offset = 0  # a run resumed goes on from its last minute
    if not new:
        with open(args.csv) as file:
            offset = max((int(row["minute"]) for row in csv.DictReader(file)), default=0)
    with open(args.csv, "a", newline="") as file:
        writer = csv.DictWriter(file, FIELDS)
        if new:
            writer.writeheader()
        async with served(args.port, "--max-sessions", str(args.sessions), "--no-load-admission") as (url, server):
            clients = [Client() for _ in range(args.sessions)]
            tasks = [asyncio.create_task(c.run(url, np.roll(pcm, 3217 * k), stop)) for k, c in enumerate(clients)]
            started = time.monotonic()
            for minute in range(1, int(args.minutes) + 1):
                await asyncio.sleep(max(0.0, started + 60 * minute - time.monotonic()))
                if any(task.done() for task in tasks):
                    raise SystemExit(f"a session ended early: {next(t for t in tasks if t.done()).exception()}")
                rows = [c.minute() for c in clients]
                latencies = [x for _, lat, _, _ in rows for x in lat]
                rss, fds, threads = process_stats(server.pid)
                row = {"minute": offset + minute, "sessions": args.sessions, "lag_frames": max(r[0] for r in rows),
                       "p99_ms": round(float(np.percentile(latencies, 99)) * 1000, 1) if latencies else "",
                       "dropped": sum(r[2] for r in rows), "frames": sum(r[3] for r in rows),
                       "rss_mb": round(rss, 1), "fds": fds, "threads": threads}
                writer.writerow(row)
                file.flush()
                print(" ".join(f"{k}={v}" for k, v in row.items()), flush=True)
            stop.set()
            await asyncio.gather(*tasks)


def plot(path: Path, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(path) as file:
        rows = list(csv.DictReader(file))
    minutes = [int(r["minute"]) for r in rows]
    figure, axes = plt.subplots(3, 1, figsize=(8, 7), sharex=True)
    for axis, key, label in zip(axes, ("p99_ms", "rss_mb", "dropped"),
                                ("latency p99 (ms)", "server memory RSS (MB)", "frames dropped per minute")):
        axis.plot(minutes, [float(r[key]) if r[key] else np.nan for r in rows], marker=".")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
    axes[-1].set_xlabel("minute")
    figure.suptitle(f"live soak: {rows[0]['sessions']} video sessions" if rows else "live soak")
    figure.tight_layout()
    figure.savefig(out, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--minutes", type=float, default=120)
    parser.add_argument("--sessions", type=int, default=2)
    parser.add_argument("--csv", type=Path, default=Path("soak.csv"))
    parser.add_argument("--plot", type=Path, default=None, help="draw the CSV to this PNG (after the run, or alone)")
    parser.add_argument("--port", type=int, default=8796)
    args = parser.parse_args()
    if args.minutes > 0:
        asyncio.run(soak(args))
    if args.plot:
        plot(args.csv, args.plot)


if __name__ == "__main__":
    main()
