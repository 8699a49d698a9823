"""What an enrollment video shows of the mouth, and what it lacks.

A video avatar's mouth is drawn from its enrollment frames (the mouth bank
retrieves the frame whose tracked mouth is nearest the driving weights), so
the avatar can only show mouths the video showed: with no wide "ah", no
rounded "oo" or no visible teeth in the video, there are none in the avatar.
:func:`mouth_coverage` counts them on the tracked frames, so enrollment can
say what to record again.

The thresholds were set by eye on the project's real clips (mouth crops at a
fixed face scale): below an inner-lip gap of 0.1 inter-ocular distances the
lips look closed, from 0.3 the mouth is wide open; ``mouthFunnel`` or
``mouthPucker`` from 0.2 shows visibly pursed lips, ``mouthSmile`` or
``mouthStretch`` from 0.2 visibly spread ones; the teeth rule agrees with a
by-eye label on 140 of 144 frames of 12 clips.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from talkinghead.contracts import topology
from talkinghead.contracts.arkit import ARKIT_INDEX
from talkinghead.contracts.face_model import interocular, lip_gap, mouth_width
from talkinghead.renderer.tracking import Track

OPENINGS = ("closed", "slightly open", "open", "wide")
APERTURE_EDGES = (0.1, 0.2, 0.3)  # inner-lip gap / inter-ocular distance between the OPENINGS
JAW_EDGES = (0.05, 0.15, 0.25)  # jawOpen between the OPENINGS (its median in each aperture bin)
ROUNDED = 0.2  # mouthFunnel or mouthPucker: lips visibly pursed ("oo", "w")
SPREAD = 0.2  # mean of a side pair of mouthSmile or mouthStretch: lips visibly spread ("ee", smiles)
SEEN_SECONDS = 0.2  # a shape counts as seen when this much usable video shows it (about a syllable)
GOOD_SECONDS = (20.0, 60.0)  # enough frames to cover the shapes, short enough to enroll quickly
TEETH_WHITENESS = -0.1  # a teeth pixel: luma / skin luma - saturation / skin saturation above this
TEETH_AREA = 0.004  # a frame shows teeth from this many teeth pixels per squared inter-ocular distance
SKIN_PAD = 0.5  # the skin ring around the lips: their box grown by this share of its size per side
SATURATION_FLOOR = 0.05  # of the skin: grey footage would make the saturation ratio blow up

_ROUNDING = [ARKIT_INDEX["mouthFunnel"], ARKIT_INDEX["mouthPucker"]]
_SPREADING = [
    [ARKIT_INDEX["mouthSmileLeft"], ARKIT_INDEX["mouthSmileRight"]],
    [ARKIT_INDEX["mouthStretchLeft"], ARKIT_INDEX["mouthStretchRight"]],
]


@dataclass(frozen=True)
class Coverage:
    """Which mouths an enrollment video showed; plain numbers, so it goes into an avatar's metadata as is."""

    frames: int  # frames looked at
    usable: int  # of which a face was found in
    fps: float
    openings: tuple[float, ...]  # share of usable frames in each of OPENINGS, by lip aperture
    jaw: tuple[float, ...]  # the same by jawOpen
    widest: float  # the widest lip aperture that at least SEEN_SECONDS of usable video reach
    rounded: float  # share of usable frames with pursed lips
    spread: float  # share of usable frames with spread lips
    teeth: float | None  # share of usable frames showing teeth; None: not measured
    mouth_px: float  # median mouth width, corner to corner, in pixels

    @property
    def seconds(self) -> float:
        return self.usable / self.fps

    def _seen(self, share: float) -> bool:
        return round(share * self.usable) >= math.ceil(SEEN_SECONDS * self.fps)

    def warnings(self) -> list[str]:
        """One line per thin spot, saying what to record to fill it."""
        lines = []
        if self.seconds < GOOD_SECONDS[0]:
            lines.append(f"only {self.seconds:.1f} s of usable video; {GOOD_SECONDS[0]:.0f}-{GOOD_SECONDS[1]:.0f} s "
                         f"is better")
        if self.widest < APERTURE_EDGES[-1]:
            lines.append(f"few open mouths: the avatar's widest mouth is {opening(self.widest)} "
                         f"({self.widest:.2f} of the eye distance); record some open vowels (\"ah\")")
        if not self._seen(self.rounded):
            lines.append("no rounded lips seen: the avatar cannot purse its lips; say some \"oo\" and \"w\" words "
                         "(\"two\", \"we\")")
        if not self._seen(self.spread):
            lines.append("no spread lips seen: the avatar cannot smile or say \"ee\" well; smile and say some \"ee\" "
                         "words (\"see\")")
        if self.teeth is not None and not self._seen(self.teeth):
            lines.append("teeth never show: the avatar's mouth will look dark inside; speak a little more openly, "
                         "with light from the front")
        return lines

    def summary(self) -> str:
        """A few lines for the enrollment's report."""

        def shares(values: tuple[float, ...]) -> str:
            return ", ".join(f"{name} {share:.0%}" for name, share in zip(OPENINGS, values))

        teeth = "not measured" if self.teeth is None else f"shown in {self.teeth:.0%} of frames"
        return "\n".join([
            (f"enrollment coverage: {self.seconds:.1f} s usable ({self.usable} of {self.frames} frames), "
             f"mouth {self.mouth_px:.0f} px wide"),
            f"  lip opening: {shares(self.openings)} (widest {self.widest:.2f}: {opening(self.widest)})",
            f"  jawOpen:     {shares(self.jaw)}",
            f"  lip shapes:  rounded {self.rounded:.0%}, spread {self.spread:.0%}",
            f"  teeth:       {teeth}",
        ])


def opening(aperture: float) -> str:
    """The name in OPENINGS of a lip aperture (inner-lip gap / inter-ocular distance)."""
    return OPENINGS[int(np.digitize(aperture, APERTURE_EDGES))]


def _shares(values: np.ndarray, edges: tuple[float, ...]) -> tuple[float, ...]:
    counts = np.bincount(np.digitize(values, edges), minlength=len(edges) + 1)
    return tuple(float(c) for c in counts / len(values))


def _inside(polygon: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    """Which pixel centres of the box [x0, x1) x [y0, y1) lie inside ``polygon`` (N, 2) (even-odd rule)."""
    ys, xs = np.mgrid[y0:y1, x0:x1] + 0.5
    inside = np.zeros(ys.shape, bool)
    for (xa, ya), (xb, yb) in zip(polygon, np.roll(polygon, -1, axis=0)):
        if ya == yb:
            continue  # a horizontal edge crosses no scanline
        crossing = xa + (ys - ya) * (xb - xa) / (yb - ya)
        inside ^= ((ya > ys) != (yb > ys)) & (xs < crossing)
    return inside


def luma_saturation(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rec. 601 luma and saturation ((max - min) / max) of RGB pixels (..., 3)."""
    rgb = rgb.astype(np.float32)
    high = rgb.max(-1)
    return rgb @ np.array([0.299, 0.587, 0.114], np.float32), (high - rgb.min(-1)) / np.maximum(high, 1.0)


def teeth_area(frame: np.ndarray, landmarks: np.ndarray) -> float:
    """Teeth pixels inside one frame's inner lips, in squared inter-ocular distances.

    A pixel is teeth when it is whiter than the face's skin around the lips:
    brighter relative to the skin's luma than it is saturated relative to the
    skin's saturation. Relative, so neither the light's level and colour nor
    the skin tone moves the threshold; lips, tongue and the dark mouth cavity
    all score well below skin.
    """
    points = np.asarray(landmarks, np.float64)[:, :2]
    height, width = frame.shape[:2]
    limit = np.array([width, height])
    lips = points[list(topology.LIPS_OUTER)]
    low, high = lips.min(0), lips.max(0)
    x0, y0 = np.clip(np.floor(low - (high - low) * SKIN_PAD), 0, limit).astype(int)
    x1, y1 = np.clip(np.ceil(high + (high - low) * SKIN_PAD), 0, limit).astype(int)
    luma, saturation = luma_saturation(frame[y0:y1, x0:x1])
    ring = np.ones(luma.shape, bool)
    lx0, ly0 = np.clip(np.floor(low), 0, limit).astype(int)
    lx1, ly1 = np.clip(np.ceil(high), 0, limit).astype(int)
    ring[ly0 - y0:ly1 - y0, lx0 - x0:lx1 - x0] = False
    hole = points[list(topology.LIPS_INNER)]
    hx0, hy0 = np.clip(np.floor(hole.min(0)), 0, limit).astype(int)
    hx1, hy1 = np.clip(np.ceil(hole.max(0)), 0, limit).astype(int)
    if not ring.any() or hx1 <= hx0 or hy1 <= hy0:
        return 0.0  # the face at the image's edge, or a closed mouth
    skin_luma = max(float(np.median(luma[ring])), 1.0)
    skin_saturation = max(float(np.median(saturation[ring])), SATURATION_FLOOR)
    window = (slice(hy0 - y0, hy1 - y0), slice(hx0 - x0, hx1 - x0))
    whiteness = luma[window] / skin_luma - saturation[window] / skin_saturation
    teeth = np.count_nonzero(_inside(hole, hx0, hy0, hx1, hy1) & (whiteness > TEETH_WHITENESS))
    return teeth / float(interocular(points)) ** 2  # in the image plane, as the pixels are


def mouth_coverage(track: Track, frames: Iterable[np.ndarray] | None = None, count: int | None = None) -> Coverage:
    """What the first ``count`` frames (default all) of ``track`` show of the mouth.

    ``frames``: the tracked video's frames in order (``iter_frames(path)``),
    read once, to find the teeth; None leaves teeth unmeasured. Frames
    without a face (``track.valid`` False) are left out of every share.
    """
    n = track.num_frames if count is None else min(count, track.num_frames)
    valid = np.asarray(track.valid[:n], bool)
    if not valid.any():
        raise ValueError("no frame with a face to measure the mouth's coverage on")
    landmarks = np.asarray(track.landmarks[:n][valid], np.float64)
    weights = np.asarray(track.blendshapes[:n][valid], np.float64)
    aperture = lip_gap(landmarks) / interocular(landmarks)
    seen = min(math.ceil(SEEN_SECONDS * float(track.fps)), len(aperture))
    spread = np.max([weights[:, pair].mean(1) for pair in _SPREADING], axis=0)
    teeth = None
    if frames is not None:
        shown = [teeth_area(frame, track.landmarks[k]) >= TEETH_AREA for k, frame in zip(range(n), frames) if valid[k]]
        teeth = float(np.mean(shown))
    return Coverage(
        frames=n,
        usable=len(aperture),
        fps=float(track.fps),
        openings=_shares(aperture, APERTURE_EDGES),
        jaw=_shares(weights[:, ARKIT_INDEX["jawOpen"]], JAW_EDGES),
        widest=float(np.sort(aperture)[-seen]),
        rounded=float(np.mean(weights[:, _ROUNDING].max(1) >= ROUNDED)),
        spread=float(np.mean(spread >= SPREAD)),
        teeth=teeth,
        mouth_px=float(np.median(mouth_width(landmarks[..., :2]))),
    )
