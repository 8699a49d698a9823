"""Mouths made of the person's own pixels: retrieved by shape, warped onto the target, blended in bands.

No network paints anything here (after "Video Rewrite", Bregler et al.
1997, and "Synthesizing Obama", Suwajanakorn et al. 2017):

1. **Bank** (enrollment): every enrollment frame's lower face, cut as an
   exact integer box of the video frame (no resampling: a 4K mouth keeps its
   pixels), with the frame's face-mesh vertices in that box, its real lip
   shape and, as its key, the face model's lip shape of its tracked weights.
2. **Retrieval**: the ``candidates`` bank frames whose mouths are nearest
   the target's in the face model's lip shape (:func:`model_keys`: what
   their tracked weights do to the lips, so the model's own approximations
   cancel), weighted so that a frame entering or leaving the set has
   weight 0 there (the weights, and so the picture, change continuously
   with the drive: no switching pops). Along a sequence drawn in order (a
   session, a render, a dub: :class:`PickTrack`), each bank frame's weight
   is an exponential mean over the frames drawn so far, so the mix drifts
   rather than following every frame's ranking.
3. **Alignment**: the target's lips move toward a real lip shape
   (:func:`mouth_shape`: the contours in a face frame set by the eyes, which
   the mouth does not move; ``real_lips`` of the way), the skin around
   following: the candidates' weighted mean shape, corrected by how far the
   target's key is from theirs through a linear map from keys to real
   shapes fitted on the bank (:func:`fit_lip_map`; a mean of neighbours
   alone regresses toward the bank's average mouth and cannot close as far
   as the drive asks); each candidate is moved onto that geometry by the
   piecewise-affine map of the lower-face mesh (and the inner-lip fan, for
   teeth and tongue), sampled bicubically: the candidates now line up pixel
   for pixel.
4. **Combination**: each candidate's mean colour is shifted to the frame's
   over the region outside the mouth hole (lighting drifts over a video);
   their weighted mean gives every band but the finest, which comes from a
   mix weighted by the weights to the power ``detail_power`` (the heaviest
   candidates, changing continuously; a mean of candidates a pixel apart
   would soften it). Nothing is sharpened: a gain on the lips' finest band
   (undoing what resampling and mixing take) drew a hard, stair-stepped lip
   outline in dubs. A weighted median was tried: softer, and more flicker,
   as its per-pixel choice changes with the weights.
5. **Blending** into the frame the mouth is drawn on (already warped to the
   target jaw): a Laplacian-pyramid blend of the difference, so low
   frequencies (shade, colour) cross over a wide band and fine detail over a
   narrow one: no seam, no halo, and nothing changes outside the window.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from talkinghead.contracts import topology
from talkinghead.contracts.face_model import FaceModel, eye_centres
from talkinghead.renderer import raster

CENTRE = topology.NUM_VERTICES  # the inner-lip fan's extra vertex (see raster.mouth_triangles)
SUBNASALE = 2  # mesh vertex under the nose: the synthesised region starts just below it
FOLLOW = 0.3  # how far (in mouth widths) the skin around the lips follows them when they move


@dataclass(frozen=True)
class RetrievalConfig:
    candidates: int = 8  # bank frames combined per output frame
    smoothing: float = 0.5  # along a sequence, the share of each row's weight carried from the previous frame
    levels: int = 4  # Laplacian-pyramid levels of the blend
    erode: int = 2  # pixels the blend mask shrinks by (the region's own edge is least reliable)
    max_bank: int = 900  # frames kept at most (spread over mouth shapes), bounding memory on long videos
    margin: float = 0.08  # box margin around the region, as a share of its side
    real_lips: float = 1.0  # how far the lips move from the face model's shape to the candidates' real one
    detail_power: float = 4.0  # the finest band mixes the candidates by weight to this power (continuous in time)
    colour_shift: float = 24.0  # grey levels a candidate's mean colour may move to match the frame it is drawn on

    def __post_init__(self) -> None:
        if self.candidates < 1 or self.levels < 1 or self.max_bank < 1:
            raise ValueError("candidates, levels and max_bank must be positive")
        if not 0 <= self.smoothing < 1:
            raise ValueError("smoothing must be in [0, 1)")


@functools.cache
def _region_cache(neutral_bytes: bytes) -> tuple[tuple[int, ...], torch.Tensor]:
    neutral = np.frombuffer(neutral_bytes, np.float32).reshape(-1, 3)
    face = FaceModel(neutral)
    corners = neutral[list(topology.MOUTH_CORNERS)]
    centre, half = corners.mean(0), np.linalg.norm(corners[1] - corners[0]) / 2
    top = neutral[SUBNASALE, 1] - 0.15 * half  # model frame: +y up
    bottom = neutral[topology.CHIN, 1] + 0.1 * half
    inside = (np.abs(neutral[:, 0] - centre[0]) < 1.45 * half) & (neutral[:, 1] < top) & (neutral[:, 1] > bottom)
    inside[topology.NUM_MESH_VERTICES:] = False
    triangles = face.triangles.long()
    keep = torch.from_numpy(inside)[triangles].all(1)
    vertices = tuple(int(v) for v in np.nonzero(inside)[0])
    return vertices, torch.cat([triangles[keep], raster.mouth_triangles()])


def mouth_region(neutral: np.ndarray) -> tuple[tuple[int, ...], torch.Tensor]:
    """The lower face around the mouth on a face with this ``neutral`` (478,3) model-frame mesh.

    Returns its vertices and its triangles (the mesh's, then the inner-lip fan
    about vertex :data:`CENTRE`): from just under the nose to just under the
    chin, about one and a half mouth widths across, never the face's outline
    (candidates' backgrounds differ).
    """
    return _region_cache(np.ascontiguousarray(neutral, np.float32).tobytes())


LIPS = tuple(topology.LIPS_OUTER) + tuple(topology.LIPS_INNER)


def _eye_frame(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Origin (...,2), x axis (...,2) and unit (...,1) of the face frame the eyes set (they do not move with the mouth)."""
    eyes = eye_centres(points)
    across = eyes[..., 1, :] - eyes[..., 0, :]
    unit = np.linalg.norm(across, axis=-1)[..., None]
    return eyes.mean(-2), across / unit, unit


def mouth_shape(vertices: np.ndarray) -> np.ndarray:
    """Face-mesh vertices (..., 478, 2+) in pixels -> lip-contour shape keys (..., 2L).

    The lip contours, in a face frame whose origin is between the eyes, x
    along the eye line and unit the inter-ocular distance: the same mouth
    gives the same key at any head position, roll and size.
    """
    points = np.asarray(vertices, np.float64)[..., :2]
    origin, x_axis, unit = _eye_frame(points)
    y_axis = np.stack([-x_axis[..., 1], x_axis[..., 0]], -1)
    lips = points[..., list(LIPS), :] - origin[..., None, :]
    local = np.stack([(lips * x_axis[..., None, :]).sum(-1), (lips * y_axis[..., None, :]).sum(-1)], -1)
    return (local / unit[..., None]).reshape(*points.shape[:-2], -1).astype(np.float32)


def model_keys(face: FaceModel, blendshapes: np.ndarray) -> np.ndarray:
    """Weights (T,52) -> (T, 2L): the lip contours the face model makes of them (model frame, no pose)."""
    with torch.no_grad():
        vertices = face.expression(torch.as_tensor(np.asarray(blendshapes, np.float32)))
    return vertices[:, list(LIPS), :2].reshape(len(vertices), -1).numpy().astype(np.float32)


def place_shape(key: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """A shape key (2L,) -> its lip contours (L,2) in the pixels of a face whose vertices (478,2+) set the eyes."""
    origin, x_axis, unit = _eye_frame(np.asarray(vertices, np.float64)[:, :2])
    y_axis = np.array([-x_axis[1], x_axis[0]])
    local = np.asarray(key, np.float64).reshape(-1, 2) * unit
    return origin + local[:, :1] * x_axis + local[:, 1:] * y_axis


def with_centre(vertices: np.ndarray) -> np.ndarray:
    """Vertices (..., 478, D) plus the inner-lip loop's mean (..., 479, D)."""
    centre = vertices[..., list(topology.LIPS_INNER), :].mean(-2, keepdims=True)
    return np.concatenate([vertices, centre], -2)


@dataclass(frozen=True)
class NativeBank:
    """Lower-face boxes cut exactly from enrollment frames, their mesh in box pixels, and their mouth keys."""

    boxes: np.ndarray  # (T,S,S,3) uint8
    vertices: np.ndarray  # (T,479,2) float32: face mesh plus the fan centre, box pixels
    keys: np.ndarray  # (T, 2L) float32: model_keys of each box's frame's tracked weights
    shapes: np.ndarray  # (T, 2L) float32: mouth_shape of each box's frame's landmarks (its real lips)
    frames: np.ndarray  # (T,) int: the enrollment frame each box was cut from

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"bank_boxes": self.boxes, "bank_vertices": self.vertices, "bank_keys": self.keys,
                "bank_shapes": self.shapes, "bank_frames": self.frames}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> NativeBank:
        return cls(arrays["bank_boxes"], arrays["bank_vertices"], arrays["bank_keys"], arrays["bank_shapes"],
                   arrays["bank_frames"])


def bank_side(landmarks: np.ndarray, region: tuple[int, ...], margin: float) -> int:
    """An even box side holding the region on nearly every frame (its 98th-percentile extent, plus margin)."""
    points = np.asarray(landmarks, np.float64)[:, list(region), :2]
    extent = (points.max(1) - points.min(1)).max(1)
    return int(2 * np.ceil(np.percentile(extent, 98) * (1 + 2 * margin) / 2))


def spread_picks(keys: np.ndarray, count: int) -> np.ndarray:
    """``count`` rows of ``keys`` spread over the shapes (farthest-point sampling from the median), sorted."""
    if len(keys) <= count:
        return np.arange(len(keys))
    chosen = [int(np.argmin(((keys - np.median(keys, 0)) ** 2).sum(1)))]
    distance = ((keys - keys[chosen[0]]) ** 2).sum(1)
    for _ in range(count - 1):
        pick = int(np.argmax(distance))
        chosen.append(pick)
        distance = np.minimum(distance, ((keys - keys[pick]) ** 2).sum(1))
    return np.sort(np.array(chosen))


class BankCutter:
    """Cuts a :class:`NativeBank` from frames streamed past once (enrollment decodes its video one time)."""

    def __init__(self, landmarks: np.ndarray, blendshapes: np.ndarray, valid: np.ndarray, neutral: np.ndarray,
                 config: RetrievalConfig = RetrievalConfig()) -> None:
        self.region, _ = mouth_region(neutral)
        self.landmarks = np.asarray(landmarks, np.float64)
        self.keys = model_keys(FaceModel(neutral), blendshapes[: len(self.landmarks)])
        self.shapes = mouth_shape(self.landmarks)
        usable = np.nonzero(np.asarray(valid, bool)[: len(self.landmarks)])[0]
        if not len(usable):
            raise ValueError("no tracked face to build the mouth bank from")
        self.picks = set(usable[spread_picks(self.keys[usable], config.max_bank)].tolist())
        self.side = bank_side(self.landmarks[usable], self.region, config.margin)
        self._boxes: list[np.ndarray] = []
        self._vertices: list[np.ndarray] = []
        self._kept: list[int] = []

    def cut(self, index: int, frame: np.ndarray) -> None:
        """Keep frame ``index``'s lower face if it is one of the picks."""
        if index not in self.picks:
            return
        side, points = self.side, self.landmarks[index, :, :2]
        centre = (points[list(self.region)].min(0) + points[list(self.region)].max(0)) / 2
        height, width = frame.shape[:2]
        x0 = int(np.clip(round(centre[0] - side / 2), 0, max(0, width - side)))
        y0 = int(np.clip(round(centre[1] - side / 2), 0, max(0, height - side)))
        box = np.zeros((side, side, 3), np.uint8)
        cut = frame[y0:y0 + side, x0:x0 + side]
        box[: cut.shape[0], : cut.shape[1]] = cut
        self._boxes.append(box)
        self._vertices.append(with_centre(points - [x0, y0]).astype(np.float32))
        self._kept.append(index)

    def bank(self) -> NativeBank:
        if not self._kept:
            raise ValueError("no frame of the mouth bank was cut (the video ended early?)")
        kept = np.array(self._kept, int)
        return NativeBank(np.stack(self._boxes), np.stack(self._vertices), self.keys[kept], self.shapes[kept], kept)


def build_native_bank(frames: Iterable[np.ndarray], landmarks: np.ndarray, blendshapes: np.ndarray,
                      valid: np.ndarray, neutral: np.ndarray, config: RetrievalConfig = RetrievalConfig()) -> NativeBank:
    """Cut each picked frame's lower face (``frames``: one RGB array per landmarks row, in order, streamed)."""
    cutter = BankCutter(landmarks, blendshapes, valid, neutral, config)
    for index, frame in zip(range(len(cutter.landmarks)), frames):
        cutter.cut(index, frame)
    return cutter.bank()


@dataclass(frozen=True)
class Picks:
    """The bank rows one frame is drawn from, their weights (summing to 1), and the real lip shape key
    (2L,) the frame is drawn with."""

    rows: np.ndarray
    weights: np.ndarray
    shape: np.ndarray


class PickTrack:
    """Retrieval's state along one sequence drawn in order (a session, a render, a dub): every bank row's
    weight, smoothed over the frames drawn so far."""

    def __init__(self) -> None:
        self.weights: np.ndarray | None = None  # (bank rows,)


def candidate_weights(distance: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``count`` rows nearest by ``distance`` (T,), and their weights (float32, summing to 1).

    A candidate's weight falls to 0 at the distance of the first one left
    out, so the set can change without the picture jumping.
    """
    count = min(count, len(distance))
    order = np.argsort(distance, kind="stable")
    picks = order[:count]
    cutoff = distance[order[count]] if count < len(distance) else distance[picks].max() * 2 + 1e-6
    weights = np.maximum(1 - distance[picks] / max(cutoff, 1e-9), 0) ** 2 + 1e-6
    return picks, (weights / weights.sum()).astype(np.float32)


def fit_lip_map(keys: np.ndarray, shapes: np.ndarray, ridge: float = 1e-2) -> np.ndarray:
    """(2L,2L): the least-squares linear map from the bank's keys (T,2L) to its real shapes (T,2L), both
    centred, ridge-regularised (``ridge`` of the keys' mean variance): how a change of the model's lips
    changes this person's real ones. A one-frame bank gets 0 (its shape is all it has)."""
    keys = np.asarray(keys, np.float64) - np.mean(keys, 0)
    shapes = np.asarray(shapes, np.float64) - np.mean(shapes, 0)
    gram = keys.T @ keys
    scale = max(float(np.trace(gram)) / len(gram), 1e-12)
    return np.linalg.solve(gram + ridge * scale * np.eye(len(gram)), keys.T @ shapes)


BINOMIAL = (1.0, 4.0, 6.0, 4.0, 1.0)  # /16: the pyramid's blur kernel


def _down(x: torch.Tensor) -> torch.Tensor:
    """Binomial blur of (N,C,H,W), edges replicated, then every second pixel: computed only where it is
    kept (polyphase)."""
    height, width = (x.shape[-2] + 1) // 2, (x.shape[-1] + 1) // 2
    x = F.pad(x, (2, 2, 2, 2), mode="replicate")
    x = sum(tap * x[..., k:k + 2 * width - 1:2] for k, tap in enumerate(BINOMIAL)) / 16
    return sum(tap * x[..., k:k + 2 * height - 1:2, :] for k, tap in enumerate(BINOMIAL)) / 16


def _up(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(N,C,H,W) -> (N,C,size): twice the resolution by the same binomial kernel (Burt and Adelson's expand,
    edges replicated), each output phase computed from its own taps."""
    x = F.pad(x, (1, 1, 1, 1), mode="replicate")
    even = (x[..., :-2] + 6 * x[..., 1:-1] + x[..., 2:]) / 8
    x = torch.stack([even, (x[..., 1:-1] + x[..., 2:]) / 2], -1).flatten(-2)
    even = (x[..., :-2, :] + 6 * x[..., 1:-1, :] + x[..., 2:, :]) / 8
    x = torch.stack([even, (x[..., 1:-1, :] + x[..., 2:, :]) / 2], -2).flatten(-3, -2)
    return x[..., : size[0], : size[1]]


def _finest(x: torch.Tensor) -> torch.Tensor:
    """The finest Laplacian band of (N,C,H,W): what one level of blur and decimation loses."""
    return x - _up(_down(x), x.shape[-2:])


def pyramid_blend(difference: torch.Tensor, mask: torch.Tensor, levels: int) -> torch.Tensor:
    """The change (1,C,H,W) to add to a base so that it takes ``difference`` where ``mask`` (1,1,H,W) is 1,
    band by band: each Laplacian band of the difference weighted by the mask blurred to that band's scale."""
    channels = difference.shape[1]
    bands, masks = [], []
    current = torch.cat([difference, mask], 1)  # the mask's Gaussian pyramid comes with the difference's
    for _ in range(levels):
        if min(current.shape[-2:]) < 4:
            break
        smaller = _down(current)
        bands.append(current[:, :channels] - _up(smaller[:, :channels], current.shape[-2:]))
        masks.append(current[:, channels:])
        current = smaller
    out = current[:, :channels] * current[:, channels:]
    for band, weight in zip(reversed(bands), reversed(masks)):
        out = _up(out, band.shape[-2:]) + band * weight
    return out


def _colour_shifts(candidates: torch.Tensor, base: torch.Tensor, where: torch.Tensor, limit: float) -> torch.Tensor:
    """(K,3) shifts taking candidates (K,3,h,w) to the base's (1,3,h,w) mean colour over ``where`` (h,w), at
    most ``limit`` grey levels: frames lit a little differently agree, and switching between them does not
    flicker. A constant: it moves no band but the coarsest, so it is added after the candidates are mixed."""
    area = where.sum().clamp(min=1.0)
    theirs = torch.einsum("kchw,hw->kc", candidates, where) / area
    ours = torch.einsum("chw,hw->c", base[0], where) / area
    return (ours - theirs).clamp(-limit, limit)


class Retrieval:
    """Draws the lower face of a person from their :class:`NativeBank` onto frames warped to a target."""

    def __init__(self, bank: NativeBank, neutral: np.ndarray, config: RetrievalConfig = RetrievalConfig()) -> None:
        self.bank, self.config = bank, config
        self.region, self.triangles = mouth_region(neutral)
        self._boxes = torch.from_numpy(bank.boxes).permute(0, 3, 1, 2)  # uint8: only a frame's picks become float
        self._vertices = torch.from_numpy(bank.vertices)
        self.face = FaceModel(neutral)
        self._lip_map = fit_lip_map(bank.keys, bank.shapes)

    def pick(self, weights: np.ndarray, track: PickTrack | None = None) -> Picks:
        """Bank rows and weights for a target's weights (52,); with ``track``, the next frame of its sequence.

        Along a sequence, every row's weight is smoothed over time (an
        exponential mean, ``smoothing`` of it the previous frame's), so the
        mix of candidates drifts instead of following each frame's ranking
        (after "Synthesizing Obama"'s smoothed retrieval). It looks only
        back: a live session draws what drawing its whole sequence offline
        draws. The lip shape: the candidates' mean real shape plus the lip
        map (:func:`fit_lip_map`) of the target's key minus their mean key.
        """
        key = model_keys(self.face, np.asarray(weights)[None])[0]
        rows, chosen = candidate_weights(((self.bank.keys - key) ** 2).sum(1), self.config.candidates)
        if track is not None and self.config.smoothing > 0:
            fresh = np.zeros(len(self.bank.keys))
            fresh[rows] = chosen
            if track.weights is not None:  # a sequence's first frame is drawn as a frame alone
                smoothed = self.config.smoothing * track.weights + (1 - self.config.smoothing) * fresh
                rows = np.argsort(-smoothed, kind="stable")[: self.config.candidates]
                chosen = (smoothed[rows] / smoothed[rows].sum()).astype(np.float32)
                fresh = smoothed
            track.weights = fresh
        shape = chosen @ self.bank.shapes[rows] + (key - chosen @ self.bank.keys[rows]) @ self._lip_map
        return Picks(rows, chosen, shape.astype(np.float32))

    def shaped(self, target: torch.Tensor, picks: Picks) -> torch.Tensor:
        """``target`` (478,3) with its lips at the picks' real shape, the lower face following them (the
        model's lips are an approximation; the candidates' are real)."""
        points = target.numpy().astype(np.float64)
        lips = place_shape(picks.shape, points)
        moved = self.config.real_lips * (lips - points[list(LIPS), :2])
        lips = points[list(LIPS), :2] + moved
        others = np.array([v for v in self.region if v not in set(LIPS)])
        width = np.linalg.norm(points[topology.MOUTH_CORNERS[1], :2] - points[topology.MOUTH_CORNERS[0], :2])
        distance = np.linalg.norm(points[others, None, :2] - points[None, list(LIPS), :2], axis=-1)
        reach = np.exp(-0.5 * (distance / (FOLLOW * max(width, 1.0))) ** 2)
        points[list(LIPS), :2] = lips
        points[others, :2] += (reach @ moved) / (reach.sum(1, keepdims=True) + 1)
        return torch.from_numpy(points).float()

    def draw(self, image: np.ndarray, target: torch.Tensor, picks: Picks) -> tuple[np.ndarray, tuple[int, int],
                                                                                    np.ndarray]:
        """``image`` (H,W,3) uint8, already warped so its face sits at ``target`` (478,3+) image pixels, and
        the candidates (:meth:`pick`) -> the redrawn window (h,w,3) uint8, its origin (y, x) and where it
        differs from ``image`` (h,w) bool."""
        points = with_centre(target[:, :2].numpy().astype(np.float64))
        region = points[list(self.region) + [CENTRE]]
        reach = 2 ** self.config.levels + self.config.erode
        height, width = image.shape[:2]
        x0, y0 = np.clip(np.floor(region.min(0)).astype(int) - reach, 0, [width, height])
        x1, y1 = np.clip(np.ceil(region.max(0)).astype(int) + reach, 0, [width, height])
        window = torch.from_numpy(image[y0:y1, x0:x1]).permute(2, 0, 1)[None].float()
        if x1 - x0 < 4 or y1 - y0 < 4:
            return image[y0:y1, x0:x1], (y0, x0), np.zeros((y1 - y0, x1 - x0), bool)
        mesh = torch.from_numpy(points - [x0, y0]).float()
        screen = torch.cat([mesh, torch.zeros(len(mesh), 1)], 1)[None]
        drawn = raster.rasterize(screen, self.triangles, (y1 - y0, x1 - x0))
        side = self.bank.boxes.shape[1]
        rows, weights = picks.rows, picks.weights
        sources = self._vertices[rows].permute(1, 0, 2).reshape(len(points), -1)  # (479, 2K)
        where = drawn.interpolate(sources.contiguous(), self.triangles)[0]  # (h,w,2K)
        grid = (where.view(y1 - y0, x1 - x0, len(rows), 2).permute(2, 0, 1, 3) / side) * 2 - 1
        candidates = F.grid_sample(self._boxes[rows].float(), grid, mode="bicubic", padding_mode="border",
                                   align_corners=False).clamp(0, 255)
        covered = drawn.covered[:, None].float()
        hole = drawn.triangle >= len(self.triangles) - len(topology.LIPS_INNER)  # the fan ends the triangles
        skin = drawn.covered & ~hole
        shifts = _colour_shifts(candidates, window, skin[0].float(), self.config.colour_shift)
        share = weights.astype(np.float64) ** self.config.detail_power
        mixes = torch.einsum("nk,kchw->nchw", torch.from_numpy(np.stack([weights, share / share.sum()])).float(),
                             candidates)
        fine = _finest(mixes)  # the mean's finest band, and the detail mix's
        mouth = mixes[:1] - fine[:1] + fine[1:] + (torch.from_numpy(weights) @ shifts)[None, :, None, None]
        erode = self.config.erode
        inside = -F.max_pool2d(-covered, 2 * erode + 1, 1, erode) if erode else covered
        change = pyramid_blend((mouth - window) * inside, inside, self.config.levels)
        out = (window + change).round().clamp(0, 255)[0].permute(1, 2, 0).to(torch.uint8).numpy()
        return out, (int(y0), int(x0)), (out != image[y0:y1, x0:x1]).any(-1)
