"""The Whisper ears' cost on this CPU: offline real-time factor against the mel model, one encoder window,
and a live session's cost per 40 ms chunk.

    python benchmarks/whisper_speed.py [--runs 5] [--seconds 60] [--threads 1 2] [--workers 1 2] [--live-weights A2M.pt]

Per thread count (torch's, and the encoder's own for the encoder columns;
``animate`` encodes with the process's shared encoder, which uses up to 4
cores), medians over ``--runs``:
- ``animate`` real-time factor (seconds of CPU wall time per second of audio)
  of :func:`animate` on ``--seconds`` of speech-like noise at 16 kHz, shipped
  weights of each ears, and the ratio whisper/mel within the same run;
- the encoder alone (``WhisperEncoder.frames`` with the offline windows);
- one encoder window of 0.5, 1 and 2 s (median and p99 over 50 calls): what a
  live scheme that encodes a window per 40 ms chunk would spend.

Then, per count of encoder workers (one thread each, torch on one thread as
on the live engine's worker), a live session (:class:`StreamingAnimator`,
look-ahead 100 ms) fed 40 ms chunks of the same audio: CPU wall time of
each ``push`` (encoder + head + sampling), median and p99 over the chunks of
all runs, for the live Whisper head and the mel model in the same run; and
the encoder's wall time per session when ``N`` sessions' windows go in one
``encode_batch`` (as the live engine batches a tick's sessions; split
across the workers).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from a2m_speed import audio as noise_bursts

from talkinghead.audio2motion.animate import StreamingAnimator, animate
from talkinghead.audio2motion.model import load_model
from talkinghead.audio2motion.whisper import FRAME_SAMPLES, WhisperEncoder

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
    parser.add_argument("--live-weights", default=None, help="a live Whisper head (default: the shipped one)")
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 2, 10], help="batch sizes of encode_batch")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                        help="encoder workers (one thread each) for the live table; the shared encoder has one per core")
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
    live = load_model(args.live_weights, ears="whisper", live=True)
    window = live.config.live_windowing.length * FRAME_SAMPLES
    print(f"\nLive, 40 ms chunks, look-ahead 100 ms, {live.config.live_windowing}:\n")
    print("| encoder workers | mel push ms median (p99) | whisper push ms median (p99) | whisper/mel (medians) | "
          + " | ".join(f"encoder ms/session, {n} in a batch" for n in args.sessions) + " |")
    print("|---|---|---|---|" + "---|" * len(args.sessions))
    torch.set_num_threads(1)  # as on the live engine's worker
    for workers in args.workers:
        encoder = WhisperEncoder(threads=1, workers=workers)
        mel_pushes, whisper_pushes = [], []
        for _ in range(args.runs):
            mel_pushes += chunk_times(StreamingAnimator(mel, RATE, 30, 100), audio)
            whisper_pushes += chunk_times(StreamingAnimator(live, RATE, 30, 100, encoder), audio)
        batched = []
        for n in args.sessions:
            pieces = [audio[k * RATE:k * RATE + window] for k in range(n)]
            times = sorted(timed(lambda pieces=pieces, encoder=encoder: encoder.encode_batch(pieces)) * 1000 / n
                           for _ in range(20))
            batched.append(f"{statistics.median(times):.2f}")
        m, w = summary(mel_pushes), summary(whisper_pushes)
        print(f"| {workers} | {m[0]:.2f} ({m[1]:.2f}) | {w[0]:.2f} ({w[1]:.2f}) | {w[0] / m[0]:.1f} | "
              + " | ".join(batched) + " |", flush=True)


def chunk_times(animator: StreamingAnimator, audio, chunk: int = 640) -> list[float]:
    """Milliseconds of each 40 ms push (the first second's, while the window fills, left out)."""
    times = [timed(lambda start=start: animator.push(audio[start:start + chunk])) * 1000
             for start in range(0, len(audio) - chunk + 1, chunk)]
    return times[RATE // chunk:]


def summary(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered), ordered[int(0.99 * len(ordered)) - 1]


if __name__ == "__main__":
    main()
