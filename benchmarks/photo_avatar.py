"""The built-in photo avatar saying "a e i o u m f" and a sentence: contact sheets and mouth closure.

    python benchmarks/photo_avatar.py [--out benchmarks/figures] [--lookahead-ms 100]

Speech: festival's kal voice (its own phone timings). Driving: audio2motion
(shipped weights) and the motion layer, as ``talkinghead render`` does. For
every phone, the frame at its midpoint is rendered; the table gives the
median open mouth hole (pixels of the rendered inner-mouth mask) per phone
class, and the ratio bilabial (P/B/M) / open vowel: the mouth should shut on
M, B and P. Contact sheets (needs matplotlib, from the track extra): the
lower face at each phone's midpoint, titled by the phone.
"""

from __future__ import annotations

import argparse
from fractions import Fraction
from pathlib import Path

import numpy as np

from talkinghead.audio2motion.training.tts import synthesize_festival
from talkinghead.contracts import topology
from talkinghead.jobs.render import RenderConfig, drive
from talkinghead.renderer.avatar import load_avatar
from talkinghead.renderer.photo import PhotoRenderer

ROOT = Path(__file__).resolve().parents[1]
TEXTS = {"vowels": "A, E, I, O, U, M, F.", "sentence": "Bob made a map, and Pam bought more paper for my pub."}
OPEN = {"AA", "AE", "AH", "AO", "AW", "AY", "EY"}
BILABIAL = {"P", "B", "M"}


def lower_face(frame: np.ndarray, landmarks: np.ndarray, size: int = 96) -> np.ndarray:
    lips = landmarks[list(topology.LIPS_OUTER), :2].mean(0)
    half = size // 2
    y, x = int(lips[1]), int(lips[0])
    return frame[y - half:y + half, x - half:x + half]


def contact_sheet(path: Path, tiles: list[np.ndarray], labels: list[str], title: str) -> None:
    """Tiles in a row, each titled by its phone (matplotlib, from the track extra)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(tiles), figsize=(0.9 * len(tiles), 1.3), squeeze=False)
    for axis, tile, label in zip(axes[0], tiles, labels):
        axis.imshow(tile)
        axis.set_title(label, fontsize=8)
        axis.axis("off")
    figure.suptitle(title, fontsize=8)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "figures")
    parser.add_argument("--lookahead-ms", type=int, default=100)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    avatar = load_avatar()
    renderer = PhotoRenderer(avatar)
    fps = Fraction(30)
    print("| utterance | phone class | frames | median mouth hole px |")
    print("|---|---|---|---|")
    for name, text in TEXTS.items():
        speech = synthesize_festival(text, voice="kal")
        coefficients = drive(speech.audio, speech.sample_rate, RenderConfig(fps=fps, lookahead_ms=args.lookahead_ms))
        phones = [p for p in speech.phones if p.symbol != "SIL"]
        frames = [min(len(coefficients) - 1, int((p.start + p.end) / 2 * fps)) for p in phones]
        weights, pose = coefficients.blendshapes[frames], coefficients.pose[frames]
        holes = renderer.warp(renderer.targets(weights, pose)).mouth.sum((1, 2)).numpy()
        images = renderer.render(weights, pose)
        contact_sheet(args.out / f"photo_avatar_{name}.png", [lower_face(im, avatar.landmarks) for im in images],
                      [p.symbol for p in phones], f'"{text}" (festival kal, {args.lookahead_ms} ms look-ahead)')
        by_class = {"open vowels": [h for h, p in zip(holes, phones) if p.symbol in OPEN],
                    "P/B/M": [h for h, p in zip(holes, phones) if p.symbol in BILABIAL]}
        for label, values in by_class.items():
            if values:
                print(f"| {name} | {label} | {len(values)} | {np.median(values):.0f} |")
        if by_class["P/B/M"] and by_class["open vowels"]:
            ratio = np.median(by_class["P/B/M"]) / max(1.0, np.median(by_class["open vowels"]))
            print(f"| {name} | P/B/M / open | | {ratio:.2f} |")
        print(f"<!-- {name}: " + " ".join(f"{p.symbol}:{h}" for p, h in zip(phones, holes)) + " -->")


if __name__ == "__main__":
    main()
