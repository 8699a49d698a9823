"""MediaPipe face-mesh landmarks (478 points with iris) for a sequence of frames.

MediaPipe is a tool this project calls (the ``track`` extra), not one of its
own models. Landmarks are returned in pixels: x to the right, y down, z the
depth MediaPipe regresses (smaller is closer to the camera) on the x scale.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

NUM_LANDMARKS = 478


def _import_face_mesh():
    try:
        from mediapipe.python.solutions import face_mesh
    except ImportError:
        raise ImportError(
            "face tracking needs MediaPipe: pip install 'talkinghead[track]' (mediapipe==0.10.21)"
        ) from None
    return face_mesh


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Silence MediaPipe's C++ start-up chatter, which bypasses Python's logging."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _box(points: np.ndarray) -> np.ndarray:
    return np.concatenate([points[:, :2].min(0), points[:, :2].max(0)])


def _area(box: np.ndarray) -> float:
    return float(np.prod(np.maximum(box[2:] - box[:2], 0)))


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    inter = _area(np.concatenate([np.maximum(a[:2], b[:2]), np.minimum(a[2:], b[2:])]))
    union = _area(a) + _area(b) - inter
    return inter / union if union > 0 else 0.0


@dataclass(frozen=True)
class DetectorConfig:
    max_faces: int = 4
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    follow_iou: float = 0.3  # a face overlapping the last one this much is the same person


class FaceMeshDetector:
    """Face mesh in video mode that keeps following one face.

    The first face kept is the largest; later frames keep the face that
    overlaps the previous pick, so a second person crossing the frame does not
    steal the track. When the followed face is lost, the largest is taken again.
    """

    def __init__(self, config: DetectorConfig = DetectorConfig()):
        if config.max_faces < 1:
            raise ValueError(f"max_faces must be at least 1, got {config.max_faces}")
        self.config = config
        face_mesh = _import_face_mesh()
        with _quiet_native_stderr():
            self._mesh = face_mesh.FaceMesh(
                static_image_mode=False,
                max_num_faces=config.max_faces,
                refine_landmarks=True,
                min_detection_confidence=config.min_detection_confidence,
                min_tracking_confidence=config.min_tracking_confidence,
            )
        self._last_box: np.ndarray | None = None
        self._started = False

    def __enter__(self) -> FaceMeshDetector:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._mesh.close()

    def faces(self, rgb: np.ndarray) -> list[np.ndarray]:
        """Landmarks ``(478, 3)`` in pixels of every face found (up to ``max_faces``)."""
        height, width = rgb.shape[:2]
        if self._started:
            result = self._mesh.process(np.ascontiguousarray(rgb))
        else:  # the graph finishes starting (and logs) on its first frame
            with _quiet_native_stderr():
                result = self._mesh.process(np.ascontiguousarray(rgb))
            self._started = True
        if not result.multi_face_landmarks:
            return []
        scale = np.array([width, height, width], np.float32)
        return [
            np.array([(p.x, p.y, p.z) for p in face.landmark], np.float32) * scale
            for face in result.multi_face_landmarks
        ]

    def __call__(self, rgb: np.ndarray) -> np.ndarray | None:
        """Landmarks ``(478, 3)`` in pixels of the followed face, or None."""
        faces = self.faces(rgb)
        if not faces:
            self._last_box = None
            return None
        boxes = [_box(face) for face in faces]
        pick = max(range(len(faces)), key=lambda i: _area(boxes[i]))
        if self._last_box is not None:
            overlaps = [_iou(self._last_box, box) for box in boxes]
            best = int(np.argmax(overlaps))
            if overlaps[best] >= self.config.follow_iou:
                pick = best
        self._last_box = boxes[pick]
        return faces[pick]
