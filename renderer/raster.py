"""Face-mesh rasteriser: screen-space vertices -> per-pixel maps of a crop, in torch.

No OpenGL: triangles are scan-converted as tensors, so one code path runs
batched on CPU and CUDA. Each triangle tests the pixel centres inside its
bounding box (triangles are binned by box size, so a few big ones do not
make every small one test a big box); a z-buffer (``scatter_reduce`` with
``amin``) keeps the nearest surface per pixel.

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

from talkinghead.renderer import topology



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
        out = attributes.new_zeros(*self.triangle.shape, attributes.shape[-1])
        covered = self.covered
        corners = triangles.to(attributes.device)[self.triangle[covered]]  # (P,3) vertex ids
        out[covered] = (attributes[corners] * self.barycentric[covered][..., None]).sum(-2)
        return out


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
    """Z-buffered coverage of ``triangles`` (F,3) over screen vertices (B,N,3) in an ``(H, W)`` crop."""
    _check_screen(screen)
    height, width = size
    if height <= 0 or width <= 0:
        raise ValueError(f"crop size must be positive, got {size}")
    b, device = screen.shape[0], screen.device
    screen = screen.float()
    triangles = triangles.to(device=device, dtype=torch.int64)
    corners = screen[:, triangles]  # (B,F,3,3): batch, triangle, corner, (u,v,d)
    # Pixel ranges whose centres may lie inside: x + 0.5 in [min u, max u].
    low = torch.ceil(corners[..., :2].amin(2) - 0.5).clamp(min=0).long()
    high = torch.floor(corners[..., :2].amax(2) - 0.5).long()
    high = torch.minimum(high, torch.tensor([width - 1, height - 1], device=device))
    extent = (high - low + 1).clamp(min=0)  # (B,F,2) box width, height
    on_screen = torch.nonzero((extent > 0).all(-1).any(0)).flatten()  # triangles whose box meets the crop
    corners, low, extent = corners[:, on_screen], low[:, on_screen], extent[:, on_screen]

    depth = torch.full((b * height * width,), float("inf"), device=device)
    candidates = []
    # Bins by box width and height in powers of two: a triangle tests at most 4x its box's pixels.
    sides = torch.ceil(torch.log2(extent.amax(0).clamp(min=1).double())).long()  # (F, 2)
    size_class = sides[:, 0] * 64 + sides[:, 1]
    for value in size_class.unique().tolist():
        chunk = torch.nonzero(size_class == value).flatten()
        found = _candidates(corners[:, chunk], low[:, chunk], extent[:, chunk], on_screen[chunk], (height, width))
        if found is None:
            continue
        depth.scatter_reduce_(0, found[0], found[2], "amin")
        candidates.append(found)

    triangle = torch.full((b * height * width,), -1, dtype=torch.int64, device=device)
    barycentric = torch.zeros((b * height * width, 3), device=device)
    for pixel, face, d, weights in candidates:
        nearest = d <= depth[pixel]
        triangle[pixel[nearest]] = face[nearest]
        barycentric[pixel[nearest]] = weights[nearest]
    return Raster(
        triangle=triangle.view(b, height, width),
        barycentric=barycentric.view(b, height, width, 3),
        depth=depth.view(b, height, width),
    )


def _candidates(corners, low, extent, faces, size):
    """Covered (pixel, triangle, depth, barycentric) tuples of one size bin, or None."""
    height, width = size
    box_w, box_h = int(extent[..., 0].max()), int(extent[..., 1].max())
    if box_w == 0 or box_h == 0:
        return None
    device = corners.device
    dy, dx = torch.meshgrid(torch.arange(box_h, device=device), torch.arange(box_w, device=device), indexing="ij")
    px = low[..., 0, None] + dx.reshape(-1)  # (B,F,K) pixel columns
    py = low[..., 1, None] + dy.reshape(-1)
    inside_box = (dx.reshape(-1) < extent[..., 0, None]) & (dy.reshape(-1) < extent[..., 1, None])
    cx, cy = px + 0.5, py + 0.5
    u, v = corners[..., 0], corners[..., 1]  # (B,F,3)

    def edge(i: int, j: int) -> torch.Tensor:  # twice the signed area of (corner i, corner j, pixel)
        return ((u[..., j] - u[..., i])[..., None] * (cy - v[..., i, None])
                - (v[..., j] - v[..., i])[..., None] * (cx - u[..., i, None]))

    area = ((u[..., 1] - u[..., 0]) * (v[..., 2] - v[..., 0]) - (v[..., 1] - v[..., 0]) * (u[..., 2] - u[..., 0]))
    sign = torch.where(area < 0, -1.0, 1.0)[..., None]
    w0, w1, w2 = edge(1, 2) * sign, edge(2, 0) * sign, edge(0, 1) * sign
    hit = inside_box & (w0 >= 0) & (w1 >= 0) & (w2 >= 0) & (area.abs() > 1e-9)[..., None]
    if not bool(hit.any()):
        return None
    bi, fi, ki = hit.nonzero(as_tuple=True)
    weights = torch.stack([w0[bi, fi, ki], w1[bi, fi, ki], w2[bi, fi, ki]], -1) / area.abs()[bi, fi, None]
    d = (weights * corners[bi, fi, :, 2]).sum(-1)
    pixel = (bi * height + py[bi, fi, ki]) * width + px[bi, fi, ki]
    return pixel, faces.to(device)[fi], d, weights


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
