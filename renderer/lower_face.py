"""The ``standard`` preset's network: it redraws a video avatar's lower face (mouth, jaw, chin).

Everything happens in a fixed region of the stabilised face crop
(:mod:`.crops`: ``size``² at ``(top, left)`` of the 256² crop, from under
the nose to below the chin). Per pixel the network reads 14 channels:
- the quick preset's drawing: the base frame warped to the target mouth,
  with a retrieved real interior (:mod:`.mouth_bank`);
- the base frame with the lower face and chin masked out, and that mask
  (the cheeks and nose it keeps are the base frame's, never the target's:
  training pairs each target with a base frame from another time, so the
  jaw cannot leak through the cheeks);
- the target geometry, rasterised (:func:`.raster.face_maps`): the canonical
  address of the skin (3) and the inner-mouth hole (1);
- a retrieved reference: the region of the enrollment frame whose tracked
  mouth is nearest the target (real teeth at a similar opening).
It outputs a correction to the quick drawing, blended over the base frame by
a feathered mask of the lower face (base and target together), so pixels
outside that mask stay the base frame's.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from talkinghead.contracts import topology
from talkinghead.contracts.face_model import FaceModel
from talkinghead.renderer import raster
from talkinghead.renderer.crops import CropView
from talkinghead.renderer.warp import Warped

SUBNASALE = 2  # mesh vertex under the nose: the lower face starts below it
IN_CHANNELS = 14


@dataclass(frozen=True)
class RegionConfig:
    """Where the network draws: a ``size``² square at ``(top, left)`` of a ``crop``² face crop."""

    crop: int = 256
    top: int = 112
    left: int = 64
    size: int = 128
    dilate: int = 6  # pixels the lower-face mask grows by (the chin and jaw edge move)
    feather: int = 6  # pixels of the mask's soft edge

    def view(self, crop: CropView) -> CropView:
        """The region's view of the video frame, from its face crop's."""
        transform = crop.transform.copy()
        transform[:, 2] += transform[:, :2] @ np.array([self.left, self.top], np.float64)
        return CropView(transform, crop.image_size)


@dataclass(frozen=True)
class Geometry:
    """A face's maps in the region (B,S,S[,3]) and its lower-face mask."""

    canonical: torch.Tensor
    mouth: torch.Tensor  # bool
    lower: torch.Tensor  # bool: face below the nose, or the mouth hole


def geometry(screen: torch.Tensor, face: FaceModel, size: int) -> Geometry:
    """Screen vertices in region pixels (B,478,3) -> :class:`Geometry`."""
    maps = raster.face_maps(screen, (size, size), face.neutral, face.triangles)
    return _geometry(maps.canonical, maps.face, maps.mouth, face)


def warped_geometry(warped: Warped, triangles: torch.Tensor, canonical: torch.Tensor, face: FaceModel,
                    size: int) -> Geometry:
    """The same maps read off a warp of the region (its rasters already hold them: no second rasterisation).

    ``triangles`` are the warp's (the face's, then its band's) and
    ``canonical`` (N,3) every warp vertex's canonical position (any value on
    the ring: the band is not face).
    """
    surface = warped.surface
    on_face = (surface.triangle >= 0) & (surface.triangle < len(face.triangles))
    canonical = surface.interpolate(canonical, triangles) * on_face[..., None]
    y0, y1, x0, x1 = warped.window
    pad = (x0, size - x1, y0, size - y1)
    return _geometry(F.pad(canonical.permute(0, 3, 1, 2), pad).permute(0, 2, 3, 1),
                     F.pad(on_face, pad), F.pad(warped.mouth, pad), face)


def _geometry(canonical: torch.Tensor, face_mask: torch.Tensor, mouth: torch.Tensor, face: FaceModel) -> Geometry:
    below_nose = face_mask & (canonical[..., 1] < float(face.neutral[SUBNASALE, 1]))
    return Geometry(canonical, mouth, below_nose | mouth)


def blend_masks(base: Geometry, target: Geometry, config: RegionConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """The region the network may change: hard (B,S,S) bool and feathered (B,S,S) float in [0, 1].

    The union of the base and target lower faces, grown, then softened; the
    feathered mask is 0 on the region's border, so a pasted region has no
    edge.
    """
    union = (base.lower | target.lower)[:, None].float()
    reach, width = 2 * config.dilate + 1, 2 * config.feather + 1  # square windows, pooled one axis at a time
    grown = F.max_pool2d(F.max_pool2d(union, (reach, 1), 1, (config.dilate, 0)), (1, reach), 1, (0, config.dilate))
    padded = F.pad(grown, (config.feather,) * 4)
    soft = F.avg_pool2d(F.avg_pool2d(padded, (width, 1), 1), (1, width), 1)
    return grown[:, 0] > 0, (soft * _border_taper(config.size, config.feather))[:, 0]


@functools.cache
def _border_taper(size: int, feather: int) -> torch.Tensor:
    """(1,1,size,size): 1 inside, falling to 0 on the region's border over ``feather`` pixels."""
    edge = torch.ones(1, 1, size - 2 * feather, size - 2 * feather)
    return F.avg_pool2d(F.pad(edge, (2 * feather,) * 4), 2 * feather + 1, stride=1)


def network_input(drawn: torch.Tensor, base: torch.Tensor, hard: torch.Tensor, target: Geometry,
                  reference: torch.Tensor) -> torch.Tensor:
    """Region images (B,S,S,3) in [0, 255] and maps -> the network's input (B,14,S,S)."""
    def image(x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 3, 1, 2).float() / 255 - 0.5

    keep = (~hard)[:, None].float()
    return torch.cat([
        image(drawn), image(base) * keep, keep, target.canonical.permute(0, 3, 1, 2),
        target.mouth[:, None].float(), image(reference),
    ], 1)


def _block(inputs: int, outputs: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(inputs, outputs, 3, stride, 1), nn.LeakyReLU(0.1),
                         nn.Conv2d(outputs, outputs, 3, 1, 1), nn.LeakyReLU(0.1))


class LowerFaceNet(nn.Module):
    """A small U-Net at half the region's resolution (pixel-unshuffled in, shuffled out).

    Returns the corrected drawing in [0, 255] (B,3,S,S): the quick drawing
    (the input's first three channels) plus what the network adds.
    """

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.width = width
        self.stem = _block(4 * IN_CHANNELS, width)
        self.down1 = _block(width, 2 * width, 2)
        self.down2 = _block(2 * width, 4 * width, 2)
        self.up1 = _block(6 * width, 2 * width)
        self.up2 = _block(3 * width, width)
        self.head = nn.Conv2d(width, 12, 3, 1, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s1 = self.stem(F.pixel_unshuffle(x, 2))
        s2 = self.down1(s1)
        s3 = self.down2(s2)
        u1 = self.up1(torch.cat([F.interpolate(s3, scale_factor=2.0, mode="nearest"), s2], 1))
        u2 = self.up2(torch.cat([F.interpolate(u1, scale_factor=2.0, mode="nearest"), s1], 1))
        correction = F.pixel_shuffle(self.head(u2), 2)
        return ((x[:, :3] + 0.5 + correction) * 255).clamp(0, 255)


def mouth_weights(screen: torch.Tensor, size: int, margin: float = 4.0) -> torch.Tensor:
    """1 inside the outer lips' box (grown by ``margin`` pixels), else 0: (B,S,S), for the loss."""
    lips = screen[:, list(topology.LIPS_OUTER), :2]
    low, high = lips.amin(1) - margin, lips.amax(1) + margin
    centres = torch.arange(size) + 0.5
    inside_x = (centres[None] >= low[:, :1]) & (centres[None] <= high[:, :1])
    inside_y = (centres[None] >= low[:, 1:]) & (centres[None] <= high[:, 1:])
    return (inside_y[:, :, None] & inside_x[:, None, :]).float()


def ssim_map(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-pixel SSIM (B,C,H,W) of images in [0, 1] (Gaussian window, sigma 1.5, same-size output)."""
    radius = 5
    g = torch.exp(-0.5 * (torch.arange(-radius, radius + 1.0, device=a.device) / 1.5) ** 2)
    g = g / g.sum()
    channels = a.shape[1]

    def blur(x: torch.Tensor) -> torch.Tensor:
        x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="replicate"), g.view(1, 1, 1, -1).expand(channels, 1, 1, -1),
                     groups=channels)
        return F.conv2d(F.pad(x, (0, 0, radius, radius), mode="replicate"), g.view(1, 1, -1, 1).expand(channels, 1, -1, 1),
                        groups=channels)

    c1, c2 = 0.01 ** 2, 0.03 ** 2
    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b, cov = blur(a * a) - mu_a ** 2, blur(b * b) - mu_b ** 2, blur(a * b) - mu_a * mu_b
    return ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))


def loss(output: torch.Tensor, truth: torch.Tensor, soft: torch.Tensor, mouth: torch.Tensor,
         mouth_weight: float, ssim_weight: float) -> torch.Tensor:
    """L1 + (1 - SSIM) inside the feathered mask, plus a mouth-box L1 (images (B,3,S,S) in [0, 255])."""
    a, b = output / 255, truth / 255
    weight = soft[:, None]
    area = weight.sum().clamp(min=1.0)
    l1 = (a - b).abs()
    structure = 1 - ssim_map(a, b)
    mouth_area = (mouth[:, None] * weight).sum().clamp(min=1.0)
    return ((l1 * weight).sum() + ssim_weight * (structure * weight).sum()) / area / 3 \
        + mouth_weight * (l1 * mouth[:, None] * weight).sum() / mouth_area / 3
