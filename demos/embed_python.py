"""Embedding talkinghead in a Python app: a live session fed in chunks, its frames written as they come.

    python demos/embed_python.py SPEECH.wav -o out.mp4 [--chunk-ms 20]

An app (a conferencing client, a game, a kiosk) holds an :class:`Engine`
and opens a session per speaker. Here the "live" audio is a file cut into
20 ms chunks, pushed as a microphone would push them, with ``fast`` pacing
so the example does not take the file's length to run (``realtime`` paces
frames by the wall clock instead). Each frame arrives with its index,
presentation time, picture, ARKit weights and the caller samples it
covers; this app writes the pictures and the speech to an MP4.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from talkinghead import Engine, LiveConfig, SyncSession, VideoWriter, load_audio


def run(speech: Path, output: Path, chunk_ms: int = 20) -> int:
    """Stream ``speech`` through a session and write its frames to ``output``; returns the frame count."""
    samples, rate = load_audio(speech)
    engine = Engine()
    session = SyncSession(engine, sample_rate=rate, config=LiveConfig(pacing="fast"))
    try:
        step = rate * chunk_ms // 1000
        for start in range(0, len(samples), step):
            session.push_audio(samples[start:start + step])
        session.end()
        height, width = engine.renderer().size
        count = 0
        with VideoWriter(output, session.fps, (height, width), samples, rate) as writer:
            for frame in session.frames():
                if frame.index != count:  # fast pacing drops nothing: every frame comes, in order
                    raise RuntimeError(f"frame {frame.index} came where {count} was due")
                writer.write(frame.image[None])
                count += 1
        return count
    finally:
        session.close()
        engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("speech", type=Path)
    parser.add_argument("-o", "--output", type=Path, default=Path("embedded.mp4"))
    parser.add_argument("--chunk-ms", type=int, default=20)
    args = parser.parse_args()
    frames = run(args.speech, args.output, args.chunk_ms)
    print(f"{frames} frames -> {args.output}")


if __name__ == "__main__":
    main()
