"""The rasteriser's CPU kernel: one compiled loop per crop instead of dozens of tensor passes.

:func:`.raster.rasterize` lists every candidate pixel as a tensor and
tests it, which suits a GPU; on a CPU the same work costs a pass over
memory per operation. This kernel (numba, already installed with librosa)
walks each triangle's box once and keeps the nearest surface per pixel,
with the very same float32 arithmetic in the same order, so its maps equal
the tensor path's bit for bit (``tests/test_raster.py`` checks it on
random meshes and on the face). It releases the GIL while it runs.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import torch

HALF = np.float32(0.5)
TINY = np.float32(1e-9)  # a triangle this small (twice its area, in pixels²) draws nothing


@numba.njit(cache=True, nogil=True)
def _fill(corners: np.ndarray, height: int, width: int, triangle: np.ndarray, barycentric: np.ndarray,
          depth: np.ndarray) -> None:
    """Rasterise ``corners`` (B,F,3,3) float32 into the (B,H,W[,3]) maps, already cleared."""
    for b in range(corners.shape[0]):
        for f in range(corners.shape[1]):
            u0, v0, z0 = corners[b, f, 0, 0], corners[b, f, 0, 1], corners[b, f, 0, 2]
            u1, v1, z1 = corners[b, f, 1, 0], corners[b, f, 1, 1], corners[b, f, 1, 2]
            u2, v2, z2 = corners[b, f, 2, 0], corners[b, f, 2, 1], corners[b, f, 2, 2]
            area = (u1 - u0) * (v2 - v0) - (v1 - v0) * (u2 - u0)
            if abs(area) <= TINY:
                continue
            sign = np.float32(-1.0) if area < 0 else np.float32(1.0)
            size = abs(area)
            x_low = max(0, int(math.ceil(min(u0, u1, u2) - HALF)))
            x_high = min(width - 1, int(math.floor(max(u0, u1, u2) - HALF)))
            y_low = max(0, int(math.ceil(min(v0, v1, v2) - HALF)))
            y_high = min(height - 1, int(math.floor(max(v0, v1, v2) - HALF)))
            for y in range(y_low, y_high + 1):
                cy = np.float32(y) + HALF
                for x in range(x_low, x_high + 1):
                    cx = np.float32(x) + HALF
                    w0 = ((u2 - u1) * (cy - v1) - (v2 - v1) * (cx - u1)) * sign
                    w1 = ((u0 - u2) * (cy - v2) - (v0 - v2) * (cx - u2)) * sign
                    w2 = ((u1 - u0) * (cy - v0) - (v1 - v0) * (cx - u0)) * sign
                    if w0 < 0 or w1 < 0 or w2 < 0:
                        continue
                    w0, w1, w2 = w0 / size, w1 / size, w2 / size
                    d = w0 * z0 + w1 * z1 + w2 * z2
                    if d <= depth[b, y, x]:  # ties: the later triangle, as the tensor path's writes leave it
                        depth[b, y, x] = d
                        triangle[b, y, x] = f
                        barycentric[b, y, x, 0] = w0
                        barycentric[b, y, x, 1] = w1
                        barycentric[b, y, x, 2] = w2


def rasterize_cpu(corners: torch.Tensor, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Triangle corners (B,F,3,3) as (u, v, d) -> the (triangle, barycentric, depth) maps of an ``(H, W)`` crop."""
    height, width = size
    b = corners.shape[0]
    triangle = np.full((b, height, width), -1, np.int64)
    barycentric = np.zeros((b, height, width, 3), np.float32)
    depth = np.full((b, height, width), np.inf, np.float32)
    _fill(np.ascontiguousarray(corners.detach().numpy(), np.float32), height, width, triangle, barycentric, depth)
    return torch.from_numpy(triangle), torch.from_numpy(barycentric), torch.from_numpy(depth)


@numba.njit(cache=True, nogil=True)
def _interpolate(triangle: np.ndarray, barycentric: np.ndarray, values: np.ndarray, out: np.ndarray) -> None:
    for p in range(triangle.shape[0]):
        f = triangle[p]
        if f < 0:
            continue
        w0, w1, w2 = barycentric[p, 0], barycentric[p, 1], barycentric[p, 2]
        for c in range(values.shape[2]):
            out[p, c] = values[f, 0, c] * w0 + values[f, 1, c] * w1 + values[f, 2, c] * w2


def interpolate_cpu(triangle: torch.Tensor, barycentric: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Per-triangle corner values (F,3,C) at each pixel of a raster's maps -> (B,H,W,C), 0 where nothing is drawn."""
    out = np.zeros((triangle.numel(), values.shape[2]), np.float32)
    _interpolate(triangle.reshape(-1).numpy(), barycentric.reshape(-1, 3).numpy(),
                 np.ascontiguousarray(values.detach().numpy(), np.float32), out)
    return torch.from_numpy(out).view(*triangle.shape, values.shape[2])
