"""The teeth a photo shows (an open smile), kept and moved with the jaws instead of painted over.

A photo that shows teeth between its lips holds the best picture of them
there will ever be, so :func:`find_teeth` keeps those pixels: the topmost
run of teeth in each column is the upper row (rigid with the head), any
teeth below a dark gap the lower row (rigid with the jaw). Both are held in
the photo's head frame (:mod:`.head_frame`) and :func:`sample` reads them
back wherever a frame's mouth opens. Teeth are told from lips by being
brighter than the lips and nearly colourless (an approximation: a tinted
or dim photo's teeth may be missed, and the photo is taken as upright, so
its columns are the head's vertical).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from talkinghead.contracts import topology
from talkinghead.renderer import raster
from talkinghead.renderer.coverage import luma_saturation
from talkinghead.renderer.head_frame import from_head, head_frame, to_head

MIN_AREA = 0.02  # IOD²: less shown teeth than this (a 40 px IOD photo: 32 px) are not worth keeping
SUPERSAMPLE = 4  # samples per pixel side for the lips' opening
UNDER_LIP = 0.12  # IOD: how far the upper teeth are carried up under the lip


@dataclass(frozen=True)
class PhotoTeeth:
    """The photo's teeth around its mouth: colour and the upper and lower rows' coverage."""

    pixels: torch.Tensor  # (h, w, 8): the upper row's RGB premultiplied by its coverage, the coverage; the lower's
    corner: tuple[float, float]  # (x, y) of pixels[0, 0]'s corner in the photo
    frame: tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # the photo's head frame (origin, x axis, IOD)
    incisal: float  # head-frame y of the upper row's edge at the middle
    colour: tuple[float, float, float]  # the lit teeth's RGB
    lips: np.ndarray  # the photo with its teeth painted over by the lips above and below them


def _under_lip(rgb: np.ndarray, cover: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each column's topmost shown pixel carried up to the box's top, fully covering: the teeth go on under
    the upper lip (seen when it lifts), in the colour they have where they show."""
    shown = cover >= 0.9
    top = shown.argmax(0)
    above = (np.arange(len(cover))[:, None] <= top) & shown.any(0)
    return np.where(above[..., None], rgb[top, np.arange(cover.shape[1])], rgb), np.where(above, 1.0, cover)


def _beyond_opening(teeth: np.ndarray, opening: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Teeth-like pixels (h,w) joined to the opening (h,w bool) in their column, above it and below it:
    teeth the tracker's inner lip line runs across (it often follows the teeth's edge, not the lip's)."""
    rows = np.arange(len(teeth))[:, None]
    has = opening.any(0)
    first = np.where(has, opening.argmax(0), len(teeth))
    last = np.where(has, len(teeth) - 1 - opening[::-1].argmax(0), -1)
    gaps = ~teeth
    below_end = np.where(gaps & (rows > last), rows, len(teeth)).min(0)  # the first non-tooth under the opening
    above_end = np.where(gaps & (rows < first), rows, -1).max(0)
    return (rows > above_end) & (rows < first) & has, (rows > last) & (rows < below_end) & has


def _painted_over(rgb: np.ndarray, mask: np.ndarray, smooth: int) -> np.ndarray:
    """``rgb`` (h,w,3) with the run of ``mask`` (h,w bool) in each column filled by a blend, top to bottom,
    of the pixels just above and just below it (the lips), each averaged over ``smooth`` columns."""
    rows = np.arange(len(rgb))[:, None]
    columns = np.arange(rgb.shape[1])
    top = np.where(mask, rows, len(rgb)).min(0)
    bottom = np.where(mask, rows, -1).max(0)
    kernel = np.ones(smooth) / smooth
    above, below = (np.stack([np.convolve(np.pad(edge[:, k], smooth // 2, mode="edge"), kernel, "valid")
                              for k in range(3)], -1)[:len(columns)]
                    for edge in (rgb[np.clip(top - 1, 0, len(rgb) - 1), columns],
                                 rgb[np.clip(bottom + 1, 0, len(rgb) - 1), columns]))
    t = ((rows - top + 1) / np.maximum(bottom - top + 2, 1))[..., None]
    return np.where(mask[..., None], above + t * (below - above), rgb)


def find_teeth(image: np.ndarray, landmarks: np.ndarray) -> PhotoTeeth | None:
    """The teeth shown by the face at ``landmarks`` (478,2+) in ``image`` (H,W,3) uint8; None if too few."""
    points = np.asarray(landmarks, np.float32)[:, :2]
    loop, outer = points[list(topology.LIPS_INNER)], points[list(topology.LIPS_OUTER)]
    height, width = image.shape[:2]
    origin, x_axis, iod = head_frame(points[None])
    x0 = int(np.clip(np.floor(loop[:, 0].min()) - 2, 0, width))
    y0 = int(np.clip(np.floor(min(loop[:, 1].min() - UNDER_LIP * float(iod[0]), outer[:, 1].min())) - 2, 0, height))
    x1 = int(np.clip(np.ceil(loop[:, 0].max()) + 3, 0, width))
    y1 = int(np.clip(np.ceil(outer[:, 1].max()) + 3, 0, height))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    screen = torch.zeros(1, topology.NUM_VERTICES, 3)
    screen[0, :, :2] = torch.from_numpy(points) - torch.tensor([x0, y0], dtype=torch.float32)
    opening = raster.mouth_coverage(screen, (y1 - y0, x1 - x0), SUPERSAMPLE)[0].numpy()
    rgb = image[y0:y1, x0:x1].astype(np.float64)
    lips = (points[list(topology.LIPS_OUTER)] + loop) / 2
    lx = np.clip(np.round(lips[:, 0]).astype(int), 0, width - 1)
    ly = np.clip(np.round(lips[:, 1]).astype(int), 0, height - 1)
    lip_level = float(np.median(luma_saturation(image[ly, lx])[0]))
    luma, saturation = luma_saturation(rgb)
    bright = np.clip((luma - lip_level - 15) / 30, 0, 1)
    colourless = np.clip((0.45 - saturation) / 0.2, 0, 1)
    likeness = bright * colourless
    teeth = opening * likeness
    if teeth.sum() < MIN_AREA * float(iod[0]) ** 2:
        return None
    solid = teeth > 0.5
    seen = np.maximum.accumulate(solid, 0)
    below_gap = np.maximum.accumulate(seen & ~solid & (opening > 0.5), 0)  # past the upper row's edge
    above, below = _beyond_opening(likeness > 0.6, opening > 0.5)
    upper = np.maximum(opening * ~below_gap, above)  # all the mouth shows (teeth and their shade), and
    lower = np.maximum(opening * below_gap, below)  # the teeth the tracker's inner lip line runs across
    ys, xs = np.nonzero(teeth * ~below_gap > 0.5)
    if len(ys) == 0:
        return None
    head = to_head(torch.from_numpy(np.stack([xs + x0 + 0.5, ys + y0 + 0.5], -1)).float()[None], origin, x_axis,
                   iod)[0].numpy()
    middle = (points[topology.UPPER_LIP_INNER_MID] + points[topology.LOWER_LIP_INNER_MID]) / 2
    mid_x = float(to_head(torch.from_numpy(middle).float()[None, None], origin, x_axis, iod)[0, 0, 0])
    central = np.abs(head[:, 0] - mid_x) < 0.1
    incisal = float(head[central if central.any() else slice(None), 1].max()) + 0.5 / float(iod[0])
    lit = rgb[teeth > 0.8] if (teeth > 0.8).any() else rgb[teeth > 0.5]
    lit_luma = luma_saturation(lit)[0]
    colour = np.median(lit[lit_luma >= np.percentile(lit_luma, 60)], 0)
    rooted, upper = _under_lip(rgb, upper)
    layers = np.concatenate([rooted * upper[..., None], upper[..., None], rgb * lower[..., None], lower[..., None]],
                            -1)
    lips = image.copy()
    smooth = 2 * int(0.05 * float(iod[0])) + 1
    lips[y0:y1, x0:x1] = _painted_over(rgb, above | (opening > 0) | below, smooth).round().astype(np.uint8)
    return PhotoTeeth(torch.from_numpy(layers).float(), (float(x0), float(y0)), (origin, x_axis, iod), incisal,
                      tuple(float(c) for c in colour), lips)


def _read(layers: torch.Tensor, pixels: torch.Tensor) -> torch.Tensor:
    """Bilinear samples (h,w,C) of ``layers`` (H,W,C) at pixel positions (h,w,2) of it; zero outside."""
    height, width = layers.shape[:2]
    grid = torch.stack([pixels[..., 0] / width * 2 - 1, pixels[..., 1] / height * 2 - 1], -1)[None]
    return F.grid_sample(layers.permute(2, 0, 1)[None], grid, mode="bilinear", padding_mode="zeros",
                         align_corners=False)[0].permute(1, 2, 0)


def sample(teeth: PhotoTeeth, head: torch.Tensor, jaw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The photo's teeth at head-frame points (h,w,2) of a frame whose chin moved ``jaw`` (2,) from rest:
    RGB premultiplied by coverage (h,w,3) and the coverage (h,w); the upper row in front."""
    corner = torch.tensor(teeth.corner)
    upper = _read(teeth.pixels[..., :4], from_head(head[None], *teeth.frame)[0] - corner)
    lower = _read(teeth.pixels[..., 4:], from_head((head - jaw)[None], *teeth.frame)[0] - corner)
    behind = 1 - upper[..., 3:]
    return upper[..., :3] + behind * lower[..., :3], upper[..., 3] + behind[..., 0] * lower[..., 3]
