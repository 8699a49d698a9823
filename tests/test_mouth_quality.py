"""The mouth-quality measures on a real talking clip and on copies of it altered in known ways."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from talkinghead.contracts import topology
from talkinghead.evaluation import mouth_quality as mq
from talkinghead.renderer.crops import cut_crops

FRAMES = 12


@pytest.fixture(scope="module")
def clip(data_root):
    """The first frames of a real talking clip (256 px) and their face-mesh landmarks."""
    pytest.importorskip("mediapipe")
    from talkinghead.renderer.video import iter_frames

    frames = np.stack(list(itertools.islice(iter_frames(data_root / "talking/andrew_clip_1/video.mp4"), FRAMES)))
    landmarks, found = mq.retrack(frames)
    assert found.all()
    return frames, landmarks


def _uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def _blur(frames: np.ndarray, sigma: float) -> np.ndarray:
    return np.stack([gaussian_filter(f.astype(np.float64), (sigma, sigma, 0)) for f in frames])


def test_identical_videos_score_as_the_real_one(clip):
    frames, landmarks = clip
    q = mq.compare(frames, landmarks, frames, landmarks)
    for table in (q.sharpness, q.flicker_mean, q.flicker_p99):
        assert np.isfinite(table[:, [0, 2]]).all()  # lips and skin exist at every level
        np.testing.assert_allclose(table[np.isfinite(table)], 1.0)
    assert q.sharpness_overall == pytest.approx(1.0) and q.flicker_overall_mean == pytest.approx(1.0)
    assert q.rim_difference == 0.0 and np.isfinite(q.rim_real).all()
    assert np.isinf(q.psnr).all() and np.isinf(q.psnr_blurred).all()
    np.testing.assert_allclose(q.ssim, 1.0, atol=1e-6)
    assert 0 < q.pairs < FRAMES - 1  # the clip repeats frames: some pairs are left out
    assert q.box_side % 2 == 0
    table = mq.markdown_table({"real": q, "again": q})
    assert "| measure | real | again |" in table and "sharpness b0 lips" in table and "rim max |diff|" in table


def test_blurring_lowers_and_sharpening_raises_the_fine_band(clip):
    frames, landmarks = clip
    blurred = mq.compare(_uint8(_blur(frames, 1.5)), landmarks, frames, landmarks)
    assert blurred.sharpness[0, 0] < 0.4 and blurred.sharpness[0, 2] < 0.4  # lips, skin
    assert blurred.sharpness[0, 2] < blurred.sharpness[2, 2]  # the finest band loses the most
    assert blurred.sharpness_overall < 0.8
    sharpened = mq.compare(_uint8(2.0 * frames - _blur(frames, 1.0)), landmarks, frames, landmarks)
    assert sharpened.sharpness[0, 0] > 1.5 and sharpened.sharpness[0, 2] > 1.5
    assert sharpened.sharpness_overall > 1.2


def test_the_warp_removes_motion_the_landmarks_explain(clip):
    """A copy jumping a few px every frame, landmarks shifted alike, flickers as the real clip does."""
    frames, landmarks = clip
    shifts = np.random.default_rng(1).integers(-4, 5, (FRAMES, 2))
    moved = np.stack([np.roll(f, (int(dy), int(dx)), (0, 1)) for f, (dx, dy) in zip(frames, shifts)])
    moved_landmarks = landmarks.copy()
    moved_landmarks[..., :2] += shifts[:, None]
    q = mq.compare(moved, moved_landmarks, frames, landmarks)
    np.testing.assert_allclose(q.flicker_mean[:, [0, 2]], 1.0, atol=0.05)
    assert q.flicker_overall_mean == pytest.approx(1.0, abs=0.05)
    np.testing.assert_allclose(q.sharpness[:, [0, 2]], 1.0, atol=0.02)

    # without the warp the jumps would dominate: frame t-1 read in frame t's box
    side = mq.box_side(landmarks)
    boxes = mq.MouthBoxes.fit(moved_landmarks, side)
    masks = mq.region_masks(boxes.to_box(moved_landmarks), side)
    pairs = np.ones(FRAMES - 1, bool)
    _, warped = mq.flicker_energies(moved, moved_landmarks, boxes, masks, pairs)
    unwarped = mq.gray(cut_crops(moved[1:], boxes.transforms[1:], side)) \
        - mq.gray(cut_crops(moved[:-1], boxes.transforms[1:], side))
    _, still = mq.band_energy(unwarped, masks[1:])
    assert still.mean() > 10 * warped.mean()


def test_noise_raises_flicker_and_blurred_psnr_ignores_it(clip):
    frames, landmarks = clip
    rng = np.random.default_rng(2)
    noisy = _uint8(frames + rng.normal(0, 6, frames.shape))
    q = mq.compare(noisy, landmarks, frames, landmarks)
    assert q.flicker_mean[0, 2] > 2 and q.flicker_mean[0, 0] > 1.5 and q.flicker_overall_mean > 1.5
    assert q.flicker_p99[0, 2] > 1.5
    assert np.isfinite(q.psnr).all() and 25 < q.psnr.mean() < 45
    assert (q.psnr_blurred >= q.psnr + 5).all()
    assert (q.ssim < 0.99).all()


def test_repeated_real_frames_are_skipped(clip):
    frames, landmarks = clip
    frames = frames.copy()
    frames[6] = frames[5]
    boxes = mq.MouthBoxes.fit(landmarks, mq.box_side(landmarks))
    repeated = mq.repeated_pairs(frames, boxes)
    assert repeated[5]
    moving = np.abs(mq.gray(frames[1:]) - mq.gray(frames[:-1])).mean((1, 2)) > 1.0
    assert moving.any() and not repeated[moving].any()


def test_rim_profile_reads_grey_levels_across_the_inner_lips(clip):
    frames, landmarks = clip
    brighter = mq.compare(_uint8(frames.astype(np.int16) + 10), landmarks, frames, landmarks)
    assert brighter.rim_difference == pytest.approx(10.0, abs=0.5)
    closed = mq.rim_profile(frames, landmarks, min_gap=1e6)  # no frame open that wide
    assert np.isnan(closed).all()


def test_seam_profile_finds_a_pasted_offset(clip):
    frames, landmarks = clip
    height, width = frames.shape[1:3]
    ys, xs = np.mgrid[:height, :width] + 0.5
    centre = landmarks[:, list(topology.LIPS_OUTER), :2].mean(1)
    masks = ((xs - centre[:, 0, None, None]) / 40) ** 2 + ((ys - centre[:, 1, None, None]) / 28) ** 2 <= 1
    untouched = mq.seam_profile(frames, frames, masks)
    np.testing.assert_allclose(untouched, 0.0, atol=1e-9)
    pasted = frames.astype(np.int16)
    pasted[masks] += 20
    profile = mq.seam_profile(_uint8(pasted), frames, masks)
    inside, outside = profile[mq.OFFSETS <= 0], profile[mq.OFFSETS >= 2]
    assert (inside > 15).all() and (np.abs(outside) < 2).all()
    q = mq.compare(_uint8(pasted), landmarks, frames, landmarks, base=frames, masks=masks)
    assert q.seam_max > 15


def test_boxes_keep_native_pixels(clip):
    """Twice the resolution gives twice the box: nothing is resampled to a fixed size."""
    frames, landmarks = clip
    picks = [0, 6]
    large = frames[picks].repeat(2, 1).repeat(2, 2)
    large_landmarks, found = mq.retrack(large)
    assert found.all()
    side, large_side = mq.box_side(landmarks[picks]), mq.box_side(large_landmarks)
    assert abs(large_side - 2 * side) <= 4
    boxes = mq.MouthBoxes.fit(large_landmarks, large_side)
    np.testing.assert_allclose(np.linalg.det(boxes.transforms[:, :, :2]), 1.0)
    small_lips = mq.region_masks(mq.MouthBoxes.fit(landmarks[picks], side).to_box(landmarks[picks]), side)[:, 0]
    large_lips = mq.region_masks(boxes.to_box(large_landmarks), large_side)[:, 0]
    assert large_lips.sum() / small_lips.sum() == pytest.approx(4.0, rel=0.2)


def test_retrack_fills_frames_without_a_face(clip):
    frames, _ = clip
    landmarks, found = mq.retrack(np.stack([frames[0], np.zeros_like(frames[0]), frames[2]]))
    assert found.tolist() == [True, False, True]
    np.testing.assert_allclose(landmarks[1], (landmarks[0] + landmarks[2]) / 2, atol=1e-3)


def test_regions_split_the_box(clip):
    _, landmarks = clip
    side = mq.box_side(landmarks)
    boxes = mq.MouthBoxes.fit(landmarks, side)
    masks = mq.region_masks(boxes.to_box(landmarks), side)
    lips, interior, skin = masks[:, 0], masks[:, 1], masks[:, 2]
    assert not (lips & interior).any() and not (lips & skin).any() and not (interior & skin).any()
    assert lips.any((1, 2)).all() and skin.any((1, 2)).all()
    gap = np.linalg.norm(landmarks[:, topology.UPPER_LIP_INNER_MID, :2]
                         - landmarks[:, topology.LOWER_LIP_INNER_MID, :2], axis=-1)
    assert interior[gap > 5].any((1, 2)).all() and not interior[gap < 0.2].any()
    ring = ~(lips | interior | skin)  # the grown margin: about 3% of the side around the lips
    width = ring.sum((1, 2)) / (lips | interior).sum((1, 2))
    assert (width > 0.1).all() and (width < 1.0).all()


def test_band_energy_separates_scales():
    side = 64
    ys, xs = np.mgrid[:side, :side]
    checker = ((xs + ys) % 2) * 100.0
    coarse = np.sin(2 * np.pi * xs / 16) * 50.0
    images = np.stack([checker, coarse, np.full((side, side), 80.0)])
    masks = np.zeros((3, 3, side, side), bool)
    masks[:, 0] = True
    masks[:, 1, 20:40, 20:40] = True  # region 2 stays empty
    energy, overall = mq.band_energy(images, masks)
    assert energy[0, 0, 0] > 100 * energy[0, 2, 0]  # a 2-px pattern lives in band 0
    assert energy[1, 2, 0] > 10 * energy[1, 0, 0]  # a 16-px one in band 2
    np.testing.assert_allclose(energy[2, :, :2], 0.0, atol=1e-8)
    assert np.isnan(energy[:, :, 2]).all()
    assert overall[0] > overall[2] and overall[2] == pytest.approx(0.0, abs=1e-8)


def test_contact_sheet_layout(tmp_path):
    from talkinghead.renderer.video import read_image, write_image

    rng = np.random.default_rng(3)
    boxes = {"a": rng.integers(0, 200, (10, 8, 8, 3), dtype=np.uint8),
             "b": rng.integers(0, 200, (10, 8, 8, 3), dtype=np.uint8)}
    sheet = mq.contact_sheet(boxes, picks=[0, 9], run_start=3, run_length=3, zoom=2, separator=2)
    tile = 16
    assert sheet.shape == (2 * tile + 2, 5 * tile + 3 * 2 + 6, 3)
    np.testing.assert_array_equal(sheet[:tile, :tile], boxes["a"][0].repeat(2, 0).repeat(2, 1))
    np.testing.assert_array_equal(sheet[tile + 2:, tile + 2:2 * tile + 2], boxes["b"][9].repeat(2, 0).repeat(2, 1))
    run = 2 * tile + 2 + 6  # the run starts after a wider gap
    np.testing.assert_array_equal(sheet[:tile, run:run + tile], boxes["a"][3].repeat(2, 0).repeat(2, 1))
    assert (sheet[tile:tile + 2] == 255).all()
    write_image(tmp_path / "sheet.png", sheet)
    np.testing.assert_array_equal(read_image(tmp_path / "sheet.png"), sheet)
    with pytest.raises(ValueError):
        mq.contact_sheet({"a": boxes["a"], "c": boxes["a"][:, :4]}, [0], 0, 1)
