"""Enrollment coverage: which mouths a video showed, and the warnings when it showed too few."""

from __future__ import annotations

import dataclasses
import json
from fractions import Fraction

import numpy as np
import pytest

from talkinghead.contracts import topology
from talkinghead.contracts.arkit import ARKIT_INDEX
from talkinghead.renderer.coverage import TEETH_AREA, mouth_coverage, teeth_area
from talkinghead.renderer.tracking import Camera, Track

SIZE = 256
IOD_PX = 60.0  # the synthetic face's eye distance in pixels
SKIN, CAVITY, TOOTH = (200, 150, 130), (45, 20, 20), (235, 232, 225)


def face(gap: float) -> np.ndarray:
    """Pixel landmarks (478,3) of the topology's neutral face with the lower lip dropped by ``gap`` eye distances."""
    neutral = topology.load_topology().neutral.astype(np.float64)
    points = np.stack([SIZE / 2 + IOD_PX * neutral[:, 0], SIZE / 2 - IOD_PX * neutral[:, 1], -IOD_PX * neutral[:, 2]], 1)
    lower = list(topology.LOWER_LIP_INNER[1:-1]) + list(topology.LOWER_LIP_OUTER[1:-1])
    points[lower, 1] += gap * IOD_PX
    return points


def synthetic_track(gaps: np.ndarray, weights: dict[str, np.ndarray] | None = None,
                    valid: np.ndarray | None = None) -> Track:
    blendshapes = np.zeros((len(gaps), 52), np.float32)
    for name, values in (weights or {}).items():
        blendshapes[:, ARKIT_INDEX[name]] = values
    return Track(np.stack([face(g) for g in gaps]).astype(np.float32),
                 np.ones(len(gaps), bool) if valid is None else valid, blendshapes,
                 np.zeros((len(gaps), 6), np.float32), Fraction(30), topology.load_topology().neutral,
                 Camera(SIZE, SIZE))


def mouth_image(landmarks: np.ndarray, inside: tuple[int, int, int], brightness: float = 1.0) -> np.ndarray:
    """Skin everywhere, the inner lips' box dark, and a centred patch of ``inside`` colour in it."""
    image = np.empty((SIZE, SIZE, 3))
    image[:] = SKIN
    hole = landmarks[list(topology.LIPS_INNER), :2]
    (x0, y0), (x1, y1) = np.floor(hole.min(0)).astype(int), np.ceil(hole.max(0)).astype(int)
    image[y0:y1, x0:x1] = CAVITY
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
    image[cy - 3:cy + 3, cx - 12:cx + 12] = inside
    return np.clip(image * brightness, 0, 255).astype(np.uint8)


def test_only_closed_mouths_warn_about_openings_and_ignore_faceless_frames():
    gaps = np.zeros(900)
    valid = np.ones(900, bool)
    gaps[:100], valid[:100] = 0.5, False  # wide open, but no face was found there: not counted
    coverage = mouth_coverage(synthetic_track(gaps, valid=valid))
    assert coverage.usable == 800 and coverage.frames == 900
    assert coverage.openings == (1.0, 0.0, 0.0, 0.0) and coverage.widest < 0.1
    warnings = coverage.warnings()
    assert any(line.startswith("few open mouths: the avatar's widest mouth is closed") for line in warnings)
    assert any("no rounded lips" in line for line in warnings)
    assert not any("usable video" in line for line in warnings)  # 26.7 s


def test_wide_openings_rounding_and_smiles_give_no_warning():
    frames = 900  # 30 s
    phase = np.arange(frames) % 30
    gaps = np.where(phase < 10, 0.4, np.where(phase < 20, 0.15, 0.0))
    pursed = np.where(phase >= 25, 0.5, 0.0)
    smiling = np.where((phase >= 20) & (phase < 25), 0.4, 0.0)
    coverage = mouth_coverage(synthetic_track(gaps, {"mouthPucker": pursed, "mouthSmileLeft": smiling,
                                                     "mouthSmileRight": smiling, "jawOpen": gaps}))
    assert coverage.warnings() == []
    assert coverage.openings[0] == pytest.approx(1 / 3) and coverage.openings[3] == pytest.approx(1 / 3)
    assert coverage.jaw[3] == pytest.approx(1 / 3)
    assert coverage.rounded == pytest.approx(1 / 6) and coverage.spread == pytest.approx(1 / 6)
    assert coverage.teeth is None and "teeth:       not measured" in coverage.summary()
    assert json.loads(json.dumps(dataclasses.asdict(coverage)))["widest"] == pytest.approx(0.4, abs=0.01)


def test_a_short_video_warns_about_its_length():
    assert any(line.startswith("only 5.0 s of usable video")
               for line in mouth_coverage(synthetic_track(np.full(150, 0.4))).warnings())


@pytest.mark.parametrize("brightness", [1.0, 0.45])  # relative to the skin: dim light finds teeth as well
def test_teeth_are_white_pixels_inside_the_lips(brightness):
    landmarks = face(0.3)
    assert teeth_area(mouth_image(landmarks, TOOTH, brightness), landmarks) >= TEETH_AREA
    assert teeth_area(mouth_image(landmarks, CAVITY, brightness), landmarks) == 0
    assert teeth_area(mouth_image(landmarks, (170, 60, 70), brightness), landmarks) == 0  # a red tongue
    closed = face(0.0)
    assert teeth_area(mouth_image(closed, TOOTH, brightness), closed) < TEETH_AREA  # no hole, no teeth


def test_teeth_share_and_warning_from_frames():
    track = synthetic_track(np.full(120, 0.3))
    landmarks = track.landmarks[0]
    frames = [mouth_image(landmarks, TOOTH if k % 4 == 0 else CAVITY) for k in range(120)]
    assert mouth_coverage(track, iter(frames)).teeth == pytest.approx(0.25)
    dark = mouth_coverage(track, (mouth_image(landmarks, CAVITY) for _ in range(120)))
    assert dark.teeth == 0 and any(line.startswith("teeth never show") for line in dark.warnings())


def test_a_real_clip_shows_teeth_and_covers_the_mouth(data_root):
    pytest.importorskip("mediapipe")
    from talkinghead.renderer.tracking import track_video
    from talkinghead.renderer.video import iter_frames

    video = data_root / "talking" / "andrew_clip_1" / "video.mp4"
    coverage = mouth_coverage(track_video(video, progress=False), iter_frames(video))
    assert 0.6 <= coverage.teeth <= 0.95  # 83% when measured; teeth show in most frames of this smiley talker
    assert coverage.widest >= 0.3 and coverage.warnings() == []
