"""Instant avatars from one photo: no training, a mesh warp and a synthesised mouth.

Enrollment (needs the ``track`` extra): find exactly one face, crop around
it, fit the face model (the photo's own shape is the identity's neutral), and
keep the photo, its landmarks and the fit as a bundle.

Rendering (no MediaPipe needed): the photo is one :class:`.face_frame.FaceFrame`,
warped to every frame's weights and head-pose offsets (the photo's mouth
counts as shut; the interior is drawn, except the teeth an open smile
shows, which are kept and moved with the jaws).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from talkinghead.contracts.arkit import ARKIT_INDEX
from talkinghead.contracts.coefficients import Coefficients
from talkinghead.contracts.face_model import FaceModel, interocular
from talkinghead.contracts.frame import Frame
from talkinghead.renderer.bundle import read_meta, write_meta
from talkinghead.renderer.face_frame import FaceFrame
from talkinghead.renderer.mouth import MouthStyle
from talkinghead.renderer.tracking import Camera
from talkinghead.renderer.video import read_image, write_image


@dataclass(frozen=True)
class PhotoConfig:
    """How a photo is framed: ``context`` IODs around the face, at most ``max_side`` pixels."""

    context: float = 6.0
    max_side: int = 512


@dataclass(frozen=True)
class PhotoAvatar:
    """A photo and its fitted face: everything rendering needs."""

    image: np.ndarray  # (H, W, 3) uint8, even sides
    landmarks: np.ndarray  # (478, 3) float32 pixels: x right, y down, z MediaPipe depth
    neutral: np.ndarray  # (478, 3) float32 model frame, IOD units
    blendshapes: np.ndarray  # (52,) float32: the photo's own expression
    pose: np.ndarray  # (6,) float32: the photo's head pose (see Coefficients)

    @property
    def camera(self) -> Camera:
        return Camera(self.image.shape[1], self.image.shape[0])

    @property
    def motion_weights(self) -> None:
        """No audio2motion of its own: a photo has no speech to fine-tune on."""
        return None

    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        write_image(directory / "base.png", self.image)
        np.savez(directory / "face.npz", landmarks=self.landmarks, neutral=self.neutral,
                 blendshapes=self.blendshapes, pose=self.pose)
        write_image(directory / "preview.png", preview(self))
        write_meta(directory, "photo", {"image_size": [int(self.image.shape[1]), int(self.image.shape[0])],
                                        "files": {"base": "base.png", "face": "face.npz", "preview": "preview.png"}})

    @classmethod
    def load(cls, directory: str | Path) -> PhotoAvatar:
        directory = Path(directory)
        meta = read_meta(directory)
        if meta.get("kind") != "photo":
            raise ValueError(f"{directory}: not a photo avatar (kind {meta.get('kind')!r})")
        try:
            with np.load(directory / meta["files"]["face"]) as face:
                arrays = {k: face[k].astype(np.float32) for k in ("landmarks", "neutral", "blendshapes", "pose")}
        except (OSError, KeyError, ValueError) as error:
            raise ValueError(f"{directory}: broken avatar bundle ({error})") from None
        return cls(read_image(directory / meta["files"]["base"]), **arrays)


def preview(avatar: PhotoAvatar, height: int = 256) -> np.ndarray:
    """The avatar at rest beside it saying "ah" (jawOpen 0.5), ``height`` pixels high."""
    weights = np.zeros((2, 52), np.float32)
    weights[1, ARKIT_INDEX["jawOpen"]] = 0.5
    frames = torch.from_numpy(PhotoRenderer(avatar).render(weights)).permute(0, 3, 1, 2).float()
    scale = min(1.0, height / frames.shape[2])
    size = (int(frames.shape[2] * scale), int(frames.shape[3] * scale))
    small = F.interpolate(frames, size=size, mode="bilinear", antialias=True, align_corners=False)
    return torch.cat(list(small), -1).permute(1, 2, 0).round().clamp(0, 255).byte().numpy()


def _frame_photo(image: np.ndarray, landmarks: np.ndarray, config: PhotoConfig):
    """Crop ``context`` IODs around the face, scale to ``max_side``, even sides; move the landmarks."""
    height, width = image.shape[:2]
    iod = float(interocular(landmarks[:, :2].astype(np.float64)))
    centre = landmarks[:, :2].mean(0)
    half = config.context * iod / 2
    x0, x1 = int(max(0, centre[0] - half)), int(min(width, centre[0] + half))
    y0, y1 = int(max(0, centre[1] - half)), int(min(height, centre[1] + half))
    crop = image[y0:y1, x0:x1]
    scale = min(1.0, config.max_side / max(crop.shape[:2]))
    out_h, out_w = (max(2, int(round(n * scale / 2)) * 2) for n in crop.shape[:2])
    pixels = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1)[None].float()
    resized = F.interpolate(pixels, size=(out_h, out_w), mode="bilinear", antialias=True, align_corners=False)
    framed = resized[0].permute(1, 2, 0).round().clamp(0, 255).byte().numpy()
    factor = np.array([out_w / crop.shape[1], out_h / crop.shape[0]])
    moved = landmarks.copy()
    moved[:, :2] = (landmarks[:, :2] - [x0, y0]) * factor
    moved[:, 2] = landmarks[:, 2] * factor[0]
    return framed, moved.astype(np.float32)


def enroll_photo(path: str | Path, config: PhotoConfig = PhotoConfig()) -> PhotoAvatar:
    """Make an avatar from a photo with exactly one face (needs the ``track`` extra)."""
    from talkinghead.renderer.landmarks import DetectorConfig, FaceMeshDetector
    from talkinghead.renderer.tracking import fit_landmarks

    image = read_image(path)
    with FaceMeshDetector(DetectorConfig(max_faces=4)) as detector:
        faces = detector.faces(image)
    if not faces:
        raise ValueError(f"{path}: no face found; use a photo with one clear, frontal face")
    if len(faces) > 1:
        raise ValueError(f"{path}: {len(faces)} faces found; crop the photo to one person")
    framed, landmarks = _frame_photo(image, faces[0], config)
    camera = Camera(framed.shape[1], framed.shape[0])
    neutral, blendshapes, pose = fit_landmarks(landmarks[None], np.array([True]), camera)
    return PhotoAvatar(framed, landmarks, neutral, blendshapes[0], pose[0])


class PhotoRenderer(FaceFrame):
    """Draws a :class:`PhotoAvatar`: the photo is the only frame, so every frame warps it."""

    idle_motion = True  # a still photo needs the motion layer's blinks and head motion

    def __init__(self, avatar: PhotoAvatar, style: MouthStyle = MouthStyle()) -> None:
        super().__init__(avatar.image, avatar.landmarks, FaceModel(avatar.neutral), avatar.blendshapes,
                         avatar.pose, style, own_teeth=True)
        self.avatar = avatar

    @property
    def motion_weights(self) -> None:
        return self.avatar.motion_weights

    @property
    def calibrated_on(self) -> None:
        """No calibration: a photo has no speech to fit one on."""
        return None

    def sequence(self) -> None:
        """No state along a sequence: each frame depends on its own row only."""
        return None

    def draw(self, coefficients: Coefficients, sequence: object | None = None) -> np.ndarray:
        """Frames of a sequence (:class:`~talkinghead.contracts.renderer.Renderer`; the photo has no timeline)."""
        return self.render(coefficients.blendshapes, coefficients.pose)

    def draw_frames(self, frames: Sequence[Frame]) -> np.ndarray:
        """One picture per frame (several sessions' in one batch; the photo has no timeline)."""
        return self.render(np.stack([f.blendshapes for f in frames]), np.stack([f.pose for f in frames]))
