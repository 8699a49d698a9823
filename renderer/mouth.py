"""A synthesised mouth interior for faces whose image shows no open mouth.

An approximation, procedural rather than learnt: the mouth hole is filled
with a dark cavity, an upper row of teeth hanging from the upper lip, a
lower row rising from the lower lip when the mouth opens wide, and a tongue
low in the cavity. Shapes are measured in inter-ocular distances (IOD) so
they keep their size as the mouth opens; colours are scaled to the face's
own brightness so the interior matches a dim or a bright photo.

Coordinates inside the hole come from rasterising the inner-lip fan
(:func:`.raster.mouth_triangles`) with two attributes per vertex: ``s``,
-1 at one corner to +1 at the other, and ``upper``, 1 on the upper lip, 0
on the lower, ½ at the corners and the centre.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from talkinghead.contracts import topology
from talkinghead.renderer import raster

_LOOP = len(topology.LIPS_INNER)  # 20: corner, 9 upper, corner, 9 lower
_HALF = len(topology.UPPER_LIP_INNER) - 1  # 10: loop index of the second corner


@dataclass(frozen=True)
class MouthStyle:
    """Sizes in IOD, colours in RGB 0-255 for a face of mean brightness ``reference_level``."""

    upper_teeth: float = 0.07
    lower_teeth: float = 0.035
    teeth_width: float = 0.75  # of the corner-to-corner span
    lower_teeth_width: float = 0.45
    teeth: tuple[float, float, float] = (228.0, 214.0, 188.0)
    cavity: tuple[float, float, float] = (40.0, 12.0, 14.0)
    tongue: tuple[float, float, float] = (140.0, 62.0, 64.0)
    reference_level: float = 140.0


def _fan_attributes() -> torch.Tensor:
    """(21, 2): ``s`` and ``upper`` of the 20 loop vertices, then of the fan centre."""
    index = torch.arange(_LOOP, dtype=torch.float32)
    s = torch.where(index <= _HALF, index / _HALF, (2 * _HALF - index) / _HALF) * 2 - 1
    upper = (index < _HALF).float()
    upper[0] = upper[_HALF] = 0.5
    return torch.cat([torch.stack([s, upper], -1), torch.tensor([[0.0, 0.5]])])


def _gaps(screen: torch.Tensor) -> torch.Tensor:
    """(B, 21): each loop vertex's distance to the opposite lip (0 at the corners), centre = middle's."""
    loop = screen[:, list(topology.LIPS_INNER), :2]
    opposite = torch.tensor([0, *range(_LOOP - 1, _HALF, -1), _HALF, *range(_HALF - 1, 0, -1)])
    gap = torch.linalg.vector_norm(loop - loop[:, opposite], dim=-1)
    return torch.cat([gap, gap[:, _HALF // 2, None]], 1)


def mouth_interior(screen: torch.Tensor, fan: raster.Raster, mask: torch.Tensor, iod_px: torch.Tensor,
                   brightness: float, style: MouthStyle = MouthStyle()) -> torch.Tensor:
    """Colours ``(B, H, W, 3)`` of the mouth hole for screen vertices (B,478,3) in the mask's pixels.

    ``fan`` is the inner-lip fan rasterised from ``screen`` (as
    :class:`.warp.Warped` carries it); ``mask`` (B,H,W) is where the hole
    shows; ``iod_px`` (B,) the face's IOD in
    pixels; ``brightness`` the face's mean level (0-255). Outside the mask the
    colour is the cavity's, so a soft-edged blend darkens the lip margin.
    The shading runs only over the box the mask covers (the hole is a small part of a face crop).
    """
    b, height, width = mask.shape
    level = max(0.4, min(1.5, brightness / style.reference_level))
    out = (torch.tensor(style.cavity) * level).expand(b, height, width, 3).clone()
    rows, columns = torch.nonzero(mask.any(0).any(1)).flatten(), torch.nonzero(mask.any(0).any(0)).flatten()
    if len(rows):
        box = (slice(None), slice(int(rows[0]), int(rows[-1]) + 1), slice(int(columns[0]), int(columns[-1]) + 1))
        fan_box = raster.Raster(fan.triangle[box], fan.barycentric[box], fan.depth[box])
        out[box] = _shade(screen, fan_box, mask[box], iod_px, level, style)
    return out


def _shade(screen: torch.Tensor, fan: raster.Raster, mask: torch.Tensor, iod_px: torch.Tensor, level: float,
           style: MouthStyle) -> torch.Tensor:
    """:func:`mouth_interior` over one box of pixels."""
    b, height, width = mask.shape
    attributes = torch.zeros(b, topology.NUM_VERTICES + 1, 3)  # indexed like the fan's vertices
    fan_vertices = [*topology.LIPS_INNER, topology.NUM_VERTICES]
    attributes[:, fan_vertices] = torch.cat([_fan_attributes().expand(b, -1, -1), _gaps(screen)[..., None]], -1)
    local = torch.zeros(b, height, width, 3)
    for i in range(b):  # per-frame attributes: interpolate one frame at a time
        one = raster.Raster(fan.triangle[i:i + 1], fan.barycentric[i:i + 1], fan.depth[i:i + 1])
        local[i] = one.interpolate(attributes[i], raster.mouth_triangles())[0]
    s, upper, gap = local.unbind(-1)
    unit = iod_px.float().view(b, 1, 1)
    below_upper = (1 - upper) * gap / unit  # IOD under the upper lip
    above_lower = upper * gap / unit  # IOD over the lower lip

    def colour(rgb: tuple[float, float, float]) -> torch.Tensor:
        return torch.tensor(rgb) * level

    depth_shade = (0.45 + 0.55 * (1 - (s.abs() ** 2)))[..., None]  # corners recede into shadow
    out = colour(style.cavity) * depth_shade
    tongue = (upper < 0.35)[..., None]
    out = torch.where(tongue, colour(style.tongue) * depth_shade * (0.6 + 0.4 * (1 - upper[..., None] / 0.35)), out)
    in_row = (s.abs() < style.teeth_width)[..., None]
    edge_shade = (1 - 0.5 * (s.abs() / style.teeth_width) ** 2)[..., None]
    lower_teeth = ((s.abs() < style.lower_teeth_width)[..., None] & (above_lower < style.lower_teeth)[..., None]
                   & (gap / unit > 2 * style.upper_teeth)[..., None])
    out = torch.where(lower_teeth, colour(style.teeth) * 0.8 * edge_shade, out)
    upper_teeth = in_row & (below_upper < style.upper_teeth)[..., None]
    lip_shadow = (0.75 + 0.25 * (below_upper / style.upper_teeth).clamp(0, 1))[..., None]
    out = torch.where(upper_teeth, colour(style.teeth) * edge_shade * lip_shadow, out)
    return torch.where(mask[..., None], out, colour(style.cavity))
