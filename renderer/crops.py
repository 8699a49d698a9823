"""Stabilised face crops of a tracked video: one similarity per frame, smoothed over time.

Each frame's face frame comes from its landmarks: origin midway between the
eye centres and the mouth centre, x along the eye line, unit the distance
from the eyes' midpoint to the mouth's (steadier than the inter-ocular
distance under yaw). The crop puts that origin at ``(size/2, centre_y*size)``
with ``unit_fraction*size`` pixels per unit. Scale, angle and position are
smoothed by a zero-phase Gaussian over frames (enrollment is offline), so
the crop follows the head without the landmarks' jitter.

A transform is a ``(2, 3)`` matrix ``A`` mapping crop pixel centres
``(x + 0.5, y + 0.5, 1)`` to image coordinates (pixels, y down).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from talkinghead.contracts import topology
from talkinghead.contracts.face_model import eye_centres
from talkinghead.renderer.tracking import gaussian_smooth


@dataclass(frozen=True)
class CropConfig:
    size: int = 256
    unit_fraction: float = 0.36  # eye-to-mouth distance, as a share of the crop side
    centre_y: float = 0.5  # where the face frame's origin sits, as a share of the crop side
    smoothing_sigma: float = 2.0  # frames (0 = off)

    def __post_init__(self) -> None:
        if self.size <= 0 or self.size % 2:
            raise ValueError(f"crop size must be even and positive, got {self.size}")
        if not 0 < self.unit_fraction < 1 or not 0 < self.centre_y < 1:
            raise ValueError("unit_fraction and centre_y must lie in (0, 1)")
        if self.smoothing_sigma < 0:
            raise ValueError(f"smoothing_sigma must be >= 0, got {self.smoothing_sigma}")


@dataclass(frozen=True)
class CropView:
    """Where a crop lies in its video frame: the crop-to-image transform ``(2, 3)`` and the frame's size."""

    transform: np.ndarray
    image_size: tuple[int, int]  # (width, height) of the video frame

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """Image points (N, 2+) -> crop points (N, 2+); a third coordinate (depth) scales with the crop."""
        points = np.asarray(points, np.float64)
        inverse = invert_2x2(self.transform[:, :2])
        out = points.copy()
        out[:, :2] = (points[:, :2] - self.transform[:, 2]) @ inverse.T
        if points.shape[1] > 2:
            out[:, 2:] = points[:, 2:] / self.scale
        return out

    @property
    def scale(self) -> float:
        """Image pixels per crop pixel."""
        return float(np.sqrt(abs(np.linalg.det(self.transform[:, :2]))))


def crop_transforms(landmarks: np.ndarray, config: CropConfig = CropConfig()) -> np.ndarray:
    """Landmarks (T,478,2+) in image pixels -> smoothed crop-to-image transforms (T,2,3)."""
    points = np.asarray(landmarks, np.float64)[..., :2]
    if points.ndim != 3 or points.shape[1] != topology.NUM_VERTICES:
        raise ValueError(f"landmarks must be (T, {topology.NUM_VERTICES}, 2+), got {landmarks.shape}")
    eyes = eye_centres(points)  # (T,2,2)
    eye_mid = eyes.mean(1)
    mouth = points[:, list(topology.MOUTH_CORNERS)].mean(1)
    across = eyes[:, 1] - eyes[:, 0]
    angle = np.arctan2(across[:, 1], across[:, 0])
    unit = np.linalg.norm(mouth - eye_mid, axis=-1)
    if np.any(unit <= 1e-6):
        raise ValueError("degenerate face: the mouth sits on the eye line")
    origin = (eye_mid + mouth) / 2
    params = gaussian_smooth(np.stack([np.log(unit), np.unwrap(angle), origin[:, 0], origin[:, 1]], 1), config.smoothing_sigma)
    scale = np.exp(params[:, 0]) / (config.unit_fraction * config.size)  # image pixels per crop pixel
    cos, sin = np.cos(params[:, 1]) * scale, np.sin(params[:, 1]) * scale
    centre = np.array([config.size / 2, config.centre_y * config.size])
    # image = R s (crop - centre) + origin
    matrix = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], 1)  # (T,2,2)
    offset = params[:, 2:] - np.einsum("tij,j->ti", matrix, centre)
    return np.concatenate([matrix, offset[:, :, None]], 2)


def invert_2x2(matrix: np.ndarray) -> np.ndarray:
    """Inverse of each (..., 2, 2) matrix, in closed form.

    Not ``np.linalg.inv``: its LAPACK threads can spin for milliseconds per
    call when other work holds the cores, as in a live server.
    """
    a, b, c, d = matrix[..., 0, 0], matrix[..., 0, 1], matrix[..., 1, 0], matrix[..., 1, 1]
    return np.stack([np.stack([d, -b], -1), np.stack([-c, a], -1)], -2) / (a * d - b * c)[..., None, None]


def to_crop(points: np.ndarray, transforms: np.ndarray) -> np.ndarray:
    """Image points (T,N,2+) -> crop coordinates (T,N,2) (the transforms' inverse)."""
    matrix, offset = transforms[:, :, :2], transforms[:, :, 2]
    inverse = invert_2x2(matrix)
    return np.einsum("tij,tnj->tni", inverse, np.asarray(points)[..., :2] - offset[:, None])


def cut_crops(frames: np.ndarray, transforms: np.ndarray, size: int) -> np.ndarray:
    """RGB frames (T,H,W,3) uint8 and their transforms -> crops (T,size,size,3) uint8.

    Bicubic, not bilinear: a region cut, redrawn and pasted back keeps its
    detail (bilinear both ways loses about 40% of the Laplacian variance of
    real frames on that round trip; bicubic about 3%). Only the box the
    crops cover (plus the bicubic kernel's reach) is read, so the cost
    follows the crops, not the frames' resolution.
    """
    height, width = frames.shape[1:3]
    centres = np.arange(size) + 0.5
    xs, ys = np.meshgrid(centres, centres)
    points = np.einsum("tij,hwj->thwi", transforms, np.stack([xs, ys, np.ones_like(xs)], -1))
    x0, y0 = np.clip(np.floor(points.reshape(-1, 2).min(0)).astype(int) - 3, 0, [width - 1, height - 1])
    x1, y1 = np.clip(np.ceil(points.reshape(-1, 2).max(0)).astype(int) + 3, [x0 + 1, y0 + 1], [width, height])
    box = frames[:, y0:y1, x0:x1]
    box_t = torch.from_numpy(np.ascontiguousarray(box)).permute(0, 3, 1, 2).float()
    grid = (points - [x0, y0]) / [x1 - x0, y1 - y0] * 2 - 1  # align_corners=False: pixel edges at -1 and 1
    crops = F.grid_sample(box_t, torch.from_numpy(grid).float(), mode="bicubic", padding_mode="border",
                          align_corners=False)
    return crops.permute(0, 2, 3, 1).round().clamp(0, 255).byte().numpy()
