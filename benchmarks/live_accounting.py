"""Live sessions' frame accounting: random chunkings and interrupts, and a 30-minute soak on a virtual clock.

    python benchmarks/live_accounting.py [--trials 1000] [--soak-minutes 30]

Accounting: each trial runs a session (:class:`talkinghead.streaming.session.SessionCore`,
the shipped audio2motion, 25 or 30000/1001 fps) over 3 s of real speech
(``speech/intro_en.wav``, a random start) pushed in random chunks (1 to
8000 samples at 16 kHz, or 1 to 22050 at 44.1 kHz), fed in random amounts,
with random interrupts, flushes, stalls (idle frames) and a consumer that
takes a random number of frames at a time. Checked per trial: the indices
taken are exactly 0..N-1 (none repeated or missing); every pts is index/fps
exactly; sources are in order and never overlap; without interrupts they
tile the caller's audio exactly; after ``end()``, the stream's frame count
is ``ceil(stream samples * fps / sr)`` (zero drift).

Soak: one session fed speech and pauses for ``--soak-minutes`` of audio in
20 ms chunks as fast as it runs (a virtual clock: the pacing is not what is
tested here), consumer keeping up; resident memory sampled every audio
minute; the same checks at the end.
"""

from __future__ import annotations

import argparse
import resource
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from talkinghead.audio2motion.model import load_model
from talkinghead.contracts.audio_io import load_audio
from talkinghead.contracts.clock import FrameClock
from talkinghead.contracts.resample import resample
from talkinghead.streaming.session import SessionConfig, SessionCore

ROOT = Path(__file__).resolve().parents[1]


def take(core: SessionCore, most: int | None = None) -> list:
    out = []
    while (most is None or len(out) < most) and (frame := core.take()) is not None:
        out.append(frame)
    return out


def check(taken: list, fps: Fraction, received: int, interrupted: bool) -> list[str]:
    problems = []
    if [f.index for f in taken] != list(range(len(taken))):
        problems.append("indices not 0..N-1")
    if any(f.pts != Fraction(f.index) / fps for f in taken):
        problems.append("pts not index/fps")
    sources = [f.source for f in taken if f.source is not None]
    if any(a[1] > b[0] for a, b in zip(sources, sources[1:])) or any(not 0 <= s[0] < s[1] <= received for s in sources):
        problems.append("sources out of order or overlapping")
    if not interrupted and sources and (sources[0][0] != 0 or sources[-1][1] != received
                                        or any(a[1] != b[0] for a, b in zip(sources, sources[1:]))):
        problems.append("sources do not tile the audio")
    return problems


def drift(core: SessionCore) -> int:
    """Stream frames computed minus the clock's count for the stream's samples (0: no drift)."""
    return core.next_index + core.dropped - FrameClock(core.sample_rate, core.config.fps).frames_for(core.stream_samples)


def trial(model, speech: dict[int, np.ndarray], rng: np.random.Generator) -> tuple[list[str], int, int, int]:
    rate = int(rng.choice(list(speech)))
    fps = Fraction(25) if rng.random() < 0.5 else Fraction(30000, 1001)
    start = int(rng.integers(0, len(speech[rate]) - 3 * rate))
    audio = speech[rate][start:start + 3 * rate]
    core = SessionCore(model, rate, SessionConfig(fps=fps, seed=int(rng.integers(0, 1000))))
    position, taken, interrupts = 0, [], 0
    largest = 8000 if rate == 16000 else 22050
    while position < len(audio):
        action = rng.random()
        if action < 0.7:
            size = int(rng.integers(1, largest))
            core.push(audio[position:position + size])
            position += size
            core.feed(int(rng.integers(0, 2 * largest)))
        elif action < 0.75:
            core.interrupt()
            interrupts += 1
        elif action < 0.8:
            core.flush()
        elif action < 0.85:
            core.idle_until(core.next_index + int(rng.integers(1, 6)))
        taken += take(core, int(rng.integers(0, 20)) if rng.random() < 0.5 else None)
    core.end()
    taken += take(core)
    return check(taken, fps, min(position, len(audio)), interrupts > 0), drift(core), interrupts, len(taken)


def soak(model, speech: np.ndarray, minutes: float) -> None:
    rate = 16000
    core = SessionCore(model, rate)
    chunk = rate // 50
    pause = np.zeros(2 * rate, np.float32)
    taken_count, last_index, sources_ok = 0, -1, True
    memory, started, pushed = [], time.perf_counter(), 0
    next_sample = 0
    minute = 60 * rate
    while pushed < minutes * minute:
        stretch = speech[(pushed // 7) % (len(speech) - 10 * rate):][: 10 * rate]
        for block in (stretch, pause):
            for offset in range(0, len(block), chunk):
                core.push(block[offset:offset + chunk])
                pushed += len(block[offset:offset + chunk])
                core.feed()
                for frame in take(core):
                    if frame.index != last_index + 1:
                        sources_ok = False
                    last_index = frame.index
                    if frame.source is not None:
                        sources_ok &= frame.source[0] == next_sample
                        next_sample = frame.source[1]
                    taken_count += 1
                if pushed % minute < chunk:
                    memory.append(_rss_mb())
    core.end()
    tail = take(core)
    taken_count += len(tail)
    seconds = time.perf_counter() - started
    print(f"\nsoak: {pushed / rate / 60:.1f} min of audio in {seconds:.0f} s; {taken_count} frames, indices "
          f"{'contiguous' if sources_ok and all(f.index == last_index + 1 + k for k, f in enumerate(tail)) else 'BROKEN'}"
          f", sources tile the audio: {sources_ok and next_sample <= pushed}, drift {drift(core)} frames")
    print("resident memory per audio minute (MB): " + ", ".join(f"{m:.0f}" for m in memory))


def _rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--soak-minutes", type=float, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    samples, rate = load_audio(args.data / "speech" / "intro_en.wav")
    speech = {16000: resample(samples, rate, 16000), 44100: resample(samples, rate, 44100)}
    model = load_model()
    rng = np.random.default_rng(args.seed)
    failures, drifts, interrupts, frames = {}, 0, 0, 0
    started = time.perf_counter()
    for k in range(args.trials):
        problems, frame_drift, cut, count = trial(model, speech, rng)
        for problem in problems:
            failures[problem] = failures.get(problem, 0) + 1
        drifts += frame_drift != 0
        interrupts += cut
        frames += count
        if (k + 1) % 100 == 0:
            print(f"{k + 1} trials, {time.perf_counter() - started:.0f} s", flush=True)
    print(f"\naccounting: {args.trials} trials, {frames} frames, {interrupts} interrupts; trials with drift: "
          f"{drifts}; failures: {failures or 'none'}")
    if args.soak_minutes:
        soak(model, speech[16000], args.soak_minutes)


if __name__ == "__main__":
    main()
