"""Tracker benchmark: speed, valid frames, fit error, synthetic round trip.

    python benchmarks/track_bench.py [--runs 3] [--data ../shared/data]

Speed is measured per clip over ``--runs`` repetitions and quoted as medians;
the MediaPipe detection and our fit are timed separately so the ratio of our
part to MediaPipe's (the baseline measured in the same run) is stable on a
noisy machine. Fit error is the pixel distance between MediaPipe's landmarks
and the solved model re-projected, on valid frames.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from talkinghead.contracts import topology
from talkinghead.contracts.arkit import ARKIT_INDEX
from talkinghead.renderer.solve import SOLVED_SHAPES
from talkinghead.renderer.synthetic import random_pose, random_weights, render_landmarks
from talkinghead.renderer.tracking import (
    Camera,
    TrackerConfig,
    detect_landmarks,
    fit_landmarks,
    track_landmarks,
)

ROOT = Path(__file__).resolve().parents[1]
TALKING = ("Obama_clip1", "Obama_clip2", "Obama_clip3", "andrew_clip_1", "andrew_clip_2",
           "feifeili_clip1", "feifeili_clip2_short")
HALF_BODY = ("sun", "yongen")


def videos(data: Path) -> list[tuple[str, Path]]:
    found = [(name, data / "talking" / name / "video.mp4") for name in TALKING]
    found += [(name, data / "video_with_audio" / name / "video.mp4") for name in HALF_BODY]
    return [(name, path) for name, path in found if path.is_file()]


def fit_errors(track) -> tuple[float, float]:
    """Mean 2-D distance (pixels) on the lips and on the whole face (468 points)."""
    fitted = track.fitted_landmarks()[track.valid]
    raw = track.landmarks[track.valid, :, :2]
    distance = np.linalg.norm(fitted - raw, axis=-1)
    lips = list(topology.LIPS_OUTER) + list(topology.LIPS_INNER)
    return float(distance[:, lips].mean()), float(distance[:, :468].mean())


def benchmark_clip(path: Path, runs: int) -> dict:
    detect_s, fit_s = [], []
    for _ in range(runs):
        start = time.perf_counter()
        landmarks, valid, info = detect_landmarks(path, progress=False)
        middle = time.perf_counter()
        track = track_landmarks(landmarks, valid, info)
        detect_s.append(middle - start)
        fit_s.append(time.perf_counter() - middle)
    frames = track.num_frames
    lips_px, face_px = fit_errors(track)
    iod_px = float(np.median(-track.camera.focal / track.pose[:, 5]))
    detect, fit = statistics.median(detect_s), statistics.median(fit_s)
    return {
        "frames": frames, "size": f"{info.width}x{info.height}", "valid": float(valid.mean()),
        "fps_total": frames / (detect + fit), "fps_mediapipe": frames / detect,
        "fit_ms_per_frame": 1000 * fit / frames, "fit_over_mediapipe": fit / detect,
        "lips_px": lips_px, "face_px": face_px, "iod_px": iod_px,
    }


def round_trip(seed: int = 0, frames: int = 600, iod_px: float = 60.0, noise_px: float = 0.5) -> dict[str, float]:
    """Mean absolute weight error per solved shape on a synthetic sequence."""
    rng = np.random.default_rng(seed)
    camera = Camera(256, 256)
    neutral = topology.load_topology().neutral.astype(np.float64)
    weights = random_weights(rng, frames)
    pose = random_pose(rng, frames, camera, iod_px)
    sequence = render_landmarks(neutral, weights, pose, camera, rng, noise_px=noise_px)
    _, solved, _ = fit_landmarks(sequence.landmarks, np.ones(frames, bool), camera, TrackerConfig(smoothing_sigma=0))
    return {name: float(np.abs(solved[:, ARKIT_INDEX[name]] - weights[:, ARKIT_INDEX[name]]).mean())
            for name in SOLVED_SHAPES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    print("| clip | size | frames | valid | fps total | fps MediaPipe | fit ms/frame | fit/MediaPipe | IOD px | lips err px | face err px |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, path in videos(args.data):
        r = benchmark_clip(path, args.runs)
        print(f"| {name} | {r['size']} | {r['frames']} | {r['valid']:.1%} | {r['fps_total']:.0f} | "
              f"{r['fps_mediapipe']:.0f} | {r['fit_ms_per_frame']:.2f} | {r['fit_over_mediapipe']:.2f} | "
              f"{r['iod_px']:.0f} | {r['lips_px']:.2f} | {r['face_px']:.2f} |", flush=True)

    print("\nSynthetic round trip (600 frames, IOD 60 px, landmark noise 0.5 px, depth noise 1.5 px; "
          "mean |error| of the weight, median of 3 seeds):\n")
    errors = [round_trip(seed) for seed in range(3)]
    print("| shape | mean abs error |")
    print("|---|---|")
    for name in SOLVED_SHAPES:
        print(f"| {name} | {statistics.median(e[name] for e in errors):.3f} |")


if __name__ == "__main__":
    main()
