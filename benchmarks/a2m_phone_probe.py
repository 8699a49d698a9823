"""Where audio2motion loses lip sync: its phone recogniser or its articulation layer.

    python benchmarks/a2m_phone_probe.py [--clips tuning|report] [--weights A2M.pt] [--data ../shared/data]

For each look-ahead (0, 40, 100 ms), at 30 fps on each clip's own audio, the
pooled aperture AUC of the frozen yardstick at lags -2, -1, 0 for:
- ``weights``: the network's output (the articulation layer's weights), as
  the lip gap they open on the reference face (what ``a2m_eval`` scores,
  before the motion layer);
- ``P(open) - P(bilabial)``: the phone head's posterior mass on the
  yardstick's open vowels minus that on P/B/M. It is a probe, not a mouth:
  it uses the yardstick's own classes, so it shows how much the recogniser
  knows, and the gap to ``weights`` is what the articulation layer loses;
- rounding AUC of the output weights at the same lags.
The network runs offline on the whole clip (equal to streaming by test).
"""

from __future__ import annotations

import argparse
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from talkinghead.audio2motion.animate import sample_steps
from talkinghead.audio2motion.features import log_mel
from talkinghead.audio2motion.model import head_rows, load_model, split_heads
from talkinghead.audio2motion.phones import PHONE_INDEX
from talkinghead.contracts.audio_io import load_audio_16k
from talkinghead.evaluation import lipsync
from talkinghead.evaluation.baselines import mouth_signals
from talkinghead.evaluation.labels import REPORT_CLIPS, TUNING_CLIPS, available_clips

ROOT = Path(__file__).resolve().parents[1]
FPS = Fraction(30)
LAGS = (-2, -1, 0)
LOOKAHEAD_STEPS = (0, 2, 5)  # 0, 40, 100 ms
OPEN = [PHONE_INDEX[p] for p in sorted(lipsync.APERTURE.positive)]
BILABIAL = [PHONE_INDEX[p] for p in sorted(lipsync.APERTURE.negative)]


def heads(model, mel: np.ndarray, lookahead: int) -> tuple[np.ndarray, np.ndarray]:
    """Weights (S, 52) and phone posteriors (S, P) of one look-ahead head, aligned to the steps they describe."""
    weights, _, logits = split_heads(head_rows(model, mel, lookahead))
    return weights.numpy(), torch.softmax(logits, -1).numpy()


def row(name: str, signals: list, task: str) -> str:
    aucs = [lipsync.pooled_auc(signals, task, lag, n_boot=0).pooled.auc for lag in LAGS]
    return f"| {name} | " + " | ".join(f"{a:.3f}" for a in aucs) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--clips", choices=("report", "tuning"), default="tuning")
    parser.add_argument("--weights", type=Path, default=None)
    args = parser.parse_args()
    clips = available_clips(args.data, REPORT_CLIPS if args.clips == "report" else TUNING_CLIPS)
    if not clips:
        raise SystemExit(f"no labelled clips under {args.data}")
    model = load_model(args.weights)
    mels = [log_mel(load_audio_16k(clip.audio)) for clip in clips]
    print("| look-ahead, signal | " + " | ".join(f"lag {lag:+d}" for lag in LAGS) + " |")
    print("|---|" + "---|" * len(LAGS))
    for lookahead in LOOKAHEAD_STEPS:
        aperture, rounding, probe = [], [], []
        for clip, mel in zip(clips, mels):
            weights, posteriors = heads(model, mel, lookahead)
            frames = range(len(clip.labels))
            mouth = mouth_signals(sample_steps(weights, frames, FPS))
            contrast = posteriors[:, OPEN].sum(1) - posteriors[:, BILABIAL].sum(1)
            aperture.append((mouth["aperture"], clip.labels, FPS))
            rounding.append((mouth["rounding"], clip.labels, FPS))
            probe.append((sample_steps(contrast[:, None], frames, FPS)[:, 0], clip.labels, FPS))
        ms = 20 * lookahead
        print(row(f"{ms} ms, weights: aperture", aperture, "aperture"))
        print(row(f"{ms} ms, P(open) - P(bilabial): aperture", probe, "aperture"))
        print(row(f"{ms} ms, weights: rounding", rounding, "rounding"), flush=True)


if __name__ == "__main__":
    main()
