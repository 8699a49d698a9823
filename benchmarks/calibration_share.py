"""Does an avatar calibration fitted on the offline Whisper head fit its live head too?

    python benchmarks/calibration_share.py [--data ../shared/data] [--lookahead 100] [--live-weights A2M.pt]

Enrollment fits a calibration (per-shape quantile map, :mod:`talkinghead.jobs.calibration`)
from audio2motion's output on the enrollment audio to the weights tracked from the video;
the live engine drives a Whisper-enrolled avatar with the live head
(``ModelConfig.calibrates_as``). Per clip with a video (report clips): the
calibration is fitted on the first two thirds, at the video's own frame rate
and the estimated A/V offset, and judged on the last third, on the live
head's output (look-ahead ``--lookahead``): mean |calibrated - tracked| over
the mouth shapes, and Pearson r of the calibrated output's lip aperture with
the tracked one; fitted on the live head's own output vs on the offline head's.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from talkinghead.audio2motion.animate import animate
from talkinghead.audio2motion.model import load_model
from talkinghead.audio2motion.motion import MOUTH_SHAPES
from talkinghead.contracts.arkit import ARKIT_INDEX
from talkinghead.contracts.audio_io import load_audio
from talkinghead.contracts.face_model import interocular, lip_gap
from talkinghead.contracts.mouth_signals import mouth_signals
from talkinghead.evaluation.labels import REPORT_CLIPS, available_clips
from talkinghead.jobs.av_offset import estimate_av_offset
from talkinghead.jobs.calibration import align, fit_calibration
from talkinghead.renderer.tracking import track_video

ROOT = Path(__file__).resolve().parents[1]
MOUTH = [ARKIT_INDEX[name] for name in MOUTH_SHAPES]


def judged(calibrated: np.ndarray, tracked: np.ndarray, lag: int) -> tuple[float, float]:
    source, target = align(calibrated, tracked, lag)
    error = float(np.abs(source[:, MOUTH] - target[:, MOUTH]).mean())
    r = float(np.corrcoef(mouth_signals(source)["aperture"], mouth_signals(target)["aperture"])[0, 1])
    return error, r


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--lookahead", type=int, default=100)
    parser.add_argument("--live-weights", default=None, help="a live Whisper head (default: the shipped one)")
    args = parser.parse_args()
    offline = load_model(ears="whisper")
    live = load_model(args.live_weights, ears="whisper", live=True)
    print("| clip | A/V lag | mouth error, live's own fit | offline's fit | aperture r, live's own fit | offline's fit |")
    print("|---|---|---|---|---|---|")
    for clip in (c for c in available_clips(args.data, REPORT_CLIPS) if c.video is not None):
        track = track_video(clip.video, progress=False)
        samples, rate = load_audio(clip.audio)
        n = track.num_frames
        heard = {name: animate(model, samples, rate, track.fps, args.lookahead).blendshapes[:n]
                 for name, model in (("live", live), ("offline", offline))}
        n = min(n, *(len(w) for w in heard.values()))
        tracked = track.blendshapes[:n]
        landmarks = track.landmarks[:n].astype(np.float64)
        lag = estimate_av_offset(mouth_signals(heard["live"][:n])["aperture"],
                                 lip_gap(landmarks) / interocular(landmarks)).lag
        cut = 2 * n // 3
        rows = []
        for fitted_on in ("live", "offline"):
            calibration = fit_calibration(heard[fitted_on][:cut], tracked[:cut], lag)
            rows.append(judged(calibration.apply(heard["live"][cut:n]), tracked[cut:], lag))
        print(f"| {clip.name} | {lag:+d} | {rows[0][0]:.4f} | {rows[1][0]:.4f} | {rows[0][1]:.3f} | {rows[1][1]:.3f} |",
              flush=True)


if __name__ == "__main__":
    main()
