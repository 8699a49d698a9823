"""Redrawing the mouth on tracked video frames: what a video avatar's loop and a dub share.

A frame is drawn on with its own tracked fit: its mouth counts as shut and
is moved to the driving mouth and jaw channels, every other channel keeps
the frame's own (blinks, brows, gaze), and so does the head pose. ``quick``
warps a box around the face (an exact, unresampled cut of the frame, so a
4K frame costs what its face costs) and fills the opened mouth from the
mouth bank (real teeth); ``retrieval`` warps the same box to the target
jaw and then redraws the lower face from the person's own frames at native
resolution (:mod:`.retrieval`); with a lower-face network, its region of
the stabilised face crop is redrawn and pasted back (:mod:`.composite`).
Either way the result says which pixels may differ from the frame; all others are
the frame's, bit for bit.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from talkinghead.contracts.face_model import FaceModel
from talkinghead.renderer import raster
from talkinghead.renderer.calibration import at_rest, driven_by
from talkinghead.renderer.composite import Patched, paste
from talkinghead.renderer.crops import CropView, cut_crops
from talkinghead.renderer.face_frame import FaceFrame
from talkinghead.renderer.mouth import MouthStyle
from talkinghead.renderer.mouth_bank import MouthBank
from talkinghead.renderer.retrieval import PickTrack, Retrieval
from talkinghead.renderer.standard import BaseRegion, LowerFaceModel
from talkinghead.renderer.warp import Warped, ring

BOX_MARGIN = 4  # pixels around the warp's anchor ring


@dataclass(frozen=True)
class TrackedFrame:
    """A video frame with its tracked fit: what a mouth is redrawn on."""

    image: np.ndarray  # (H,W,3) uint8, upright
    landmarks: np.ndarray  # (478,3) pixels
    blendshapes: np.ndarray  # (52,) the frame's own tracked weights
    pose: np.ndarray  # (6,)
    region_view: np.ndarray | None = None  # (2,3) the network region's crop-to-frame transform (standard)


class MouthRedrawer:
    """Draws driving mouths (in the person's tracked scale) on tracked frames of one person."""

    def __init__(self, face: FaceModel, mouths: MouthBank, lower_face: LowerFaceModel | None = None,
                 style: MouthStyle = MouthStyle(), retrieval: Retrieval | None = None) -> None:
        self.face, self.mouths, self.lower_face, self.style = face, mouths, lower_face, style
        self.retrieval = retrieval

    def prepare(self, frame: TrackedFrame) -> FaceFrame | BaseRegion:
        """What drawing on ``frame`` needs (worth keeping for a frame drawn on again and again)."""
        if self.lower_face is None:
            return _face_box(frame, self.face, self.style)
        if frame.region_view is None:
            raise ValueError("a lower-face network draws in the frame's region: region_view is missing")
        height, width = frame.image.shape[:2]
        view = CropView(frame.region_view, (width, height))
        region = cut_crops(frame.image[None], view.transform[None], self.lower_face.region.size)[0]
        return BaseRegion(region, view, frame.landmarks, frame.blendshapes, frame.pose, self.face,
                          self.lower_face.region)

    def draw(self, frames: Sequence[TrackedFrame], driving: np.ndarray,
             prepared: Sequence[FaceFrame | BaseRegion] | None = None,
             tracks: Sequence[PickTrack | None] | None = None) -> list[Patched]:
        """Each frame with its row of ``driving`` (B,52); the network, if any, runs once for the batch.

        ``tracks``: per frame, the sequence it is the next frame of (drawn in
        list order; retrieval smooths its picks along it), or None.
        """
        prepared = prepared or [self.prepare(frame) for frame in frames]
        if self.retrieval is not None:
            tracks = tracks or [None] * len(frames)
            return [self._retrieve(frame, box, row, track)
                    for frame, box, row, track in zip(frames, prepared, driving, tracks)]
        if self.lower_face is None:
            return [self._warp(frame, box, row) for frame, box, row in zip(frames, prepared, driving)]
        drawn = [region.draw(row, self.mouths, self.lower_face.references.nearest(row))
                 for region, row in zip(prepared, driving)]
        redrawn = self.lower_face(torch.cat([d.network_input() for d in drawn]))
        return [paste(frame.image, image, d.soft[0], region.frame.view)
                for frame, image, d, region in zip(frames, redrawn, drawn, prepared)]

    def _warp(self, frame: TrackedFrame, box: FaceFrame, driving: np.ndarray) -> Patched:
        weights = driven_by(frame.blendshapes, driving)
        teeth = functools.partial(self.mouths.interior, weights)
        drawn, warped, _ = box.redraw(weights[None], interior=teeth)
        return _placed(frame, box, drawn[0], _moved(warped, box.size))

    def _retrieve(self, frame: TrackedFrame, box: FaceFrame, driving: np.ndarray, track: PickTrack | None) -> Patched:
        """The box warped to the target jaw, then its lower face redrawn from the person's own frames."""
        retrieval = self.retrieval
        weights = driven_by(frame.blendshapes, driving)
        target = box.targets(weights[None])[0]
        picks = retrieval.pick(weights, track)
        target = retrieval.shaped(target, picks)
        drawn, warped = box.redraw_at(target[None], interior=_unfilled)
        window, (y, x), changed = retrieval.draw(drawn[0], target, picks)
        image = drawn[0]
        height, width = changed.shape
        image[y:y + height, x:x + width] = window
        moved = _moved(warped, box.size)
        moved[y:y + height, x:x + width] |= changed
        return _placed(frame, box, image, moved)


def _unfilled(hole: raster.Raster) -> torch.Tensor:
    """No interior for the warp's mouth hole: the retrieved lower face covers it."""
    return torch.zeros(*hole.triangle.shape, 3)


def _moved(warped: Warped, size: tuple[int, int]) -> np.ndarray:
    """Where the warp may have moved pixels, in the whole box (h,w) bool."""
    moved = np.zeros(size, bool)
    y0, y1, x0, x1 = warped.window
    moved[y0:y1, x0:x1] = (warped.surface.covered | warped.mouth)[0].numpy()
    return moved


def _placed(frame: TrackedFrame, box: FaceFrame, drawn: np.ndarray, moved: np.ndarray) -> Patched:
    """A redrawn face box put back in its frame; it may differ from the frame only where ``moved`` (box pixels)."""
    x0, y0 = (int(v) for v in box.view.transform[:, 2])
    image = frame.image.copy()
    height, width = box.size
    image[y0:y0 + height, x0:x0 + width] = drawn
    return Patched(image, (y0, x0), moved)


def _face_box(frame: TrackedFrame, face: FaceModel, style: MouthStyle) -> FaceFrame:
    """A FaceFrame on the box around the face's warp ring: an integer cut of the frame, no resampling."""
    height, width = frame.image.shape[:2]
    anchors = ring(torch.from_numpy(np.asarray(frame.landmarks, np.float32))).numpy()
    x0, y0 = np.clip(np.floor(anchors.min(0)).astype(int) - BOX_MARGIN, 0, [width, height])
    x1, y1 = np.clip(np.ceil(anchors.max(0)).astype(int) + BOX_MARGIN, 0, [width, height])
    if x1 - x0 < 2 or y1 - y0 < 2:
        x0, y0, x1, y1 = 0, 0, width, height
    view = CropView(np.array([[1.0, 0, x0], [0, 1.0, y0]]), (width, height))
    return FaceFrame(frame.image[y0:y1, x0:x1], frame.landmarks, face, at_rest(frame.blendshapes), frame.pose,
                     style, view)
