"""An avatar's 3D face as JSON, for viewers that apply coefficients themselves (the browser's 3D view).

The face is the renderer's own (:class:`talkinghead.contracts.face_model.FaceModel`):
vertices in the model frame (IOD units, +y up, +z toward the camera), the
52 ARKit displacement fields in ``Coefficients`` order, and the triangles.
A viewer draws ``neutral + sum_i w_i * blendshapes[i]`` and applies the pose
``R = Rz(roll) Ry(yaw) Rx(pitch)``, ``v' = R v + t``. Arrays are little-endian
base64 so a page can wrap them in typed arrays without parsing numbers.
"""

from __future__ import annotations

import base64

import numpy as np

from talkinghead.contracts.arkit import ARKIT_NAMES, POSE_NAMES


def face_mesh(face) -> dict:
    """``face``: a ``FaceModel``. Returns a JSON-ready dict (see the module docstring)."""
    neutral = face.neutral.detach().cpu().numpy()
    return {
        "vertices": len(neutral),
        "neutral": _b64(neutral.astype("<f4")),
        "blendshapes": _b64(face.basis.detach().cpu().numpy().astype("<f4")),
        "triangles": _b64(face.triangles.cpu().numpy().astype("<u4")),
        "names": list(ARKIT_NAMES),
        "pose_names": list(POSE_NAMES),
        "dtype": {"neutral": "float32", "blendshapes": "float32", "triangles": "uint32"},
    }


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")
