"""Pasting a redrawn region back into its frame: untouched outside the mask, colour-matched at the seam."""

import numpy as np
import torch

from talkinghead.renderer.composite import paste
from talkinghead.renderer.crops import CropView, cut_crops
from talkinghead.renderer.lower_face import Geometry, RegionConfig, blend_masks


def _view(angle: float = 0.3, scale: float = 1.5, origin=(40.0, 30.0)) -> CropView:
    c, s = np.cos(angle) * scale, np.sin(angle) * scale
    return CropView(np.array([[c, -s, origin[0]], [s, c, origin[1]]]), (320, 240))


def _disc(size: int = 64, radius: float = 20.0) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.arange(size) + 0.5, torch.arange(size) + 0.5, indexing="ij")
    return (((xs - size / 2) ** 2 + (ys - size / 2) ** 2) < radius ** 2).float()


def test_pixels_where_the_mask_is_zero_stay_bit_identical():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    region = torch.full((64, 64, 3), 200.0)
    alpha = _disc()
    out = paste(frame, region, alpha, _view()).image
    changed = np.any(out != frame, -1)
    assert changed.sum() > 1000  # the disc, about pi * (20 * 1.5)^2 pixels
    # every changed pixel lies where the disc maps to: its radius plus one region pixel of bilinear spread
    ys, xs = np.nonzero(changed)
    view = _view()
    centre = view.transform[:, :2] @ np.array([32.0, 32.0]) + view.transform[:, 2]
    assert np.max(np.hypot(xs + 0.5 - centre[0], ys + 0.5 - centre[1])) <= (20 + 1) * 1.5 + 0.71


def test_the_seam_takes_the_frame_s_colour():
    frame = np.full((240, 320, 3), 100, np.uint8)
    region = torch.full((64, 64, 3), 130.0)  # a drawing 30 levels too bright everywhere
    alpha = torch.nn.functional.avg_pool2d(_disc()[None, None], 9, stride=1, padding=4)[0, 0]
    out = paste(frame, region, alpha, _view(angle=0.0, scale=1.0)).image
    assert np.abs(out.astype(int) - 100).max() <= 1  # shifted back to the frame's shade: no ring


def test_the_blend_mask_is_zero_on_the_region_border_and_one_over_the_lower_face():
    config = RegionConfig(size=64, dilate=2, feather=3)
    lower = torch.zeros(1, 64, 64, dtype=torch.bool)
    lower[:, 20:44, 16:48] = True
    geometry = Geometry(torch.zeros(1, 64, 64, 3), torch.zeros(1, 64, 64, dtype=torch.bool), lower)
    hard, soft = blend_masks(geometry, geometry, config)
    assert bool(hard[0, 18:46, 14:50].all()) and not bool(hard[0, :17].any())  # grown by 2 pixels
    assert torch.allclose(soft[0, 24:40, 20:44], torch.ones(16, 24))
    assert float(soft[0, 0].abs().max()) == 0 and float(soft[0, :, -1].abs().max()) == 0


def test_a_region_cut_and_pasted_back_keeps_its_detail():
    """The enrollment cut and the paste must not blur: a round trip keeps the Laplacian variance."""
    rng = np.random.default_rng(1)
    texture = torch.from_numpy(rng.normal(128, 40, (1, 3, 240, 320))).float()
    texture = torch.nn.functional.avg_pool2d(texture, 3, stride=1, padding=1, count_include_pad=False)  # skin-like grain
    frame = texture[0].permute(1, 2, 0).round().clamp(0, 255).byte().numpy()
    view = _view(angle=0.2, scale=0.7)  # the crop magnifies the face about 1.4x, as in the talking clips
    region = torch.from_numpy(cut_crops(frame[None], view.transform[None], 64)[0]).float()
    alpha = torch.zeros(64, 64)
    alpha[8:56, 8:56] = 1.0
    out = paste(frame, region, alpha, view).image
    centre = view.transform[:, :2] @ np.array([32.0, 32.0]) + view.transform[:, 2]
    x, y = centre.astype(int)
    laplace = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])[None, None]

    def detail(image: np.ndarray) -> float:
        gray = torch.from_numpy(image[y - 15:y + 15, x - 15:x + 15].astype(np.float32).mean(-1))
        return float(torch.nn.functional.conv2d(gray[None, None], laplace).var())

    assert detail(out) >= 0.85 * detail(frame)
