"""Pasting a redrawn face region back into its full video frame.

The region (drawn in crop space, any rotation and scale) is resampled into
the frame's pixels (bicubic, so the redrawn detail survives) with its
feathered mask (bilinear, so it stays in [0, 1] and 0 outside). Before
blending, its colour is shifted by the mean difference to the frame along
the seam (where the mask is between 0 and 1/2), so a small shade drift of
the drawing leaves no ring. Pixels where the resampled mask is 0 are not
touched: they stay the frame's, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from talkinghead.renderer.crops import CropView, invert_2x2


@dataclass(frozen=True)
class Patched:
    """A redrawn frame and where it may differ from the frame it was drawn on."""

    image: np.ndarray  # (H,W,3) uint8
    origin: tuple[int, int]  # (y, x) of the mask's first pixel
    mask: np.ndarray  # (h,w) bool: outside it, ``image`` equals the original frame bit for bit

    def changed(self) -> np.ndarray:
        """The mask in the whole frame (H,W)."""
        full = np.zeros(self.image.shape[:2], bool)
        (y, x), (h, w) = self.origin, self.mask.shape
        full[y:y + h, x:x + w] = self.mask
        return full


def paste(frame: np.ndarray, region: torch.Tensor, alpha: torch.Tensor, view: CropView) -> Patched:
    """Frame (H,W,3) uint8, region (S,S,3) in [0, 255], its mask (S,S) in [0, 1] -> a new frame."""
    size = region.shape[0]
    height, width = frame.shape[:2]
    corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], np.float64)
    footprint = corners @ view.transform[:, :2].T + view.transform[:, 2]
    x0, y0 = np.clip(np.floor(footprint.min(0)).astype(int), 0, [width, height])
    x1, y1 = np.clip(np.ceil(footprint.max(0)).astype(int), 0, [width, height])
    out = frame.copy()
    if x1 <= x0 or y1 <= y0:
        return Patched(out, (0, 0), np.zeros((0, 0), bool))
    ys, xs = np.mgrid[y0:y1, x0:x1] + 0.5
    inverse = invert_2x2(view.transform[:, :2])
    where = np.stack([xs - view.transform[0, 2], ys - view.transform[1, 2]], -1) @ inverse.T  # region pixels
    grid = torch.from_numpy(where / size * 2 - 1).float()[None]
    colours = F.grid_sample(region.float().permute(2, 0, 1)[None], grid, mode="bicubic", padding_mode="zeros",
                            align_corners=False)[0].permute(1, 2, 0)
    weight = F.grid_sample(alpha.float()[None, None], grid, mode="bilinear", padding_mode="zeros",
                           align_corners=False)[0, 0]
    touched = weight > 0
    if not bool(touched.any()):
        return Patched(out, (y0, x0), touched.numpy())
    window = torch.from_numpy(frame[y0:y1, x0:x1]).float()
    seam = (weight > 0) & (weight < 0.5)
    if bool(seam.any()):
        colours = colours + (window[seam] - colours[seam]).mean(0)
    blended = window + weight[..., None] * (colours - window)
    patch = out[y0:y1, x0:x1]
    patch[touched.numpy()] = blended[touched].round().clamp(0, 255).to(torch.uint8).numpy()
    return Patched(out, (y0, x0), touched.numpy())
