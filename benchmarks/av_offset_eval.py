"""The label-free A/V offset estimator against the label-based offsets of the talking clips.

    python benchmarks/av_offset_eval.py [--data ../shared/data] [--cache DIR] [--ears mel|whisper]

For each talking clip with a video: track it (``--cache`` keeps the tracks),
predict the aperture from its audio with audio2motion (shipped weights of
``--ears``, default whisper, enrollment's default; 100 ms look-ahead, at the video's frame rate), and estimate the offset with
:func:`talkinghead.jobs.av_offset.estimate_av_offset` from the predicted
and the tracked (raw lip gap / IOD) apertures. The labels give the truth:
the tracked aperture's best lag against the labels, minus the predicted
aperture's best lag against them (both searched in -8..+8 with the
yardstick, in 30 fps label frames, converted to the video's frames), is the
lag the estimator should find; agreement means within one video frame.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from clips import clip_track

from talkinghead.audio2motion.animate import animate
from talkinghead.audio2motion.model import load_model
from talkinghead.contracts.audio_io import load_audio
from talkinghead.contracts.face_model import interocular, lip_gap
from talkinghead.evaluation import lipsync
from talkinghead.evaluation.baselines import mouth_signals
from talkinghead.evaluation.labels import ALL_CLIPS, available_clips
from talkinghead.jobs.av_offset import estimate_av_offset

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--ears", choices=("mel", "whisper"), default="whisper")
    args = parser.parse_args()
    clips = [c for c in available_clips(args.data, ALL_CLIPS) if c.video is not None]
    if not clips:
        raise SystemExit(f"no talking clips with video under {args.data}")
    model = load_model(ears=args.ears)
    print("| clip | fps | estimated lag | r | best chance r | confident | from labels | agree |")
    print("|---|---|---|---|---|---|---|---|")
    agree = 0
    for clip in clips:
        track = clip_track(clip.video, args.cache)
        samples, rate = load_audio(clip.audio)
        predicted = mouth_signals(animate(model, samples, rate, track.fps, 100).blendshapes)["aperture"]
        real = lip_gap(track.landmarks) / interocular(track.landmarks)
        estimate = estimate_av_offset(predicted, real)
        picture = lipsync.best_lag(real, clip.labels, track.fps, "aperture", n_boot=0).best_lag
        sound = lipsync.best_lag(predicted, clip.labels, track.fps, "aperture", n_boot=0).best_lag
        truth = round((picture - sound) * float(track.fps / lipsync.LABEL_FPS))  # label frames -> video frames
        ok = estimate.confident and abs(estimate.lag - truth) <= 1
        agree += ok
        print(f"| {clip.name} | {track.fps} | {estimate.lag:+d} | {estimate.correlation:.2f} | {estimate.chance:.2f} | "
              f"{'yes' if estimate.confident else 'no'} | {truth:+d} | {'yes' if ok else 'no'} |", flush=True)
    print(f"\n{agree} of {len(clips)} clips: confident and within one frame of the label-based lag")


if __name__ == "__main__":
    main()
