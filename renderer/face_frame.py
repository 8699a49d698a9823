"""A still image with its fitted face, redrawn with any expression: the warp every avatar builds on.

Each frame's weights and head-pose offsets move the face model; the
*change* from the image's own expression, projected with the image's fitted
camera, is added to the image's detected landmarks (so the unchanged
expression reproduces the image exactly and the mouth opens on its real lip
line); :class:`.warp.MeshWarp` moves the pixels and
:func:`.mouth.mouth_interior` fills the opened mouth. Head-pose offsets turn
the face mesh about a pivot behind the jaw; the hair and shoulders stay still
(an approximation that suits small motions).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from talkinghead.contracts import topology
from talkinghead.contracts.arkit import ARKIT_INDEX
from talkinghead.contracts.face_model import FaceModel, rotation_matrix
from talkinghead.renderer import raster
from talkinghead.renderer.crops import CropView, invert_2x2
from talkinghead.renderer.mouth import MouthStyle, mouth_interior, mouth_rest, palette
from talkinghead.renderer.photo_teeth import find_teeth
from talkinghead.renderer.tracking import Camera, pose_to_similarity
from talkinghead.renderer.warp import MeshWarp, Warped

JAW_SHARE = 0.85  # of a photo's open lips' gap, the share closed by raising the jaw (the rest: the lower lip)
PIVOT = (0.0, -1.3, -1.5)  # head-turn pivot in the model frame (IOD): behind the jaw, below the eyes


class FaceFrame:
    """One image with its fitted face, redrawn for batches of weights and head-pose offsets.

    ``landmarks`` (478,3) are the image's detected pixels; ``blendshapes`` and
    ``pose`` its own fitted expression and pose, on ``face`` (the identity's
    model) and the tracker's camera for an image of this size.

    ``view``: ``image`` is a crop of a video frame (landmarks and pose stay
    the frame's; everything is drawn in the crop), so a face is redrawn at a
    fixed crop size whatever the video's resolution.

    ``own_teeth``: keep the teeth the image shows between its lips (a
    photo's open smile, :mod:`.photo_teeth`) and draw the lips shut at rest
    from their own pixels (each lip stretched half the gap); otherwise the
    image's lip gap is drawn as lip and every tooth is drawn.
    """

    def __init__(self, image: np.ndarray, landmarks: np.ndarray, face: FaceModel, blendshapes: np.ndarray,
                 pose: np.ndarray, style: MouthStyle = MouthStyle(), view: CropView | None = None,
                 own_teeth: bool = False) -> None:
        self.image = image
        self.style = style
        self.face = face
        self.view = view or CropView(np.array([[1.0, 0, 0], [0, 1.0, 0]]), (image.shape[1], image.shape[0]))
        scale, rotation, translation = pose_to_similarity(np.asarray(pose, np.float64)[None], Camera(*self.view.image_size))
        self._scale = float(scale[0])
        self._rotation = torch.from_numpy(rotation[0]).float()
        self._translation = torch.from_numpy(translation[0]).float()
        self._to_view = torch.from_numpy(invert_2x2(self.view.transform[:, :2])).float()
        self._view_origin = torch.from_numpy(self.view.transform[:, 2]).float()
        self._rest = self._project(torch.tensor(np.asarray(blendshapes, np.float32)[None]), torch.zeros(1, 6))[0]
        landmarks = self.view.to_crop(np.asarray(landmarks, np.float64)).astype(np.float32)
        self.teeth = find_teeth(image, landmarks) if own_teeth else None  # the image's own, kept
        closed = torch.from_numpy(close_lips(landmarks) if self.teeth is None else self._shut(landmarks, blendshapes))
        self._source = torch.cat([closed[:, :2], self._rest[:, 2:]], -1)
        texture = self._source if self.teeth is None else torch.cat([torch.from_numpy(landmarks[:, :2]),
                                                                      self._rest[:, 2:]], -1)
        lips = image if self.teeth is None else self.teeth.lips  # no teeth in the lips' texture
        self.warp = MeshWarp(torch.from_numpy(np.ascontiguousarray(lips)), texture, face.triangles)
        self.rest_mouth = mouth_rest(self._source.numpy(), style, self.teeth)  # what the teeth hang from
        self.colours = palette(image, landmarks, style, self.teeth)  # a drawn interior's colours

    def _shut(self, landmarks: np.ndarray, blendshapes: np.ndarray) -> np.ndarray:
        """Landmarks of a face showing its teeth, shut: the jaw raised by the ``jawOpen`` that closes
        ``JAW_SHARE`` of the lips' gap, the rest closed by the lower lip; the upper lip (and the teeth
        under it, seen again when the mouth opens) stays."""
        weights = np.repeat(np.asarray(blendshapes, np.float32)[None], 2, 0)
        weights[1, ARKIT_INDEX["jawOpen"]] += 1
        moved = self._project(torch.from_numpy(weights), torch.zeros(2, 6)).numpy()
        per_jaw = moved[1] - moved[0]
        mids = [topology.UPPER_LIP_INNER_MID, topology.LOWER_LIP_INNER_MID]
        gap = max(0.0, float(np.diff(landmarks[mids, 1])[0]))
        opening = float(np.diff(per_jaw[mids, 1])[0])
        raised = landmarks.copy()
        if opening > 1e-6:
            raised[:, :2] -= JAW_SHARE * gap / opening * per_jaw[:, :2]
        return close_lips(raised, upper_share=0.0)

    @property
    def source(self) -> torch.Tensor:
        """Screen vertices (478,3) of the image's own face, lips closed: what :meth:`targets` moves."""
        return self._source

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the frames."""
        return self.image.shape[0], self.image.shape[1]

    def _project(self, blendshapes: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
        """Weights (B,52) and pose offsets (B,6) -> screen vertices (u, v, distance) in the image."""
        vertices = self.face.expression(blendshapes.float())
        pivot = torch.tensor(PIVOT)
        turn = rotation_matrix(pose[:, 0], pose[:, 1], pose[:, 2]).float()
        vertices = torch.einsum("bij,bnj->bni", turn, vertices - pivot) + pivot + pose[:, None, 3:6].float()
        points = self._scale * vertices @ self._rotation.T + self._translation
        pixels = torch.stack([points[..., 0], -points[..., 1]], -1)
        in_view = (pixels - self._view_origin) @ self._to_view.T
        return torch.cat([in_view, -points[..., 2:] / self.view.scale], -1)

    def targets(self, blendshapes: np.ndarray, pose: np.ndarray | None = None) -> torch.Tensor:
        """Weights (B,52) and head-pose offsets (B,6) -> where the image's vertices go (B,478,3)."""
        weights = torch.tensor(np.asarray(blendshapes, np.float32))
        if weights.ndim != 2 or weights.shape[1] != 52:
            raise ValueError(f"blendshapes must be (B, 52), got {tuple(weights.shape)}")
        offsets = torch.zeros(len(weights), 6) if pose is None else torch.tensor(np.asarray(pose, np.float32))
        if offsets.shape != (len(weights), 6):
            raise ValueError(f"pose must be (B, 6) with B = {len(weights)}, got {tuple(offsets.shape)}")
        return self._source + (self._project(weights, offsets) - self._rest)

    def render(self, blendshapes: np.ndarray, pose: np.ndarray | None = None,
               interior: Callable[[raster.Raster], torch.Tensor] | None = None) -> np.ndarray:
        """Weights (B,52) and head-pose offsets (B,6) -> RGB frames (B,H,W,3) uint8.

        ``interior`` colours the opened mouth from the inner-lip fan's raster
        (window pixels, ``(B, h, w, 3)``); ``None``: the synthesised interior.
        """
        return self.redraw(blendshapes, pose, interior)[0]

    def redraw(self, blendshapes: np.ndarray, pose: np.ndarray | None = None,
               interior: Callable[[raster.Raster], torch.Tensor] | None = None) -> tuple[np.ndarray, Warped, torch.Tensor]:
        """:meth:`render`, with the warp's rasters and the target vertices (for callers that draw more)."""
        target = self.targets(blendshapes, pose)
        frames, warped = self.redraw_at(target, interior)
        return frames, warped, target

    def redraw_at(self, target: torch.Tensor, interior: Callable[[raster.Raster], torch.Tensor] | None = None
                  ) -> tuple[np.ndarray, Warped]:
        """The image with its face moved to ``target`` (B,478,3) screen vertices (e.g. :meth:`targets`, adjusted)."""
        warped = self.warp(target)
        y0, y1, x0, x1 = warped.window
        mask = warped.mouth
        window = warped.pixels
        if interior is None or bool(mask.any()):  # a drawn mouth may cover parts of pixels without any centre
            if interior is None:  # drawn, anti-aliased: its own coverage of each pixel
                local = target - torch.tensor([x0, y0, 0.0])
                colours, coverage = mouth_interior(local, tuple(mask.shape[1:]), self.rest_mouth, self.colours,
                                                   self.style, self.teeth)
                alpha = coverage[..., None]
            else:
                colours = interior(warped.hole)
                inside = mask[:, None].float()  # the soft lip edge fades inwards: colours exist only in the hole
                outside_nearby = F.avg_pool2d(1 - inside, 3, stride=1, padding=1, count_include_pad=False)
                alpha = (inside * (1 - outside_nearby))[:, 0, ..., None]
            window = window * (1 - alpha) + alpha * colours
        frames = np.repeat(self.image[None], len(target), 0)  # outside the window: the image itself
        frames[:, y0:y1, x0:x1] = window.round().clamp(0, 255).to(torch.uint8).numpy()
        return frames, warped


def close_lips(landmarks: np.ndarray, upper_share: float = 0.5) -> np.ndarray:
    """Landmarks with each inner-lip pair met (the upper lip moving ``upper_share`` of the way, the lower
    the rest): the photo's mouth counts as shut.

    The photo holds no mouth interior, so its own small lip gap is drawn as
    lip, and the mouth opens only as far as the weights open it past the
    photo's expression (a photo with an open mouth gets its lips stretched).
    """
    closed = landmarks.copy()
    upper, lower = list(topology.UPPER_LIP_INNER[1:-1]), list(topology.LOWER_LIP_INNER[1:-1])
    middle = landmarks[upper] + upper_share * (landmarks[lower] - landmarks[upper])
    closed[upper], closed[lower] = middle, middle
    return closed
