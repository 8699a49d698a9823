"""Real mouth interiors for video avatars: retrieve the enrollment frame whose mouth matches, warp it in.

At enrollment, every frame's mouth is cut into a small square crop around its
inner lips, with the inner-lip loop's position in that crop and the frame's
tracked mouth channels. At render time the driving weights (already in the
avatar's tracked scale, thanks to calibration) pick the nearest frame on
those channels, and its inner-lip fan is mapped piecewise-affinely onto the
target's mouth hole: the teeth and tongue the person really showed at that
openness, instead of a synthesised interior.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from talkinghead.contracts import topology
from talkinghead.renderer import raster
from talkinghead.renderer.calibration import DRIVEN
from talkinghead.renderer.crops import cut_crops

CROP = 64  # pixels of a mouth crop's side
SPAN = 1.8  # the crop spans this many inner-mouth widths


@dataclass(frozen=True)
class MouthBank:
    crops: np.ndarray  # (T, CROP, CROP, 3) uint8
    loops: np.ndarray  # (T, 20, 2) float32: the inner-lip loop in crop pixels
    keys: np.ndarray  # (T, len(DRIVEN)) float32: tracked mouth channels

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"mouth_crops": self.crops, "mouth_loops": self.loops, "mouth_keys": self.keys}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> MouthBank:
        return cls(arrays["mouth_crops"], arrays["mouth_loops"], arrays["mouth_keys"])

    def nearest(self, weights: np.ndarray, allowed: np.ndarray | None = None) -> int:
        """Index of the frame whose tracked mouth channels are nearest ``weights`` (52,).

        ``allowed`` (T,) bool: the frames to choose from (training keeps a
        target's own neighbourhood out, or the network learns to copy it).
        """
        return nearest_mouth(self.keys, weights, allowed)

    def interior(self, weights: np.ndarray, fan: raster.Raster, allowed: np.ndarray | None = None) -> torch.Tensor:
        """Colours (1, h, w, 3) of the mouth hole rasterised in ``fan`` (one frame), from the nearest crop."""
        pick = self.nearest(weights, allowed)
        loop = torch.from_numpy(self.loops[pick]).float()
        source = torch.zeros(topology.NUM_VERTICES + 1, 2)
        source[list(topology.LIPS_INNER)] = loop
        source[topology.NUM_VERTICES] = loop.mean(0)
        where = fan.interpolate(source, raster.mouth_triangles())  # (1,h,w,2) crop pixels
        grid = where / CROP * 2 - 1
        image = torch.from_numpy(self.crops[pick]).permute(2, 0, 1)[None].float()
        return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=False).permute(0, 2, 3, 1)


def nearest_mouth(keys: np.ndarray, weights: np.ndarray, allowed: np.ndarray | None = None) -> int:
    """Row of ``keys`` (T, len(DRIVEN)) nearest the mouth channels of ``weights`` (52,), among ``allowed``."""
    distance = ((keys - weights[list(DRIVEN)]) ** 2).sum(1)
    if allowed is not None:
        distance = np.where(allowed, distance, np.inf)
    return int(np.argmin(distance))


def mouth_transforms(landmarks: np.ndarray) -> np.ndarray:
    """Crop-to-image transforms (T,2,3): crops centred on the inner lips, ``SPAN`` mouth widths wide."""
    loop = np.asarray(landmarks, np.float64)[:, list(topology.LIPS_INNER), :2]
    centre = loop.mean(1)
    width = np.linalg.norm(loop[:, 0] - loop[:, len(loop[0]) // 2], axis=-1)
    scale = np.maximum(width, 1.0) * SPAN / CROP  # image pixels per crop pixel
    transforms = np.zeros((len(loop), 2, 3))
    transforms[:, 0, 0] = transforms[:, 1, 1] = scale
    transforms[:, :, 2] = centre - scale[:, None] * CROP / 2
    return transforms


def build_bank(frames, landmarks: np.ndarray, blendshapes: np.ndarray) -> MouthBank:
    """Cut every frame's mouth (``frames``: an iterable of RGB arrays, in order, one per landmarks row).

    One frame at a time, so a 4K video costs what its mouths cost.
    """
    transforms = mouth_transforms(landmarks)
    crops = [cut_crops(frame[None], transform[None], CROP) for frame, transform in zip(frames, transforms)]
    crops_all = np.concatenate(crops)
    loop = np.asarray(landmarks, np.float64)[: len(crops_all), list(topology.LIPS_INNER), :2]
    offset, scale = transforms[: len(crops_all), :, 2], transforms[: len(crops_all), 0, 0]
    loops = (loop - offset[:, None]) / scale[:, None, None]
    keys = np.asarray(blendshapes, np.float32)[: len(crops_all)][:, list(DRIVEN)]
    return MouthBank(crops_all, loops.astype(np.float32), keys)
