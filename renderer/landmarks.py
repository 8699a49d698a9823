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


def face_box(points: np.ndarray) -> np.ndarray:
    """``(x0, y0, x1, y1)`` pixels around a face's landmarks."""
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
    together_fraction: float = 0.1  # faces are told apart as people when this share of frames shows several


def follow_faces(boxes: list[list[np.ndarray]], config: DetectorConfig = DetectorConfig()) -> np.ndarray:
    """Group the faces found in each frame into people: ``(T, P)`` index of person ``p``'s face in frame
    ``t``'s list, -1 where that person was not found.

    When fewer than ``config.together_fraction`` of the frames show several faces (one person; a face in
    the background now and then; the old and the new face for a frame at a shot cut), there is one
    person, followed as :class:`FaceMeshDetector` does. Otherwise a face continues the person whose last
    box it overlaps most (at least ``config.follow_iou``; one face per person and frame), and any other
    face is a new person.
    """
    if np.mean([len(frame) > 1 for frame in boxes]) < config.together_fraction:
        return _follow_one(boxes, config.follow_iou)[:, None]
    return _follow_people(boxes, config.follow_iou)


def _follow_people(boxes: list[list[np.ndarray]], follow_iou: float) -> np.ndarray:
    """The ``(T, P)`` table of :func:`follow_faces`, each face continuing the person it overlaps most."""
    last: list[np.ndarray] = []
    rows = []
    for frame in boxes:
        row = _match(last, frame, follow_iou)
        for i in sorted(set(range(len(frame))) - set(row)):
            last.append(frame[i])
            row.append(i)
        for person, i in enumerate(row):
            if i >= 0:
                last[person] = frame[i]
        rows.append(row)
    table = np.full((len(rows), len(last)), -1, int)
    for t, row in enumerate(rows):
        table[t, : len(row)] = row
    return table


def _follow_one(boxes: list[list[np.ndarray]], follow_iou: float) -> np.ndarray:
    """Per frame, the index of the one followed face (-1: none), as :class:`FaceMeshDetector` picks it."""
    picks = []
    last = None
    for frame in boxes:
        picks.append(_pick(last, frame, follow_iou))
        last = frame[picks[-1]] if frame else None
    return np.array(picks, int)


def _pick(last: np.ndarray | None, boxes: list[np.ndarray], follow_iou: float) -> int:
    """The face overlapping the last followed box, else the largest (-1: no face)."""
    if not boxes:
        return -1
    if last is not None:
        overlaps = [_iou(last, box) for box in boxes]
        if max(overlaps) >= follow_iou:
            return int(np.argmax(overlaps))
    return max(range(len(boxes)), key=lambda i: _area(boxes[i]))


def _match(people: list[np.ndarray], faces: list[np.ndarray], follow_iou: float) -> list[int]:
    """Per person (by last box), the index of the face that continues it (-1: none), best overlaps first."""
    row = [-1] * len(people)
    overlaps = sorted(((_iou(box, face), p, i) for p, box in enumerate(people) for i, face in enumerate(faces)),
                      reverse=True)
    for overlap, person, i in overlaps:
        if overlap < follow_iou:
            break
        if row[person] < 0 and i not in row:
            row[person] = i
    return row


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
        boxes = [face_box(face) for face in faces]
        pick = _pick(self._last_box, boxes, self.config.follow_iou)
        self._last_box = boxes[pick] if faces else None
        return faces[pick] if faces else None
