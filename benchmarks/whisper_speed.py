"""The Whisper ears' cost on this CPU: offline real-time factor against the mel model, and one encoder window.

    python benchmarks/whisper_speed.py [--runs 5] [--seconds 60] [--threads 1 2]

Per thread count (torch's, and the encoder's own for the encoder columns;
``animate`` encodes with the process's shared encoder, which uses up to 4
cores), medians over ``--runs``:
- ``animate`` real-time factor (seconds of CPU wall time per second of audio)
  of :func:`animate` on ``--seconds`` of speech-like noise at 16 kHz, shipped
  weights of each ears, and the ratio whisper/mel within the same run;
- the encoder alone (``WhisperEncoder.frames`` with the offline windows);
- one encoder window of 0.5, 1 and 2 s (median and p99 over 50 calls): what a
  live scheme that encodes a window per 40 ms chunk would spend.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from a2m_speed import audio as noise_bursts

from talkinghead.audio2motion.animate import animate
from talkinghead.audio2motion.model import load_model
from talkinghead.audio2motion.whisper import WhisperEncoder

RATE = 16000


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    audio = noise_bursts(args.seconds)
    mel, whisper = load_model(ears="mel"), load_model(ears="whisper")
    print("| threads | animate mel RTF | animate whisper RTF | whisper/mel | encoder RTF | "
          "window 0.5 s ms (p99) | window 1 s ms (p99) | window 2 s ms (p99) |")
    print("|---|---|---|---|---|---|---|---|")
    for threads in args.threads:
        torch.set_num_threads(threads)
        encoder = WhisperEncoder(threads=threads)
        runs = []
        for _ in range(args.runs):
            m = timed(lambda: animate(mel, audio, RATE, 30, 100)) / args.seconds
            w = timed(lambda: animate(whisper, audio, RATE, 30, 100)) / args.seconds
            e = timed(lambda encoder=encoder: encoder.frames(audio)) / args.seconds
            runs.append((m, w, w / m, e))
        windows = []
        for seconds in (0.5, 1.0, 2.0):
            piece = audio[:int(seconds * RATE)]
            encoder.encode(piece)
            times = sorted(timed(lambda piece=piece, encoder=encoder: encoder.encode(piece)) * 1000 for _ in range(50))
            windows.append(f"{statistics.median(times):.1f} ({times[int(0.99 * len(times)) - 1]:.1f})")
        medians = [statistics.median(r[i] for r in runs) for i in range(4)]
        print(f"| {threads} | {medians[0]:.4f} | {medians[1]:.4f} | {medians[2]:.2f} | {medians[3]:.4f} | "
              + " | ".join(windows) + " |", flush=True)


if __name__ == "__main__":
    main()
