"""What a renderer offers the sessions and jobs that drive it: :class:`Coefficients` in, RGB frames out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from talkinghead.contracts.coefficients import Coefficients
from talkinghead.contracts.face_model import FaceModel
from talkinghead.contracts.frame import Frame


@runtime_checkable
class Renderer(Protocol):
    """A per-avatar renderer (:mod:`talkinghead.renderer.avatar` makes them from bundles)."""

    @property
    def size(self) -> tuple[int, int]:
        """``(height, width)`` of its frames."""

    @property
    def face(self) -> FaceModel:
        """The avatar's 3D face (its neutral and blendshapes), e.g. for client-side meshes."""

    @property
    def idle_motion(self) -> bool:
        """Whether the motion layer should add blinks and head motion (False: its base frames carry their own)."""

    @property
    def motion_weights(self) -> dict | None:
        """Its avatar's own audio2motion checkpoint (fine-tuned at enrollment); None: the shipped weights."""

    def draw(self, coefficients: Coefficients) -> np.ndarray:
        """Frames ``coefficients.start_frame ..`` of a sequence, ``(T, H, W, 3)`` uint8 RGB."""

    def draw_frames(self, frames: Sequence[Frame]) -> np.ndarray:
        """One picture per frame, each at its own index on its own timeline (several sessions in one batch)."""
