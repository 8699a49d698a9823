"""The Live Link Face CSV layout: columns, timecodes, round trips and error messages."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from test_coefficients import COEFFICIENT_CASES, FPS_CASES, assert_close, random_coeffs

from talkinghead.contracts.arkit import ARKIT_NAMES
from talkinghead.contracts.coefficients import Coefficients
from talkinghead.contracts.livelink import (
    LIVELINK_HEADER,
    from_livelink_csv,
    livelink_timecode,
    to_livelink_csv,
)


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


@settings(max_examples=40, deadline=None)
@given(**COEFFICIENT_CASES)
def test_csv_round_trip(num_frames, fps, start_frame, seed) -> None:
    c = random_coeffs(num_frames, fps, start_frame, seed)
    back = from_livelink_csv(to_livelink_csv(c), fps=fps)
    if num_frames == 0:  # no rows, no timecode: the layout cannot carry start_frame
        assert len(back) == 0 and back.start_frame == 0
    else:
        assert_close(back, c)
