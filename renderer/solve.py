"""Fitting the face model to landmarks: rigid alignment, the identity's neutral,
and a bounded per-frame blendshape solve.

Landmarks are converted to a right-handed frame (x right, y up, z toward the
camera) and explained by a similarity transform of the expressed model,
``points ≈ s · R · (neutral + Σ w_i D_i) + t`` (weak perspective: MediaPipe's
depth is on the image's x scale). The solve happens in the model frame after
undoing the similarity, where the normal equations are the same for every
frame, so thousands of frames are solved at once.

Monocular landmarks cannot tell every ARKit shape apart (funnel vs pucker only
weakly, close vs press vs roll not at all, cheekPuff and tongueOut never), so
only :data:`SOLVED_SHAPES` are solved, with a ridge prior towards zero; the
rest stay 0. Two shapes stand in for groups the landmarks cannot separate:
``mouthClose`` for close, press and roll (lips sealing tighter than at rest,
which bilabials need), and ``mouthPucker`` for pucker and funnel (lips
narrowing and pushed forward). With funnel solved too, it took the corner
narrowing that comes with opening the jaw on spread vowels, so rounding read
from the solved weights got worse, not better.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talkinghead.contracts.arkit import ARKIT_INDEX

SOLVED_SHAPES: tuple[str, ...] = (
    "jawOpen",
    "jawLeft",
    "jawRight",
    "mouthClose",
    "mouthPucker",
    "mouthSmileLeft",
    "mouthSmileRight",
    "mouthStretchLeft",
    "mouthStretchRight",
    "mouthLowerDownLeft",
    "mouthLowerDownRight",
    "mouthUpperUpLeft",
    "mouthUpperUpRight",
    "eyeBlinkLeft",
    "eyeBlinkRight",
    "eyeWideLeft",
    "eyeWideRight",
    "browDownLeft",
    "browDownRight",
    "browInnerUp",
    "browOuterUpLeft",
    "browOuterUpRight",
)
SOLVED_INDEX = np.array([ARKIT_INDEX[name] for name in SOLVED_SHAPES])


@dataclass(frozen=True)
class SolveConfig:
    ridge: float = 0.005  # prior towards 0, relative to the mean diagonal of the normal matrix
    lip_weight: float = 2.0  # outer lips carry the speech signal; fit them tighter than the rest
    inner_lip_weight: float = 8.0  # the inner lips bound the opening itself; fit them tightest
    depth_weight: float = 0.3  # MediaPipe's regressed depth is less reliable than x, y
    sweeps: int = 60  # coordinate-descent sweeps of the bounded least squares
    iterations: int = 3  # alternations of rigid alignment and expression solve


def image_to_right_handed(landmarks: np.ndarray) -> np.ndarray:
    """Pixels (x right, y down, z away) -> (x right, y up, z toward the camera)."""
    return landmarks * np.array([1.0, -1.0, -1.0], dtype=landmarks.dtype)


def similarity(source: np.ndarray, target: np.ndarray, weights: np.ndarray | None = None):
    """Least-squares ``target ≈ s R source + t`` for batches of point sets (Umeyama).

    ``source`` (N,3) or (B,N,3), ``target`` (B,N,3), ``weights`` (N,) or (B,N).
    Returns ``s (B,)``, ``R (B,3,3)`` (proper rotations), ``t (B,3)``.
    """
    target = np.asarray(target, np.float64)
    source = np.broadcast_to(np.asarray(source, np.float64), target.shape)
    w = np.ones(target.shape[:2]) if weights is None else np.broadcast_to(weights, target.shape[:2])
    w = w / w.sum(-1, keepdims=True)
    mu_s = np.einsum("bn,bnk->bk", w, source)
    mu_t = np.einsum("bn,bnk->bk", w, target)
    xs, xt = source - mu_s[:, None], target - mu_t[:, None]
    cov = np.einsum("bn,bni,bnj->bij", w, xt, xs)
    u, sigma, vt = np.linalg.svd(cov)
    sign = np.ones_like(sigma)
    sign[:, 2] = np.sign(np.linalg.det(u @ vt))
    rotation = u @ (sign[:, :, None] * vt)
    variance = np.einsum("bn,bnk,bnk->b", w, xs, xs)
    scale = (sigma * sign).sum(-1) / variance
    translation = mu_t - scale[:, None] * np.einsum("bij,bj->bi", rotation, mu_s)
    return scale, rotation, translation


def robust_similarity(source: np.ndarray, target: np.ndarray, indices: np.ndarray, rounds: int = 3):
    """Similarity on ``indices`` with Huber-style reweighting against outlier landmarks."""
    src = source[..., indices, :]
    tgt = target[:, indices]
    weights = np.ones(tgt.shape[:2])
    for _ in range(rounds):
        scale, rotation, translation = similarity(src, tgt, weights)
        fitted = scale[:, None, None] * np.einsum("bij,bnj->bni", rotation, np.broadcast_to(src, tgt.shape)) + translation[:, None]
        residual = np.linalg.norm(fitted - tgt, axis=-1)
        cutoff = 1.5 * np.median(residual, axis=1, keepdims=True) + 1e-9
        weights = np.minimum(1.0, cutoff / np.maximum(residual, 1e-12))
    return scale, rotation, translation


def to_model_frame(points: np.ndarray, scale, rotation, translation) -> np.ndarray:
    """Undo ``points = s R v + t`` for each frame."""
    return np.einsum("bji,bnj->bni", rotation, points - translation[:, None]) / scale[:, None, None]


def from_model_frame(vertices: np.ndarray, scale, rotation, translation) -> np.ndarray:
    return scale[:, None, None] * np.einsum("bij,bnj->bni", rotation, vertices) + translation[:, None]


def solve_box_qp(gram: np.ndarray, rhs: np.ndarray, sweeps: int) -> np.ndarray:
    """Minimise ``½ wᵀ G w − hᵀ w`` subject to ``0 ≤ w ≤ 1`` for every row of ``rhs``.

    Projected coordinate descent: exact for this convex problem as sweeps
    grow, and vectorised over frames (``rhs`` is (T, K)).
    """
    weights = np.zeros_like(rhs)
    diagonal = np.diag(gram)
    for _ in range(sweeps):
        for i in range(gram.shape[0]):
            residual = rhs[:, i] - weights @ gram[i] + weights[:, i] * diagonal[i]
            weights[:, i] = np.clip(residual / diagonal[i], 0.0, 1.0)
    return weights


class ExpressionSolver:
    """Bounded ridge least squares for :data:`SOLVED_SHAPES` in the model frame."""

    def __init__(self, neutral: np.ndarray, basis: np.ndarray, vertex_weights: np.ndarray, config: SolveConfig):
        self.neutral = np.asarray(neutral, np.float64)
        self.config = config
        axis = np.array([1.0, 1.0, config.depth_weight])
        self._sqrt_w = np.sqrt(vertex_weights[:, None] * axis).reshape(-1)
        self._design = np.asarray(basis, np.float64)[SOLVED_INDEX].reshape(len(SOLVED_INDEX), -1).T * self._sqrt_w[:, None]
        gram = self._design.T @ self._design
        self._gram = gram + config.ridge * np.trace(gram) / len(gram) * np.eye(len(gram))

    def solve(self, aligned: np.ndarray) -> np.ndarray:
        """Aligned landmarks (T,478,3) in the model frame -> full (T,52) weights."""
        target = (aligned - self.neutral).reshape(len(aligned), -1) * self._sqrt_w
        solved = solve_box_qp(self._gram, target @ self._design, self.config.sweeps)
        weights = np.zeros((len(aligned), 52))
        weights[:, SOLVED_INDEX] = solved
        return weights
