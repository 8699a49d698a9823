"""Mesh-driven image warp: move a face in a still image by moving its mesh.

Backward mapping: each output pixel covered by the *target* mesh takes the
colour of the point with the same barycentric address on the *source* mesh
(piecewise-affine, through :mod:`.raster`). A ring of fixed anchor points
around the face oval, joined to it by a band of triangles, lets the motion
fade out to nothing, so the face has no seam with the hair, neck and
background. Outside that ring the image is left untouched, bit for bit.

The eyes and mouth are holes in the mesh: eye holes keep the image's own
pixels (lids slide over them as they move), and the mouth hole is reported
as a mask for the caller to fill (the image holds no mouth interior).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from talkinghead.contracts import topology
from talkinghead.renderer import raster

#: How far the anchor ring lies from the face centre, relative to the face oval.
RING_SCALE = 1.3


def ring(points: torch.Tensor, scale: float = RING_SCALE) -> torch.Tensor:
    """Anchors ``(..., 36, 2)``: the face oval of ``points`` (..., 478, 2+) pushed out from its centre."""
    oval = points[..., list(topology.FACE_OVAL), :2]
    centre = oval.mean(-2, keepdim=True)
    return centre + scale * (oval - centre)


def band_triangles() -> torch.Tensor:
    """Triangles joining the face oval to the ring (ring vertex ``k`` has index 478 + k)."""
    oval = torch.tensor(topology.FACE_OVAL, dtype=torch.int64)
    outer = topology.NUM_VERTICES + torch.arange(len(oval))
    a, b = oval, oval.roll(-1)
    c, d = outer, outer.roll(-1)
    return torch.cat([torch.stack([a, b, d], -1), torch.stack([a, d, c], -1)])


@dataclass(frozen=True)
class Warped:
    """The warped window of each frame ``(B, h, w, 3)``, float in [0, 255], and where the mouth opened.

    Everything is in the window's pixels (``window[0]``, ``window[2]`` is their origin); outside the
    window the frames are the image itself.
    """

    pixels: torch.Tensor
    mouth: torch.Tensor  # (B, h, w) bool: the mouth hole not hidden by the face, for the caller to fill
    hole: raster.Raster  # the inner-lip fan (see raster.mouth_triangles), for coordinates inside it
    surface: raster.Raster  # the target mesh and band (triangles: the face's, then band_triangles())
    window: tuple[int, int, int, int]  # y0, y1, x0, x1: the only pixels that may differ


class MeshWarp:
    """Warps one image (H,W,3) whose face sits at ``source`` (478,3) screen vertices.

    Screen vertices are ``(u, v, d)``: image pixels (y down) and a distance
    from the camera (smaller = nearer), as :mod:`.raster` takes them.
    """

    def __init__(self, image: torch.Tensor, source: torch.Tensor, triangles: torch.Tensor) -> None:
        if image.ndim != 3 or image.shape[-1] != 3:
            raise ValueError(f"image must be (H, W, 3), got {tuple(image.shape)}")
        if source.shape != (topology.NUM_VERTICES, 3):
            raise ValueError(f"source must be ({topology.NUM_VERTICES}, 3), got {tuple(source.shape)}")
        self.image = image.float()
        height, width = image.shape[:2]
        anchors = ring(source).float()
        self.source_uv = torch.cat([source[:, :2].float(), anchors])
        self.triangles = torch.cat([triangles.long(), band_triangles()])
        far = float(source[:, 2].max()) + 1.0  # the band's outer edge lies behind the face
        self._anchor_screen = torch.cat([anchors, torch.full((len(anchors), 1), far)], -1)
        low = anchors.amin(0).floor().long() - 2
        high = anchors.amax(0).ceil().long() + 2
        self.window = (max(0, int(low[1])), min(height, int(high[1])), max(0, int(low[0])), min(width, int(high[0])))
        y0, y1, x0, x1 = self.window
        ys, xs = torch.meshgrid(torch.arange(y0, y1) + 0.5, torch.arange(x0, x1) + 0.5, indexing="ij")
        self._identity = torch.stack([xs, ys], -1)  # each window pixel's own centre, in image pixels
        self._offset = torch.tensor([x0, y0, 0.0])

    def window_mesh(self, target: torch.Tensor) -> torch.Tensor:
        """Target screen vertices (B,478,3) and the anchor ring, in the window's pixels: what is rasterised
        with :attr:`triangles`."""
        return torch.cat([target.float(), self._anchor_screen.expand(len(target), -1, -1)], 1) - self._offset

    def __call__(self, target: torch.Tensor) -> Warped:
        """Target screen vertices (B,478,3) -> the image's window with its face moved there."""
        if target.ndim != 3 or target.shape[1:] != (topology.NUM_VERTICES, 3):
            raise ValueError(f"target must be (B, {topology.NUM_VERTICES}, 3), got {tuple(target.shape)}")
        b = target.shape[0]
        y0, y1, x0, x1 = self.window
        mesh = self.window_mesh(target)
        size = (y1 - y0, x1 - x0)
        drawn = raster.rasterize(mesh, self.triangles, size)
        hole = raster.rasterize_mouth(mesh, size)
        mouth = hole.covered & ~drawn.covered

        source = drawn.interpolate(self.source_uv, self.triangles)
        where = torch.where(drawn.covered[..., None], source, self._identity)
        height, width = self.image.shape[:2]
        grid = torch.stack([where[..., 0] / width * 2 - 1, where[..., 1] / height * 2 - 1], -1)
        image = self.image.permute(2, 0, 1).expand(b, -1, -1, -1)
        patch = F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=False)

        moved = (drawn.covered | mouth)[..., None]
        pixels = torch.where(moved, patch.permute(0, 2, 3, 1), self.image[y0:y1, x0:x1])
        return Warped(pixels, mouth, hole, drawn, self.window)
