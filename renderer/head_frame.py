"""The head's own 2-D frame in a picture: where drawn mouth parts are placed so they move with the head.

Origin between the eye centres, x along the eye line, y down the face,
unit the inter-ocular distance (IOD, about 63 mm: 0.016 IOD is about a
millimetre). A similarity of the picture, so it follows the head's
position, roll and scale (not its yaw or pitch: small motions only).
"""

from __future__ import annotations

import numpy as np
import torch

from talkinghead.contracts.face_model import eye_centres


def head_frame(points: np.ndarray | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Origin (B,2), unit x axis (B,2) and IOD in pixels (B,) of screen vertices (B,478,2+)."""
    points = torch.as_tensor(points, dtype=torch.float32)[..., :2]
    eyes = eye_centres(points)
    across = eyes[:, 1] - eyes[:, 0]
    iod = torch.linalg.vector_norm(across, dim=-1).clamp(min=1e-6)
    return eyes.mean(1), across / iod[:, None], iod


def _axes(origin: torch.Tensor, x_axis: torch.Tensor, iod: torch.Tensor, ndim: int):
    shape = (len(origin),) + (1,) * (ndim - 2) + (2,)
    x_axis = x_axis.view(shape)
    return origin.view(shape), x_axis, torch.stack([-x_axis[..., 1], x_axis[..., 0]], -1), iod.view(shape[:-1])


def to_head(points: torch.Tensor, origin: torch.Tensor, x_axis: torch.Tensor, iod: torch.Tensor) -> torch.Tensor:
    """Pixels (B,...,2) -> head-frame coordinates (B,...,2) in IOD."""
    origin, x_axis, y_axis, iod = _axes(origin, x_axis, iod, points.ndim)
    relative = points - origin
    return torch.stack([(relative * x_axis).sum(-1), (relative * y_axis).sum(-1)], -1) / iod


def from_head(head: torch.Tensor, origin: torch.Tensor, x_axis: torch.Tensor, iod: torch.Tensor) -> torch.Tensor:
    """Head-frame coordinates (B,...,2) -> pixels (B,...,2): the inverse of :func:`to_head`."""
    origin, x_axis, y_axis, iod = _axes(origin, x_axis, iod, head.ndim)
    return origin + iod[..., None] * (head[..., :1] * x_axis + head[..., 1:] * y_axis)
