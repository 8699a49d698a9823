"""`talkinghead animate` on bad and extreme input: a clear error or correct output.

    python benchmarks/a2m_bad_input.py [--weights A2M.pt] [--fps 30] [--threads 1] [--timeout 600]

Writes WAV files into a temporary folder (synthetic, seeded: noise bursts with
pauses) and runs ``python -m talkinghead animate IN -o OUT.npz -q`` on each, one
child process at a time:
- errors expected: an empty file (0 samples), a float32 file with a NaN
  sample, one with a +inf sample: exit 2 and one ``talkinghead: error:`` line;
- output expected: 0.1 s at 16 kHz, 3 s of 8 kHz stereo (downmixed and
  resampled), 1 and 10 minutes at 16 kHz mono: exit 0 and exactly the clock's
  ``ceil(N * fps / sr)`` frames, all finite.
Per case: exit status, the stderr line, frames, wall time and the child's peak
RSS (its own ``ru_maxrss``, forked from a bare interpreter: see ``LAUNCHER``).
Bounded memory shows as the 10-minute file costing little more than the
1-minute one. Shipped weights unless ``--weights``. Exits 1 if any case fails
its expectation.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf

from talkinghead.contracts.clock import FrameClock
from talkinghead.contracts.coefficients import Coefficients

# Runs argv[2:] and writes "exit_status peak_rss_kib" to argv[1]. Linux carries the forking
# process's RSS high-water mark into the child across exec, so a child forked straight from
# this benchmark (which holds the 10-minute audio) would report the benchmark's memory.
LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as report:
    report.write(f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}")
"""


@dataclass(frozen=True)
class Case:
    """One input file: its samples (n,) or (n, channels), rate, WAV subtype, expected outcome."""

    name: str
    samples: np.ndarray
    rate: int
    subtype: str = "PCM_16"
    error: bool = False


@dataclass(frozen=True)
class Result:
    exit: int
    stderr: str
    frames: int | None  # None: no output
    finite: bool
    wall_s: float
    peak_rss_mb: float


def speech_like(seconds: float, rate: int, channels: int = 1, seed: int = 0) -> np.ndarray:
    """Noise bursts gated at 3 Hz, plus a low tone: features move like speech, cheaply."""
    n = round(seconds * rate)
    t = np.arange(n) / rate
    gate = (np.sin(2 * np.pi * 3 * t) > 0).astype(np.float32)
    noise = np.random.default_rng(seed).standard_normal((n, channels)).astype(np.float32)
    voice = (0.1 * noise + 0.05 * np.sin(2 * np.pi * 140 * t)[:, None]) * gate[:, None]
    return voice[:, 0] if channels == 1 else voice


def with_sample(samples: np.ndarray, value: float) -> np.ndarray:
    """A copy with one non-finite sample in the middle."""
    out = samples.copy()
    out[len(out) // 2] = value
    return out


def cases() -> list[Case]:
    second = speech_like(1.0, 16000)
    return [
        Case("empty (0 samples)", np.zeros(0, np.float32), 16000, error=True),
        Case("0.1 s, 16 kHz", speech_like(0.1, 16000), 16000),
        Case("3 s, 8 kHz stereo", speech_like(3.0, 8000, channels=2), 8000),
        Case("1 s float32 with NaN", with_sample(second, np.nan), 16000, "FLOAT", error=True),
        Case("1 s float32 with +inf", with_sample(second, np.inf), 16000, "FLOAT", error=True),
        Case("1 min, 16 kHz", speech_like(60.0, 16000), 16000),
        Case("10 min, 16 kHz", speech_like(600.0, 16000), 16000),
    ]


def run_child(
    command: list[str], env: dict[str, str], timeout: float, folder: Path
) -> tuple[int, str, float, float]:
    """Exit status, stderr, wall s and peak RSS (MB) of one child, killed after ``timeout`` s."""
    report = folder / "rusage.txt"
    with tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        launcher = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, str(report), *command],
            stdout=subprocess.DEVNULL, stderr=err, env=env, start_new_session=True,
        )
        try:
            launcher.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.wait()
            return -signal.SIGKILL, f"timed out after {timeout:g} s", timeout, float("nan")
        wall = time.perf_counter() - start
        err.seek(0)
        exit_status, rss_kib = map(int, report.read_text().split())
        return exit_status, err.read(), wall, rss_kib / 1024


def run_case(case: Case, folder: Path, index: int, args: argparse.Namespace) -> Result:
    wav, out = folder / f"in{index}.wav", folder / f"out{index}.npz"
    sf.write(wav, case.samples, case.rate, subtype=case.subtype)
    command = [sys.executable, "-m", "talkinghead", "animate", str(wav), "-o", str(out), "-q"]
    command += ["--fps", args.fps]
    if args.weights:
        command += ["--weights", str(args.weights)]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    exit_status, stderr, wall, rss = run_child(command, env, args.timeout, folder)
    if exit_status != 0:
        return Result(exit_status, stderr.strip(), None, True, wall, rss)
    coefficients = Coefficients.load(out)
    values = np.concatenate([coefficients.blendshapes, coefficients.pose], axis=1)
    finite = bool(np.isfinite(values).all())
    return Result(exit_status, stderr.strip(), len(coefficients), finite, wall, rss)


def expected_frames(case: Case, fps: Fraction) -> int | None:
    """The clock's frame count for the file's samples; ``None`` where an error is expected."""
    return None if case.error else FrameClock(case.rate, fps).frames_for(len(case.samples))


def verdict(case: Case, result: Result, fps: Fraction) -> str:
    """'ok' or what is wrong: errors are exit 2 and one line; outputs have the clock's count."""
    if result.exit < 0:
        return f"FAIL: killed by signal {-result.exit}"
    if "Traceback" in result.stderr:
        return "FAIL: traceback"
    if case.error:
        one_line = result.stderr.startswith("talkinghead: error:") and "\n" not in result.stderr
        return "ok" if result.exit == 2 and one_line else "FAIL: expected a one-line error, exit 2"
    expected = expected_frames(case, fps)
    if result.exit != 0 or result.frames != expected:
        return f"FAIL: expected {expected} frames, exit 0"
    return "ok" if result.finite else "FAIL: non-finite output"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, help="a2m.pt or a2m.onnx (default: shipped)")
    parser.add_argument("--fps", default="30")
    parser.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS of each child")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to call a child hung")
    args = parser.parse_args()

    fps = Fraction(args.fps)
    print("| input | exit | frames (clock) | stderr | wall s | peak RSS MB | verdict |")
    print("|---|---|---|---|---|---|---|")
    failed = False
    with tempfile.TemporaryDirectory() as folder:
        for index, case in enumerate(cases()):
            result = run_case(case, Path(folder), index, args)
            check = verdict(case, result, fps)
            failed |= check != "ok"
            expected = expected_frames(case, fps)
            frames = f"{'-' if result.frames is None else result.frames} "
            frames += "(error)" if expected is None else f"({expected})"
            stderr = result.stderr.replace(folder, "TMP").replace("\n", " ⏎ ").replace("|", "\\|")
            print(f"| {case.name} | {result.exit} | {frames} | {stderr or '-'} "
                  f"| {result.wall_s:.2f} | {result.peak_rss_mb:.0f} | {check} |", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
