"""Golden digest of talkinghead's observable behaviour: the relayout's check that behaviour did not move.

    python benchmarks/golden.py --out digest.json [--data ../shared/data]
    python benchmarks/golden.py --compare A.json B.json    # prints each difference; exit 1 if any

Only the public surfaces are driven: the ``talkinghead`` console script next
to ``sys.executable`` and the v1 WebSocket protocol (docs/PROTOCOL.md), never
a ``talkinghead`` import, so this one file runs unchanged with the venv of the
tree before a relayout and of the tree after, and the two digests must match.

- ``cli``: ``--version``, and the sha256 of the ``--help`` of each subcommand.
- ``demo``: ``talkinghead demo`` decoded: each video frame's sha256 (rgb24), the audio samples' sha256.
- ``serve``: ``talkinghead serve`` on a free loopback port, ``fast`` pacing,
  fed 4 s of speech/intro_en.wav (a seeded synthetic signal without the
  data). Text replies verbatim; binary ones as their JSON header and the
  payload's sha256. Also ``/v1/avatars`` and the default mesh's sha256.
- ``enroll``: a photo bundle (frame 0 of video_with_audio/retalk_2.mp4) and a
  quick video bundle (talking/feifeili_clip2_short): each file's sha256 and
  avatar.json. Skipped, with a note, without ../shared/data.

Nothing in the replies is wall-clock (session ids count from 1 in a fresh
server; ``dropped`` counts only realtime drops), so every reply is kept
whole. Normalised: a bundle's ``.npz`` is hashed member by member, as numpy
stamps each zip member with the current time. Tolerated: under ``fast``
pacing the server feeds audio2motion all the audio that has arrived at each
tick, so streamed messages are fed in timing-dependent pieces, and the
network's batch-size-dependent kernels move its floats by ~1e-7, which can
flip the 5th decimal of a coefficient; so numbers compare to ``TOLERANCE``.
The video session sends each half of the audio as one message, so its
feeds, coefficients and JPEG bytes are exact; the streamed session's
payloads (the session's audio) are exact too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import wave
import zipfile
from pathlib import Path
from typing import Any

import av
import numpy as np
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

TALKINGHEAD = Path(sys.executable).with_name("talkinghead")
RATE, CHUNK = 16000, 1000  # streamed messages: not a whole number of frames, on purpose
TOLERANCE = 5e-5  # for numbers (the coefficients: the only floats); hashes, ints and strings are exact
ENV = {**os.environ, "COLUMNS": "100"}  # argparse wraps help to the terminal's width


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def cli(*args: object) -> str:
    return subprocess.run([str(TALKINGHEAD), *map(str, args)], check=True, capture_output=True, text=True,
                          env=ENV).stdout


def cli_digest() -> dict[str, Any]:
    main = cli("--help")
    commands = re.findall(r"^    ([a-z][\w-]*)", main, re.MULTILINE)  # the COMMAND list
    return {"version": cli("--version").strip(), "help": sha(main.encode()),
            "commands": {name: sha(cli(name, "--help").encode()) for name in commands}}


def media_digest(path: Path) -> dict[str, Any]:
    with av.open(str(path)) as container:
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    with av.open(str(path)) as container:
        audio = list(container.decode(audio=0))
    return {"frames": len(frames), "size": list(frames[0].shape[1::-1]),
            "frame_sha256": [sha(frame.tobytes()) for frame in frames],
            "audio": {"rate": audio[0].sample_rate, "samples": sum(frame.samples for frame in audio),
                      "sha256": sha(b"".join(frame.to_ndarray().tobytes() for frame in audio))}}


def bundle_digest(directory: Path) -> dict[str, Any]:
    files: dict[str, Any] = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        name = path.relative_to(directory).as_posix()
        if path.suffix == ".npz":  # zip members carry the time they were written: hash their contents
            with zipfile.ZipFile(path) as archive:
                files[name] = {member: sha(archive.read(member)) for member in archive.namelist()}
        else:
            files[name] = sha(path.read_bytes())
    return {"files": files, "avatar.json": json.loads((directory / "avatar.json").read_text())}


def speech(data: Path) -> tuple[str, np.ndarray]:
    """4 s of 16 kHz int16 speech: real if the data is there, otherwise a seeded voice-like signal."""
    path = data / "speech" / "intro_en.wav"
    if path.is_file():
        with wave.open(str(path)) as reader:
            assert (reader.getframerate(), reader.getnchannels(), reader.getsampwidth()) == (RATE, 1, 2)
            return "speech/intro_en.wav[:4s]", np.frombuffer(reader.readframes(4 * RATE), "<i2")
    t = np.arange(4 * RATE) / RATE
    voice = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 8)) * np.clip(np.sin(2 * np.pi * 3 * t), 0, 1)
    noise = np.random.default_rng(0).normal(0, 0.01, t.size)
    return "synthetic", (np.clip(0.2 * voice + noise, -1, 1) * 32767).astype("<i2")


async def session(url: str, start: dict[str, Any], chunks: list[bytes], flush_at: int = -1) -> list[Any]:
    """One session: ``start``, the audio messages, ``end``; every reply. A flush goes after caller sample
    ``flush_at``, and the rest waits for the frame ending there: the server would apply the flush after all the
    audio queued by its next tick, so sending on at once would move the flush with the timing."""
    replies: list[Any] = []
    flushed = asyncio.Event()
    async with connect(url, max_size=None) as client:
        await client.send(json.dumps(start))

        async def send() -> None:
            sent = 0
            for chunk in chunks:
                await client.send(chunk)
                sent += len(chunk) // (2 if start["format"] == "pcm_s16le" else 4)
                if sent == flush_at:
                    await client.send(json.dumps({"type": "flush"}))
                    await flushed.wait()
            await client.send(json.dumps({"type": "end"}))

        sender = asyncio.create_task(send()) if chunks else None
        with contextlib.suppress(ConnectionClosed):  # a 4xxx close ends the iteration with this
            async for message in client:
                if isinstance(message, str):
                    replies.append(json.loads(message))
                    continue
                length = int.from_bytes(message[:4], "big")
                header, payload = json.loads(message[4:4 + length]), message[4 + length:]
                replies.append({"header": header, "payload_bytes": len(payload), "payload_sha256": sha(payload)})
                if (header.get("source") or [0, None])[1] == flush_at:
                    flushed.set()
        flushed.set()  # a session cut short must not leave the sender waiting
        if sender is not None:
            await sender
        replies.append({"close": client.close_code})
    return replies


def serve_digest(data: Path) -> dict[str, Any]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base, url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/v1/stream"
    server = subprocess.Popen([str(TALKINGHEAD), "serve", "--host", "127.0.0.1", "--port", str(port), "-q"], env=ENV)
    try:
        for _ in range(600):
            if server.poll() is not None:
                raise RuntimeError(f"talkinghead serve exited with {server.returncode}")
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"{base}/healthz", timeout=1).read()
                break
            time.sleep(0.2)
        source, pcm = speech(data)
        half, floats = len(pcm) // 2, (pcm / 32768).astype("<f4").tobytes()
        start = {"type": "start", "sample_rate": RATE, "channels": 1, "pacing": "fast", "format": "pcm_s16le"}
        video = {**start, "fps": 25, "lookahead_ms": 100, "outputs": ["video", "coefficients"]}
        streamed = {**start, "format": "f32le", "fps": 30, "lookahead_ms": 40, "outputs": ["coefficients", "audio"]}
        sessions = {
            "video+coefficients": asyncio.run(session(url, video, [pcm[:half].tobytes(), pcm[half:].tobytes()],
                                                      flush_at=half)),
            "coefficients+audio": asyncio.run(session(url, streamed, [floats[k:k + 4 * CHUNK]
                                                                      for k in range(0, len(floats), 4 * CHUNK)])),
            "bad_start": asyncio.run(session(url, {**start, "fps": 0}, [])),
        }
        avatars = json.loads(urllib.request.urlopen(f"{base}/v1/avatars").read())
        mesh = urllib.request.urlopen(f"{base}/v1/avatars/{avatars['default']}/mesh").read()
    finally:
        server.send_signal(signal.SIGINT)
        exit_code = server.wait(timeout=60)
    return {"audio_source": source, "sessions": sessions, "avatars": avatars, "mesh_sha256": sha(mesh),
            "server_exit": exit_code}


def enroll_digest(data: Path, work: Path) -> dict[str, Any]:
    if not data.is_dir():
        return {"skipped": f"{data} is absent"}
    with av.open(str(data / "video_with_audio" / "retalk_2.mp4")) as container:
        next(container.decode(video=0)).to_image().save(work / "photo.png")
    cli("enroll", "--image", work / "photo.png", "-o", work / "photo_avatar", "-q")
    clip = data / "talking" / "feifeili_clip2_short"
    cli("enroll", clip / "video.mp4", "--audio", clip / "audio.wav", "-o", work / "video_avatar",
        "--preset", "quick", "-q")
    return {"photo_png_sha256": sha((work / "photo.png").read_bytes()),
            "photo": bundle_digest(work / "photo_avatar"), "video_quick": bundle_digest(work / "video_avatar")}


def flatten(value: Any, path: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in flatten(item, f"{path}.{key}" if path else key).items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in flatten(item, f"{path}[{i}]").items()}
    return {path: value}


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and abs(a - b) <= TOLERANCE
    return a == b


def compare(a: Path, b: Path) -> int:
    left, right = flatten(json.loads(a.read_text())), flatten(json.loads(b.read_text()))
    differences = [f"{key}: {left.get(key, '<absent>')!r} != {right.get(key, '<absent>')!r}"
                   for key in sorted(left.keys() | right.keys())
                   if key not in left or key not in right or not same(left[key], right[key])]
    print("\n".join(differences) or "identical")
    return 1 if differences else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the digest here")
    parser.add_argument("--compare", type=Path, nargs=2, metavar=("A", "B"), help="compare two digests")
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    args = parser.parse_args()
    if args.compare:
        return compare(*args.compare)
    if args.out is None:
        parser.error("give --out or --compare")
    print(f"golden: {TALKINGHEAD}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="golden-") as work:
        cli("demo", "-o", Path(work) / "demo.mp4", "--quiet")
        digest = {"cli": cli_digest(), "demo": media_digest(Path(work) / "demo.mp4"),
                  "serve": serve_digest(args.data), "enroll": enroll_digest(args.data, Path(work))}
    args.out.write_text(json.dumps(digest, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
