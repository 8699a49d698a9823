"""A drawn mouth interior for faces whose image shows no open mouth (photo avatars).

An approximation drawn from anatomy and light, not learnt: nothing inside a
photo shows the person's teeth, so they are drawn. Everything is placed in
the head's own frame (origin between the eyes, x along the eye line, unit
the inter-ocular distance, IOD, about 63 mm, so 0.016 IOD is about a
millimetre):

- **upper teeth** hang rigidly from the head at the lips' meeting line of
  the face at rest: an arched row (central and lateral incisors, canine,
  premolars) whose projected widths shrink and whose shade darkens as the
  arch turns away, with rounded incisal corners, a pointed canine, thin
  interproximal gaps, a convex shade across each crown, the upper lip's
  shadow at the top and a highlight where the central incisors face the
  light; a **gum** edge above them shows only when the lip lifts that far;
- **lower teeth** move rigidly with the jaw (the chin's displacement from
  rest), a smaller row behind the upper one (an overbite), so they appear
  as the jaw drops;
- a **tongue** low in the cavity behind the lower teeth, and the **cavity**
  darkening toward the corners and toward the lips (ambient occlusion: the
  lip's inner edge meets a darker, moist margin instead of an outline).

Colours come from the photo (:func:`palette`): the teeth take the white
balance of the eyes' whites (their saturation softly capped: teeth read as
white in any light) and the exposure of the skin around the mouth; the cavity, tongue and gum are the lips' own colour darkened or lightened.

Anti-aliasing: the hole's coverage is rasterised at ``supersample``² points
per pixel (:attr:`MouthStyle.supersample`); every edge drawn inside it
(teeth, gaps, tongue) is a ramp one pixel wide, the box-filter coverage of
a straight edge, so nothing is stair-stepped at any size. A photo that
shows its own teeth keeps them (:mod:`.photo_teeth`); the drawn ones only
fill what the photo never showed. Not modelled: the tongue tip's rise for
L/T/D/N/TH (ARKit-52 has no tongue-tip channel, and the coefficients never
set ``tongueOut``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from talkinghead.contracts import topology
from talkinghead.renderer import raster
from talkinghead.renderer.head_frame import head_frame, to_head
from talkinghead.renderer.photo_teeth import PhotoTeeth, sample

MIN_AREA = 0.5  # px²: an inner lip loop enclosing less is shut (no interior, not even a sliver)
WHITE_BALANCE = 0.5  # how far the teeth follow the eye whites' tint (0: not at all, 1: fully)
TEETH_SATURATION = 0.18  # at most: teeth photographed in warm or cool light stay nearly white (real: ~0.1)


@dataclass(frozen=True)
class MouthStyle:
    """Anatomy in IOD, light, and the reference colours (RGB 0-255) a neutral, evenly lit photo would get."""

    supersample: int = 4  # hole coverage samples per pixel side
    upper_crown: float = 0.17  # visible height of the upper central incisors
    lower_crown: float = 0.13
    incisal_drop: float = 0.045  # upper incisal edge below the lips' meeting line at rest (~3 mm show)
    overbite: float = 0.035  # lower incisal edge above the upper one with the jaw shut
    upper_widths: tuple[float, ...] = (0.135, 0.10, 0.08, 0.062, 0.055)  # projected, midline outwards
    lower_widths: tuple[float, ...] = (0.085, 0.085, 0.075, 0.06)
    gap: float = 0.005  # interproximal gap, half-width
    teeth: tuple[float, float, float] = (232.0, 222.0, 200.0)
    reference_level: float = 140.0  # skin level the reference colours are for


@dataclass(frozen=True)
class Palette:
    """The interior's colours for one photo (RGB 0-255)."""

    teeth: tuple[float, float, float]
    cavity: tuple[float, float, float]
    tongue: tuple[float, float, float]
    gum: tuple[float, float, float]


@dataclass(frozen=True)
class MouthRest:
    """Where the mouth sits on the face at rest, in the head's frame (IOD): what the teeth hang from."""

    meeting: tuple[float, float]  # the lips' meeting line at the middle
    chin: tuple[float, float]
    incisal: float  # y of the upper incisors' edge


def mouth_rest(vertices: np.ndarray, style: MouthStyle = MouthStyle(), teeth: PhotoTeeth | None = None) -> MouthRest:
    """The :class:`MouthRest` of screen vertices (478,2+) of a face with its lips closed; the incisors
    ``style.incisal_drop`` below the lips' meeting, or where the photo's own ``teeth`` have them."""
    points = torch.as_tensor(np.asarray(vertices, np.float32)[None, :, :2])
    head = to_head(points, *head_frame(points))[0]
    meeting = (head[topology.UPPER_LIP_INNER_MID] + head[topology.LOWER_LIP_INNER_MID]) / 2
    incisal = teeth.incisal if teeth is not None else float(meeting[1]) + style.incisal_drop
    return MouthRest(tuple(float(v) for v in meeting), tuple(float(v) for v in head[topology.CHIN]), incisal)


def palette(image: np.ndarray, vertices: np.ndarray, style: MouthStyle = MouthStyle(),
            teeth: PhotoTeeth | None = None) -> Palette:
    """The interior's colours for a face in ``image`` (H,W,3) uint8 at screen vertices (478,2+).

    White balance from the eyes' whites (the brighter, less coloured half of
    the pixels along each eye's axis), half way (``WHITE_BALANCE``: eye
    whites are themselves a little warm or cool, and a small eye gives few
    pixels), exposure from the skin around the lips, the cavity, tongue and
    gum from the lips' own colour; a photo's own ``teeth`` give theirs.
    """
    points = np.asarray(vertices, np.float64)[:, :2]
    height, width = image.shape[:2]

    def pixels(xy: np.ndarray) -> np.ndarray:
        x = np.clip(np.round(xy[:, 0]).astype(int), 0, width - 1)
        y = np.clip(np.round(xy[:, 1]).astype(int), 0, height - 1)
        return image[y, x].astype(np.float64)

    whites = []
    for corners in (topology.RIGHT_EYE_CORNERS, topology.LEFT_EYE_CORNERS):
        a, b = points[list(corners)]
        t = np.linspace(0.15, 0.85, 24)
        whites.append(pixels(a + t[:, None] * (b - a)))  # along the eye's axis: iris and whites
    whites = np.concatenate(whites)
    bright = whites[whites.sum(1) >= np.median(whites.sum(1))]
    saturation = (bright.max(1) - bright.min(1)) / np.maximum(bright.max(1), 1.0)
    sclera = bright[saturation <= np.median(saturation)].mean(0)  # bright and least coloured: the whites
    balance = np.clip(1 + WHITE_BALANCE * (sclera / max(sclera.mean(), 1.0) - 1), 0.85, 1.15)
    lips = pixels((points[list(topology.LIPS_OUTER)] + points[list(topology.LIPS_INNER)]) / 2)
    low, high = points[list(topology.LIPS_OUTER)].min(0), points[list(topology.LIPS_OUTER)].max(0)
    around = image[int(max(0, low[1] - (high[1] - low[1]))):int(min(height, high[1] + (high[1] - low[1]))),
                   int(max(0, low[0])):int(min(width, high[0]))].reshape(-1, 3).astype(np.float64)
    level = float(np.clip((around.mean() if len(around) else style.reference_level) / style.reference_level, 0.4, 1.4))
    lip = lips.mean(0)
    if teeth is not None:
        teeth = np.array(teeth.colour)
    else:
        teeth = np.array(style.teeth) * balance * level
        teeth *= min(1.0, 245.0 / teeth.max())  # no channel clips: the hue survives a bright photo
        spread = (teeth.max() - teeth.min()) / teeth.max()  # saturation, compressed softly toward the cap
        teeth = teeth.max() - (teeth.max() - teeth) * TEETH_SATURATION * np.tanh(spread / TEETH_SATURATION) / max(spread, 1e-6)
    cavity = lip * 0.22
    tongue = lip * 0.62 + np.array([28.0, 4.0, 6.0]) * level
    gum = lip * 0.9 + np.array([22.0, 2.0, 8.0]) * level

    def rgb(colour: np.ndarray) -> tuple[float, float, float]:
        return tuple(float(v) for v in np.clip(colour, 0, 255))

    return Palette(rgb(teeth), rgb(cavity), rgb(tongue), rgb(gum))


def _ramp(distance: torch.Tensor, pixel: torch.Tensor) -> torch.Tensor:
    """Coverage of a pixel by the side of an edge at signed ``distance`` (IOD, positive inside): a one-pixel
    linear ramp, the box filter of a straight edge."""
    return (0.5 + distance / pixel).clamp(0, 1)


def _line(distance: torch.Tensor, half_width: float, pixel: torch.Tensor) -> torch.Tensor:
    """Coverage of a pixel centred ``distance`` (IOD) from the middle of a line ``2 half_width`` wide: the
    overlap of the pixel's span with the line's (a gap thinner than a pixel only tints it)."""
    low = torch.maximum(distance - pixel / 2, torch.tensor(-half_width))
    high = torch.minimum(distance + pixel / 2, torch.tensor(half_width))
    return ((high - low) / pixel).clamp(0, 1)


def _row(x: torch.Tensor, widths: tuple[float, ...]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For |x| along a row of teeth of ``widths`` from the midline: each point's tooth index, its place
    across that tooth (0-1) and its distance to the nearest gap between teeth (IOD)."""
    edges = torch.tensor((0.0, *np.cumsum(widths)), dtype=torch.float32)
    away = x.abs()
    index = torch.bucketize(away, edges[1:-1], right=True)
    left, right = edges[index], edges[index + 1]
    across = ((away - left) / (right - left)).clamp(0, 1)
    to_gap = (away[..., None] - edges[:-1]).abs().amin(-1)  # the midline is a gap too
    return index, across, to_gap


def _shade(head: torch.Tensor, pixel: torch.Tensor, jaw: torch.Tensor, upper_lip: torch.Tensor,
           rest: MouthRest, half_width: torch.Tensor, colours: Palette, style: MouthStyle) -> torch.Tensor:
    """RGB (h,w,3) of the drawn interior, before occlusion, at head-frame points ``head`` (h,w,2) of one frame.

    ``jaw``: the chin's displacement from rest (2,); ``upper_lip``: the upper
    inner lip's y above each point (h,w); ``half_width``: half the inner
    mouth's width.
    """
    def colour(rgb: tuple[float, float, float]) -> torch.Tensor:
        return torch.tensor(rgb, dtype=torch.float32)

    x = head[..., 0] - rest.meeting[0]
    y = head[..., 1]
    side = (x / half_width.clamp(min=0.05)).clamp(-1.5, 1.5)
    recess = (1 - 0.55 * side.abs().clamp(max=1) ** 2)[..., None]  # the corners recede into shadow
    out = colour(colours.cavity) * recess

    lower_edge = rest.incisal - style.overbite + jaw[1]
    lower_x = x - jaw[0]
    arch = 0.12 * (x / 0.3) ** 2
    tongue_top = lower_edge - 0.06 + arch  # its back rises behind the lower teeth
    tongue = _ramp(y - tongue_top, pixel)[..., None]
    out = torch.lerp(out, colour(colours.tongue) * recess * (0.75 + 0.25 * _ramp(0.06 - (y - tongue_top), pixel))[..., None],
                     tongue)

    index, across, to_gap = _row(lower_x, style.lower_widths)
    detail = ((1 / pixel - 30) / 60).clamp(0, 1)  # gaps and notches fade on small faces instead of aliasing
    edge = lower_edge + 0.006 * detail * (2 * across - 1) ** 4
    inside = (_ramp(y - edge, pixel) * _ramp(edge + style.lower_crown - y, pixel)
              * _ramp(sum(style.lower_widths) - lower_x.abs(), pixel))
    gaps = 1 - 0.3 * detail * _line(to_gap, style.gap, pixel) * (1 - ((y - edge) / 0.05).clamp(0, 1))
    depth = (1 - 0.5 * (lower_x.abs() / sum(style.lower_widths)) ** 2).clamp(min=0.4)
    fall = 1 - 0.35 * ((y - edge) / style.lower_crown).clamp(0, 1)  # toward the gum, into the lip's shade
    lower = colour(colours.teeth) * (0.8 * depth * gaps * fall * (0.9 + 0.1 * torch.sin(np.pi * across)))[..., None]
    out = torch.lerp(out, lower, inside[..., None])

    index, across, to_gap = _row(x, style.upper_widths)
    shorter = torch.tensor([0.0, 0.012, 0.0, 0.016, 0.02])[index]
    corner = detail * torch.where(index == 2, 0.022 * (2 * across - 1).abs(), 0.008 * (2 * across - 1) ** 4)
    edge = rest.incisal - shorter - corner
    top = edge - style.upper_crown + shorter
    width = sum(style.upper_widths)
    inside = _ramp(edge - y, pixel) * _ramp(width - x.abs(), pixel)
    crown = inside * _ramp(y - top, pixel)
    gaps = 1 - 0.35 * detail * _line(to_gap, style.gap, pixel) * ((y - top) / (edge - top)).clamp(0, 1) ** 2
    depth = (1 - 0.45 * (x.abs() / width) ** 2).clamp(min=0.45)
    convex = 0.86 + 0.14 * torch.sin(np.pi * across)
    shadow = 0.55 + 0.45 * ((y - upper_lip) / 0.05).clamp(0, 1)  # under the upper lip
    light = depth * gaps * convex * shadow
    highlight = torch.where(index == 0, 0.22 * torch.exp(-((across - 0.42) / 0.18) ** 2
                                                         - ((y - (edge - 0.45 * style.upper_crown)) / 0.035) ** 2),
                            torch.zeros_like(x))
    upper = colour(colours.teeth) * light[..., None] + 255.0 * highlight[..., None] * shadow[..., None]
    gum = colour(colours.gum) * (depth * shadow)[..., None]
    out = torch.lerp(out, gum, (inside * _ramp(top - y, pixel))[..., None])
    return torch.lerp(out, upper, crown[..., None])


def _upper_lip_above(head: torch.Tensor, lip: torch.Tensor) -> torch.Tensor:
    """y of the upper inner lip (L,2, head frame) above each point of ``head`` (h,w,2), by linear
    interpolation along x (held flat past the corners)."""
    order = torch.argsort(lip[:, 0])
    xs, ys = lip[order, 0].contiguous(), lip[order, 1].contiguous()
    x = head[..., 0].contiguous()
    right = torch.searchsorted(xs, x).clamp(1, len(xs) - 1)
    x0, x1, y0, y1 = xs[right - 1], xs[right], ys[right - 1], ys[right]
    t = ((x - x0) / (x1 - x0).clamp(min=1e-6)).clamp(0, 1)
    return y0 + t * (y1 - y0)


def mouth_interior(screen: torch.Tensor, size: tuple[int, int], rest: MouthRest, colours: Palette,
                   style: MouthStyle = MouthStyle(), teeth: PhotoTeeth | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """The drawn interior of the mouths of screen vertices (B,478,3) in a window of ``size`` pixels.

    Returns its colours (B,h,w,3) and its coverage (B,h,w) in [0,1] (the
    hole's share of each pixel, from ``supersample``² points): blend with
    ``image * (1 - coverage) + colours * coverage``. Only the box around
    each inner lip is drawn. A photo's own ``teeth`` (:mod:`.photo_teeth`)
    lie over the drawn ones, each row moving with its jaw; the cavity's
    occlusion darkens both.
    """
    b = len(screen)
    height, width = size
    colour_out = torch.zeros(b, height, width, 3)
    coverage_out = torch.zeros(b, height, width)
    origin, x_axis, iod = head_frame(screen)
    loops = screen[:, list(topology.LIPS_INNER), :2]
    rest_chin = torch.tensor(rest.chin)
    factor = style.supersample
    x, y = loops[..., 0], loops[..., 1]
    areas = 0.5 * (x * y.roll(-1, 1) - x.roll(-1, 1) * y).sum(1).abs()  # shoelace: a shut mouth has none
    for i in range(b):
        if float(areas[i]) < MIN_AREA:
            continue
        low = loops[i].amin(0).floor().long() - 1
        high = loops[i].amax(0).ceil().long() + 2
        x0, y0 = max(0, int(low[0])), max(0, int(low[1]))
        x1, y1 = min(width, int(high[0])), min(height, int(high[1]))
        if x1 - x0 < 1 or y1 - y0 < 1:
            continue
        coverage = raster.mouth_coverage(screen[i:i + 1] - torch.tensor([x0, y0, 0.0]), (y1 - y0, x1 - x0), factor)[0]
        if not bool((coverage > 0).any()):
            continue
        reach = max(3, 2 * int(round(0.025 * float(iod[i]))) + 1)  # ambient occlusion: ~0.05 IOD across
        occlusion = F.avg_pool2d(F.pad(coverage[None, None], (reach // 2,) * 4), reach, 1)[0, 0]
        occlusion = ((occlusion - 0.5) / 0.5).clamp(0, 1)
        ys, xs = torch.meshgrid(torch.arange(y0, y1) + 0.5, torch.arange(x0, x1) + 0.5, indexing="ij")
        frame = (origin[i:i + 1], x_axis[i:i + 1], iod[i:i + 1])
        head = to_head(torch.stack([xs, ys], -1)[None], *frame)[0]
        lips = to_head(screen[i:i + 1, :, :2], *frame)[0]
        upper_lip = _upper_lip_above(head, lips[list(topology.UPPER_LIP_INNER)])
        corners = lips[list(topology.INNER_MOUTH_CORNERS)]
        half_width = torch.linalg.vector_norm(corners[1] - corners[0]) / 2
        jaw = lips[topology.CHIN] - rest_chin
        pixel = 1.0 / iod[i]
        drawn = _shade(head, pixel, jaw, upper_lip, rest, half_width, colours, style)
        drawn = drawn * (0.45 + 0.55 * occlusion)[..., None]
        if teeth is not None:
            own, cover = sample(teeth, head, jaw)
            drawn = drawn * (1 - cover[..., None]) + own * (0.8 + 0.2 * occlusion)[..., None]
        colour_out[i, y0:y1, x0:x1] = drawn
        coverage_out[i, y0:y1, x0:x1] = coverage
    return colour_out.clamp(0, 255), coverage_out
