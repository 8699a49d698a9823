"""Video-avatar mouths against the real video, at native pixel scale: enroll on 80% of a clip, draw the rest.

    python benchmarks/mouth_eval.py [--data ../shared/data] [--clips NAME ...] [--presets quick standard retrieval]
        [--avatars DIR] [--tracks DIR] [--audio] [--json OUT.json] [--figures DIR]

Per clip: enroll each preset on the first 80% of the frames (bundles are
kept in ``--avatars`` and reused, so the standard preset trains once), then
draw the held-out 20% driven by the held-out frames' own tracked weights
(``tracked``) and, with ``--audio``, by audio2motion on the held-out speech
(``audio``). Beside them, a yardstick that is not a system: the real frame
2 frames earlier (the talking clips repeat every fifth frame, so 1 would
flatter it). Rendered and real frames are tracked afresh and compared with
:func:`talkinghead.evaluation.mouth_quality.compare` (mouth boxes cut by a
rigid, unscaled alignment; lips, interior and skin apart; sharpness per
Laplacian band, flicker after warping by each video's own landmarks, rim
and seam profiles, PSNR plain and blurred, SSIM). The seam is measured
against the base frame each output frame was drawn on; flicker skips the
pairs where the frames a video was drawn on repeat. Contact sheets:
the mouth boxes at 2x, eight spread frames and then a run of eight
consecutive ones, rows real, then each system.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np
from clips import clip_track

from talkinghead.contracts.audio_io import load_audio
from talkinghead.contracts.coefficients import Coefficients
from talkinghead.evaluation.mouth_quality import (
    BANDS,
    REGIONS,
    MouthBoxes,
    box_side,
    compare,
    contact_sheet,
    retrack,
)
from talkinghead.jobs.enroll import enroll_video
from talkinghead.jobs.render import RenderConfig, drive
from talkinghead.renderer.tracking import Track
from talkinghead.renderer.video import iter_frames, write_image
from talkinghead.renderer.video_avatar import VideoAvatar, VideoRenderer

ROOT = Path(__file__).resolve().parents[1]
CLIPS = ("talking/Obama_clip2", "talking/Obama_clip3", "talking/andrew_clip_2", "talking/feifeili_clip2_short",
         "video_with_audio/sun", "video_with_audio/yongen")
LAG = 2  # the yardstick: the real frame this many frames earlier


def repeats(frames: np.ndarray) -> np.ndarray:
    """(T-1,) bool: the pairs where a video repeats a frame (the talking clips do, every fifth frame)."""
    return np.array([np.abs(a.astype(np.int16) - b).mean() < 0.5 for a, b in itertools.pairwise(frames)])


def condensed(summary: dict[str, float]) -> dict[str, str]:
    """The figures the issue's bars name, from one :meth:`MouthQuality.summary`."""
    def spread(name: str) -> str:
        values = [summary[f"{name} b{b} {r}"] for b in range(BANDS) for r in REGIONS]
        values = [v for v in values if np.isfinite(v)]
        return f"{min(values):.2f}–{max(values):.2f}" if values else "n/a"

    return {
        "sharpness overall": f"{summary['sharpness overall']:.2f}",
        "sharpness band×region": spread("sharpness"),
        "flicker mean": f"{summary['flicker mean overall']:.2f}",
        "flicker mean band×region": spread("flicker mean"),
        "flicker p99": f"{summary['flicker p99 overall']:.2f}",
        "rim |diff| grey": f"{summary['rim max |diff|']:.1f}",
        "seam |diff| grey": f"{summary['seam max |diff|']:.1f}",
        "PSNR dB": f"{summary['psnr dB']:.2f}",
        "blurred PSNR dB": f"{summary['psnr blurred dB']:.2f}",
        "SSIM": f"{summary['ssim']:.3f}",
    }


def avatar_for(name: str, preset: str, video: Path, audio: Path, track: Track, frames: int,
               cache: Path | None) -> VideoAvatar:
    folder = cache / f"{Path(name).name}_{preset}" if cache else None
    if folder is not None and (folder / "avatar.json").is_file():
        return VideoAvatar.load(folder)
    started = time.perf_counter()
    avatar = enroll_video(video, audio, frames=frames, preset=preset, track=track, progress=False,
                          work_dir=None if folder is None else folder.with_name(folder.name + "_work"))
    print(f"<!-- {name}: {preset} enrolled in {time.perf_counter() - started:.1f} s -->", flush=True)
    if folder is not None:
        avatar.save(folder)
    return avatar


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--clips", nargs="*", default=list(CLIPS))
    parser.add_argument("--presets", nargs="*", default=["quick", "standard", "retrieval"])
    parser.add_argument("--avatars", type=Path, default=None, help="folder to keep and reuse enrolled bundles in")
    parser.add_argument("--tracks", type=Path, default=None, help="folder of cached NAME.track.npz files")
    parser.add_argument("--audio", action="store_true", help="also drive from the held-out speech")
    parser.add_argument("--json", type=Path, default=None, help="write every figure here")
    parser.add_argument("--figures", type=lambda text: Path(text) if text else None,
                        default=ROOT / "benchmarks" / "figures", help="contact sheets (none: --figures '')")
    args = parser.parse_args()
    everything: dict[str, dict[str, dict[str, float]]] = {}
    for name in args.clips:
        folder = args.data / name
        video, audio = folder / "video.mp4", folder / "audio.wav"
        if not video.is_file():
            print(f"{name}: missing, skipped")
            continue
        track = clip_track(video, args.tracks)
        n = track.num_frames
        split = int(0.8 * n)
        stretch = np.stack([f for k, f in zip(range(n), iter_frames(video)) if k >= split - LAG])
        real, earlier = stretch[LAG:], stretch[:-LAG]
        held = len(real)
        real_landmarks, _ = retrack(real)
        systems: dict[str, tuple[np.ndarray, np.ndarray | None]] = {f"real, {LAG} frames earlier": (earlier, None)}
        zeros = np.zeros((held, 6), np.float32)
        speech = None
        if args.audio:
            samples, rate = load_audio(audio)
            speech = drive(samples, rate, RenderConfig(fps=track.fps), idle_motion=False)
        for preset in args.presets:
            avatar = avatar_for(name, preset, video, audio, track, split, args.avatars)
            renderer = VideoRenderer(avatar)
            bases = avatar.frames[avatar.loop[np.arange(held) % len(avatar.loop)]]
            started = time.perf_counter()
            drawn = renderer.draw(Coefficients(track.blendshapes[split:split + held], zeros, track.fps), calibrate=False)
            per_frame = (time.perf_counter() - started) / held * 1000
            print(f"<!-- {name}: {preset} drew {held} frames at {per_frame:.1f} ms each -->", flush=True)
            systems[f"{preset} tracked"] = (drawn, bases)
            if speech is not None and len(speech) > split:
                rows = speech.blendshapes[split:split + held]  # speech that ends early: its last (silent) row holds
                rows = np.concatenate([rows, np.repeat(rows[-1:], held - len(rows), 0)])
                systems[f"{preset} audio"] = (renderer.draw(Coefficients(rows, zeros, speech.fps)), bases)
        results, boxes = {}, {"real": None}
        side = box_side(real_landmarks)
        boxes["real"] = MouthBoxes.fit(real_landmarks, side).cut(real)
        for system, (frames, bases) in systems.items():
            landmarks, _ = retrack(frames)
            masks = None if bases is None else (frames != bases).any(-1)
            source = frames if bases is None else bases  # flicker skips the pairs whose source repeats a frame
            results[system] = compare(frames, landmarks, real, real_landmarks, bases, masks, repeats(source)).summary()
            boxes[system] = MouthBoxes.fit(landmarks, side).cut(frames)
        everything[name] = results
        rows = {system: condensed(summary) for system, summary in results.items()}
        figures = list(next(iter(rows.values())))
        print(f"\n{name} ({held} held-out frames, mouth box {side} px)\n")
        print("| figure | " + " | ".join(rows) + " |")
        print("|---|" + "---|" * len(rows))
        for figure in figures:
            print(f"| {figure} | " + " | ".join(rows[s][figure] for s in rows) + " |", flush=True)
        if args.figures is not None:
            args.figures.mkdir(parents=True, exist_ok=True)
            picks = np.linspace(0, held - 1, 8).astype(int)
            run = min(held - 8, held // 2)
            write_image(args.figures / f"mouth_eval_{Path(name).name}.png", contact_sheet(boxes, picks, run, 8))
    if args.json is not None:
        args.json.write_text(json.dumps(everything, indent=1))


if __name__ == "__main__":
    main()
