"""The Coefficients contract: validation, clock arithmetic, and the three file formats."""

from __future__ import annotations

import itertools
import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from talkinghead.arkit import ARKIT_NAMES, POSE_NAMES
from talkinghead.coefficients import (
    LIVELINK_HEADER,
    Coefficients,
    from_json_dict,
    from_livelink_csv,
    livelink_timecode,
    parse_fps,
    to_json_dict,
    to_livelink_csv,
)

FPS_CASES = [24, 25, 30, Fraction(30000, 1001), 60]


def random_coeffs(num_frames: int, fps, start_frame: int, seed: int = 0) -> Coefficients:
    rng = np.random.default_rng(seed)
    blendshapes = rng.random((num_frames, 52), dtype=np.float32)
    blendshapes[rng.random((num_frames, 52)) < 0.1] = 0.0  # exact 0 and 1 happen in practice
    blendshapes[rng.random((num_frames, 52)) < 0.05] = 1.0
    pose = np.concatenate(
        [rng.uniform(-0.6, 0.6, (num_frames, 3)), rng.normal(0.0, 3.0, (num_frames, 3))], axis=1
    )
    return Coefficients(blendshapes, pose, fps, start_frame)


def assert_close(a: Coefficients, b: Coefficients, atol: float = 1e-6) -> None:
    assert a.fps == b.fps
    assert a.start_frame == b.start_frame
    assert a.blendshapes.shape == b.blendshapes.shape
    np.testing.assert_allclose(a.blendshapes, b.blendshapes, rtol=0, atol=atol)
    np.testing.assert_allclose(a.pose, b.pose, rtol=0, atol=atol)


# ------------------------------------------------------------------ construction
def test_fields_are_normalised_and_private() -> None:
    source = np.full((3, 52), 0.5)  # float64 input
    c = Coefficients(source, np.zeros((3, 6), np.int64), "30000/1001", np.int64(7))
    assert c.blendshapes.dtype == np.float32 and c.pose.dtype == np.float32
    assert c.fps == Fraction(30000, 1001) and isinstance(c.fps, Fraction)
    assert c.start_frame == 7 and type(c.start_frame) is int
    source[0, 0] = 0.9  # the caller's array is not aliased
    assert c.blendshapes[0, 0] == np.float32(0.5)
    with pytest.raises(ValueError):
        c.blendshapes[0, 0] = 1.0  # read-only
    with pytest.raises(AttributeError):
        c.start_frame = 3  # frozen


@pytest.mark.parametrize(
    "given_fps, expected",
    [
        (25, Fraction(25)),
        (np.int64(30), Fraction(30)),
        (Fraction(24000, 1001), Fraction(24000, 1001)),
        ("30000/1001", Fraction(30000, 1001)),
        (" 25 ", Fraction(25)),
        ([30000, 1001], Fraction(30000, 1001)),
        ((50, 2), Fraction(25)),
        (np.array([60000, 1001], np.int64), Fraction(60000, 1001)),
        (60.0, Fraction(60)),
    ],
)
def test_fps_forms(given_fps, expected) -> None:
    assert parse_fps(given_fps) == expected
    assert Coefficients.empty(given_fps).fps == expected


def test_weights_within_tolerance_are_clipped_exactly() -> None:
    bs = np.full((2, 52), 0.5, np.float64)
    bs[0, 3] = 1.0 + 5e-7
    bs[1, 4] = -5e-7
    c = Coefficients(bs, np.zeros((2, 6)), 25)
    assert c.blendshapes[0, 3] == 1.0 and c.blendshapes[1, 4] == 0.0
    assert c.blendshapes.min() >= 0.0 and c.blendshapes.max() <= 1.0


def _bs(t: int = 4) -> np.ndarray:
    return np.zeros((t, 52), np.float32)


def _pose(t: int = 4) -> np.ndarray:
    return np.zeros((t, 6), np.float32)


def _with(array: np.ndarray, index: tuple[int, int], value: float) -> np.ndarray:
    out = array.astype(np.float64)
    out[index] = value
    return out


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"blendshapes": np.zeros(52)}, r"blendshapes must have shape \(T, 52\), got \(52,\)"),
        ({"blendshapes": np.zeros((4, 51))}, r"shape \(T, 52\), got \(4, 51\)"),
        ({"blendshapes": np.zeros((4, 52, 1))}, r"shape \(T, 52\), got \(4, 52, 1\)"),
        ({"pose": np.zeros((4, 5))}, r"pose must have shape \(T, 6\), got \(4, 5\)"),
        ({"pose": np.zeros(6)}, r"pose must have shape \(T, 6\), got \(6,\)"),
        ({"pose": _pose(3)}, "blendshapes has 4 frames but pose has 3"),
        ({"blendshapes": _with(_bs(), (2, 17), np.nan)}, r"frame 2, jawOpen\] is nan"),
        ({"blendshapes": _with(_bs(), (0, 0), np.inf)}, "finite"),
        ({"pose": _with(_pose(), (1, 1), -np.inf)}, r"pose\[frame 1, yaw\] is -inf"),
        ({"pose": _with(_pose(), (1, 5), 1e40)}, "float32 range"),
        ({"blendshapes": _with(_bs(), (3, 51), 1.01)}, r"tongueOut\] = 1.01 is outside \[0, 1\]"),
        ({"blendshapes": _with(_bs(), (0, 0), -1e-4)}, r"eyeBlinkLeft\] = -0.0001 is outside"),
        ({"blendshapes": np.full((4, 52), "a")}, "real numbers"),
        ({"blendshapes": [[0.0] * 52, [0.0] * 51]}, r"\(T, 52\)"),
        ({"fps": 0}, "fps must be > 0, got 0"),
        ({"fps": -25}, "fps must be > 0, got -25"),
        ({"fps": "-30000/1001"}, "fps must be > 0"),
        ({"fps": "fast"}, "not a rational number"),
        ({"fps": 29.97}, "ambiguous"),
        ({"fps": float("nan")}, "ambiguous"),
        ({"fps": True}, "fps must be a number"),
        ({"fps": [30000, 0]}, "zero denominator"),
        ({"fps": [30000.0, 1001.0]}, "two integers"),
        ({"fps": [1, 2, 3]}, "two integers"),
        ({"fps": None}, "fps must be an int"),
        ({"start_frame": -1}, "start_frame must be >= 0, got -1"),
        ({"start_frame": 1.5}, "start_frame must be an int"),
        ({"start_frame": True}, "start_frame must be an int"),
    ],
)
def test_validation_errors(kwargs, message) -> None:
    args = {"blendshapes": _bs(), "pose": _pose(), "fps": 25, "start_frame": 0}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message) as info:
        Coefficients(**args)
    assert "\n" not in str(info.value)


def test_empty_and_zeros() -> None:
    e = Coefficients.empty("30000/1001", start_frame=12)
    assert len(e) == 0 and e.num_frames == 0 and e.end_frame == 12
    assert e.blendshapes.shape == (0, 52) and e.pose.shape == (0, 6)
    z = Coefficients.zeros(5, 25, 3)
    assert z.blendshapes.shape == (5, 52) and not z.blendshapes.any() and not z.pose.any()
    assert (z.start_frame, z.end_frame) == (3, 8)
    with pytest.raises(ValueError, match="num_frames must be >= 0"):
        Coefficients.zeros(-1, 25)
    with pytest.raises(ValueError, match="num_frames must be an int"):
        Coefficients.zeros(2.0, 25)


# ---------------------------------------------------------------- inspection
def test_times_exact_and_float() -> None:
    c = Coefficients.zeros(3, "30000/1001", start_frame=30)
    assert c.exact_times() == [Fraction(1001, 1000), Fraction(31031, 30000), Fraction(32032, 30000)]
    np.testing.assert_allclose(c.times(), [1.001, 31031 / 30000, 32032 / 30000], rtol=0, atol=1e-12)
    assert c.times().dtype == np.float64
    assert Coefficients.zeros(2, 25, 50).exact_times() == [Fraction(2), Fraction(51, 25)]


def test_blendshape_by_name() -> None:
    c = random_coeffs(6, 25, 0)
    np.testing.assert_array_equal(c.blendshape("jawOpen"), c.blendshapes[:, 17])
    np.testing.assert_array_equal(c.blendshape("tongueOut"), c.blendshapes[:, 51])
    with pytest.raises(ValueError, match="unknown blendshape 'JawOpen'"):
        c.blendshape("JawOpen")


def test_slicing_moves_start_frame() -> None:
    c = random_coeffs(10, 25, 100)
    part = c[2:5]
    assert (part.start_frame, len(part)) == (102, 3)
    np.testing.assert_array_equal(part.blendshapes, c.blendshapes[2:5])
    np.testing.assert_array_equal(part.pose, c.pose[2:5])
    assert c[-3:].start_frame == 107 and len(c[-3:]) == 3
    assert c[:] == c and c.slice() == c
    assert c.slice(4, 6) == c[4:6]
    assert len(c[8:2]) == 0 and c[8:2].start_frame == 108
    assert len(c[5:50]) == 5
    with pytest.raises(ValueError, match="step 1"):
        c[::2]
    with pytest.raises(TypeError, match="must be a slice"):
        c[3]


def test_concat_of_slices_restores_the_whole() -> None:
    c = random_coeffs(20, Fraction(30000, 1001), 7)
    pieces = [c[0:4], c[4:4], c[4:11], c[11:20]]
    assert Coefficients.concat(pieces) == c
    assert Coefficients.concat([c]) == c
    assert Coefficients.concat([Coefficients.empty(c.fps, 99), c[:3], c[3:]]) == c
    both_empty = Coefficients.concat([Coefficients.empty(25, 5), Coefficients.empty(25, 9)])
    assert len(both_empty) == 0 and both_empty.start_frame == 5


def test_concat_refuses_gaps_overlaps_and_mixed_fps() -> None:
    c = random_coeffs(10, 25, 0)
    with pytest.raises(ValueError, match="not contiguous.*ends before frame 3.*starts at frame 4"):
        Coefficients.concat([c[0:3], c[4:10]])
    with pytest.raises(ValueError, match="not contiguous"):
        Coefficients.concat([c[0:5], c[3:10]])
    with pytest.raises(ValueError, match="not contiguous"):
        Coefficients.concat([c[5:10], c[0:5]])
    other = Coefficients.zeros(3, 30, 10)
    with pytest.raises(ValueError, match="chunk 1 has fps 30, chunk 0 has fps 25"):
        Coefficients.concat([c, other])
    with pytest.raises(ValueError, match="at least one chunk"):
        Coefficients.concat([])
    with pytest.raises(ValueError, match="not Coefficients"):
        Coefficients.concat([c, c.blendshapes])


def test_equality_is_exact() -> None:
    c = random_coeffs(4, 25, 2)
    assert c == Coefficients(c.blendshapes.copy(), c.pose.copy(), 25, 2)
    assert c != Coefficients(c.blendshapes, c.pose, 25, 3)
    assert c != Coefficients(c.blendshapes, c.pose, 30, 2)
    nudged = c.pose.copy()
    nudged[1, 1] = np.nextafter(nudged[1, 1], np.float32(10))
    assert c != Coefficients(c.blendshapes, nudged, 25, 2)
    assert "num_frames=4" in repr(c)


# ------------------------------------------------------------------------ files
@pytest.mark.parametrize("fps", FPS_CASES)
def test_npz_round_trip_is_exact(tmp_path: Path, fps) -> None:
    c = random_coeffs(37, fps, 1234, seed=1)
    path = tmp_path / "c.npz"
    c.save(path)
    back = Coefficients.load(path)
    assert back.fps == c.fps and isinstance(back.fps, Fraction)
    assert back.start_frame == c.start_frame
    assert np.array_equal(back.blendshapes, c.blendshapes)
    assert np.array_equal(back.pose, c.pose)
    with np.load(path) as raw:
        assert raw["fps"].dtype == np.int64
        assert raw["fps"].tolist() == [c.fps.numerator, c.fps.denominator]
        assert raw["blendshape_names"].tolist() == list(ARKIT_NAMES)


@pytest.mark.parametrize("fps", FPS_CASES)
def test_json_round_trip(tmp_path: Path, fps) -> None:
    c = random_coeffs(41, fps, 999, seed=2)
    path = tmp_path / "c.json"
    c.save(path)
    doc = json.loads(path.read_text())
    assert doc["format"] == "talkinghead.coefficients" and doc["version"] == 1
    assert doc["fps"] == [c.fps.numerator, c.fps.denominator] and doc["start_frame"] == 999
    assert doc["blendshape_names"] == list(ARKIT_NAMES) and doc["pose_names"] == list(POSE_NAMES)
    assert len(doc["blendshapes"]["jawOpen"]) == 41 and len(doc["pose"]["tz"]) == 41
    assert doc["blendshapes"]["jawOpen"][5] == pytest.approx(float(c.blendshapes[5, 17]), abs=1e-6)
    assert_close(Coefficients.load(path), c)


@pytest.mark.parametrize("fps", FPS_CASES)
def test_livelink_csv_round_trip_with_fps(tmp_path: Path, fps) -> None:
    c = random_coeffs(45, fps, 3 * 3600 * 30 + 61, seed=3)
    path = tmp_path / "c.csv"
    c.save(path)
    assert_close(Coefficients.load(path, fps=fps), c)


@pytest.mark.parametrize("fps", [24, 25, 30, 60])
def test_livelink_csv_round_trip_infers_integer_fps(fps) -> None:
    c = random_coeffs(fps + 3, fps, 17, seed=4)  # spans > 1 s
    back = from_livelink_csv(to_livelink_csv(c))
    assert back.fps == Fraction(fps)
    assert_close(back, c)


def test_livelink_csv_layout() -> None:
    c = random_coeffs(3, 25, 24, seed=5)
    lines = to_livelink_csv(c).splitlines()
    header = lines[0].split(",")
    assert header[:3] == ["Timecode", "BlendShapeCount", "EyeBlinkLeft"]
    assert header[2:54] == [n[0].upper() + n[1:] for n in ARKIT_NAMES]
    assert header[54:] == [
        "HeadYaw", "HeadPitch", "HeadRoll",
        "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll",
        "RightEyeYaw", "RightEyePitch", "RightEyeRoll",
        "HeadTranslationX", "HeadTranslationY", "HeadTranslationZ",
    ]  # fmt: skip
    assert tuple(header) == LIVELINK_HEADER and len(lines) == 4
    rows = [line.split(",") for line in lines[1:]]
    assert [r[0] for r in rows] == ["00:00:00:24.000", "00:00:01:00.000", "00:00:01:01.000"]
    assert all(len(r) == 2 + 61 + 3 and r[1] == "61" for r in rows)
    values = np.array([r[2:] for r in rows], dtype=np.float64)
    np.testing.assert_allclose(values[:, :52], c.blendshapes, atol=1e-6, rtol=0)
    np.testing.assert_allclose(values[:, 52], c.pose[:, 1], atol=1e-6, rtol=0)  # HeadYaw = yaw
    np.testing.assert_allclose(values[:, 53], c.pose[:, 0], atol=1e-6, rtol=0)  # HeadPitch
    np.testing.assert_allclose(values[:, 54], c.pose[:, 2], atol=1e-6, rtol=0)  # HeadRoll
    assert not values[:, 55:61].any()  # eye rotations
    np.testing.assert_allclose(values[:, 61:], c.pose[:, 3:], atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    "frame, fps, expected",
    [
        (0, 25, "00:00:00:00.000"),
        (26, 25, "00:00:01:01.000"),
        (59, 60, "00:00:00:59.000"),
        (30, Fraction(30000, 1001), "00:00:01:00.030"),  # t = 1.001 s
        (29, Fraction(30000, 1001), "00:00:00:29.029"),  # t = 0.9676 s: 29.029 nominal frames
        (1, Fraction(24000, 1001), "00:00:00:01.001"),
        ((3600 + 2 * 60 + 3) * 24 + 5, 24, "01:02:03:05.000"),
        (25 * 3600 * 30, 25, "30:00:00:00.000"),  # no 24 h wrap
        (1, Fraction(1350, 61), "00:00:00:00.994"),  # N = 22, 22 * 61/1350 = 0.9941 frames
    ],
)
def test_livelink_timecodes(frame, fps, expected) -> None:
    assert livelink_timecode(frame, fps) == expected


def test_livelink_csv_columns_by_name_shuffled_and_without_extension() -> None:
    c = random_coeffs(30, 30, 5, seed=6)
    lines = [line.split(",") for line in to_livelink_csv(c).splitlines()]
    keep = [j for j, name in enumerate(lines[0]) if not name.startswith("HeadTranslation")]
    order = np.random.default_rng(7).permutation(keep)
    text = "\n".join(",".join(row[j] for j in order) for row in lines)
    assert not text.startswith("Timecode,")  # really shuffled
    back = from_livelink_csv(text, fps=30)
    np.testing.assert_allclose(back.blendshapes, c.blendshapes, atol=1e-6, rtol=0)
    np.testing.assert_allclose(back.pose[:, :3], c.pose[:, :3], atol=1e-6, rtol=0)
    assert not back.pose[:, 3:].any()  # translations absent -> 0
    assert back.start_frame == 5


# A genuine-style Live Link Face recording: time-of-day timecodes, no extension columns.
HANDWRITTEN_LIVELINK = (
    "Timecode,BlendShapeCount,EyeBlinkLeft,EyeLookDownLeft,EyeLookInLeft,EyeLookOutLeft,"
    "EyeLookUpLeft,EyeSquintLeft,EyeWideLeft,EyeBlinkRight,EyeLookDownRight,EyeLookInRight,"
    "EyeLookOutRight,EyeLookUpRight,EyeSquintRight,EyeWideRight,JawForward,JawLeft,JawRight,"
    "JawOpen,MouthClose,MouthFunnel,MouthPucker,MouthLeft,MouthRight,MouthSmileLeft,"
    "MouthSmileRight,MouthFrownLeft,MouthFrownRight,MouthDimpleLeft,MouthDimpleRight,"
    "MouthStretchLeft,MouthStretchRight,MouthRollLower,MouthRollUpper,MouthShrugLower,"
    "MouthShrugUpper,MouthPressLeft,MouthPressRight,MouthLowerDownLeft,MouthLowerDownRight,"
    "MouthUpperUpLeft,MouthUpperUpRight,BrowDownLeft,BrowDownRight,BrowInnerUp,BrowOuterUpLeft,"
    "BrowOuterUpRight,CheekPuff,CheekSquintLeft,CheekSquintRight,NoseSneerLeft,NoseSneerRight,"
    "TongueOut,HeadYaw,HeadPitch,HeadRoll,LeftEyeYaw,LeftEyePitch,LeftEyeRoll,RightEyeYaw,"
    "RightEyePitch,RightEyeRoll\n"
    "18:38:19:07.542,61,0.25,0,0,0,0,0,0,0.3,0,0,0,0,0,0,0,0,0,0.6,0.05,0,0,0,0,0,0,0,0,0,"
    "0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0.1,0,0,0,0,0,0,0,0.01,0.2,-0.1,0.05,0,0,0,0,0,0\n"
    "18:38:19:08.542,61,0.2,0,0,0,0,0,0,0.25,0,0,0,0,0,0,0,0,0,0.7,0.04,0,0,0,0,0,0,0,0,0,"
    "0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0.1,0,0,0,0,0,0,0,0,0.21,-0.1,0.05,0.1,0,0,0.1,0,0\n"
    "18:38:19:09.542,61,0.1,0,0,0,0,0,0,0.1,0,0,0,0,0,0,0,0,0,0.65,0.03,0,0,0,0,0,0,0,0,0,"
    "0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0.12,0,0,0,0,0,0,0,0,0.22,-0.12,0.04,0.1,0,0,0.1,0,0\n"
)


def test_handwritten_livelink_csv(tmp_path: Path) -> None:
    c = from_livelink_csv(HANDWRITTEN_LIVELINK, fps=60)
    assert len(c) == 3 and c.fps == 60
    assert c.start_frame == (18 * 3600 + 38 * 60 + 19) * 60 + 8  # 07.542 rounds to frame 8
    np.testing.assert_allclose(c.blendshape("jawOpen"), [0.6, 0.7, 0.65], atol=1e-7)
    np.testing.assert_allclose(c.blendshape("eyeBlinkRight"), [0.3, 0.25, 0.1], atol=1e-7)
    np.testing.assert_allclose(c.blendshape("browInnerUp"), [0.1, 0.1, 0.12], atol=1e-7)
    np.testing.assert_allclose(c.blendshape("tongueOut"), [0.01, 0, 0], atol=1e-7)
    assert c.blendshapes.sum(axis=1) == pytest.approx([1.31, 1.29, 1.0], abs=1e-6)
    np.testing.assert_allclose(c.pose[:, 1], [0.2, 0.21, 0.22], atol=1e-7)  # yaw
    np.testing.assert_allclose(c.pose[:, 0], [-0.1, -0.1, -0.12], atol=1e-7)  # pitch
    np.testing.assert_allclose(c.pose[:, 2], [0.05, 0.05, 0.04], atol=1e-7)  # roll
    assert not c.pose[:, 3:].any()
    with pytest.raises(ValueError, match="stay within one second; pass fps="):
        from_livelink_csv(HANDWRITTEN_LIVELINK)
    # the same file as Windows tools save it (BOM, CRLF) loads identically
    path = tmp_path / "take.CSV"
    path.write_bytes(HANDWRITTEN_LIVELINK.replace("\n", "\r\n").encode("utf-8-sig"))
    assert Coefficients.load(path, fps=60) == c


def _csv_with_row(row_edit) -> str:
    lines = to_livelink_csv(random_coeffs(3, 25, 0)).splitlines()
    return "\n".join([lines[0], row_edit(lines[1]), *lines[2:]])


@pytest.mark.parametrize(
    "text, fps, message",
    [
        ("", 25, "empty"),
        ("Timecode,EyeBlinkLeft\n00:00:00:00.000,0\n", 25, "lacks column.*EyeLookDownLeft"),
        (_csv_with_row(lambda r: r + ",0"), 25, "line 2: 67 fields, the header has 66"),
        (
            _csv_with_row(lambda r: r.replace(",61,", ",61,abc,", 1).rsplit(",", 1)[0]),
            25,
            "non-numeric",
        ),
        (_csv_with_row(lambda r: "00:00:00." + r[9:]), 25, "not HH:MM:SS:FF.mmm"),
        (_csv_with_row(lambda r: "00:00:61" + r[8:]), 25, "minutes/seconds >= 60"),
        (_csv_with_row(lambda r: "00:00:00:29" + r[11:]), 25, "frame 29 >= 25.*wrong fps"),
        (_csv_with_row(lambda r: r.replace(",61,", ",61,nan,", 1).rsplit(",", 1)[0]), 25, "nan"),
        (",".join(LIVELINK_HEADER) + "\n", None, "no rows; pass fps="),
        (
            to_livelink_csv(random_coeffs(3, 25, 0)).replace("HeadRoll", "HeadYaw"),
            25,
            "repeats column 'HeadYaw'",
        ),
    ],
)
def test_livelink_csv_errors(text, fps, message) -> None:
    with pytest.raises(ValueError, match=message) as info:
        from_livelink_csv(text, fps=fps)
    assert "\n" not in str(info.value)


def test_livelink_csv_header_only_with_fps_is_empty() -> None:
    c = from_livelink_csv(",".join(LIVELINK_HEADER) + "\n", fps="30000/1001")
    assert len(c) == 0 and c.fps == Fraction(30000, 1001)


def test_json_errors() -> None:
    good = to_json_dict(random_coeffs(4, 25, 0))
    cases = [
        ({**good, "format": "other"}, "not a coefficients JSON"),
        ({**good, "version": 2}, "unsupported coefficients JSON version 2"),
        ({k: v for k, v in good.items() if k != "fps"}, "lacks 'fps'"),
        (
            {
                **good,
                "blendshapes": {k: v for k, v in good["blendshapes"].items() if k != "jawOpen"},
            },
            r"missing \['jawOpen'\]",
        ),
        ({**good, "pose": {**good["pose"], "scale": [1.0] * 4}}, r"unknown \['scale'\]"),
        ({**good, "pose": {**good["pose"], "tz": [0.0] * 3}}, "different lengths"),
        ({**good, "pose": {**good["pose"], "tz": [0.0, None, 0.0, 0.0]}}, "only numbers"),
        ({**good, "pose": {**good["pose"], "tz": [0.0, "1", 0.0, 0.0]}}, "only numbers"),
        ({**good, "pose": {**good["pose"], "tz": 0.0}}, "must be a list"),
        ({**good, "blendshape_names": ["jawOpen"]}, "blendshape_names does not match"),
        ({**good, "start_frame": -2}, "start_frame must be >= 0"),
        ([1, 2], "not a coefficients JSON"),
    ]
    for doc, message in cases:
        with pytest.raises(ValueError, match=message):
            from_json_dict(doc)


def test_json_reads_columns_by_name_in_any_key_order() -> None:
    c = random_coeffs(5, 24, 3)
    doc = to_json_dict(c)
    doc["blendshapes"] = dict(reversed(list(doc["blendshapes"].items())))
    doc["blendshape_names"] = list(reversed(doc["blendshape_names"]))
    assert_close(from_json_dict(doc), c)


def test_file_errors(tmp_path: Path) -> None:
    c = random_coeffs(3, 25, 0)
    with pytest.raises(ValueError, match="unsupported coefficients file suffix '.txt'"):
        c.save(tmp_path / "c.txt")
    with pytest.raises(ValueError, match="unsupported"):
        Coefficients.load(tmp_path / "c")
    c.save(tmp_path / "c.NPZ")  # suffix case-insensitive; numpy must not append ".npz"
    assert [p.name for p in tmp_path.iterdir()] == ["c.NPZ"]
    assert Coefficients.load(tmp_path / "c.NPZ") == c
    with pytest.raises(ValueError, match="fps= applies to .csv files only"):
        Coefficients.load(tmp_path / "c.NPZ", fps=25)
    (tmp_path / "bad.npz").write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match="not a coefficients .npz"):
        Coefficients.load(tmp_path / "bad.npz")
    np.savez(tmp_path / "partial.npz", blendshapes=c.blendshapes)
    with pytest.raises(ValueError, match="lacks pose, fps"):
        Coefficients.load(tmp_path / "partial.npz")
    np.savez(
        tmp_path / "reordered.npz",
        blendshapes=c.blendshapes,
        pose=c.pose,
        fps=np.array([25, 1]),
        start_frame=np.int64(0),
        blendshape_names=np.array(ARKIT_NAMES[::-1]),
        pose_names=np.array(POSE_NAMES),
    )
    with pytest.raises(ValueError, match="blendshape_names do not match ARKIT_NAMES order"):
        Coefficients.load(tmp_path / "reordered.npz")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ValueError, match="invalid JSON"):
        Coefficients.load(tmp_path / "broken.json")


# -------------------------------------------------------------------- properties
@settings(max_examples=40, deadline=None)
@given(
    num_frames=st.integers(0, 40),
    fps=st.sampled_from([*FPS_CASES, Fraction(24000, 1001), Fraction(1350, 61), 12]),
    start_frame=st.integers(0, 10**7),
    seed=st.integers(0, 2**32 - 1),
)
def test_text_formats_round_trip(num_frames, fps, start_frame, seed) -> None:
    c = random_coeffs(num_frames, fps, start_frame, seed)
    assert_close(from_json_dict(json.loads(json.dumps(to_json_dict(c)))), c)
    from_csv = from_livelink_csv(to_livelink_csv(c), fps=fps)
    if num_frames == 0:  # no rows, no timecode: the layout cannot carry start_frame
        assert len(from_csv) == 0 and from_csv.start_frame == 0
    else:
        assert_close(from_csv, c)


@settings(max_examples=40, deadline=None)
@given(
    num_frames=st.integers(0, 30),
    cuts=st.lists(st.integers(0, 30), max_size=5),
    start_frame=st.integers(0, 1000),
)
def test_concat_inverts_any_partition(num_frames, cuts, start_frame) -> None:
    c = random_coeffs(num_frames, Fraction(30000, 1001), start_frame)
    bounds = [0, *sorted(min(x, num_frames) for x in cuts), num_frames]
    parts = [c[a:b] for a, b in itertools.pairwise(bounds)]
    assert [p.start_frame for p in parts] == [start_frame + a for a in bounds[:-1]]
    assert Coefficients.concat(parts) == c
