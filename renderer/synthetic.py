"""Synthetic landmark sequences with known weights and pose, for proving the solve.

Weights -> the face model's mesh -> the weak-perspective pixels MediaPipe
would report (x, y and its depth on the x scale) plus Gaussian noise. The
tracker's fit must give the weights back: see ``tests/test_tracking.py`` and
``benchmarks/track_bench.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talkinghead.contracts.arkit import ARKIT_INDEX
from talkinghead.contracts.blendshapes import author_blendshapes, express
from talkinghead.renderer.solve import SOLVED_INDEX, from_model_frame
from talkinghead.renderer.tracking import Camera, pose_to_similarity

EXCLUSIVE_PAIRS = (("jawLeft", "jawRight"),)


@dataclass(frozen=True)
class SyntheticSequence:
    landmarks: np.ndarray  # (T,478,3) pixels, as the detector reports them
    blendshapes: np.ndarray  # (T,52) ground truth
    pose: np.ndarray  # (T,6) ground truth
    camera: Camera


def _smooth_curve(rng: np.random.Generator, frames: int, active: float) -> np.ndarray:
    """Bumps in [0, 1] that are zero about ``1 - active`` of the time."""
    raw = np.convolve(rng.standard_normal(frames + 40), np.hanning(15), mode="same")[20:-20]
    raw /= np.abs(raw).max() + 1e-9
    threshold = np.quantile(raw, 1 - active)
    return np.clip((raw - threshold) / (1 - threshold + 1e-9), 0, 1)


def random_weights(rng: np.random.Generator, frames: int, active: float = 0.35) -> np.ndarray:
    """Smooth, sparse weights on the solved shapes; the first 15% of frames are neutral."""
    weights = np.zeros((frames, 52))
    for index in SOLVED_INDEX:
        weights[:, index] = _smooth_curve(rng, frames, active)
    for left, right in EXCLUSIVE_PAIRS:
        a, b = ARKIT_INDEX[left], ARKIT_INDEX[right]
        keep_a = weights[:, a] >= weights[:, b]
        weights[keep_a, b] = 0
        weights[~keep_a, a] = 0
    weights[: max(1, int(0.15 * frames))] = 0
    return weights


def random_pose(rng: np.random.Generator, frames: int, camera: Camera, face_px: float) -> np.ndarray:
    """Small smooth head motion around a frontal face of ``face_px`` pixels per IOD."""
    angles = np.stack([_smooth_curve(rng, frames, 1.0) - 0.5 for _ in range(3)], 1) * np.radians([20, 30, 16])
    tz = -camera.focal / face_px
    shift = np.stack([_smooth_curve(rng, frames, 1.0) - 0.5 for _ in range(2)], 1) * 0.6
    return np.concatenate([angles, shift, np.full((frames, 1), tz)], 1)


def render_landmarks(
    neutral: np.ndarray,
    weights: np.ndarray,
    pose: np.ndarray,
    camera: Camera,
    rng: np.random.Generator,
    noise_px: float = 0.5,
    depth_noise_px: float = 1.5,
) -> SyntheticSequence:
    basis = author_blendshapes(neutral).astype(np.float64)
    points = from_model_frame(express(neutral, basis, weights), *pose_to_similarity(pose, camera))
    pixels = points * np.array([1.0, -1.0, -1.0])
    pixels += rng.standard_normal(pixels.shape) * np.array([noise_px, noise_px, depth_noise_px])
    return SyntheticSequence(pixels.astype(np.float32), weights.astype(np.float32), pose.astype(np.float32), camera)
