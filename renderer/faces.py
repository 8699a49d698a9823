"""Several faces in one video: which person a track (and a dub) follows.

MediaPipe finds every face of a frame; :func:`~talkinghead.renderer.landmarks.follow_faces`
groups them into people over time. A person found in at least ``min_fraction``
of the frames is a candidate; candidates are numbered 1, 2, ... from the left
(by the median centre of their face box). A choice is one of:

- ``largest``: the largest median face box (what ``talkinghead track`` follows);
- ``left`` / ``right``: the first / last candidate from the left;
- a number ``N``: the N-th candidate from the left;
- ``speaking``: the person whose lip motion follows the loudness of the
  video's own speech best (Pearson r between the smoothed lip speed and the
  smoothed RMS envelope, best over small lags), the largest when there is no
  speech to compare with. ``benchmarks/dub_passthrough_eval.py`` puts two
  talking clips of ``../shared/data`` side by side (5 s, the sound of one,
  on either side): it picks the speaking face in all 14 videos. Over a few
  seconds a person's lips follow their own speech with r = 0.15-0.7, but
  another talking person's lips can follow it by chance nearly as well; a
  listener's barely move, and longer videos separate them better.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talkinghead.contracts.face_model import interocular, lip_gap
from talkinghead.renderer.landmarks import NUM_LANDMARKS, face_box

FACE_CHOICES = ("speaking", "largest", "left", "right")
SPEAKING_SMOOTHING = 5  # frames: lip speed and loudness are averaged over this window before correlating
SPEAKING_LAGS = 2  # frames either way: the picture may lead or trail its sound a little


def parse_face(text: str) -> str:
    """A valid ``--face`` value (one of :data:`FACE_CHOICES` or a number from 1), else a one-line error."""
    if text in FACE_CHOICES or (text.isdigit() and int(text) >= 1):
        return text
    raise ValueError(f"face must be one of {', '.join(FACE_CHOICES)} or a number from 1 (from the left), got {text!r}")


@dataclass(frozen=True)
class People:
    """Every face found in a video, grouped by person."""

    faces: list[list[np.ndarray]]  # per frame: landmarks (478,3) in pixels of each face found
    table: np.ndarray  # (T, P) int: index into ``faces[t]`` of person p's face, -1 where not found

    @property
    def num_frames(self) -> int:
        return len(self.faces)

    def presence(self) -> np.ndarray:
        """Per person, the fraction of frames where their face was found."""
        return (self.table >= 0).mean(0)

    def landmarks(self, person: int) -> tuple[np.ndarray, np.ndarray]:
        """A person's landmarks ``(T, 478, 3)`` (zeros where not found) and where they were found."""
        valid = self.table[:, person] >= 0
        out = np.zeros((self.num_frames, NUM_LANDMARKS, 3), np.float32)
        for t in np.flatnonzero(valid):
            out[t] = self.faces[t][self.table[t, person]]
        return out, valid

    def candidates(self, min_fraction: float) -> list[int]:
        """People found in at least ``min_fraction`` of the frames (else the most often found), left to right."""
        presence = self.presence()
        chosen = [p for p in range(len(presence)) if presence[p] >= min_fraction]
        if len(chosen) < 2:  # one person (perhaps never found: the caller's coverage check says so)
            return chosen or [int(np.argmax(presence))]
        return sorted(chosen, key=lambda p: float(np.median(self._boxes(p)[:, [0, 2]])))

    def area(self, person: int) -> float:
        """Median area of a person's face box, square pixels."""
        boxes = self._boxes(person)
        return float(np.median((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])))

    def _boxes(self, person: int) -> np.ndarray:
        return np.stack([face_box(self.faces[t][i]) for t, i in enumerate(self.table[:, person]) if i >= 0])


def choose_face(people: People, face: str, envelope: np.ndarray | None = None, min_fraction: float = 0.5) -> int:
    """The person to follow (an index into ``people.table``'s columns), see the module's docstring.

    ``envelope``: the video's own speech loudness per frame (:func:`speech_envelope`), for ``speaking``.
    """
    candidates = people.candidates(min_fraction)
    if face.isdigit():
        if int(face) > len(candidates):
            raise ValueError(f"face {face} asked for, but the video shows {_count(len(candidates))} "
                             f"(numbered from 1 at the left)")
        return candidates[int(face) - 1]
    if face == "left" or len(candidates) == 1:
        return candidates[0]
    if face == "right":
        return candidates[-1]
    if face == "speaking" and envelope is not None:
        return max(candidates, key=lambda p: speaking_score(people, p, envelope))
    return max(candidates, key=people.area)


def _count(faces: int) -> str:
    return "1 face" if faces == 1 else f"{faces} faces"


def speech_envelope(samples: np.ndarray, rate: int, fps: float, count: int) -> np.ndarray:
    """RMS loudness of ``samples`` over each of ``count`` frames at ``fps`` (0 past the audio's end)."""
    edges = np.minimum(np.round(np.arange(count + 1) * rate / fps).astype(int), len(samples))
    squares = np.concatenate([[0.0], np.cumsum(np.asarray(samples, np.float64) ** 2)])
    sizes = np.maximum(np.diff(edges), 1)
    return np.sqrt((squares[edges[1:]] - squares[edges[:-1]]) / sizes)


def speaking_score(people: People, person: int, envelope: np.ndarray) -> float:
    """How well a person's lip motion follows the speech's loudness: Pearson r, best over small lags."""
    landmarks, valid = people.landmarks(person)
    frames = np.arange(people.num_frames)
    gap = lip_gap(landmarks[valid].astype(np.float64)) / interocular(landmarks[valid].astype(np.float64))
    speed = _smooth(np.abs(np.diff(np.interp(frames, frames[valid], gap), prepend=gap[0])))
    loudness = np.zeros(people.num_frames)
    loudness[: len(envelope)] = envelope[: people.num_frames]
    return max(_pearson(*_lagged(speed, _smooth(loudness), lag)) for lag in range(-SPEAKING_LAGS, SPEAKING_LAGS + 1))


def _lagged(picture: np.ndarray, sound: np.ndarray, lag: int) -> tuple[np.ndarray, np.ndarray]:
    """The overlapping parts of two signals with ``picture[t + lag]`` beside ``sound[t]``."""
    n = len(picture) - abs(lag)
    return picture[max(0, lag):][:n], sound[max(0, -lag):][:n]


def _smooth(values: np.ndarray) -> np.ndarray:
    return np.convolve(values, np.ones(SPEAKING_SMOOTHING) / SPEAKING_SMOOTHING, mode="same")


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    scale = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / scale) if scale > 0 else 0.0
