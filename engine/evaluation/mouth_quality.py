"""How a redrawn mouth compares with the real video, measured at the video's native pixel scale.

Why native scale: a crop resampled to a fixed size changes the very detail
being judged (shrinking a large face sharpens a blurred mouth, enlarging a
small one blurs both). So each frame's mouth box is cut by a rigid alignment
only, a rotation (the mouth-corner line is the box's x axis) and a
translation (the outer-lip centroid is the box's centre), and its side is
chosen once per comparison from the real video (:func:`box_side`).

Every measure is taken on three regions separately (:data:`REGIONS`), from
each frame's own landmarks in its box:

- ``lips``: inside the outer lip loop, outside the inner one;
- ``interior``: inside the inner lip loop (teeth, tongue, the dark of the mouth);
- ``skin``: the box outside the outer lip loop grown by 3% of the box side.

Grey is BT.601 luma in grey levels (0-255). Detail is read in bands 0, 1, 2
of a Laplacian pyramid (band 0: the finest, about 2-4 px wavelengths):

- sharpness: per band and region, the rendered/real ratio of the per-frame
  energies' medians (1 = as much detail as the real video);
- flicker: each frame's predecessor is warped onto it along the video's own
  landmarks, so motion cancels and what is left is change the landmarks do not
  explain; its energy's rendered/real ratio of means and of 99th percentiles;
- rim profile: grey across the inner-lip contour (where teeth and dark meet
  the lips), rendered against real;
- seam profile: rendered minus base across the edge of the renderer's paste;
- PSNR, PSNR after a Gaussian blur (sigma 2 px: insensitive to detail, so it
  reads shape and colour), SSIM, frame by frame, each video's box cut by its
  own landmarks.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from talkinghead.contracts import topology
from talkinghead.renderer import raster
from talkinghead.renderer.crops import cut_crops, to_crop
from talkinghead.renderer.landmarks import FaceMeshDetector
from talkinghead.renderer.lower_face import ssim_map

REGIONS: tuple[str, ...] = ("lips", "interior", "skin")
BANDS = 3
BOX_FACTOR = 2.2  # box side, in median outer-lip widths of the real video
SKIN_GROWTH = 0.03  # the outer lip loop grown by this share of the box side before skin starts
REPEAT_THRESHOLD = 0.5  # grey levels: a real pair closer than this is a repeated frame
OFFSETS = np.arange(-6, 7)  # px along a normal for the rim and seam profiles (negative = inside)
RIM_POINTS = 64
RIM_MIN_GAP = 3.0  # px between the inner-lip midpoints for a frame to count in the rim profile
BLUR_SIGMA = 2.0  # px, the blurred PSNR's Gaussian
SEAM_SIGMA = 2.0  # px, the mask blur whose gradient gives the seam normals
SSIM_BORDER = 5  # px left out at the box's edge, where the SSIM window reads padding
_CHUNK = 16  # frames warped at once
_BINOMIAL = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16


def gray(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma (...,H,W) float32 of RGB (...,H,W,3)."""
    rgb = np.asarray(rgb, np.float32)
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


# ---------------------------------------------------------------------------------------------
# Tracking and boxes


def retrack(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Landmarks (T,478,3) float32 of each frame and whether a face was found (T,) bool.

    A rendered video is re-tracked the way the real one was, so both are measured
    on landmarks of the same making. Frames without a face take landmarks
    interpolated linearly in time from the nearest found ones (held at the ends).
    """
    with FaceMeshDetector() as detector:
        found = [detector(frame) for frame in frames]
    valid = np.array([f is not None for f in found])
    if not valid.any():
        raise ValueError("no face found in any frame")
    points = np.zeros((len(frames), topology.NUM_VERTICES, 3), np.float32)
    points[valid] = np.stack([f for f in found if f is not None])
    if not valid.all():
        times = np.arange(len(frames))
        flat = points.reshape(len(frames), -1)
        for j in range(flat.shape[1]):
            flat[:, j] = np.interp(times, times[valid], flat[valid, j])
    return points, valid


def mouth_widths(landmarks: np.ndarray) -> np.ndarray:
    """Distance (T,) between the outer mouth corners in the image plane, px."""
    right, left = topology.MOUTH_CORNERS
    points = np.asarray(landmarks, np.float64)
    return np.linalg.norm(points[:, right, :2] - points[:, left, :2], axis=-1)


def box_side(real_landmarks: np.ndarray) -> int:
    """The box side for a comparison: 2.2 median outer-lip widths of the real video, even, px."""
    return max(2, 2 * round(BOX_FACTOR * float(np.median(mouth_widths(real_landmarks))) / 2))


@dataclass(frozen=True)
class MouthBoxes:
    """Per-frame mouth boxes: box-to-image transforms (T,2,3), rotation and translation only.

    A transform maps box pixel centres ``(x + 0.5, y + 0.5, 1)`` to image
    coordinates, as :func:`talkinghead.renderer.crops.cut_crops` takes them.
    """

    transforms: np.ndarray
    side: int

    @classmethod
    def fit(cls, landmarks: np.ndarray, side: int) -> MouthBoxes:
        """Boxes of ``side`` px along each frame's mouth-corner line, centred on the outer lips."""
        points = np.asarray(landmarks, np.float64)[..., :2]
        if points.ndim != 3 or points.shape[1] != topology.NUM_VERTICES:
            raise ValueError(f"landmarks must be (T, {topology.NUM_VERTICES}, 2+), got {points.shape}")
        right, left = topology.MOUTH_CORNERS
        across = points[:, left] - points[:, right]
        angle = np.arctan2(across[:, 1], across[:, 0])
        cos, sin = np.cos(angle), np.sin(angle)
        matrix = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], 1)
        centre = points[:, list(topology.LIPS_OUTER)].mean(1)
        offset = centre - matrix @ np.array([side / 2, side / 2])
        return cls(np.concatenate([matrix, offset[..., None]], 2), int(side))

    def cut(self, frames: np.ndarray) -> np.ndarray:
        """The boxes (T,S,S,3) uint8 of frames (T,H,W,3) (bicubic; one image pixel per box pixel)."""
        return cut_crops(np.asarray(frames), self.transforms, self.side)

    def to_box(self, landmarks: np.ndarray) -> np.ndarray:
        """Image landmarks (T,N,2+) -> box coordinates (T,N,3); the depth is kept (the scale is 1)."""
        points = np.asarray(landmarks, np.float64)
        depth = points[..., 2:3] if points.shape[-1] > 2 else np.zeros_like(points[..., :1])
        return np.concatenate([to_crop(points, self.transforms), depth], -1)

    def pixel_positions(self) -> np.ndarray:
        """Image coordinates (T,S,S,2) of every box pixel's centre."""
        centres = np.arange(self.side) + 0.5
        xs, ys = np.meshgrid(centres, centres)
        grid = np.stack([xs, ys, np.ones_like(xs)], -1)
        return np.einsum("tij,hwj->thwi", self.transforms, grid)


# ---------------------------------------------------------------------------------------------
# Regions


def _inside(loop: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Even-odd point-in-polygon: which points (x, y) lie inside the closed ``loop`` (N,2)."""
    px, py = loop[:, 0, None], loop[:, 1, None]
    qx, qy = np.roll(loop[:, 0], -1)[:, None], np.roll(loop[:, 1], -1)[:, None]
    straddles = (py > y) != (qy > y)
    rise = np.where(qy != py, qy - py, 1.0)
    crossing = px + (qx - px) * (y - py) / rise
    return ((straddles & (x < crossing)).sum(0) % 2) == 1


def _distance(loop: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Distance of points (x, y) to the closed polyline ``loop`` (N,2)."""
    a = loop[:, None]
    edge = np.roll(loop, -1, 0)[:, None] - a
    point = np.stack([x, y], -1)[None] - a
    along = np.clip((point * edge).sum(-1) / np.maximum((edge * edge).sum(-1), 1e-12), 0, 1)
    return np.linalg.norm(point - along[..., None] * edge, axis=-1).min(0)


def region_masks(box_landmarks: np.ndarray, side: int) -> np.ndarray:
    """Masks (T,3,S,S) bool of :data:`REGIONS` from each frame's landmarks in box coordinates."""
    outer_ids, inner_ids = list(topology.LIPS_OUTER), list(topology.LIPS_INNER)
    grow = SKIN_GROWTH * side
    masks = np.zeros((len(box_landmarks), len(REGIONS), side, side), bool)
    masks[:, 2] = True
    for t, points in enumerate(np.asarray(box_landmarks, np.float64)[..., :2]):
        outer, inner = points[outer_ids], points[inner_ids]
        # only the pixels near the lips can be anything but skin
        low = np.clip(np.floor(outer.min(0) - grow - 1).astype(int), 0, side)
        high = np.clip(np.ceil(outer.max(0) + grow + 1).astype(int), 0, side)
        ys, xs = np.mgrid[low[1]:high[1], low[0]:high[0]]
        x, y = xs.ravel() + 0.5, ys.ravel() + 0.5
        in_outer = _inside(outer, x, y)
        interior = _inside(inner, x, y) & in_outer
        near = in_outer | (_distance(outer, x, y) <= grow)
        shape = ys.shape
        masks[t, 0, low[1]:high[1], low[0]:high[0]] = (in_outer & ~interior).reshape(shape)
        masks[t, 1, low[1]:high[1], low[0]:high[0]] = interior.reshape(shape)
        masks[t, 2, low[1]:high[1], low[0]:high[0]] = ~near.reshape(shape)
    return masks


# ---------------------------------------------------------------------------------------------
# Laplacian bands


def _blur5(x: torch.Tensor) -> torch.Tensor:
    """The binomial 5-tap blur of (B,C,H,W), edges replicated."""
    k = _BINOMIAL.to(x.dtype)
    x = F.conv2d(F.pad(x, (2, 2, 0, 0), mode="replicate"), k.view(1, 1, 1, 5).expand(x.shape[1], 1, 1, 5),
                 groups=x.shape[1])
    return F.conv2d(F.pad(x, (0, 0, 2, 2), mode="replicate"), k.view(1, 1, 5, 1).expand(x.shape[1], 1, 5, 1),
                    groups=x.shape[1])


def _expand(x: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """A level (B,1,h,w) brought up to ``shape`` (zero insertion and the binomial blur, times 4)."""
    kernel = (torch.outer(_BINOMIAL, _BINOMIAL) * 4).to(x.dtype).view(1, 1, 5, 5)
    up = F.conv_transpose2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel, stride=2)
    return up[..., 4:4 + shape[0], 4:4 + shape[1]]  # coarse pixel i (padded i + 1) lands on fine 2i


def laplacian_bands(images: np.ndarray, bands: int = BANDS) -> list[torch.Tensor]:
    """Bands 0..bands-1 (B,1,h_l,w_l) of grey images (B,H,W): each level minus the next one expanded."""
    level = torch.as_tensor(np.asarray(images, np.float32))[:, None]
    out = []
    for _ in range(bands):
        coarser = _blur5(level)[..., ::2, ::2]
        out.append(level - _expand(coarser, tuple(level.shape[-2:])))
        level = coarser
    return out


def band_energy(boxes_gray: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean squared band (T,bands,regions) inside each region, and the overall figure (T,).

    A region reaches a coarser level by average pooling and keeps the pixels
    more than half inside; a region empty at a level gives NaN (a closed mouth
    has no interior). Overall: the bands' mean squares over the whole box, summed.
    """
    energy = np.zeros((len(boxes_gray), BANDS, np.shape(masks)[1]))
    overall = np.zeros(len(boxes_gray))
    for start in range(0, len(boxes_gray), 4 * _CHUNK):  # frames a few at a time: boxes may be large
        now = slice(start, start + 4 * _CHUNK)
        weight = torch.as_tensor(np.asarray(masks[now])).float()
        for b, band in enumerate(laplacian_bands(boxes_gray[now])):
            if b:
                weight = F.avg_pool2d(weight, 2, ceil_mode=True)
            keep = (weight > 0.5).double()
            square = band.double() ** 2
            with np.errstate(invalid="ignore", divide="ignore"):
                energy[now, b] = ((square * keep).sum((-2, -1)) / keep.sum((-2, -1))).numpy()
            overall[now] += square.mean((-3, -2, -1)).numpy()
    return energy, overall


# ---------------------------------------------------------------------------------------------
# Flicker


def repeated_pairs(frames: np.ndarray, boxes: MouthBoxes) -> np.ndarray:
    """Which consecutive pairs (T-1,) repeat a frame: mean |grey difference| in the later box < 0.5.

    Both frames are cut with the later frame's box, so a tracker that moves on a
    repeated frame does not hide the repeat.
    """
    later = gray(cut_crops(frames[1:], boxes.transforms[1:], boxes.side))
    earlier = gray(cut_crops(frames[:-1], boxes.transforms[1:], boxes.side))
    return np.abs(later - earlier).mean((1, 2)) < REPEAT_THRESHOLD


def _similarity(source: np.ndarray, target: np.ndarray) -> tuple[complex, complex]:
    """Least-squares similarity ``z -> a z + b`` (as complex numbers) taking points (N,2) ``source`` to ``target``."""
    z, w = source[:, 0] + 1j * source[:, 1], target[:, 0] + 1j * target[:, 1]
    zc, wc = z - z.mean(), w - w.mean()
    a = (wc * zc.conj()).sum() / max((np.abs(zc) ** 2).sum(), 1e-12)
    return complex(a), complex(w.mean() - a * z.mean())


def _sample(frames: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Frames (B,H,W,3) uint8 read bicubically at image points (B,h,w,2) -> (B,h,w,3) uint8, as cut_crops reads."""
    height, width = frames.shape[1:3]
    flat = points.reshape(-1, 2)
    x0, y0 = np.clip(np.floor(flat.min(0)).astype(int) - 3, 0, [width - 1, height - 1])
    x1, y1 = np.clip(np.ceil(flat.max(0)).astype(int) + 3, [x0 + 1, y0 + 1], [width, height])
    window = torch.from_numpy(np.ascontiguousarray(frames[:, y0:y1, x0:x1])).permute(0, 3, 1, 2).float()
    grid = (points - [x0, y0]) / [x1 - x0, y1 - y0] * 2 - 1
    out = F.grid_sample(window, torch.from_numpy(grid).float(), mode="bicubic", padding_mode="border",
                        align_corners=False)
    return out.permute(0, 2, 3, 1).round().clamp(0, 255).byte().numpy()


def warp_previous(frames: np.ndarray, landmarks: np.ndarray, boxes: MouthBoxes, targets: np.ndarray) -> np.ndarray:
    """Frame t-1 moved onto frame t's box (P,S,S,3) uint8, for each t in ``targets`` (>= 1).

    Piecewise affine over the face-mesh triangles and a fan over the inner-lip
    loop (the mouth hole moves with the lips): each box pixel covered by frame
    t's mesh reads frame t-1 at the same barycentric address of frame t-1's
    mesh. Pixels off the mesh follow a similarity fitted from frame t's
    landmarks to frame t-1's.
    """
    face = torch.tensor(topology.load_topology().triangles, dtype=torch.int64)
    triangles = torch.cat([face, raster.mouth_triangles()])  # the fan's centre is vertex 478
    points = np.asarray(landmarks, np.float64)
    inner = list(topology.LIPS_INNER)
    with_centre = np.concatenate([points, points[:, inner].mean(1, keepdims=True)], 1)  # (T,479,3)
    in_box = boxes.to_box(with_centre)
    mesh = slice(0, topology.NUM_MESH_VERTICES)
    out = []
    for start in range(0, len(targets), _CHUNK):
        now = np.asarray(targets[start:start + _CHUNK])
        drawn = raster.rasterize(torch.from_numpy(in_box[now]).float(), triangles, (boxes.side, boxes.side))
        corners = triangles[drawn.triangle.clamp(min=0)]  # (B,S,S,3) vertex ids
        source = torch.from_numpy(with_centre[now - 1, :, :2])  # (B,479,2) where they were in frame t-1
        batch = torch.arange(len(now)).view(-1, 1, 1, 1)
        mapped = (source[batch, corners] * drawn.barycentric.double()[..., None]).sum(-2).numpy()
        positions = MouthBoxes(boxes.transforms[now], boxes.side).pixel_positions()
        fallback = np.empty_like(mapped)
        for i, t in enumerate(now):
            a, b = _similarity(points[t, mesh, :2], points[t - 1, mesh, :2])
            z = a * (positions[i, ..., 0] + 1j * positions[i, ..., 1]) + b
            fallback[i] = np.stack([z.real, z.imag], -1)
        where = np.where(drawn.covered.numpy()[..., None], mapped, fallback)
        out.append(_sample(frames[now - 1], where))
    return np.concatenate(out) if out else np.zeros((0, boxes.side, boxes.side, 3), np.uint8)


def flicker_energies(frames: np.ndarray, landmarks: np.ndarray, boxes: MouthBoxes, masks: np.ndarray,
                     pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Band energies (P,bands,regions) and overall (P,) of frame t minus frame t-1 warped onto it.

    ``pairs`` (T-1,) bool picks the pairs (t-1, t) to measure; regions are frame t's.
    """
    targets = np.flatnonzero(pairs) + 1
    if len(targets) == 0:
        return np.zeros((0, BANDS, len(REGIONS))), np.zeros(0)
    now = gray(cut_crops(frames[targets], boxes.transforms[targets], boxes.side))
    warped = gray(warp_previous(frames, landmarks, boxes, targets))
    return band_energy(now - warped, masks[targets])


# ---------------------------------------------------------------------------------------------
# Profiles


def _bilinear(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """An image (H,W,C) read bilinearly at image points (...,2) (pixel centres at +0.5; edges held)."""
    height, width = image.shape[:2]
    x = np.clip(points[..., 0] - 0.5, 0, width - 1)
    y = np.clip(points[..., 1] - 0.5, 0, height - 1)
    x0 = np.clip(np.floor(x).astype(int), 0, max(width - 2, 0))
    y0 = np.clip(np.floor(y).astype(int), 0, max(height - 2, 0))
    x1, y1 = np.minimum(x0 + 1, width - 1), np.minimum(y0 + 1, height - 1)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    image = np.asarray(image, np.float64)
    top = image[y0, x0] * (1 - fx) + image[y0, x1] * fx
    bottom = image[y1, x0] * (1 - fx) + image[y1, x1] * fx
    return top * (1 - fy) + bottom * fy


def contour_normals(loop: np.ndarray, count: int = RIM_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """A closed loop (N,2) resampled to ``count`` points evenly along its length, and their outward normals."""
    closed = np.concatenate([loop, loop[:1]])
    length = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(closed, axis=0), axis=1))])
    at = np.linspace(0, length[-1], count, endpoint=False)
    points = np.stack([np.interp(at, length, closed[:, 0]), np.interp(at, length, closed[:, 1])], 1)
    tangent = np.roll(points, -1, 0) - np.roll(points, 1, 0)
    normal = np.stack([tangent[:, 1], -tangent[:, 0]], 1)
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
    if ((points - points.mean(0)) * normal).sum() < 0:
        normal = -normal
    return points, normal


def rim_profile(frames: np.ndarray, landmarks: np.ndarray, min_gap: float = RIM_MIN_GAP) -> np.ndarray:
    """Mean grey (13,) across the inner-lip contour at :data:`OFFSETS` px (negative = into the mouth).

    Only frames whose inner lips are at least ``min_gap`` px apart count (a
    closed mouth has no rim); NaN when there are none. Read from the frames
    themselves (bilinear, native pixels), not from the resampled boxes.
    """
    points = np.asarray(landmarks, np.float64)
    gap = np.linalg.norm(points[:, topology.UPPER_LIP_INNER_MID, :2] - points[:, topology.LOWER_LIP_INNER_MID, :2],
                         axis=-1)
    profiles = []
    for t in np.flatnonzero(gap >= min_gap):
        contour, normal = contour_normals(points[t, list(topology.LIPS_INNER), :2])
        where = contour[:, None] + OFFSETS[None, :, None] * normal[:, None]
        profiles.append(gray(_bilinear(frames[t], where)).mean(0))
    return np.mean(profiles, 0) if profiles else np.full(len(OFFSETS), np.nan)


def _gaussian(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (B,H,W) float images, edges replicated."""
    radius = max(1, int(np.ceil(3 * sigma)))
    taps = torch.exp(-0.5 * (torch.arange(-radius, radius + 1.0) / sigma) ** 2)
    taps = (taps / taps.sum()).to(images.dtype)
    x = images[:, None]
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="replicate"), taps.view(1, 1, 1, -1))
    x = F.conv2d(F.pad(x, (0, 0, radius, radius), mode="replicate"), taps.view(1, 1, -1, 1))
    return x[:, 0]


def seam_profile(rendered: np.ndarray, base: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Mean rendered - base grey (13,) across the edge of the blend masks, at :data:`OFFSETS` px.

    ``masks`` (T,H,W) bool: where the renderer may have changed pixels. Offset 0
    is the mask's last pixel, positive offsets lie outside; normals come from the
    gradient of the mask blurred by 2 px. A seam-free paste reads ~0 outside and
    varies smoothly inside; a step at 0/+1 is a visible seam. NaN if no mask has an edge.
    """
    reach = int(OFFSETS.max()) + int(np.ceil(3 * SEAM_SIGMA)) + 2
    total, count = np.zeros(len(OFFSETS)), 0
    for t, mask in enumerate(np.asarray(masks, bool)):
        if not mask.any() or mask.all():
            continue
        ys, xs = np.nonzero(mask)
        y0, x0 = max(ys.min() - reach, 0), max(xs.min() - reach, 0)
        y1, x1 = min(ys.max() + reach + 1, mask.shape[0]), min(xs.max() + reach + 1, mask.shape[1])
        inside = mask[y0:y1, x0:x1]
        diff = gray(rendered[t, y0:y1, x0:x1]) - gray(base[t, y0:y1, x0:x1])
        soft = _gaussian(torch.from_numpy(inside.astype(np.float32))[None], SEAM_SIGMA)[0].numpy()
        gy, gx = np.gradient(soft)
        padded = np.pad(inside, 1, mode="edge")
        core = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
        ey, ex = np.nonzero(inside & ~core)
        gradient = np.stack([gx[ey, ex], gy[ey, ex]], 1)
        size = np.linalg.norm(gradient, axis=1)
        keep = size > 1e-6
        normal = -gradient[keep] / size[keep, None]  # the mask falls outward
        centre = np.stack([ex[keep] + 0.5, ey[keep] + 0.5], 1)
        where = centre[:, None] + OFFSETS[None, :, None] * normal[:, None]
        total += _bilinear(diff[..., None], where)[..., 0].sum(0)
        count += int(keep.sum())
    return total / count if count else np.full(len(OFFSETS), np.nan)


# ---------------------------------------------------------------------------------------------
# Per-pixel agreement


def psnr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """PSNR (T,) in dB of grey images (T,H,W) against each other (inf where equal)."""
    mse = ((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2).mean((1, 2))
    with np.errstate(divide="ignore"):
        return 10 * np.log10(255.0 ** 2 / mse)


def blurred_psnr(a: np.ndarray, b: np.ndarray, sigma: float = BLUR_SIGMA) -> np.ndarray:
    """PSNR (T,) after a Gaussian blur of both: shape and shading, not detail."""
    def blur(x: np.ndarray) -> np.ndarray:
        return _gaussian(torch.from_numpy(np.asarray(x, np.float32)), sigma).numpy()
    return psnr(blur(a), blur(b))


def ssim(a: np.ndarray, b: np.ndarray, border: int = SSIM_BORDER) -> np.ndarray:
    """Mean SSIM (T,) of grey images (T,H,W) inside the box less ``border`` px on each side."""
    values = ssim_map(torch.from_numpy(np.asarray(a, np.float32))[:, None] / 255,
                      torch.from_numpy(np.asarray(b, np.float32))[:, None] / 255)[:, 0]
    return values[:, border:values.shape[1] - border, border:values.shape[2] - border].mean((1, 2)).double().numpy()


# ---------------------------------------------------------------------------------------------
# The comparison


def _ratio(rendered: np.ndarray | float, real: np.ndarray | float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(rendered, np.float64) / np.asarray(real, np.float64)


def _nan_stat(values: np.ndarray, stat) -> np.ndarray:
    """A statistic over axis 0 ignoring NaN; NaN, quietly, where nothing is left (a closed mouth has no interior)."""
    if len(values) == 0:
        return np.full(values.shape[1:], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return stat(values)


@dataclass(frozen=True)
class MouthQuality:
    """A rendered video's mouth against the real one; ratios are rendered/real (1 = as real).

    Arrays indexed ``[band, region]`` follow ``range(BANDS)`` and :data:`REGIONS`.
    """

    box_side: int
    sharpness: np.ndarray  # (3,3): median band energy over frames, rendered/real
    sharpness_overall: float
    flicker_mean: np.ndarray  # (3,3): mean residual energy over pairs, rendered/real
    flicker_p99: np.ndarray  # (3,3): 99th percentile over pairs, rendered/real
    flicker_overall_mean: float
    flicker_overall_p99: float
    pairs: int  # pairs measured (the real video's repeated frames left out)
    rim_rendered: np.ndarray  # (13,) grey across the inner-lip contour
    rim_real: np.ndarray
    psnr: np.ndarray  # (T,) per frame, grey box at the real's place
    psnr_blurred: np.ndarray
    ssim: np.ndarray
    seam: np.ndarray | None = None  # (13,) rendered - base across the paste's edge

    @property
    def rim_difference(self) -> float:
        """Largest |rendered - real| of the rim profiles, grey levels."""
        return float(np.max(np.abs(self.rim_rendered - self.rim_real)))

    @property
    def seam_max(self) -> float:
        """Largest |seam profile|, grey levels (NaN without a base)."""
        return float(np.max(np.abs(self.seam))) if self.seam is not None else float("nan")

    def summary(self) -> dict[str, float]:
        """Every figure by name, in a fixed order (one row of a table per name)."""
        out: dict[str, float] = {"box side px": float(self.box_side)}
        for name, table, overall in (("sharpness", self.sharpness, self.sharpness_overall),
                                     ("flicker mean", self.flicker_mean, self.flicker_overall_mean),
                                     ("flicker p99", self.flicker_p99, self.flicker_overall_p99)):
            for b in range(BANDS):
                for r, region in enumerate(REGIONS):
                    out[f"{name} b{b} {region}"] = float(table[b, r])
            out[f"{name} overall"] = float(overall)
        out["flicker pairs"] = float(self.pairs)
        out["rim max |diff|"] = self.rim_difference
        out["seam max |diff|"] = self.seam_max
        out["psnr dB"] = float(np.median(self.psnr))
        out["psnr blurred dB"] = float(np.median(self.psnr_blurred))
        out["ssim"] = float(np.median(self.ssim))
        return out


def markdown_table(results: Mapping[str, MouthQuality]) -> str:
    """One row per figure, one column per system."""
    names = list(results)
    rows = {name: results[name].summary() for name in names}
    lines = ["| measure | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for key in rows[names[0]] if names else []:
        lines.append(f"| {key} | " + " | ".join(f"{rows[n][key]:.4g}" for n in names) + " |")
    return "\n".join(lines)


def compare(rendered: np.ndarray, rendered_landmarks: np.ndarray, real: np.ndarray, real_landmarks: np.ndarray,
            base: np.ndarray | None = None, masks: np.ndarray | None = None,
            rendered_repeats: np.ndarray | None = None) -> MouthQuality:
    """All the measures of a rendered video (T,H,W,3) uint8 against the real one, frame for frame.

    Each video is boxed, split into regions and warped by its own landmarks
    (T,478,3) px; the box side comes from the real's. PSNR and SSIM compare
    the two videos' boxes, each cut by its own landmarks (rendered frames
    keep their base frames' head pose, so the same pixels would hold
    different parts of the face). With ``base``
    (T,H,W,3), the frames the renderer drew on, and ``masks`` (T,H,W) bool,
    where it may have changed them, the seam profile is measured too.
    Flicker skips the pairs where the real video repeats a frame, and in the
    rendered one those given as ``rendered_repeats`` (T-1,) bool (where the
    frames it was drawn on repeat; default: the real's).
    """
    rendered, real = np.asarray(rendered), np.asarray(real)
    if rendered.shape != real.shape or rendered.ndim != 4 or len(real) < 2:
        raise ValueError(f"need two videos (T>=2,H,W,3) of one shape, got {rendered.shape} and {real.shape}")
    if len(rendered_landmarks) != len(real) or len(real_landmarks) != len(real):
        raise ValueError("one landmark set per frame is needed for each video")
    if (base is None) != (masks is None):
        raise ValueError("the seam profile needs both base and masks")
    side = box_side(real_landmarks)
    real_boxes = MouthBoxes.fit(real_landmarks, side)
    rendered_boxes = MouthBoxes.fit(rendered_landmarks, side)
    real_cut, rendered_cut = real_boxes.cut(real), rendered_boxes.cut(rendered)
    real_masks = region_masks(real_boxes.to_box(real_landmarks), side)
    rendered_masks = region_masks(rendered_boxes.to_box(rendered_landmarks), side)

    real_energy, real_overall = band_energy(gray(real_cut), real_masks)
    rendered_energy, rendered_overall = band_energy(gray(rendered_cut), rendered_masks)

    keep = ~repeated_pairs(real, real_boxes)
    rendered_keep = keep if rendered_repeats is None else ~np.asarray(rendered_repeats, bool)
    real_flicker, real_flicker_all = flicker_energies(real, real_landmarks, real_boxes, real_masks, keep)
    rendered_flicker, rendered_flicker_all = flicker_energies(rendered, rendered_landmarks, rendered_boxes,
                                                              rendered_masks, rendered_keep)

    def p99(x: np.ndarray) -> np.ndarray:
        return _nan_stat(x, lambda v: np.nanpercentile(v, 99, axis=0))

    def mean(x: np.ndarray) -> np.ndarray:
        return _nan_stat(x, lambda v: np.nanmean(v, axis=0))

    def median(x: np.ndarray) -> np.ndarray:
        return _nan_stat(x, lambda v: np.nanmedian(v, axis=0))

    real_grey, aligned = gray(real_cut), gray(rendered_cut)
    return MouthQuality(
        box_side=side,
        sharpness=_ratio(median(rendered_energy), median(real_energy)),
        sharpness_overall=float(_ratio(median(rendered_overall), median(real_overall))),
        flicker_mean=_ratio(mean(rendered_flicker), mean(real_flicker)),
        flicker_p99=_ratio(p99(rendered_flicker), p99(real_flicker)),
        flicker_overall_mean=float(_ratio(mean(rendered_flicker_all), mean(real_flicker_all))),
        flicker_overall_p99=float(_ratio(p99(rendered_flicker_all), p99(real_flicker_all))),
        pairs=int(keep.sum()),
        rim_rendered=rim_profile(rendered, rendered_landmarks),
        rim_real=rim_profile(real, real_landmarks),
        psnr=psnr(aligned, real_grey),
        psnr_blurred=blurred_psnr(aligned, real_grey),
        ssim=ssim(aligned, real_grey),
        seam=None if base is None else seam_profile(rendered, np.asarray(base), np.asarray(masks)),
    )


def contact_sheet(named_boxes: Mapping[str, np.ndarray], picks: Sequence[int], run_start: int, run_length: int,
                  zoom: int = 2, separator: int = 2) -> np.ndarray:
    """Mouth boxes side by side (RGB uint8): a row per system (in the mapping's order), each
    box ``zoom`` times larger (nearest neighbour); first the spaced ``picks``, then frames
    ``run_start .. run_start + run_length - 1`` (a wider white gap sets the run apart).
    """
    boxes = [np.asarray(b) for b in named_boxes.values()]
    if not boxes or any(b.shape[1:] != boxes[0].shape[1:] for b in boxes):
        raise ValueError("need at least one system, all with boxes of one size")
    columns = list(picks) + list(range(run_start, run_start + run_length))
    tile = boxes[0].shape[1] * zoom
    gaps = [separator] * max(len(columns) - 1, 0)
    if len(picks) and run_length:
        gaps[len(picks) - 1] = 3 * separator
    lefts = np.concatenate([[0], np.cumsum(np.array(gaps, int) + tile)]).astype(int)
    height = len(boxes) * tile + (len(boxes) - 1) * separator
    sheet = np.full((height, int(lefts[-1]) + tile if columns else 0, 3), 255, np.uint8)
    for row, box in enumerate(boxes):
        top = row * (tile + separator)
        for left, frame in zip(lefts, columns):
            sheet[top:top + tile, left:left + tile] = box[frame].repeat(zoom, 0).repeat(zoom, 1)
    return sheet
