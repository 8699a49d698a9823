"""Bad input to ``talkinghead dub``: the message, the exit status, the time to fail, and that no file is left.

    python benchmarks/dub_bad_input.py [--data ../shared/data] [--work /tmp/dub_bad]

Cases (inputs made from ``video_with_audio/retalk_2.mp4`` / ``retalk_3.mp4``
and ``speech/retalk_a1.wav``):
- a video with no audio track (its frames re-encoded alone), then the same
  with ``--video-speech`` (its own speech as a file): it must then work;
- an audio-only file given as VIDEO;
- a video whose face leaves the frame for 2 s (simulated: 50 frames shifted
  90% of the width to the right); those frames must pass through untouched;
- a 4K input (retalk_2 scaled to 2160² and centred on a 3840x2160 frame,
  played forward then back: 10 s): peak memory (the dub process's VmHWM)
  beside the bytes of all its decoded frames, and the same for the 844²
  original;
- an unwritable output path (a read-only folder);
- a corrupt AUDIO (a truncated WAV, and random bytes).
Each runs the CLI in its own process.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from talkinghead.contracts.audio_io import load_audio
from talkinghead.renderer.video import VideoWriter, iter_frames, probe_video

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", """import sys
from talkinghead.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as stop:
    code = stop.code
peak = [line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")]
print(f"peak {peak[0]}", file=sys.stderr)
sys.exit(code)""", "dub"]  # the CLI, reporting its own peak memory (VmHWM: ru_maxrss would count the parent's)


def reencode(source: Path, path: Path, change=None, audio: bool = True, there_and_back: bool = False) -> Path:
    """``source``'s frames (each through ``change``) with, or without, its own audio; ``there_and_back``:
    played forward then backward (twice as long; the audio stays the source's)."""
    info = probe_video(source)
    samples, rate = load_audio(source) if audio else (None, 16000)
    frames = list(iter_frames(source))  # the sources are small (at most 844², 5 s)
    order = list(range(len(frames))) + (list(range(len(frames) - 1, -1, -1)) if there_and_back else [])
    size = (frames[0] if change is None else change(0, frames[0])).shape[:2]
    with VideoWriter(path, info.fps, size, samples, rate, crf=16) as out:
        for k in order:
            out.write((frames[k] if change is None else change(k, frames[k]))[None])
    return path


def shifted_away(k: int, frame: np.ndarray) -> np.ndarray:
    if not 40 <= k < 90:
        return frame
    out = np.zeros_like(frame)
    shift = int(frame.shape[1] * 0.9)
    out[:, shift:] = frame[:, : frame.shape[1] - shift]
    return out


def to_4k(k: int, frame: np.ndarray) -> np.ndarray:
    """Scaled to 2160² and centred on a black 3840x2160 frame."""
    up = F.interpolate(torch.from_numpy(frame).permute(2, 0, 1)[None].float(), size=(2160, 2160), mode="bicubic",
                       align_corners=False)[0].permute(1, 2, 0).round().clamp(0, 255).byte().numpy()
    out = np.zeros((2160, 3840, 3), np.uint8)
    out[:, 840:3000] = up
    return out


def run(name: str, arguments: list[str], output: Path, note: str = "") -> None:
    started = time.perf_counter()
    done = subprocess.run(CLI + arguments + ["-o", str(output), "-q"], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    lines = [line for line in done.stderr.splitlines() if line.startswith("talkinghead")]
    peaks = [int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("peak ")]
    leftovers = list(output.parent.glob(f".{output.stem}.*"))
    memory = f"{peaks[0] / 1024:.0f} MB" if peaks else "?"
    print(f"| {name} | {done.returncode} | {lines[-1] if lines else '(none)'} | {seconds:.1f} | "
          f"{'yes' if output.exists() else 'no'} | {len(leftovers)} | {memory} | {note} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--work", type=Path, default=Path("/tmp/dub_bad"))
    args = parser.parse_args()
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    for old in work.glob("*.mp4"):
        old.unlink()
    clips, speech = args.data / "video_with_audio", args.data / "speech" / "retalk_a1.wav"
    silent = reencode(clips / "retalk_3.mp4", work / "silent.mp4", audio=False)
    own_speech = work / "retalk_3_speech.mkv"
    samples, rate = load_audio(clips / "retalk_3.mp4")
    with VideoWriter(own_speech, probe_video(silent).fps, (16, 16), samples, rate) as out:
        out.write(np.zeros((1, 16, 16, 3), np.uint8))
    away = reencode(clips / "retalk_3.mp4", work / "away.mp4", shifted_away)
    big = reencode(clips / "retalk_2.mp4", work / "uhd.mp4", to_4k, there_and_back=True)
    truncated = work / "truncated.wav"
    truncated.write_bytes(speech.read_bytes()[:2000])
    noise = work / "noise.wav"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 50000, dtype=np.uint8).tobytes())
    frames_4k = probe_video(big).num_frames * 2160 * 3840 * 3 / 2**20
    print("| case | exit | message (last line) | seconds | output | temp files left | peak RSS | note |")
    print("|---|---|---|---|---|---|---|---|")
    run("video with no audio track", [str(silent), str(speech)], work / "a.mp4")
    run("same, with --video-speech", [str(silent), str(speech), "--video-speech", str(own_speech)], work / "b.mp4")
    run("audio-only file as VIDEO", [str(speech), str(speech)], work / "c.mp4")
    run("face leaves the frame for 2 s", [str(away), str(speech)], work / "d.mp4",
        "frames 40-89 shifted out: see the pass-through check below")
    run("844² original (memory baseline)", [str(clips / "retalk_2.mp4"), str(speech)], work / "e.mp4",
        f"all frames decoded: {125 * 844 * 844 * 3 / 2**20:.0f} MB")
    run("4K input (3840x2160, 10 s)", [str(big), str(speech)], work / "f.mp4",
        f"all frames decoded: {frames_4k:.0f} MB")
    readonly = Path("/proc/out.mp4")  # no file can be made there, not even by root
    run("unwritable output path (/proc)", [str(clips / "retalk_3.mp4"), str(speech)], readonly)
    run("corrupt AUDIO (truncated WAV)", [str(clips / "retalk_3.mp4"), str(truncated)], work / "g.mp4")
    run("corrupt AUDIO (random bytes)", [str(clips / "retalk_3.mp4"), str(noise)], work / "h.mp4")
    if (work / "d.mp4").exists():
        check_pass_through(away, work / "d.mp4")
    if (work / "f.mp4").exists():
        info = probe_video(work / "f.mp4")
        print(f"\n4K output: {info.width}x{info.height}, {info.fps} fps, {info.num_frames} frames")


def check_pass_through(source: Path, output: Path) -> None:
    """Mean absolute difference (after encoding) in the lost stretch and elsewhere, input vs output."""
    inside, outside = [], []
    for k, (a, b) in enumerate(zip(iter_frames(source), iter_frames(output))):
        (inside if 40 <= k < 90 else outside).append(np.abs(a.astype(int) - b).mean())
    print(f"\nface-lost stretch: mean |output - input| {np.mean(inside):.2f} (encoding only) vs "
          f"{np.mean(outside):.2f} on the redrawn frames")


if __name__ == "__main__":
    main()
