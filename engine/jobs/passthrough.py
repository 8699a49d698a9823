"""Which frames of a dub cannot be redrawn believably, and why: they pass through untouched.

Reasons, each with its threshold (:class:`PassConfig`), measured by
``benchmarks/dub_passthrough_eval.py`` on the real clips of ``../shared/data``
(7 talking-head crops of 4 people, the 4 ``retalk`` videos, the half-body
``sun`` and ``yongen``: 5 747 frames, none of them flagged), on those clips
with a flat rectangle over the mouth, and on joins of two clips:

- ``face lost``: the tracker found no face.
- ``shot cut``: a jump between consecutive frames, scored
  ``colour / colour_jump + landmarks / landmark_jump`` (colour: histogram
  distance; landmarks: mean step of the face's landmarks in inter-ocular
  distances); 1 or more is a cut. Real clips: steps up to 0.056 and 0.14,
  scores up to 0.76. Joins of two talking clips: 1.12 (one person, one set,
  a jump cut) to 7.4. The ``cut_margin`` frames either side of a cut pass
  through: the tracker's smoothing mixes both shots there, and the drive
  fades within each shot.
- ``face too small``: eyes closer than ``min_interocular_px`` (real clips:
  52 px and more); the redrawn mouth would be a handful of pixels.
- ``profile view``: head yaw beyond ``max_yaw_degrees`` (real clips: 20° at
  most; no profile footage to measure on).
- ``mouth covered``: the mouth's appearance
  (:func:`talkinghead.renderer.appearance.mouth_appearance`) far from the
  person's usual one in the same shot: a robust z-score (median and 1.4826
  MAD, with a floor, estimated again without the frames found far) of the
  lips' brightness (either way) or of the mouth's texture (lower only),
  above ``covered_z`` for ``covered_frames`` frames in a row. Real clips:
  single frames up to 4.8 (a closed mouth of a person who mostly talks with
  teeth showing), held for 3 frames up to 3.4 (4.1 in 2 s shots); a flat
  cheek-coloured or dark rectangle over the mouth: 7.3 and more, all
  frames found. The usual appearance is the shot's median: an occlusion
  covering half a shot or more is not seen.

Frames with a reason get drive weight 0 (:func:`talkinghead.jobs.dub_plan.plan_dub`
fades to and from them) and are reported as :class:`Span` s.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from talkinghead.contracts.audio_io import load_audio
from talkinghead.contracts.face_model import interocular
from talkinghead.renderer.appearance import FrameLook, histogram_distance, look
from talkinghead.renderer.faces import People, choose_face, speech_envelope
from talkinghead.renderer.tracking import (
    Track,
    TrackerConfig,
    detect_faces,
    follow_person,
    track_landmarks,
)

REASONS = ("face lost", "shot cut", "face too small", "profile view", "mouth covered")  # first applies
NONE = -1


@dataclass(frozen=True)
class PassConfig:
    colour_jump: float = 0.2  # histogram distance that alone makes a cut (real clips: 0.056 at most)
    landmark_jump: float = 0.25  # landmark step, inter-ocular distances, that alone makes a cut (real: 0.14)
    cut_margin: int = 2  # frames each side of a cut passed through (the tracker's smoothing reach, 3 sigma)
    min_interocular_px: float = 12.0
    max_yaw_degrees: float = 35.0
    covered_z: float = 5.0  # real clips: 3.4 at most, held for 3 frames; flat occluders: 7.3 and more
    covered_frames: int = 3  # in a row
    appearance_floor: tuple[float, float] = (0.05, 0.15)  # least spread (lip brightness, texture), in logs
    reference_rounds: int = 2  # estimates of the usual mouth, each without the frames the last found far


@dataclass(frozen=True)
class Span:
    """Frames ``[start_frame, end_frame)`` of the output, shown from ``start_s`` to ``end_s``, passed through."""

    start_frame: int
    end_frame: int
    start_s: float
    end_s: float
    reason: str

    def __str__(self) -> str:
        return (f"frames {self.start_frame}-{self.end_frame - 1} ({self.start_s:.2f}-{self.end_s:.2f} s) "
                f"passed through: {self.reason}")


@dataclass(frozen=True)
class Survey:
    """A video tracked for a dub: the chosen face's track, which face that is, and why frames pass through."""

    track: Track
    face: int  # counted from the left, from 1
    faces: int  # faces found in at least the tracker's min_valid_fraction of frames
    reasons: np.ndarray  # (T,) per input frame: index in REASONS, or NONE


def survey(video: str | Path, face: str = "speaking", own_speech: str | Path | None = None,
           tracker: TrackerConfig | None = None, config: PassConfig = PassConfig(), progress: bool = True) -> Survey:
    """Track the chosen face (:mod:`talkinghead.renderer.faces`) and, in the same decode pass, measure what
    :func:`frame_reasons` needs. ``own_speech``: a file with the video's own speech (the video itself when
    it has sound), to tell which face speaks."""
    tracker = tracker or TrackerConfig()
    people, info, looks = detect_faces(video, tracker, progress, measure=look)
    candidates = people.candidates(tracker.min_valid_fraction)
    envelope = _speech_envelope(own_speech, float(info.fps), people.num_frames) if len(candidates) > 1 else None
    person = choose_face(people, face, envelope, tracker.min_valid_fraction)
    landmarks, valid = follow_person(people, person, video, tracker)
    track = track_landmarks(landmarks, valid, info, tracker)
    reasons = frame_reasons(landmarks, valid, track.pose[:, 1], np.stack([seen.histogram for seen in looks]),
                            _followed_mouths(looks, people, person), config)
    return Survey(track, candidates.index(person) + 1, len(candidates), reasons)


def _speech_envelope(own_speech: str | Path | None, fps: float, count: int) -> np.ndarray | None:
    """The loudness per frame of the video's own speech, None without it."""
    if own_speech is None:
        return None
    samples, rate = load_audio(own_speech)
    return speech_envelope(samples, rate, fps, count)


def _followed_mouths(looks: list[FrameLook], people: People, person: int) -> np.ndarray:
    """(T,2) the followed person's mouth appearance per frame, NaN where they were not found."""
    mouths = np.full((len(looks), 2), np.nan, np.float32)
    for t, face in enumerate(people.table[:, person]):
        if face >= 0:
            mouths[t] = looks[t].mouths[face]
    return mouths


def frame_reasons(landmarks: np.ndarray, valid: np.ndarray, yaw: np.ndarray, histograms: np.ndarray,
                  mouths: np.ndarray, config: PassConfig = PassConfig()) -> np.ndarray:
    """Per input frame, the index in :data:`REASONS` of why it passes through, or :data:`NONE`.

    ``landmarks`` (T,478,3) pixels and ``valid`` (T,): the followed face; ``yaw`` (T,) radians;
    ``histograms`` (T,bins): :func:`~talkinghead.renderer.appearance.colour_histogram`;
    ``mouths`` (T,2): :func:`~talkinghead.renderer.appearance.mouth_appearance` (NaN where no face).
    """
    valid = np.asarray(valid, bool)
    cuts = shot_cuts(histograms, landmarks, valid, config)
    flags = [
        ~valid,
        near_cuts(cuts, config.cut_margin),
        interocular(landmarks.astype(np.float64)) < config.min_interocular_px,
        np.abs(np.degrees(yaw)) > config.max_yaw_degrees,
        mouth_covered(mouths, cuts, config),
    ]
    reasons = np.full(len(valid), NONE)
    for index, flag in reversed(list(enumerate(flags))):
        reasons[flag] = index
    return reasons


def shot_cuts(histograms: np.ndarray, landmarks: np.ndarray, valid: np.ndarray,
              config: PassConfig = PassConfig()) -> np.ndarray:
    """(T,) bool: frame ``k`` starts a new shot (its colours and/or face jumped from frame ``k - 1``)."""
    return cut_scores(histograms, landmarks, valid, config) >= 1


def cut_scores(histograms: np.ndarray, landmarks: np.ndarray, valid: np.ndarray,
               config: PassConfig = PassConfig()) -> np.ndarray:
    """(T,) how much frame ``k`` jumped from frame ``k - 1``: ``colour / colour_jump + landmarks / landmark_jump``
    (landmarks only where both frames have a face); 1 or more is a cut."""
    colour = histogram_distance(histograms[1:], histograms[:-1])
    points = landmarks[..., :2].astype(np.float64)
    step = np.linalg.norm(points[1:] - points[:-1], axis=-1).mean(-1) / interocular(points[1:])
    step = np.where(valid[1:] & valid[:-1], step, 0.0)
    return np.concatenate([[0.0], colour / config.colour_jump + step / config.landmark_jump])


def near_cuts(cuts: np.ndarray, margin: int) -> np.ndarray:
    """(T,) bool: the ``margin`` frames either side of each cut (a cut is between frames k-1 and k)."""
    near = np.zeros(len(cuts), bool)
    for k in np.flatnonzero(cuts):
        near[max(0, k - margin): k + margin] = True
    return near


def mouth_covered(mouths: np.ndarray, cuts: np.ndarray, config: PassConfig = PassConfig()) -> np.ndarray:
    """(T,) bool: the mouth looks unlike the person's usual one in its shot, for long enough."""
    return _long_runs(mouth_scores(mouths, cuts, config) > config.covered_z, config.covered_frames)


def mouth_scores(mouths: np.ndarray, cuts: np.ndarray, config: PassConfig = PassConfig()) -> np.ndarray:
    """(T,) how far each frame's mouth is from the usual one of its shot (robust z, see the module)."""
    scores = np.zeros(len(mouths))
    starts = np.concatenate([[0], np.flatnonzero(cuts), [len(mouths)]])
    for start, stop in itertools.pairwise(starts):
        scores[start:stop] = _robust_z(mouths[start:stop], config)
    return scores


def _robust_z(mouths: np.ndarray, config: PassConfig) -> np.ndarray:
    """Per frame, how far its mouth is from the usual one: lip brightness either way, texture lower only.

    The usual mouth is the median of the frames, its spread 1.4826 MAD (at least the floor); both are
    estimated again without the frames found far, since a long occlusion inflates the first spread."""
    known = np.isfinite(mouths).all(1)
    z = np.zeros(len(mouths))
    usual = known
    for _ in range(config.reference_rounds):
        if not usual.any():
            break
        median = np.median(mouths[usual], 0)
        spread = np.maximum(1.4826 * np.median(np.abs(mouths[usual] - median), 0), config.appearance_floor)
        scaled = (mouths - median) / spread
        z = np.where(known, np.maximum(np.abs(scaled[:, 0]), -scaled[:, 1]), 0.0)
        usual = known & (z <= config.covered_z)
    return z


def _long_runs(flags: np.ndarray, length: int) -> np.ndarray:
    """Only the runs of at least ``length`` consecutive True values."""
    edges = np.diff(np.concatenate([[0], flags.astype(int), [0]]))
    out = np.zeros(len(flags), bool)
    for start, stop in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
        if stop - start >= length:
            out[start:stop] = True
    return out


def spans(reasons: np.ndarray, times: list[Fraction], durations: list[Fraction]) -> list[Span]:
    """Consecutive frames with the same reason, as spans (frames without one are left out)."""
    out = []
    edges = np.flatnonzero(np.diff(reasons)) + 1
    for start, stop in zip(np.concatenate([[0], edges]), np.concatenate([edges, [len(reasons)]])):
        if reasons[start] != NONE:
            out.append(Span(int(start), int(stop), float(times[start]), float(times[stop - 1] + durations[stop - 1]),
                            REASONS[reasons[start]]))
    return out
