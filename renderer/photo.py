"""Instant avatars from one photo: no training, a mesh warp and a synthesised mouth.

Enrollment (needs the ``track`` extra): find exactly one face, crop around
it, fit the face model (the photo's own shape is the identity's neutral), and
keep the photo, its landmarks and the fit as a bundle.

Rendering (no MediaPipe needed): each frame's weights and head-pose offsets
move the face model; the *change* from the photo's own expression, projected
with the photo's fitted camera, is added to the photo's detected landmarks
(so the unchanged expression reproduces the photo exactly and the mouth opens
on the photo's real lip line); :class:`.warp.MeshWarp` moves the pixels and
:func:`.mouth.mouth_interior` fills the opened mouth. Head-pose offsets turn
the face mesh about a pivot behind the jaw; the hair and shoulders stay still
(an approximation that suits the small idle motion of the motion layer).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from talkinghead.arkit import ARKIT_INDEX
from talkinghead.renderer import topology
from talkinghead.renderer.face_model import FaceModel, interocular, rotation_matrix
from talkinghead.renderer.mouth import MouthStyle, mouth_interior
from talkinghead.renderer.tracking import Camera, pose_to_similarity
from talkinghead.renderer.video import read_image, write_image
from talkinghead.renderer.warp import MeshWarp

AVATAR_FORMAT_VERSION = 1
PIVOT = (0.0, -1.3, -1.5)  # head-turn pivot in the model frame (IOD): behind the jaw, below the eyes


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

    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        write_image(directory / "base.png", self.image)
        np.savez(directory / "face.npz", landmarks=self.landmarks, neutral=self.neutral,
                 blendshapes=self.blendshapes, pose=self.pose)
        write_image(directory / "preview.png", preview(self))
        meta = {"format_version": AVATAR_FORMAT_VERSION, "kind": "photo",
                "image_size": [int(self.image.shape[1]), int(self.image.shape[0])],
                "files": {"base": "base.png", "face": "face.npz", "preview": "preview.png"}}
        (directory / "avatar.json").write_text(json.dumps(meta, indent=2) + "\n")

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


def read_meta(directory: Path) -> dict:
    """``avatar.json`` of a bundle, refusing formats newer than this code reads."""
    path = directory / "avatar.json"
    if not path.is_file():
        raise ValueError(f"{directory}: not an avatar bundle (no avatar.json)")
    try:
        meta = json.loads(path.read_text())
        version = int(meta["format_version"])
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: unreadable ({error})") from None
    if version > AVATAR_FORMAT_VERSION:
        raise ValueError(
            f"{directory}: avatar format {version} is newer than this talkinghead reads "
            f"({AVATAR_FORMAT_VERSION}); upgrade talkinghead"
        )
    return meta


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


class PhotoRenderer:
    """Renders a :class:`PhotoAvatar` for batches of weights and head-pose offsets."""

    def __init__(self, avatar: PhotoAvatar, style: MouthStyle = MouthStyle()) -> None:
        self.avatar = avatar
        self.style = style
        self.face = FaceModel(avatar.neutral)
        scale, rotation, translation = pose_to_similarity(avatar.pose[None].astype(np.float64), avatar.camera)
        self._scale = float(scale[0])
        self._rotation = torch.from_numpy(rotation[0]).float()
        self._translation = torch.from_numpy(translation[0]).float()
        self._rest = self._project(torch.from_numpy(avatar.blendshapes[None]), torch.zeros(1, 6))[0]
        landmarks = torch.from_numpy(_close_lips(avatar.landmarks))
        self._source = torch.cat([landmarks[:, :2], self._rest[:, 2:]], -1)
        image = torch.from_numpy(avatar.image)
        self.warp = MeshWarp(image, self._source, self.face.triangles)
        self._brightness = _mouth_surroundings_level(avatar.image, avatar.landmarks)

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the frames."""
        return self.avatar.image.shape[0], self.avatar.image.shape[1]

    def _project(self, blendshapes: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
        """Weights (B,52) and pose offsets (B,6) -> screen vertices (u, v, distance) of the photo."""
        vertices = self.face.expression(blendshapes.float())
        pivot = torch.tensor(PIVOT)
        turn = rotation_matrix(pose[:, 0], pose[:, 1], pose[:, 2]).float()
        vertices = torch.einsum("bij,bnj->bni", turn, vertices - pivot) + pivot + pose[:, None, 3:6].float()
        points = self._scale * vertices @ self._rotation.T + self._translation
        return torch.stack([points[..., 0], -points[..., 1], -points[..., 2]], -1)

    def targets(self, blendshapes: np.ndarray, pose: np.ndarray | None = None) -> torch.Tensor:
        """Weights (B,52) and head-pose offsets (B,6) -> where the photo's vertices go (B,478,3)."""
        weights = torch.tensor(np.asarray(blendshapes, np.float32))
        if weights.ndim != 2 or weights.shape[1] != 52:
            raise ValueError(f"blendshapes must be (B, 52), got {tuple(weights.shape)}")
        offsets = torch.zeros(len(weights), 6) if pose is None else torch.tensor(np.asarray(pose, np.float32))
        if offsets.shape != (len(weights), 6):
            raise ValueError(f"pose must be (B, 6) with B = {len(weights)}, got {tuple(offsets.shape)}")
        return self._source + (self._project(weights, offsets) - self._rest)

    def render(self, blendshapes: np.ndarray, pose: np.ndarray | None = None) -> np.ndarray:
        """Weights (B,52) and head-pose offsets (B,6) -> RGB frames (B,H,W,3) uint8."""
        target = self.targets(blendshapes, pose)
        warped = self.warp(target)
        y0, y1, x0, x1 = warped.window
        mask = warped.mouth
        frames = warped.frames
        if bool(mask.any()):
            local = target - torch.tensor([x0, y0, 0.0])
            iod = torch.full((len(target),), self._scale)
            interior = mouth_interior(local, warped.hole, mask, iod, self._brightness, self.style)
            alpha = F.avg_pool2d(mask[:, None].float(), 3, stride=1, padding=1)[:, 0, ..., None]  # soft lip edge
            window = frames[:, y0:y1, x0:x1]
            window.mul_(1 - alpha).add_(alpha * interior)
        return frames.round().clamp(0, 255).to(torch.uint8).numpy()


def _close_lips(landmarks: np.ndarray) -> np.ndarray:
    """Landmarks with each inner-lip pair moved to its midpoint: the photo's mouth counts as shut.

    The photo holds no mouth interior, so its own small lip gap is drawn as
    lip, and the mouth opens only as far as the weights open it past the
    photo's expression (a photo with an open mouth gets its lips stretched).
    """
    closed = landmarks.copy()
    upper, lower = list(topology.UPPER_LIP_INNER[1:-1]), list(topology.LOWER_LIP_INNER[1:-1])
    middle = (landmarks[upper] + landmarks[lower]) / 2
    closed[upper], closed[lower] = middle, middle
    return closed


def _mouth_surroundings_level(image: np.ndarray, landmarks: np.ndarray) -> float:
    """Mean brightness (0-255) of the skin box around the lips: the interior is shaded to it."""
    lips = landmarks[list(topology.LIPS_OUTER), :2]
    low, high = lips.min(0), lips.max(0)
    pad = (high - low) * 0.5
    x0, y0 = np.maximum(0, (low - pad).astype(int))
    x1, y1 = (high + pad).astype(int)
    box = image[y0:y1, x0:x1].reshape(-1, 3).astype(np.float64)
    return float(box.mean()) if box.size else 128.0
