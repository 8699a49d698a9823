"""The built-in photo avatar saying "a e i o u m f" and a sentence: contact sheets, mouth closure, aliasing.

    python benchmarks/photo_avatar.py [--out benchmarks/figures] [--lookahead-ms 100]

Speech: festival's kal voice (its own phone timings). Driving: audio2motion
(shipped weights) and the motion layer, as ``talkinghead render`` does. For
every phone, the frame at its midpoint is rendered; the table gives the
median open mouth hole (pixels of the rendered inner-mouth mask) per phone
class, and the ratio bilabial (P/B/M) / open vowel: the mouth should shut on
M, B and P. Contact sheets (needs matplotlib, from the track extra): the
lower face at each phone's midpoint, titled by the phone.

Aliasing (issue 22): each phone frame's drawn interior (premultiplied by its
coverage) against the same interior drawn 4x larger and box-filtered (the
reference), mean absolute difference in grey levels within 2 px of the
reference's edges (hole rim, teeth outlines and gaps), by opening.

Sharpness (issue 22): in each rendered frame, the mean squared Laplacian of
the luma over the interior (pixels fully inside the inner lip line, eroded
by 2 px so no lip pixel counts) over that of the outer lips' bounding box,
by the lips' gap (IOD). The same measure on real talking-head video
(``--real DATA``: every tracked frame of the clips in ``DATA/talking``) is
the reference: real open mouths give 2-5, not 1, since teeth against a dark
cavity hold the sharpest detail of the lower face.
"""

from __future__ import annotations

import argparse
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from talkinghead.audio2motion.training.tts import synthesize_festival
from talkinghead.contracts import topology
from talkinghead.contracts.face_model import interocular
from talkinghead.jobs.render import RenderConfig, drive
from talkinghead.renderer import raster
from talkinghead.renderer.avatar import load_avatar
from talkinghead.renderer.mouth import mouth_interior
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


def interior(renderer: PhotoRenderer, screen: torch.Tensor, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """The drawn interior premultiplied by its coverage (B,h,w,3) and the coverage, drawn ``scale``x larger
    and box-filtered to the frame's pixels."""
    height, width = renderer.size
    colours, coverage = mouth_interior(screen * torch.tensor([scale, scale, 1.0]), (height * scale, width * scale),
                                       renderer.rest_mouth, renderer.colours, renderer.style, renderer.teeth)
    pooled = F.avg_pool2d(torch.cat([colours * coverage[..., None], coverage[..., None]], -1).permute(0, 3, 1, 2),
                          scale).permute(0, 2, 3, 1).numpy()
    return pooled[..., :3], pooled[..., 3]


def laplacian_energy(grey: np.ndarray, where: np.ndarray) -> float:
    """Mean squared 4-neighbour Laplacian of ``grey`` (h,w) over ``where`` (h,w) bool."""
    lap = -4 * grey[1:-1, 1:-1] + grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:]
    inside = where[1:-1, 1:-1]
    return float((lap[inside] ** 2).mean()) if inside.any() else float("nan")


def grey(rgb: np.ndarray) -> np.ndarray:
    """Luma (Rec. 601) of RGB (..., 3)."""
    return rgb @ np.array([0.299, 0.587, 0.114])


def sharpness(image: np.ndarray, landmarks: np.ndarray) -> tuple[float, float]:
    """The lips' gap (IOD) and the interior's Laplacian energy over the outer lips' box's, in a picture
    (H,W,3) of a face at ``landmarks`` (478,2+); NaN when fewer than 30 interior pixels remain."""
    points = torch.as_tensor(np.asarray(landmarks, np.float32)[None, :, :2])
    screen = torch.cat([points, torch.zeros(1, len(landmarks), 1)], -1)
    height, width = image.shape[:2]
    coverage = raster.mouth_coverage(screen, (height, width), 4)
    full = -F.max_pool2d(-coverage[:, None], 5, 1, 2)[0, 0].numpy() > 0.999  # eroded by 2 px
    gap = float(np.linalg.norm(landmarks[topology.UPPER_LIP_INNER_MID, :2] - landmarks[topology.LOWER_LIP_INNER_MID, :2]))
    lips = np.asarray(landmarks)[list(topology.LIPS_OUTER), :2]
    (x0, y0), (x1, y1) = np.floor(lips.min(0)).astype(int), np.ceil(lips.max(0)).astype(int) + 1
    luma = grey(image.astype(np.float64))
    box = np.zeros(full.shape, bool)
    box[y0:y1, x0:x1] = True
    energy = laplacian_energy(luma, full) / laplacian_energy(luma, box) if full.sum() >= 30 else float("nan")
    return gap / interocular(np.asarray(landmarks, np.float64)[:, :2]), energy


def aliasing(renderer: PhotoRenderer, weights: np.ndarray, pose: np.ndarray) -> list[tuple[int, float]]:
    """Per frame: the hole's area (px) and the mean |drawn - 4x reference| near the reference's edges (grey)."""
    screen = renderer.targets(weights, pose)
    drawn, coverage = interior(renderer, screen, 1)
    reference, _ = interior(renderer, screen, 4)
    rows = []
    for shipped, truth, covered in zip(drawn, reference, coverage):
        level = grey(truth)
        contrast = np.maximum(np.abs(np.diff(level, axis=0, prepend=level[:1])),
                              np.abs(np.diff(level, axis=1, prepend=level[:, :1]))) > 12
        near = F.max_pool2d(torch.from_numpy(contrast.astype(np.float32))[None], 5, 1, 2)[0].numpy() > 0
        error = float(np.abs(grey(shipped) - level)[near].mean()) if near.any() else 0.0
        rows.append((int(round(covered.sum())), error))
    return rows


def real_sharpness(data: Path) -> list[tuple[float, float]]:
    """(gap, sharpness) of every tracked frame of the talking clips in ``data`` (needs the track extra)."""
    from talkinghead.renderer.tracking import track_video
    from talkinghead.renderer.video import iter_frames

    rows = []
    for folder in sorted((data / "talking").glob("*/")):
        if (folder / "video.mp4").exists():
            track = track_video(folder / "video.mp4")
            for frame, landmarks, valid in zip(iter_frames(folder / "video.mp4"), track.landmarks, track.valid):
                if valid:
                    rows.append(sharpness(frame, landmarks))
    return rows


GAPS = ((0.05, 0.15), (0.15, 0.3), (0.3, 9.0))


def sharpness_table(rows: dict[str, list[tuple[float, float]]]) -> None:
    """Median [quartiles] of the sharpness ratio per gap bin, one column per source."""
    print("\n| lips' gap (IOD) | " + " | ".join(f"{name}: frames, interior / lips sharpness median [IQR]"
                                            for name in rows) + " |")
    print("|---|" + "---|" * len(rows))
    for low, high in GAPS:
        cells = []
        for values in rows.values():
            ratio = np.array([r for g, r in values if low <= g < high and np.isfinite(r)])
            cells.append(f"{len(ratio)}, {np.median(ratio):.2f} [{np.percentile(ratio, 25):.2f}, "
                         f"{np.percentile(ratio, 75):.2f}]" if len(ratio) else "0")
        print(f"| {low}-{high if high < 9 else ''} | " + " | ".join(cells) + " |")


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
    parser.add_argument("--real", type=Path, help="data folder whose talking clips give the sharpness reference")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    avatar = load_avatar()
    renderer = PhotoRenderer(avatar)
    fps = Fraction(30)
    print("| utterance | phone class | frames | median mouth hole px |")
    print("|---|---|---|---|")
    measured, drawn_sharpness = [], []
    for name, text in TEXTS.items():
        speech = synthesize_festival(text, voice="kal")
        coefficients = drive(speech.audio, speech.sample_rate, RenderConfig(fps=fps, lookahead_ms=args.lookahead_ms))
        phones = [p for p in speech.phones if p.symbol != "SIL"]
        frames = [min(len(coefficients) - 1, int((p.start + p.end) / 2 * fps)) for p in phones]
        weights, pose = coefficients.blendshapes[frames], coefficients.pose[frames]
        holes = renderer.warp(renderer.targets(weights, pose)).mouth.sum((1, 2)).numpy()
        measured += aliasing(renderer, weights, pose)
        images = renderer.render(weights, pose)
        drawn_sharpness += [sharpness(image, target) for image, target in zip(images, renderer.targets(weights, pose).numpy())]
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
    print("\n| opening (hole px) | frames | edge error vs 4x reference, median / max grey |")
    print("|---|---|---|")
    for low, high in ((1, 100), (100, 400), (400, 1000), (1000, 10**9)):
        errors = np.array([r[1] for r in measured if low <= r[0] < high])
        if len(errors):
            print(f"| {low}-{high if high < 10**9 else ''} | {len(errors)} | {np.median(errors):.2f} / {errors.max():.2f} |")
    columns = {"built-in, drawn": drawn_sharpness}
    if args.real is not None:
        columns["real talking clips"] = real_sharpness(args.real)
    sharpness_table(columns)


if __name__ == "__main__":
    main()
