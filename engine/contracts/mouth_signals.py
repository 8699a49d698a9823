"""The two mouth signals the lip-sync yardstick scores, read on one reference face.

Used by the yardstick and its baselines (:mod:`talkinghead.evaluation`),
by enrollment's A/V offset and by audio2motion's training. Part of the frozen
baseline code (:mod:`talkinghead.evaluation.baselines`): a change here
invalidates the reported baseline figures.
"""

from __future__ import annotations

import functools

import numpy as np

from talkinghead.contracts import topology
from talkinghead.contracts.arkit import ARKIT_INDEX, ARKIT_NAMES
from talkinghead.contracts.blendshapes import author_blendshapes, express
from talkinghead.contracts.face_model import interocular, signed_lip_gap


@functools.lru_cache(maxsize=1)
def reference_face() -> tuple[np.ndarray, np.ndarray]:
    """The topology's neutral and its authored blendshapes: the face every mouth signal is read on."""
    neutral = np.asarray(topology.load_topology().neutral, np.float64)
    return neutral, author_blendshapes(neutral).astype(np.float64)


def mouth_signals(weights: np.ndarray) -> dict[str, np.ndarray]:
    """The two mouth signals the lip-sync yardstick scores, from ARKit weights ``(T, 52)``.

    - ``aperture``: signed inner-lip gap of the reference face (the topology's
      neutral with the project's authored blendshapes) in inter-ocular
      distances; signed because a mesh's lips may cross (as in
      ``benchmarks/track_eval.py``'s ``mesh_aperture``).
    - ``rounding``: ``mouthFunnel + mouthPucker``.
    """
    w = np.asarray(weights, np.float64)
    if w.ndim != 2 or w.shape[1] != len(ARKIT_NAMES):
        raise ValueError(f"weights must be (T, {len(ARKIT_NAMES)}), got shape {w.shape}")
    if not np.isfinite(w).all():
        raise ValueError("weights contain NaN or infinite values")
    neutral, basis = reference_face()
    mesh = express(neutral, basis, w)
    gap = signed_lip_gap(mesh)
    rounding = w[:, ARKIT_INDEX["mouthFunnel"]] + w[:, ARKIT_INDEX["mouthPucker"]]
    return {"aperture": gap / interocular(mesh), "rounding": rounding}
