"""``talkinghead track``: a face video -> landmarks, the identity's neutral,
per-frame ARKit weights and head pose.

Pipeline: MediaPipe landmarks -> robust rigid alignment on points that move
little with expression -> the identity's neutral (median of the aligned
frames with the most closed mouth and open eyes) -> alternating rigid
alignment and bounded blendshape solve (:mod:`talkinghead.renderer.solve`)
-> light zero-phase smoothing (no lag) -> frames without a face interpolated.

Camera: a pinhole with focal length ``max(width, height)`` pixels (about 53°
across the long side) centred in the image. This is an assumed camera (a
monocular video does not reveal its own), so ``tz`` is only meaningful up to
that assumption; pitch/yaw/roll and the image-plane ``tx, ty`` are not
affected by it. Landmarks are fitted by weak perspective.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TypeVar

import numpy as np
from tqdm import tqdm

from talkinghead.contracts import topology
from talkinghead.contracts.blendshapes import author_blendshapes, express
from talkinghead.contracts.coefficients import Coefficients
from talkinghead.contracts.face_model import (
    euler_from_matrix,
    lip_gap,
    mouth_width,
    normalise,
    rotation_matrix_np,
)
from talkinghead.renderer.faces import People, choose_face
from talkinghead.renderer.landmarks import (
    NUM_LANDMARKS,
    DetectorConfig,
    FaceMeshDetector,
    face_box,
    follow_faces,
)
from talkinghead.renderer.solve import (
    ExpressionSolver,
    SolveConfig,
    from_model_frame,
    image_to_right_handed,
    robust_similarity,
    to_model_frame,
)
from talkinghead.renderer.video import VideoInfo, iter_frames, probe_video

TRACK_FORMAT_VERSION = 1
Measured = TypeVar("Measured")


@dataclass(frozen=True)
class TrackerConfig:
    max_faces: int = 4
    min_valid_fraction: float = 0.5
    neutral_quantile: float = 0.3  # the neutral comes from the frames with the most closed mouths
    smoothing_sigma: float = 0.6  # frames; centred Gaussian on weights and pose (0 = off)
    solve: SolveConfig = field(default_factory=SolveConfig)


@dataclass(frozen=True)
class Camera:
    """Assumed pinhole camera of a tracked video, in pixels."""

    width: int
    height: int

    @property
    def focal(self) -> float:
        return float(max(self.width, self.height))

    @property
    def centre(self) -> np.ndarray:
        return np.array([self.width / 2.0, self.height / 2.0])


@dataclass(frozen=True)
class Track:
    """A tracked video: everything later stages need about its face."""

    landmarks: np.ndarray  # (T,478,3) float32 pixels: x right, y down, z MediaPipe depth
    valid: np.ndarray  # (T,) bool; False = no face found, values interpolated
    blendshapes: np.ndarray  # (T,52) float32, ARKit order
    pose: np.ndarray  # (T,6) float32, see Coefficients
    fps: Fraction
    neutral: np.ndarray  # (478,3) float32 model frame, inter-ocular units
    camera: Camera

    @property
    def num_frames(self) -> int:
        return len(self.valid)

    def coefficients(self) -> Coefficients:
        return Coefficients(self.blendshapes, self.pose, self.fps)

    def save(self, path: str | Path) -> None:
        np.savez(
            Path(path),
            format_version=np.int64(TRACK_FORMAT_VERSION),
            landmarks=self.landmarks,
            valid=self.valid,
            blendshapes=self.blendshapes,
            pose=self.pose,
            fps=np.array([self.fps.numerator, self.fps.denominator], np.int64),
            neutral=self.neutral,
            image_size=np.array([self.camera.width, self.camera.height], np.int64),
        )

    @classmethod
    def load(cls, path: str | Path) -> Track:
        try:
            with np.load(Path(path)) as data:
                fps = Fraction(int(data["fps"][0]), int(data["fps"][1]))
                width, height = (int(v) for v in data["image_size"])
                return cls(
                    data["landmarks"], data["valid"].astype(bool), data["blendshapes"],
                    data["pose"], fps, data["neutral"], Camera(width, height),
                )
        except (OSError, KeyError, ValueError) as error:
            raise ValueError(f"{path}: not a talkinghead track file ({error})") from None

    def mesh(self) -> np.ndarray:
        """The solved model (T,478,3) in the model frame, before head pose."""
        return express(self.neutral, author_blendshapes(self.neutral), self.blendshapes)

    def fitted_landmarks(self) -> np.ndarray:
        """The solved model re-projected to pixels (T,478,2): what the fit explains."""
        points = from_model_frame(self.mesh(), *pose_to_similarity(self.pose, self.camera))
        return np.stack([points[..., 0], -points[..., 1]], -1)


def pose_to_similarity(pose: np.ndarray, camera: Camera):
    """Pose rows -> the weak-perspective similarity (pixels, y up) the fit used."""
    scale = -camera.focal / pose[:, 5].astype(np.float64)
    rotation = rotation_matrix_np(pose[:, 0], pose[:, 1], pose[:, 2])
    u = camera.centre[0] + scale * pose[:, 3]
    v = camera.centre[1] - scale * pose[:, 4]
    translation = np.stack([u, -v, np.zeros_like(u)], -1)
    return scale, rotation, translation


def similarity_to_pose(scale, rotation, translation, camera: Camera) -> np.ndarray:
    pitch, yaw, roll = euler_from_matrix(rotation)
    u, v = translation[:, 0], -translation[:, 1]
    tx = (u - camera.centre[0]) / scale
    ty = -(v - camera.centre[1]) / scale
    tz = -camera.focal / scale
    return np.stack([pitch, yaw, roll, tx, ty, tz], -1)


def _eye_aperture(vertices: np.ndarray) -> np.ndarray:
    right = np.linalg.norm(vertices[..., 159, :] - vertices[..., 145, :], axis=-1)
    left = np.linalg.norm(vertices[..., 386, :] - vertices[..., 374, :], axis=-1)
    return right + left


def estimate_neutral(points: np.ndarray, quantile: float, rounds: int = 2) -> np.ndarray:
    """The identity's rest shape from right-handed landmarks (T,478,3) of one person.

    Median of the aligned frames whose mouths are most closed and eyes open,
    re-aligned to itself a second time to remove the generic reference's bias.
    """
    reference = topology.load_topology().neutral.astype(np.float64)
    rigid = np.asarray(topology.RIGID)
    for _ in range(rounds):
        aligned = to_model_frame(points, *robust_similarity(reference, points, rigid))
        gap = lip_gap(aligned)
        closed = gap <= np.quantile(gap, quantile)
        chosen = closed.copy()
        for measure in (mouth_width(aligned), _eye_aperture(aligned)):
            typical = np.abs(measure - np.median(measure))  # relaxed: neither spread nor rounded
            chosen &= typical <= np.median(typical[closed])
        reference = normalise(np.median(aligned[chosen], axis=0))
    return reference


def gaussian_smooth(values: np.ndarray, sigma: float) -> np.ndarray:
    """Zero-phase Gaussian along axis 0 of a (T, C) array, edges held (no lag at either end)."""
    if sigma <= 0 or len(values) < 3:
        return values
    radius = int(np.ceil(3 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    padded = np.pad(values, [(radius, radius)] + [(0, 0)] * (values.ndim - 1), mode="edge")
    return np.stack([np.convolve(padded[:, j], taps, mode="valid") for j in range(values.shape[1])], 1)


def _interpolate_missing(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Linear in time between the nearest frames with a face; held at the ends."""
    if valid.all():
        return values
    frames = np.arange(len(valid))
    flat = values.reshape(len(values), -1)
    filled = np.stack([np.interp(frames, frames[valid], flat[valid, j]) for j in range(flat.shape[1])], 1)
    return filled.reshape(values.shape).astype(values.dtype)


def _solve_sequence(points: np.ndarray, neutral: np.ndarray, basis: np.ndarray, config: TrackerConfig):
    """Alternate rigid alignment and the bounded expression solve for every frame."""
    vertex_weights = np.zeros(NUM_LANDMARKS)
    vertex_weights[:468] = 1.0  # iris points follow gaze, which is not solved
    vertex_weights[list(topology.LIPS_OUTER)] = config.solve.lip_weight
    vertex_weights[list(topology.LIPS_INNER)] = config.solve.inner_lip_weight
    solver = ExpressionSolver(neutral, basis, vertex_weights, config.solve)
    rigid = np.asarray(topology.RIGID)
    weights = np.zeros((len(points), 52))
    for _ in range(config.solve.iterations):
        similarity = robust_similarity(express(neutral, basis, weights), points, rigid)
        weights = solver.solve(to_model_frame(points, *similarity))
    return weights, similarity


def fit_landmarks(
    landmarks: np.ndarray, valid: np.ndarray, camera: Camera, config: TrackerConfig = TrackerConfig()
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Solve neutral, weights (T,52) and pose (T,6) from pixel landmarks of valid frames."""
    points = image_to_right_handed(landmarks[valid].astype(np.float64))
    neutral = estimate_neutral(points, config.neutral_quantile)
    basis = author_blendshapes(neutral).astype(np.float64)
    weights, similarity = _solve_sequence(points, neutral, basis, config)
    pose = similarity_to_pose(*similarity, camera)
    blendshapes = np.zeros((len(valid), 52))
    poses = np.zeros((len(valid), 6))
    blendshapes[valid], poses[valid] = weights, pose
    blendshapes = np.clip(gaussian_smooth(_interpolate_missing(blendshapes, valid), config.smoothing_sigma), 0, 1)
    poses = gaussian_smooth(_interpolate_missing(poses, valid), config.smoothing_sigma)
    return neutral.astype(np.float32), blendshapes.astype(np.float32), poses.astype(np.float32)


def detect_faces(
    path: str | Path, config: TrackerConfig = TrackerConfig(), progress: bool = True,
    measure: Callable[[np.ndarray, list[np.ndarray]], Measured] | None = None,
) -> tuple[People, VideoInfo, list[Measured]]:
    """Every face in every frame (one decode pass), grouped by person; and what ``measure(frame, faces)``
    returned for each frame (empty without ``measure``), so a caller reads the pictures in the same pass."""
    info = probe_video(path)
    faces: list[list[np.ndarray]] = []
    measured: list[Measured] = []
    with FaceMeshDetector(DetectorConfig(max_faces=config.max_faces)) as detector:
        bar = tqdm(total=info.num_frames or None, unit="frame", desc=f"track {info.path.name}", disable=not progress)
        with bar:
            for frame in iter_frames(path):
                faces.append(detector.faces(frame))
                if measure is not None:
                    measured.append(measure(frame, faces[-1]))
                bar.update()
    if not faces:
        raise ValueError(f"{path}: the video has no frames")
    table = follow_faces([[face_box(face) for face in frame] for frame in faces], detector.config)
    return People(faces, table), info, measured


def follow_person(
    people: People, person: int, path: str | Path, config: TrackerConfig = TrackerConfig()
) -> tuple[np.ndarray, np.ndarray]:
    """A person's landmarks (T,478,3) in pixels, missing frames interpolated, and the frames they were found in;
    refuses a person found in too few frames."""
    landmarks, valid = people.landmarks(person)
    if valid.mean() < config.min_valid_fraction:
        raise ValueError(
            f"{path}: a face was found in only {valid.mean():.0%} of {len(valid)} frames "
            f"(need at least {config.min_valid_fraction:.0%}); use a video where the face is visible"
        )
    return _interpolate_missing(landmarks, valid), valid


def detect_landmarks(
    path: str | Path, config: TrackerConfig = TrackerConfig(), progress: bool = True
) -> tuple[np.ndarray, np.ndarray, VideoInfo]:
    """MediaPipe landmarks (T,478,3) in pixels of the largest face and the valid mask; missing frames interpolated."""
    people, info, _ = detect_faces(path, config, progress)
    person = choose_face(people, "largest", min_fraction=config.min_valid_fraction)
    landmarks, valid = follow_person(people, person, path, config)
    return landmarks, valid, info


def track_landmarks(
    landmarks: np.ndarray, valid: np.ndarray, info: VideoInfo, config: TrackerConfig = TrackerConfig()
) -> Track:
    camera = Camera(info.width, info.height)
    neutral, blendshapes, pose = fit_landmarks(landmarks, valid, camera, config)
    return Track(landmarks, valid, blendshapes, pose, info.fps, neutral, camera)


def track_video(path: str | Path, config: TrackerConfig = TrackerConfig(), progress: bool = True) -> Track:
    """Track the largest face of a video (see :mod:`.faces` to choose another); refuses videos with too few faces."""
    landmarks, valid, info = detect_landmarks(path, config, progress)
    return track_landmarks(landmarks, valid, info, config)
