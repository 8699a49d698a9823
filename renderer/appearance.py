"""Cheap measurements of a frame's picture, read while the video is tracked, that tell a dub which frames
it must leave alone (:mod:`talkinghead.jobs.passthrough` decides).

- :func:`colour_histogram`: the frame's colours (a shot cut changes them at once).
- :func:`mouth_appearance`: how the mouth of one face looks, read at a few
  hundred landmark-placed points (resolution-independent, well under a
  millisecond): the lips' brightness relative to the cheeks, and the mouth's
  texture (mean brightness step between neighbouring points of a grid over
  the lips' box) relative to the cheeks' brightness, both as logs. A hand or
  a microphone over the mouth makes the lips as bright as skin or dark, and
  flattens the texture that teeth, lips and their seam give a mouth.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from talkinghead.contracts import topology

HISTOGRAM_LEVELS = 8  # per channel: 512 colour bins
HISTOGRAM_SIDE = 64  # the frame is read on a grid about this many points across its short side
CHEEKS = (117, 346, 50, 280)  # mesh vertices on both cheeks, away from where a hand over the mouth sits
LIP_DEPTHS = (0.3, 0.5, 0.7)  # points between the outer (0) and inner (1) lip contours: lip tissue
GRID = (8, 12)  # rows, columns of texture points over the outer lips' box
BRIGHTNESS_OFFSET = 8.0  # luma added before ratios, so near-black pixels do not blow them up
TEXTURE_FLOOR = 0.01  # added before the log: compression noise on a flat patch


class FrameLook(NamedTuple):
    histogram: np.ndarray  # (512,) float32, sums to 1
    mouths: list[np.ndarray]  # per face of the frame (detector order): its mouth_appearance


def look(rgb: np.ndarray, faces: list[np.ndarray]) -> FrameLook:
    """The frame's colour histogram and the mouth appearance of each face in it."""
    return FrameLook(colour_histogram(rgb), [mouth_appearance(rgb, face) for face in faces])


def colour_histogram(rgb: np.ndarray) -> np.ndarray:
    """Normalised joint RGB histogram (``HISTOGRAM_LEVELS``³ bins) of a subsampled frame."""
    step = max(1, min(rgb.shape[:2]) // HISTOGRAM_SIDE)
    bins = rgb[::step, ::step].astype(np.int32) // (256 // HISTOGRAM_LEVELS)
    code = (bins[..., 0] * HISTOGRAM_LEVELS + bins[..., 1]) * HISTOGRAM_LEVELS + bins[..., 2]
    counts = np.bincount(code.ravel(), minlength=HISTOGRAM_LEVELS**3).astype(np.float32)
    return counts / counts.sum()


def histogram_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Total-variation distance of normalised histograms (last axis): 0 same colours, 1 none shared."""
    return 0.5 * np.abs(np.asarray(a) - np.asarray(b)).sum(-1)


def mouth_appearance(rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """``(log lip/cheek brightness, log texture/cheek brightness)`` of one face (landmarks in pixels)."""
    outer = landmarks[list(topology.LIPS_OUTER), :2].astype(np.float64)
    inner = landmarks[list(topology.LIPS_INNER), :2].astype(np.float64)
    lips = np.concatenate([outer + depth * (inner - outer) for depth in LIP_DEPTHS])
    cheeks = _luma(rgb, landmarks[list(CHEEKS), :2])
    skin = float(np.median(cheeks)) + BRIGHTNESS_OFFSET
    (x0, y0), (x1, y1) = outer.min(0), outer.max(0)
    rows, columns = np.meshgrid(np.linspace(y0, y1, GRID[0]), np.linspace(x0, x1, GRID[1]), indexing="ij")
    grid = _luma(rgb, np.stack([columns.ravel(), rows.ravel()], 1)).reshape(GRID)
    texture = (np.abs(np.diff(grid, axis=0)).mean() + np.abs(np.diff(grid, axis=1)).mean()) / skin
    brightness = (float(np.median(_luma(rgb, lips))) + BRIGHTNESS_OFFSET) / skin
    return np.array([np.log(brightness), np.log(texture + TEXTURE_FLOOR)], np.float32)


def _luma(rgb: np.ndarray, points: np.ndarray) -> np.ndarray:
    """BT.601 luma of the pixels nearest to ``points`` (x, y), clamped to the frame."""
    height, width = rgb.shape[:2]
    x = np.clip(np.round(points[:, 0]).astype(int), 0, width - 1)
    y = np.clip(np.round(points[:, 1]).astype(int), 0, height - 1)
    return rgb[y, x].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
