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

    @property
    def calibrated_on(self) -> str | None:
        """The audio2motion (``ears:digest``, see ``model_identity``) its calibration was fitted on;
        None: no calibration (any audio2motion drives it)."""

    def sequence(self) -> object | None:
        """A new sequence's drawing state (None: the renderer keeps none): what a session or a render passes
        back with each of its frames, in order, so a frame may depend on the ones drawn before it."""

    def draw(self, coefficients: Coefficients, sequence: object | None = None) -> np.ndarray:
        """Frames ``coefficients.start_frame ..`` of a sequence, ``(T, H, W, 3)`` uint8 RGB; ``sequence``
        (from :meth:`sequence`) continues one drawn in several calls, None starts a new one."""

    def draw_frames(self, frames: Sequence[Frame]) -> np.ndarray:
        """One picture per frame, each at its own index on its own timeline, continuing its ``Frame.sequence``
        (several sessions in one batch)."""
