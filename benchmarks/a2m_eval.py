"""audio2motion on real speech, through the frozen lip-sync yardstick.

    python benchmarks/a2m_eval.py [--clips report|tuning] [--weights A2M.pt] [--data ../shared/data]

Systems, all at 30 fps on each clip's own audio:
- the model at look-ahead 0, 40 and 100 ms (shipped weights unless ``--weights``);
- the RMS-energy mouth and PocketSphinx phone recognition -> the articulation
  model (frozen baselines, :mod:`talkinghead.audio2motion.baselines`).
Signals: aperture = signed inner-lip gap of the reference face / IOD, rounding
= ``mouthFunnel + mouthPucker`` (``baselines.mouth_signals``). For each system
the lag is chosen once on the pooled aperture AUC within -1..+1 (positive =
signal late) and every figure is taken at that lag, with 95% event-bootstrap
intervals.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from talkinghead.audio2motion.animate import animate
from talkinghead.audio2motion.audio_io import load_audio_16k
from talkinghead.audio2motion.baselines import energy_mouth, mouth_signals, pocketsphinx_mouth
from talkinghead.audio2motion.model import load_model
from talkinghead.evaluation import lipsync
from talkinghead.evaluation.labels import REPORT_CLIPS, TUNING_CLIPS, available_clips

ROOT = Path(__file__).resolve().parents[1]
FPS = 30
LAGS = (-1, 0, 1)
LOOKAHEADS_MS = (0, 40, 100)


def systems(model) -> dict:
    def model_at(lookahead_ms):
        return lambda audio, n: animate(model, audio, 16000, FPS, lookahead_ms).blendshapes[:n]

    table = {f"model {ms} ms": model_at(ms) for ms in LOOKAHEADS_MS}
    table["energy"] = lambda audio, n: energy_mouth(audio, n, FPS)
    table["pocketsphinx"] = lambda audio, n: pocketsphinx_mouth(audio, n, FPS)
    return table


def cell(result: lipsync.AUCResult) -> str:
    return f"{result.auc:.3f} [{result.ci_low:.2f}, {result.ci_high:.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--clips", choices=("report", "tuning"), default="report")
    parser.add_argument("--weights", type=Path, default=None)
    args = parser.parse_args()
    clips = available_clips(args.data, REPORT_CLIPS if args.clips == "report" else TUNING_CLIPS)
    if not clips:
        raise SystemExit(f"no labelled clips under {args.data}")
    audio = {clip.name: load_audio_16k(clip.audio) for clip in clips}
    model = load_model(args.weights)

    names = [clip.name for clip in clips]
    print(f"| system | lag | pooled aperture | {' | '.join(names)} | pooled rounding |")
    print("|---|---|---|" + "---|" * len(names) + "---|")
    for name, run in systems(model).items():
        signals = []
        for clip in clips:
            weights = run(audio[clip.name], len(clip.labels))
            signals.append(mouth_signals(weights))
        aperture = [(s["aperture"], clip.labels, FPS) for s, clip in zip(signals, clips)]
        rounding = [(s["rounding"], clip.labels, FPS) for s, clip in zip(signals, clips)]
        search = lipsync.pooled_best_lag(aperture, "aperture", lags=LAGS, n_boot=0)
        lag = search.best_lag
        pooled = lipsync.pooled_auc(aperture, "aperture", lag)
        rounded = lipsync.pooled_auc(rounding, "rounding", lag)
        per_clip = " | ".join(cell(r) for r in pooled.per_clip)
        print(f"| {name} | {lag:+d} | {cell(pooled.pooled)} | {per_clip} | {cell(rounded.pooled)} |", flush=True)


if __name__ == "__main__":
    main()
