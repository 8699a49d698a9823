"""Which frames a dub passes through: false alarms on real videos, synthetic occlusions, cuts and two faces.

    python benchmarks/dub_passthrough_eval.py [--data ../shared/data] [--seconds 2]

What it measures (the thresholds of ``talkinghead.jobs.passthrough`` come from here):
1. every real clip (``talking/*/video.mp4``, ``video_with_audio/retalk_*.mp4``, the
   half-body ``sun`` and ``yongen``), surveyed whole as a dub would: frames each
   reason flags (none should be), the largest consecutive-frame histogram distance
   and landmark step, the largest cut score and the largest mouth score held for
   3 frames;
2. the same clips with a flat rectangle pasted over the mouth (the tracked outer
   lips' box grown 20 % sideways, 25 % up, 35 % down): cheek-coloured for 1 s from
   frame 60 and dark grey for 1 s from frame 150 (shorter clips: frames 30-49 and
   80-94): share of those frames flagged ``mouth covered``, their least mouth
   score, and frames flagged elsewhere;
3. the first ``--seconds`` of every talking clip followed by the first
   ``--seconds`` of every other one: the cut score at the join, whether the join
   is a ``shot cut``, and any other frames flagged;
4. pairs of talking clips (5 s) side by side with the sound of one, on either side:
   which face ``speaking`` picks.
Exits 1 if a real clip has a flagged frame, an occluded frame is missed, a join is
missed, a cut is found elsewhere or the speaking face is not picked.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np

from talkinghead.contracts import topology
from talkinghead.contracts.audio_io import load_audio
from talkinghead.contracts.face_model import interocular
from talkinghead.jobs.passthrough import NONE, REASONS, cut_scores, mouth_scores, survey
from talkinghead.renderer.appearance import histogram_distance, look
from talkinghead.renderer.tracking import Track
from talkinghead.renderer.video import VideoWriter, iter_frames

ROOT = Path(__file__).resolve().parents[1]


def real_clips(data: Path) -> list[tuple[str, Path, Path | None]]:
    """(name, video, the video's own speech file when separate)."""
    talking = [(p.parent.name, p, p.parent / "audio.wav") for p in sorted((data / "talking").glob("*/video.mp4"))]
    retalk = [(p.stem, p, None) for p in sorted((data / "video_with_audio").glob("retalk_*.mp4"))]
    portraits = [(p.parent.name, p, p.parent / "audio.wav") for p in sorted((data / "video_with_audio").glob("*/video.mp4"))]
    return talking + retalk + portraits


def flagged(reasons: np.ndarray) -> str:
    counts = {REASONS[r]: int((reasons == r).sum()) for r in range(len(REASONS)) if (reasons == r).any()}
    return ", ".join(f"{name} {count}" for name, count in counts.items()) or "none"


def scores(video: Path, track: Track) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Per frame the cut score and the mouth score along the followed face; the largest histogram
    distance and landmark step (inter-ocular distances) between consecutive frames."""
    looks = [look(frame, [face]) for frame, face in zip(iter_frames(video), track.landmarks)]
    histograms = np.stack([seen.histogram for seen in looks])
    cuts = cut_scores(histograms, track.landmarks, track.valid)
    mouths = mouth_scores(np.stack([seen.mouths[0] for seen in looks]), cuts >= 1)
    points = track.landmarks[..., :2].astype(np.float64)
    steps = np.linalg.norm(np.diff(points, axis=0), axis=-1).mean(-1) / interocular(points[1:])
    return cuts, mouths, float(histogram_distance(histograms[1:], histograms[:-1]).max()), float(steps.max())


def held(values: np.ndarray, frames: int = 3) -> float:
    """The largest value reached by ``frames`` consecutive frames."""
    return float(np.lib.stride_tricks.sliding_window_view(values, frames).min(1).max())


def occlusion_frames(count: int) -> tuple[range, range]:
    return (range(30, 50), range(80, 95)) if count < 200 else (range(60, 90), range(150, 180))


def occlude(frame: np.ndarray, landmarks: np.ndarray, colour: np.ndarray) -> None:
    """Paste a flat rectangle of ``colour`` over the mouth (the outer lips' box, grown)."""
    lips = landmarks[list(topology.LIPS_OUTER), :2]
    (x0, y0), (x1, y1) = lips.min(0), lips.max(0)
    width, height = x1 - x0, y1 - y0
    frame[int(y0 - 0.25 * height): int(y1 + 0.35 * height), int(x0 - 0.2 * width): int(x1 + 0.2 * width)] = colour


def occluded_video(video: Path, landmarks: np.ndarray, out: Path) -> tuple[np.ndarray, np.ndarray]:
    """The clip with a cheek-coloured then a dark rectangle over the mouth; masks of those frames."""
    frames = np.stack(list(iter_frames(video)))
    skin, dark = occlusion_frames(len(frames))
    for k in skin:
        cheeks = landmarks[k][[117, 346, 50, 280], :2].round().astype(int)
        occlude(frames[k], landmarks[k], np.median(frames[k][cheeks[:, 1], cheeks[:, 0]], 0).astype(np.uint8))
    for k in dark:
        occlude(frames[k], landmarks[k], np.array([35, 35, 40], np.uint8))
    with VideoWriter(out, Fraction(30), frames.shape[1:3], crf=18) as writer:
        writer.write(frames)
    masks = np.zeros((2, len(frames)), bool)
    masks[0, list(skin)], masks[1, list(dark)] = True, True
    return masks[0], masks[1]


def first_frames(video: Path, count: int) -> np.ndarray:
    return np.stack([frame for _, frame in zip(range(count), iter_frames(video))])


def joined(a: Path, b: Path, count: int, out: Path) -> Path:
    frames = np.concatenate([first_frames(a, count), first_frames(b, count)])
    with VideoWriter(out, Fraction(30), frames.shape[1:3], crf=18) as writer:
        writer.write(frames)
    return out


def side_by_side(left: Path, right: Path, speech: Path, count: int, out: Path) -> Path:
    frames = np.concatenate([first_frames(left, count), first_frames(right, count)], axis=2)
    samples, rate = load_audio(speech)
    with VideoWriter(out, Fraction(30), frames.shape[1:3], samples[: count * rate // 30], rate, crf=18) as writer:
        writer.write(frames)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each side of a join")
    args = parser.parse_args()
    clips = real_clips(args.data)
    if not clips:
        print(f"no clips under {args.data}", file=sys.stderr)
        return 2
    failed = False
    covered = REASONS.index("mouth covered")
    cut = REASONS.index("shot cut")
    with tempfile.TemporaryDirectory() as scratch:
        print("clip                 frames  flagged  | largest: histogram step, landmark step, cut score, mouth score "
              "(3 frames) | occluded: found skin / dark, least mouth score, flagged elsewhere")
        for name, video, _ in clips:
            found = survey(video, progress=False)
            cuts, mouths, colour, step = scores(video, found.track)
            skin, dark = occluded_video(video, found.track.landmarks, Path(scratch) / f"{name}.mp4")
            hidden = survey(Path(scratch) / f"{name}.mp4", progress=False)
            least = scores(Path(scratch) / f"{name}.mp4", hidden.track)[1][skin | dark].min()
            reasons = hidden.reasons
            elsewhere = int(((reasons != NONE) & ~skin & ~dark).sum())
            print(f"{name:20s} {len(found.reasons):6d}  {flagged(found.reasons):8s} | {colour:.3f}, {step:.3f}, "
                  f"{cuts.max():.2f}, {held(mouths):.1f}{'':38s} | {(reasons[skin] == covered).mean():.0%} / "
                  f"{(reasons[dark] == covered).mean():.0%}, {least:.1f}, {elsewhere} ({flagged(reasons[~skin & ~dark])})")
            failed |= bool((found.reasons != NONE).any() or (reasons[skin | dark] != covered).any() or elsewhere)
        count = int(args.seconds * 30)
        talking = [(name, video) for name, video, _ in clips if video.parent.parent.name == "talking"]
        print(f"\njoins ({args.seconds:g} s + {args.seconds:g} s): cut score at the join, found / other frames flagged")
        for name_a, a in talking:
            row = []
            for name_b, b in talking:
                if a == b:
                    continue
                video = joined(a, b, count, Path(scratch) / "joined.mp4")
                found = survey(video, progress=False)
                reasons = found.reasons
                join = (np.arange(len(reasons)) >= count - 2) & (np.arange(len(reasons)) < count + 2)
                at_join = bool((reasons[join] == cut).all())
                others = int((reasons[~join] != NONE).sum())
                score = scores(video, found.track)[0][count]
                row.append(f"{name_b[:10]}:{score:.2f},{'yes' if at_join else 'NO'}/{others}")
                failed |= not at_join or others > 0
            print(f"{name_a:20s} " + " ".join(row))
        print("\ntwo faces side by side (5 s), the sound of one: is the speaking face picked, on the left / right")
        for (name_a, a, speech), (name_b, b, _) in zip(clips[:7], clips[1:7] + clips[:1]):
            picked = []
            for left, right, wanted in ((a, b, 1), (b, a, 2)):
                video = side_by_side(left, right, speech, 150, Path(scratch) / "two.mp4")
                found = survey(video, "speaking", video, progress=False)
                picked.append("yes" if (found.face, found.faces) == (wanted, 2) else f"NO (face {found.face})")
                failed |= picked[-1] != "yes"
            print(f"{name_a:20s} speaking beside {name_b:20s} {' / '.join(picked)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
