"""Photo avatars' drawn mouths on several portraits: contact sheets and lip-sync read back from the pictures.

    python benchmarks/photo_mouths.py [--data ../shared/data] [--out benchmarks/figures] [--lookahead-ms 100]

Portraits: the built-in avatar, scikit-image's astronaut (an open smile;
skipped without scikit-image) and the first frame of each talking clip in
``talking/`` (``enroll --image`` on it). Per portrait, a contact sheet
(``photo_mouths_<name>.png``), the mouth box at 2x: row 1 the visemes
"a e i o u m f th l" (festival's kal voice saying "Father, bet, see, go, you,
me, fee, thin, law.", the frame at the middle of each phone), row 2 eight
consecutive frames of a sentence. Lip-sync: each portrait driven by real
speech with 30 fps phone labels (the built-in avatar and the astronaut by
``speech/intro_en.wav``, each clip's portrait by its own clip's speech),
rendered, tracked afresh and scored with the yardstick's aperture AUC at
its best lag (bar: ≥ 0.92); beside it the median drawn mouth hole on P/B/M
and open-vowel frames of the labels (the mouth must shut on P/B/M).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np

from talkinghead.audio2motion.training.tts import synthesize_festival
from talkinghead.contracts import topology
from talkinghead.contracts.audio_io import load_audio
from talkinghead.evaluation.labels import load_clip_labels, load_phoneme_index
from talkinghead.jobs.render import RenderConfig, drive
from talkinghead.renderer.avatar import load_avatar
from talkinghead.renderer.photo import PhotoAvatar, PhotoRenderer, enroll_photo
from talkinghead.renderer.video import iter_frames, write_image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from photo_avatar import BILABIAL, OPEN, TEXTS  # noqa: E402  (the same sentence and phone classes)
from render_eval import aperture_auc, retracked_aperture  # noqa: E402  (the same re-tracking)

ROOT = Path(__file__).resolve().parents[1]
VISEMES = (("AA", "a"), ("EH", "e"), ("IY", "i"), ("OW", "o"), ("UW", "u"), ("M", "m"), ("F", "f"), ("TH", "th"),
           ("L", "l"))
VISEME_TEXT = "Father, bet, see, go, you, me, fee, thin, law."
FPS = 30


def portraits(data: Path, work: Path) -> dict[str, tuple[PhotoAvatar, Path | None]]:
    """Name -> (avatar, real speech for it); each photo enrolled as ``enroll --image`` would."""
    out: dict[str, tuple[PhotoAvatar, Path | None]] = {"built-in": (load_avatar(), data / "speech" / "intro_en.wav")}
    try:
        from skimage.data import astronaut

        write_image(work / "astronaut.png", astronaut())
        out["astronaut"] = (enroll_photo(work / "astronaut.png"), data / "speech" / "intro_en.wav")
    except ImportError:
        print("scikit-image absent: no astronaut")
    for folder in sorted((data / "talking").glob("*/")):
        if (folder / "video.mp4").exists():
            write_image(work / f"{folder.name}.png", next(iter_frames(folder / "video.mp4")))
            out[folder.name] = (enroll_photo(work / f"{folder.name}.png"), folder / "audio.wav")
    return out


def mouth_tiles(images: np.ndarray, avatar: PhotoAvatar) -> list[np.ndarray]:
    """The mouth box of each image at 2x (a square 1.8 mouth widths across, centred on the lips at rest)."""
    lips = avatar.landmarks[list(topology.LIPS_OUTER), :2]
    centre, half = lips.mean(0), int(0.9 * np.ptp(lips[:, 0]))
    y0, x0 = (np.round(centre[::-1]) - half).astype(int).clip(0)
    return [np.repeat(np.repeat(image[y0:y0 + 2 * half, x0:x0 + 2 * half], 2, 0), 2, 1) for image in images]


def sheet(renderer: PhotoRenderer, config: RenderConfig) -> np.ndarray:
    """Row 1: the visemes; row 2: eight consecutive frames of the sentence."""
    speech = synthesize_festival(VISEME_TEXT, voice="kal")
    coefficients = drive(speech.audio, speech.sample_rate, config)
    picks = []
    for symbol, _ in VISEMES:
        phone = next(p for p in speech.phones if p.symbol == symbol)
        picks.append(min(len(coefficients) - 1, int((phone.start + phone.end) / 2 * FPS)))
    visemes = renderer.render(coefficients.blendshapes[picks], coefficients.pose[picks])
    sentence = synthesize_festival(TEXTS["sentence"], voice="kal")
    coefficients = drive(sentence.audio, sentence.sample_rate, config)
    start = len(coefficients) // 3
    run = renderer.render(coefficients.blendshapes[start:start + 8], coefficients.pose[start:start + 8])
    rows = [mouth_tiles(visemes, renderer.avatar), mouth_tiles(run, renderer.avatar)]
    width = max(len(row) for row in rows)
    blank = np.full_like(rows[0][0], 255)
    return np.concatenate([np.concatenate(row + [blank] * (width - len(row)), 1) for row in rows], 0)


def lipsync(renderer: PhotoRenderer, speech: Path, labels: np.ndarray, config: RenderConfig) -> tuple[str, float, float]:
    """Aperture AUC of the re-tracked pictures, and the median drawn hole (px) on P/B/M and open vowels."""
    samples, rate = load_audio(speech)
    coefficients = drive(samples, rate, config)
    count = min(len(coefficients), len(labels))
    images = np.concatenate([renderer.render(coefficients.blendshapes[k:k + 64], coefficients.pose[k:k + 64])
                             for k in range(0, count, 64)])
    holes = np.concatenate([renderer.warp(renderer.targets(coefficients.blendshapes[k:k + 64],
                                                           coefficients.pose[k:k + 64])).mouth.sum((1, 2)).numpy()
                            for k in range(0, count, 64)])
    labels = labels[:count]
    shut = [h for h, label in zip(holes, labels) if label in BILABIAL]
    opened = [h for h, label in zip(holes, labels) if label in OPEN]
    return (aperture_auc(retracked_aperture(images), labels), float(np.median(shut)) if shut else float("nan"),
            float(np.median(opened)) if opened else float("nan"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "figures")
    parser.add_argument("--lookahead-ms", type=int, default=100)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    config = RenderConfig(fps=Fraction(FPS), lookahead_ms=args.lookahead_ms)
    index = load_phoneme_index(args.data / "talking" / "phoneme_index.json")
    print("| portrait | photo px | speech | frames | aperture AUC (lag) | median hole px, P/B/M | median hole px, open vowels |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as work:
        for name, (avatar, speech) in portraits(args.data, Path(work)).items():
            renderer = PhotoRenderer(avatar)
            write_image(args.out / f"photo_mouths_{name}.png", sheet(renderer, config))
            labels_path = (args.data / "speech" / "intro_en.phonemes_30fps.json" if speech.stem == "intro_en"
                           else speech.parent / "phonemes_30fps.json")
            labels = load_clip_labels(labels_path, index)
            auc, shut, opened = lipsync(renderer, speech, labels, config)
            print(f"| {name} | {avatar.image.shape[1]}x{avatar.image.shape[0]} | {speech.parent.name}/{speech.name} | "
                  f"{min(len(labels), 10**9)} | {auc} | {shut:.0f} | {opened:.0f} |", flush=True)


if __name__ == "__main__":
    main()
