"""The project's 3D face: neutral + ARKit-52 displacements, then a rigid pose.

Model frame (the project's contract)
------------------------------------
Right-handed: +x to image right, which is the subject's LEFT; +y up; +z toward
the camera (the face looks toward +z). From MediaPipe's normalised landmarks
(x right, y down, z depth with smaller = closer, on the x scale) of a W x H
image: ``X = x*W, Y = -y*H, Z = -z*W`` (:func:`mediapipe_to_model`), then a
similarity normalisation (:func:`normalise`):

- unit: the inter-ocular distance (IOD), the distance between the two eye
  centres; an eye centre is the mean of that eye's two corner landmarks
  (subject right eye 33 and 133, subject left eye 362 and 263);
- origin: the midpoint of the two eye centres.

Pose (the same six numbers as ``Coefficients.pose``: pitch, yaw, roll in
radians, tx, ty, tz in IOD): ``R = Rz(roll) @ Ry(yaw) @ Rx(pitch)`` and a
camera-frame vertex is ``R @ v + t``. Positive yaw turns the nose toward +x,
positive pitch tips it down, positive roll turns +x toward +y.

Camera: a pinhole at the origin looking down -z (visible points have Z < 0,
so a face in front of the camera has ``tz < 0``); :func:`project` maps to pixels
with y down: ``u = cx + f*X/(-Z)``, ``v = cy - f*Y/(-Z)``.

Expression: ``v = neutral + sum_i w_i * basis_i`` with the 52 displacement
fields of :mod:`talkinghead.contracts.blendshapes` (ARKit order, linear).
"""

from __future__ import annotations

import numpy as np
import torch

from talkinghead.contracts import topology
from talkinghead.contracts.arkit import NUM_BLENDSHAPES

POSE_SIZE = 6


def mediapipe_to_model(landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    """MediaPipe normalised landmarks (..., 478, 3) -> right-handed pixels (not yet normalised)."""
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    landmarks = np.asarray(landmarks, dtype=np.float64)
    if landmarks.shape[-1] != 3:
        raise ValueError(f"landmarks must end in 3 coordinates, got shape {landmarks.shape}")
    return landmarks * np.array([width, -height, -width], dtype=np.float64)


def eye_centres(vertices):
    """Eye centres (..., 2, 3): row 0 the subject's right eye, row 1 the subject's left.

    Works on numpy arrays and torch tensors alike (means of corner landmarks).
    """
    right = vertices[..., list(topology.RIGHT_EYE_CORNERS), :].mean(-2)
    left = vertices[..., list(topology.LEFT_EYE_CORNERS), :].mean(-2)
    stack = torch.stack if isinstance(vertices, torch.Tensor) else np.stack
    return stack([right, left], -2)


def interocular(vertices):
    """Inter-ocular distance (...,): the project's unit of length."""
    centres = eye_centres(vertices)
    diff = centres[..., 1, :] - centres[..., 0, :]
    if isinstance(diff, torch.Tensor):
        return torch.linalg.vector_norm(diff, dim=-1)
    return np.linalg.norm(diff, axis=-1)


def lip_gap(vertices: np.ndarray) -> np.ndarray:
    """Distance (...,) between the inner-lip midpoints: the mouth's opening."""
    upper = vertices[..., topology.UPPER_LIP_INNER_MID, :]
    return np.linalg.norm(upper - vertices[..., topology.LOWER_LIP_INNER_MID, :], axis=-1)


def signed_lip_gap(vertices: np.ndarray) -> np.ndarray:
    """Upper minus lower inner-lip midpoint height (...,) in the model frame (+y up).

    Signed because a model's lips can cross; also a displacement field's effect
    on the gap when given blendshape displacements.
    """
    return vertices[..., topology.UPPER_LIP_INNER_MID, 1] - vertices[..., topology.LOWER_LIP_INNER_MID, 1]


def mouth_width(vertices: np.ndarray) -> np.ndarray:
    """Distance (...,) between the outer mouth corners."""
    right, left = topology.MOUTH_CORNERS
    return np.linalg.norm(vertices[..., right, :] - vertices[..., left, :], axis=-1)


def normalise(vertices: np.ndarray) -> np.ndarray:
    """Translate and scale (no rotation) so the eye midpoint is the origin and IOD = 1."""
    vertices = np.asarray(vertices, dtype=np.float64)
    iod = interocular(vertices)
    if np.any(iod <= 1e-12):
        raise ValueError("degenerate face: the two eye centres coincide")
    origin = eye_centres(vertices).mean(-2)
    return (vertices - origin[..., None, :]) / iod[..., None, None]


def _rotation_stack(lib, pitch, yaw, roll):
    cp, sp = lib.cos(pitch), lib.sin(pitch)
    cy, sy = lib.cos(yaw), lib.sin(yaw)
    cr, sr = lib.cos(roll), lib.sin(roll)
    # Rz(roll) @ Ry(yaw) @ Rx(pitch), written out.
    rows = (
        (cr * cy, cr * sy * sp - sr * cp, cr * sy * cp + sr * sp),
        (sr * cy, sr * sy * sp + cr * cp, sr * sy * cp - cr * sp),
        (-sy, cy * sp, cy * cp),
    )
    return lib.stack([lib.stack(row, -1) for row in rows], -2)


def rotation_matrix(pitch: torch.Tensor, yaw: torch.Tensor, roll: torch.Tensor) -> torch.Tensor:
    """``Rz(roll) @ Ry(yaw) @ Rx(pitch)`` for batched angles (...,) -> (..., 3, 3); differentiable."""
    pitch, yaw, roll = torch.broadcast_tensors(
        torch.as_tensor(pitch), torch.as_tensor(yaw), torch.as_tensor(roll)
    )
    return _rotation_stack(torch, pitch, yaw, roll)


def rotation_matrix_np(pitch, yaw, roll) -> np.ndarray:
    """Numpy twin of :func:`rotation_matrix` (float64)."""
    pitch, yaw, roll = np.broadcast_arrays(
        np.asarray(pitch, np.float64), np.asarray(yaw, np.float64), np.asarray(roll, np.float64)
    )
    return _rotation_stack(np, pitch, yaw, roll)


def euler_from_matrix(rotation):
    """Inverse of :func:`rotation_matrix`: (..., 3, 3) -> (pitch, yaw, roll), each (...,).

    Numpy in, numpy out; torch in, torch out. Yaw is in [-pi/2, pi/2]; at
    gimbal lock (|yaw| = pi/2) roll is set to 0 and pitch absorbs the rest.
    """
    lib = torch if isinstance(rotation, torch.Tensor) else np
    if rotation.shape[-2:] != (3, 3):
        raise ValueError(f"rotation must end in (3, 3), got shape {tuple(rotation.shape)}")
    r = rotation
    cos_yaw = lib.sqrt(r[..., 0, 0] ** 2 + r[..., 1, 0] ** 2)
    yaw = lib.arctan2(-r[..., 2, 0], cos_yaw)
    locked = cos_yaw < 1e-9
    pitch = lib.where(
        locked, lib.arctan2(-r[..., 1, 2], r[..., 1, 1]), lib.arctan2(r[..., 2, 1], r[..., 2, 2])
    )
    roll = lib.where(locked, lib.zeros_like(yaw), lib.arctan2(r[..., 1, 0], r[..., 0, 0]))
    return pitch, yaw, roll


def apply_pose(vertices: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
    """Model-frame vertices (B,N,3) and pose (B,6) -> camera-frame vertices ``R v + t``."""
    rotation = rotation_matrix(pose[:, 0], pose[:, 1], pose[:, 2])
    return torch.einsum("bij,bnj->bni", rotation, vertices) + pose[:, None, 3:6]


def project(vertices: torch.Tensor, focal: float, centre: tuple[float, float]) -> torch.Tensor:
    """Pinhole camera looking down -z: camera-frame (..., 3) -> pixels (..., 2), y down.

    ``u = cx + f*X/(-Z)``, ``v = cy - f*Y/(-Z)``. Points must be in front of
    the camera (Z < 0), else ``ValueError``.
    """
    depth = -vertices[..., 2]
    if bool((depth <= 0).any()):
        raise ValueError(
            "cannot project points at or behind the camera (need Z < 0; is tz negative?)"
        )
    u = centre[0] + focal * vertices[..., 0] / depth
    v = centre[1] - focal * vertices[..., 1] / depth
    return torch.stack([u, v], -1)


class FaceModel(torch.nn.Module):
    """Linear blendshape face with a rigid pose; batched, differentiable, any device.

    ``FaceModel(neutral)`` authors the 52 displacement fields for that identity
    (``None``: the package's default neutral). The neutral must be oriented
    like the model frame (frontal, +y up); it is translated and scaled to the
    model frame's origin and unit (IOD), so pose translations are in IOD.
    Buffers: ``neutral`` (478,3), ``basis`` (52,478,3), ``triangles`` (852,3) int64.
    Move it with ``.to(device)``; outputs are float32.
    """

    neutral: torch.Tensor
    basis: torch.Tensor
    triangles: torch.Tensor

    def __init__(self, neutral: np.ndarray | torch.Tensor | None = None):
        # Imported here: blendshapes builds on this module's frame helpers.
        from talkinghead.contracts.blendshapes import author_blendshapes

        super().__init__()
        topo = topology.load_topology()
        if neutral is None:
            neutral_np = np.asarray(topo.neutral, dtype=np.float64)
        elif isinstance(neutral, torch.Tensor):
            neutral_np = neutral.detach().cpu().double().numpy()
        else:
            neutral_np = np.asarray(neutral, dtype=np.float64)
        if neutral_np.shape != (topology.NUM_VERTICES, 3) or not np.isfinite(neutral_np).all():
            raise ValueError(
                f"neutral must be a finite ({topology.NUM_VERTICES}, 3) array, got shape {neutral_np.shape}"
            )
        neutral_np = normalise(neutral_np)  # pose translations are in IOD: the model works in IOD
        basis = author_blendshapes(neutral_np)
        self.register_buffer("neutral", torch.as_tensor(neutral_np, dtype=torch.float32))
        self.register_buffer("basis", torch.as_tensor(basis, dtype=torch.float32))
        self.register_buffer("triangles", torch.tensor(topo.triangles, dtype=torch.int64))

    def basis_numpy(self) -> np.ndarray:
        """The basis as a float64 (52, 478*3) matrix for linear solvers (row k = shape k)."""
        return self.basis.detach().cpu().double().numpy().reshape(NUM_BLENDSHAPES, -1)

    def expression(self, blendshapes: torch.Tensor) -> torch.Tensor:
        """Weights (B,52) -> model-frame vertices (B,478,3), no pose."""
        weights = torch.as_tensor(blendshapes, dtype=self.basis.dtype, device=self.basis.device)
        if weights.ndim != 2 or weights.shape[1] != NUM_BLENDSHAPES:
            raise ValueError(f"blendshapes must be (B, 52), got {tuple(weights.shape)}")
        return self.neutral + torch.einsum("bk,knc->bnc", weights, self.basis)

    def forward(self, blendshapes: torch.Tensor, pose: torch.Tensor | None = None) -> torch.Tensor:
        """Weights (B,52) and pose (B,6) or None (identity) -> camera-frame vertices (B,478,3)."""
        vertices = self.expression(blendshapes)
        if pose is None:
            return vertices
        pose = torch.as_tensor(pose, dtype=vertices.dtype, device=vertices.device)
        if pose.shape != (vertices.shape[0], POSE_SIZE):
            raise ValueError(
                f"pose must be (B, 6) with B = {vertices.shape[0]}, got {tuple(pose.shape)}"
            )
        return apply_pose(vertices, pose)
