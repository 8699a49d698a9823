"""Does the solved face model keep what MediaPipe saw of the lips?

    python benchmarks/track_eval.py [--clips report|tuning] [--data ../shared/data]

For each talking clip: track its video, then score through the frozen
lip-sync yardstick (``talkinghead.evaluation.lipsync``)
- lip aperture (inner-lip gap / inter-ocular distance) of the raw MediaPipe
  landmarks and of the solved mesh (signed, as a mesh's lips may cross),
  open vowels vs P/B/M;
- rounding: raw lip narrowing (minus mouth width / IOD) vs the solved
  ``mouthFunnel + mouthPucker``, rounded vs spread vowels.
The clips' pictures are offset from their audio-derived labels, so the lag is
searched in -8..+8 on the raw aperture and every score is taken at that lag
(positive lag = signal late). Pass: solved aperture AUC >= raw - 0.02 and
solved rounding AUC >= raw - 0.05 on every clip.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from talkinghead.contracts.arkit import ARKIT_INDEX
from talkinghead.contracts.face_model import interocular, lip_gap, mouth_width, signed_lip_gap
from talkinghead.evaluation import lipsync
from talkinghead.evaluation.labels import REPORT_CLIPS, TUNING_CLIPS, available_clips
from talkinghead.renderer.tracking import track_video

ROOT = Path(__file__).resolve().parents[1]


def aperture(points: np.ndarray) -> np.ndarray:
    """Inner-lip gap of raw landmarks (real lips never cross, so a distance is enough)."""
    return lip_gap(points) / interocular(points)


def mesh_aperture(vertices: np.ndarray) -> np.ndarray:
    """Signed inner-lip gap of model-frame meshes (+y up): a mesh's lips can cross."""
    return signed_lip_gap(vertices) / interocular(vertices)


def narrowing(points: np.ndarray) -> np.ndarray:
    return -mouth_width(points) / interocular(points)


def clip_signals(video: Path) -> tuple[dict[str, np.ndarray], object]:
    track = track_video(video, progress=False)
    mesh = track.mesh()
    rounding = track.blendshapes[:, ARKIT_INDEX["mouthFunnel"]] + track.blendshapes[:, ARKIT_INDEX["mouthPucker"]]
    return {
        "raw_aperture": aperture(track.landmarks),
        "solved_aperture": mesh_aperture(mesh),
        "raw_rounding": narrowing(track.landmarks),
        "solved_rounding": rounding,
    }, track


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--clips", choices=("report", "tuning"), default="report")
    args = parser.parse_args()
    names = REPORT_CLIPS if args.clips == "report" else TUNING_CLIPS
    clips = [clip for clip in available_clips(args.data, names) if clip.video is not None]
    if not clips:
        raise SystemExit(f"no labelled talking clips with video under {args.data}")

    print("| clip | lag | aperture raw | aperture solved | Δ | rounding raw | rounding solved | Δ | pass |")
    print("|---|---|---|---|---|---|---|---|---|")
    failures = 0
    for clip in clips:
        signals, track = clip_signals(clip.video)
        fps = track.fps
        search = lipsync.best_lag(signals["raw_aperture"], clip.labels, fps, "aperture", n_boot=0)
        lag = search.best_lag
        score = {key: lipsync.auc_at_lag(signal, clip.labels, fps, key.split("_")[1], lag)
                 for key, signal in signals.items()}
        d_ap = score["solved_aperture"].auc - score["raw_aperture"].auc
        d_ro = score["solved_rounding"].auc - score["raw_rounding"].auc
        ok = d_ap >= -0.02 and d_ro >= -0.05
        failures += not ok

        def cell(key: str) -> str:
            r = score[key]
            return f"{r.auc:.3f} [{r.ci_low:.2f}, {r.ci_high:.2f}]"

        print(f"| {clip.name} | {lag:+d} | {cell('raw_aperture')} | {cell('solved_aperture')} | {d_ap:+.3f} | "
              f"{cell('raw_rounding')} | {cell('solved_rounding')} | {d_ro:+.3f} | {'yes' if ok else 'NO'} |",
              flush=True)
    print(f"\n{len(clips) - failures}/{len(clips)} clips pass (aperture within 0.02, rounding within 0.05 of raw).")


if __name__ == "__main__":
    main()
