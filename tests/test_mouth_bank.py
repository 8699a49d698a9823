"""Mouth bank: crops follow each frame's lips, retrieval picks the nearest mouth, the fan maps it in."""

import numpy as np
import torch

from talkinghead.contracts import topology
from talkinghead.contracts.arkit import ARKIT_INDEX
from talkinghead.renderer import raster
from talkinghead.renderer.mouth_bank import CROP, build_bank


def face_landmarks(frames: int, gap: np.ndarray) -> np.ndarray:
    """The default neutral in a 200x200 image (y down), the inner lips parted by ``gap`` pixels."""
    neutral = np.asarray(topology.load_topology().neutral, np.float64)
    points = np.stack([100 + 40 * neutral[:, 0], 80 - 40 * neutral[:, 1], 40 * neutral[:, 2]], -1)
    out = np.repeat(points[None], frames, 0)
    out[:, list(topology.UPPER_LIP_INNER[1:-1]), 1] -= gap[:, None] / 2
    out[:, list(topology.LOWER_LIP_INNER[1:-1]), 1] += gap[:, None] / 2
    return out


def test_crops_and_loops_agree_with_the_image():
    """Image pixel (x, y) holds (x, y, 0): a crop shows where it was cut, and its loop points at the lips."""
    ys, xs = np.mgrid[0:200, 0:200]
    image = np.stack([xs, ys, np.zeros_like(xs)], -1).astype(np.uint8)
    landmarks = face_landmarks(4, np.linspace(0, 12, 4))
    bank = build_bank(iter([image] * 4), landmarks, np.zeros((4, 52)))
    assert bank.crops.shape == (4, CROP, CROP, 3)
    for t in range(4):
        for (cx, cy), (u, v) in zip(bank.loops[t], landmarks[t, list(topology.LIPS_INNER), :2]):
            x, y = int(cx), int(cy)  # the crop pixel under the loop point holds the image position there
            assert abs(int(bank.crops[t, y, x, 0]) - (u - 0.5)) <= 2
            assert abs(int(bank.crops[t, y, x, 1]) - (v - 0.5)) <= 2


def test_retrieval_picks_the_nearest_mouth_and_fills_the_hole_from_it():
    gaps = np.array([0.0, 6.0, 14.0])
    landmarks = face_landmarks(3, gaps)
    weights = np.zeros((3, 52))
    weights[:, ARKIT_INDEX["jawOpen"]] = [0.0, 0.3, 0.7]
    frames = np.stack([np.full((200, 200, 3), level, np.uint8) for level in (10, 120, 230)])
    bank = build_bank(iter(frames), landmarks, weights)
    query = np.zeros(52)
    query[ARKIT_INDEX["jawOpen"]] = 0.62
    assert bank.nearest(query) == 2
    target = torch.from_numpy(face_landmarks(1, np.array([14.0]))).float()
    fan = raster.rasterize(raster.with_mouth_centre(target), raster.mouth_triangles(), (200, 200))
    colours = bank.interior(query, fan)
    inside = fan.covered[0]
    assert inside.sum() > 50 and torch.allclose(colours[0][inside], torch.tensor(230.0))
