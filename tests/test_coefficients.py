"""The Coefficients contract: validation, clock arithmetic, and the .npz / .json formats.

The Live Link CSV layout is tested in test_livelink.py.
"""

from __future__ import annotations

import itertools
import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from talkinghead.contracts.arkit import ARKIT_NAMES, POSE_NAMES
from talkinghead.contracts.coefficients import Coefficients, from_json_dict, parse_fps, to_json_dict

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
        (np.float64(24.0), Fraction(24)),
        ([np.int64(30000), np.int64(1001)], Fraction(30000, 1001)),
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
        ({"fps": 0}, "fps must be positive, got 0"),
        ({"fps": -25}, "fps must be positive, got -25"),
        ({"fps": "-30000/1001"}, "fps must be positive"),
        ({"fps": "fast"}, "fps 'fast' is not a number or 'num/den'"),
        ({"fps": 29.97}, "fps 29.97 is not exact"),
        ({"fps": float("nan")}, "not exact"),
        ({"fps": True}, "fps must be a number"),
        ({"fps": np.bool_(True)}, "fps must be a number"),
        ({"fps": [30000, 0]}, "zero denominator"),
        ({"fps": [30000.0, 1001.0]}, r"\[num, den\] must hold two ints"),
        ({"fps": np.array([30000.0, 1001.0])}, "fps array must be two integers"),
        ({"fps": np.array([30, 1, 1])}, r"fps array .* shape \(3,\)"),
        ({"fps": [1, 2, 3]}, "fps must be an int, Fraction"),
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
COEFFICIENT_CASES = dict(
    num_frames=st.integers(0, 40),
    fps=st.sampled_from([*FPS_CASES, Fraction(24000, 1001), Fraction(1350, 61), 12]),
    start_frame=st.integers(0, 10**7),
    seed=st.integers(0, 2**32 - 1),
)


@settings(max_examples=40, deadline=None)
@given(**COEFFICIENT_CASES)
def test_json_round_trip_property(num_frames, fps, start_frame, seed) -> None:
    c = random_coeffs(num_frames, fps, start_frame, seed)
    assert_close(from_json_dict(json.loads(json.dumps(to_json_dict(c)))), c)


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
