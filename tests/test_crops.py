"""Stabilised crops: the face lands at a fixed place and size, jitter is smoothed, pixels are cut right."""

import numpy as np
import pytest

from talkinghead.contracts import topology
from talkinghead.renderer.crops import CropConfig, crop_transforms, cut_crops, invert_2x2, to_crop


def moving_face(frames: int, jitter: float, seed: int = 0) -> np.ndarray:
    """The default neutral in image pixels, drifting, turning and zooming slowly, plus landmark jitter."""
    rng = np.random.default_rng(seed)
    neutral = topology.load_topology().neutral[:, :2] * np.array([1.0, -1.0])  # y down
    t = np.arange(frames)[:, None]
    angle = 0.1 * np.sin(t / 40)
    scale = 60 * (1 + 0.1 * np.sin(t[..., None] / 55))
    rotated = np.stack([np.cos(angle) * neutral[..., 0] - np.sin(angle) * neutral[..., 1],
                        np.sin(angle) * neutral[..., 0] + np.cos(angle) * neutral[..., 1]], -1)
    shift = np.stack([320 + 30 * np.sin(t / 30), 240 + 20 * np.cos(t / 45)], -1)
    return scale * rotated + shift + jitter * rng.standard_normal((frames, len(neutral), 2))


def test_the_face_lands_at_the_configured_place_and_size():
    config = CropConfig(size=256, smoothing_sigma=0.0)
    landmarks = moving_face(120, jitter=0.0)
    crop = to_crop(landmarks, crop_transforms(landmarks, config))
    eyes = crop[:, list(topology.RIGHT_EYE_CORNERS + topology.LEFT_EYE_CORNERS)].mean(1)
    mouth = crop[:, list(topology.MOUTH_CORNERS)].mean(1)
    origin = (eyes + mouth) / 2
    assert np.allclose(origin, [128, 128], atol=1e-6)
    assert np.allclose(np.linalg.norm(mouth - eyes, axis=-1), 0.36 * 256, atol=1e-6)
    assert np.allclose(eyes[:, 1], eyes[:, 1].mean(), atol=1e-6)  # no roll left: eye line level


def test_smoothing_removes_landmark_jitter_but_follows_the_head():
    landmarks = moving_face(200, jitter=1.5, seed=1)
    clean = moving_face(200, jitter=0.0)
    raw = to_crop(clean, crop_transforms(landmarks, CropConfig(smoothing_sigma=0.0)))
    smooth = to_crop(clean, crop_transforms(landmarks, CropConfig(smoothing_sigma=2.0)))
    nose = topology.NOSE_TIP

    def shake(points):  # frame-to-frame motion of a fixed face point in the crop
        return np.abs(np.diff(points[:, nose], axis=0)).mean()

    assert shake(smooth) < 0.5 * shake(raw)
    assert np.abs(smooth[:, nose] - smooth[:, nose].mean(0)).max() < 3.0  # the head is followed


def test_cut_crops_samples_the_image_through_the_transform():
    rng = np.random.default_rng(2)
    frames = rng.integers(0, 256, (2, 90, 120, 3), dtype=np.uint8)
    shift = np.array([[[1.0, 0.0, 17.0], [0.0, 1.0, 9.0]]] * 2)  # crop pixel (x, y) -> image (x + 17, y + 9)
    crops = cut_crops(frames, shift, 32)
    assert np.array_equal(crops, frames[:, 9:41, 17:49])


@pytest.mark.parametrize("bad", [{"size": 255}, {"unit_fraction": 1.5}, {"smoothing_sigma": -1}])
def test_bad_configs_are_refused(bad):
    with pytest.raises(ValueError):
        CropConfig(**bad)


def test_invert_2x2_matches_numpy():
    matrices = np.random.default_rng(0).normal(size=(6, 2, 2))
    assert np.allclose(invert_2x2(matrices), np.linalg.inv(matrices))
    assert np.allclose(invert_2x2(matrices[0]) @ matrices[0], np.eye(2))
