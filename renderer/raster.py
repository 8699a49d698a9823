"""Face-mesh rasteriser: screen-space vertices -> per-pixel maps of a crop.

No OpenGL: on a GPU, triangles are scan-converted as tensors
(:func:`rasterize_tensors`), batched. Each row of a triangle's box lists
only the span of pixels its edges allow, so the work follows the covered
pixels (no loop over triangles, no padded boxes); a z-buffer
(``scatter_reduce`` with ``amin``) keeps the nearest surface per pixel. On
the CPU a compiled kernel (:mod:`.raster_cpu`) does the same arithmetic
in one pass, about 6x faster (``benchmarks/render_speed.py``), with maps equal bit
for bit.

Conventions: a pixel ``(x, y)`` of an ``H x W`` crop is the unit square whose
centre is ``(x + 0.5, y + 0.5)``, y down. Screen vertices are ``(u, v, d)``:
pixels, and ``d`` a distance from the camera (smaller = nearer). A pixel is
covered when its centre lies inside a triangle or on its edge. Barycentrics
are screen-space (affine, not perspective-corrected: an approximation that
is exact for a weak-perspective camera and close at face-crop distances).

The maps of :func:`face_maps`:
- ``triangle``: index into the mesh's triangles, -1 where nothing is drawn;
- ``barycentric``: weights of that triangle's three vertices;
- ``depth``: interpolated ``d``, ``inf`` off the face;
- ``face``: the face surface (the mesh; eyes and mouth are holes in it);
- ``mouth``: the inner-mouth hole (inside the inner lip loop, not hidden by
  the face), its own mask because the renderer fills it from elsewhere;
- ``canonical``: the surface point's position on a fixed reference face, in
  IOD units (0 off the face): a pose- and expression-free address of the skin
  for a network to read texture by.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from talkinghead.contracts import topology
from talkinghead.renderer.raster_cpu import interpolate_cpu, rasterize_cpu


@dataclass(frozen=True)
class Raster:
    """What a z-buffered rasterisation leaves per pixel, ``(B, H, W[, 3])``."""

    triangle: torch.Tensor  # int64, -1 = nothing drawn
    barycentric: torch.Tensor  # float32 (B,H,W,3)
    depth: torch.Tensor  # float32, inf = nothing drawn

    @property
    def covered(self) -> torch.Tensor:
        return self.triangle >= 0

    def interpolate(self, attributes: torch.Tensor, triangles: torch.Tensor) -> torch.Tensor:
        """Per-vertex ``(N, C)`` attributes -> ``(B, H, W, C)``, 0 where nothing is drawn."""
        if self.triangle.device.type == "cpu" and attributes.dtype == torch.float32:
            return interpolate_cpu(self.triangle, self.barycentric, attributes[triangles.long()])
        corners = triangles.to(attributes.device)[self.triangle.clamp(min=0)]  # (B,H,W,3) vertex ids
        return (attributes[corners] * self.barycentric[..., None]).sum(-2)  # barycentrics are 0 off the mesh


@dataclass(frozen=True)
class FaceMaps:
    """Per-pixel maps of a face crop (see the module docstring), ``(B, H, W[, 3])``."""

    triangle: torch.Tensor
    barycentric: torch.Tensor
    depth: torch.Tensor
    face: torch.Tensor
    mouth: torch.Tensor
    canonical: torch.Tensor


def _check_screen(screen: torch.Tensor, n_vertices: int | None = None) -> None:
    if screen.ndim != 3 or screen.shape[-1] != 3:
        raise ValueError(f"screen vertices must be (B, N, 3) as (u, v, depth), got {tuple(screen.shape)}")
    if n_vertices is not None and screen.shape[1] != n_vertices:
        raise ValueError(f"expected {n_vertices} vertices, got {screen.shape[1]}")
    if not bool(torch.isfinite(screen).all()):
        raise ValueError("screen vertices must be finite")


def rasterize(screen: torch.Tensor, triangles: torch.Tensor, size: tuple[int, int]) -> Raster:
    """Z-buffered coverage of ``triangles`` (F,3) over screen vertices (B,N,3) in an ``(H, W)`` crop.

    On the CPU a compiled kernel does it (:mod:`.raster_cpu`); elsewhere tensors do, with the same maps."""
    _check_screen(screen)
    height, width = size
    if height <= 0 or width <= 0:
        raise ValueError(f"crop size must be positive, got {size}")
    corners = screen.float()[:, triangles.to(device=screen.device, dtype=torch.int64)]  # (B,F,3,3): (u,v,d)
    if screen.device.type == "cpu":
        return Raster(*rasterize_cpu(corners, size))
    return rasterize_tensors(corners, size)


def rasterize_tensors(corners: torch.Tensor, size: tuple[int, int]) -> Raster:
    """:func:`rasterize` as tensor operations, for any device: triangle corners (B,F,3,3) -> :class:`Raster`."""
    height, width = size
    b, device = corners.shape[0], corners.device
    # Pixel ranges whose centres may lie inside: x + 0.5 in [min u, max u].
    low = torch.ceil(corners[..., :2].amin(2) - 0.5).clamp(min=0).long()
    high = torch.floor(corners[..., :2].amax(2) - 0.5).long()
    high = torch.minimum(high, torch.tensor([width - 1, height - 1], device=device))
    extent = (high - low + 1).clamp(min=0)  # (B,F,2) box width, height
    on_screen = torch.nonzero((extent > 0).all(-1).any(0)).flatten()  # triangles whose box meets the crop
    corners, low, extent = corners[:, on_screen], low[:, on_screen], extent[:, on_screen]

    depth = torch.full((b * height * width,), float("inf"), device=device)
    triangle = torch.full((b * height * width,), -1, dtype=torch.int64, device=device)
    barycentric = torch.zeros((b * height * width, 3), device=device)
    found = _covered(corners, low, extent, (height, width))
    if found is not None:
        pixel, face, d, weights = found
        depth.scatter_reduce_(0, pixel, d, "amin")
        nearest = torch.nonzero(d <= depth.index_select(0, pixel)).squeeze(1)
        where = pixel.index_select(0, nearest)
        triangle.index_copy_(0, where, on_screen.index_select(0, face.index_select(0, nearest)))
        barycentric.index_copy_(0, where, weights.index_select(0, nearest))
    return Raster(
        triangle=triangle.view(b, height, width),
        barycentric=barycentric.view(b, height, width, 3),
        depth=depth.view(b, height, width),
    )


def _covered(corners: torch.Tensor, low: torch.Tensor, extent: torch.Tensor,
             size: tuple[int, int]) -> tuple[torch.Tensor, ...] | None:
    """Covered (pixel, triangle, depth, barycentric) tuples, or None.

    Each row of each triangle's box gets the span of pixel centres its three
    edges allow, widened by a pixel against rounding; every pixel of every
    span is listed at once and the edge test decides, taken relative to the
    corners for precision (a face's own expression must warp back bit for
    bit). The work follows the covered pixels, not the boxes, with no loop
    over triangles or sizes.
    """
    height, width = size
    b, f = corners.shape[:2]
    rows = int(extent[..., 1].max()) if extent.numel() else 0
    if rows == 0:
        return None
    device = corners.device
    u, v, z = corners.unbind(-1)  # (B,F,3) each
    area = (u[..., 1] - u[..., 0]) * (v[..., 2] - v[..., 0]) - (v[..., 1] - v[..., 0]) * (u[..., 2] - u[..., 0])
    sign = torch.where(area < 0, -1.0, 1.0)[..., None]
    dy = torch.arange(rows, device=device)
    py = low[..., 1, None] + dy  # (B,F,R): each box row
    cy = py + 0.5
    first = low[..., 0, None].float().expand_as(cy)  # the row's leftmost and rightmost candidate column
    last = (low[..., 0] + extent[..., 0] - 1)[..., None].float().expand_as(cy)
    empty = (dy >= extent[..., 1, None]) | (area.abs() <= 1e-9)[..., None]
    for i, j in ((1, 2), (2, 0), (0, 1)):
        # edge (i, j) along the row, signed so inside is >= 0: slope * (x + 0.5) + offset
        du, dv = (u[..., j] - u[..., i])[..., None], (v[..., j] - v[..., i])[..., None]
        slope = (-dv * sign).expand_as(cy)
        offset = sign * (du * (cy - v[..., i, None]) + dv * u[..., i, None])
        crossing = -offset / torch.where(slope == 0, 1.0, slope) - 0.5  # the column where the edge is 0
        first = torch.where(slope > 0, torch.maximum(first, torch.ceil(crossing) - 1), first)
        last = torch.where(slope < 0, torch.minimum(last, torch.floor(crossing) + 1), last)
        empty = empty | ((slope == 0) & (offset < 0))
    count = torch.where(empty, 0.0, (last - first + 1).clamp(min=0)).long().flatten()
    span = torch.repeat_interleave(torch.arange(len(count), device=device), count)  # each listed pixel's row
    if len(span) == 0:
        return None
    # index_select, not [] indexing: several times faster for these long gathers on the CPU
    starts = (count.cumsum(0) - count).float()
    rows_table = torch.stack([first.flatten(), py.flatten().float(), starts], -1).index_select(0, span)
    column = rows_table[:, 0] + torch.arange(len(span), device=device) - rows_table[:, 2]
    row = rows_table[:, 1]
    drawn = span // rows  # batch * F + triangle
    table = torch.cat([u, v, z, sign, area.abs()[..., None]], -1).reshape(-1, 11).index_select(0, drawn)
    cu, cv = table[:, :3], table[:, 3:6]

    def edge(i: int, j: int) -> torch.Tensor:  # twice the signed area of (corner i, corner j, pixel centre)
        return (cu[:, j] - cu[:, i]) * (row + 0.5 - cv[:, i]) - (cv[:, j] - cv[:, i]) * (column + 0.5 - cu[:, i])

    weights = torch.stack([edge(1, 2), edge(2, 0), edge(0, 1)], -1) * table[:, 9:10]
    keep = torch.nonzero((weights >= 0).all(-1)).squeeze(1)
    if len(keep) == 0:
        return None
    kept = torch.cat([weights, table[:, 6:9], table[:, 10:11], column[:, None], row[:, None]], 1)
    kept = kept.index_select(0, keep)  # weights (3), depths (3), area, column, row
    weights = kept[:, :3] / kept[:, 6:7]
    # written out: .sum(-1) over an axis of 3 is slow here
    depth = weights[:, 0] * kept[:, 3] + weights[:, 1] * kept[:, 4] + weights[:, 2] * kept[:, 5]
    drawn = drawn.index_select(0, keep)
    pixel = ((drawn // f) * height + kept[:, 8].long()) * width + kept[:, 7].long()
    return pixel, drawn % f, depth, weights


def mouth_triangles() -> torch.Tensor:
    """A fan over the inner lip loop, about an extra vertex (index 478) at the loop's mean."""
    loop = torch.tensor(topology.LIPS_INNER, dtype=torch.int64)
    centre = torch.full_like(loop, topology.NUM_VERTICES)
    return torch.stack([centre, loop, loop.roll(-1)], -1)


def with_mouth_centre(screen: torch.Tensor) -> torch.Tensor:
    """Screen vertices (B,N,3) plus the inner lip loop's mean, the fan's centre (index N)."""
    loop = list(topology.LIPS_INNER)
    return torch.cat([screen, screen[:, loop].mean(1, keepdim=True)], 1)


def rasterize_mouth(screen: torch.Tensor, size: tuple[int, int]) -> Raster:
    """The inner-lip fan of the face's screen vertices (B,478,3): where the mouth hole lies."""
    return rasterize(with_mouth_centre(screen[:, :topology.NUM_VERTICES]), mouth_triangles(), size)


def mouth_coverage(screen: torch.Tensor, size: tuple[int, int], supersample: int) -> torch.Tensor:
    """The share (B,h,w) of each pixel inside the inner-lip fan of screen vertices (B,478,3), from
    ``supersample``² points per pixel: an anti-aliased mouth hole."""
    fine = screen * torch.tensor([supersample, supersample, 1.0], dtype=screen.dtype)
    hole = rasterize_mouth(fine, (size[0] * supersample, size[1] * supersample)).covered.float()
    return F.avg_pool2d(hole[:, None], supersample)[:, 0]


def face_maps(screen: torch.Tensor, size: tuple[int, int], canonical: torch.Tensor,
              triangles: torch.Tensor) -> FaceMaps:
    """Screen vertices (B,478,3) of the face model -> :class:`FaceMaps` of an ``(H, W)`` crop.

    ``canonical`` (478,3) is the reference face the ``canonical`` map reads
    from; ``triangles`` (F,3) the mesh (``FaceModel.triangles``).
    """
    _check_screen(screen, topology.NUM_VERTICES)
    surface = rasterize(screen, triangles, size)
    hole = rasterize_mouth(screen, size)
    canonical = canonical.to(device=screen.device, dtype=torch.float32)
    return FaceMaps(
        triangle=surface.triangle,
        barycentric=surface.barycentric,
        depth=surface.depth,
        face=surface.covered,
        mouth=hole.covered & ~surface.covered,
        canonical=surface.interpolate(canonical, triangles.to(screen.device)),
    )
