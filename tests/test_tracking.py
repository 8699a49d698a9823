"""The tracker: synthetic round trip, refusal, interpolation, multi-face, CLI."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from talkinghead.contracts import topology
from talkinghead.contracts.arkit import ARKIT_INDEX
from talkinghead.renderer.solve import SOLVED_INDEX, SOLVED_SHAPES, similarity, solve_box_qp
from talkinghead.renderer.synthetic import random_pose, random_weights, render_landmarks
from talkinghead.renderer.tracking import (
    Camera,
    Track,
    TrackerConfig,
    fit_landmarks,
    track_landmarks,
)
from talkinghead.renderer.video import VideoInfo


def _synthetic(seed: int, frames: int = 400, iod_px: float = 60.0, noise_px: float = 0.5):
    rng = np.random.default_rng(seed)
    camera = Camera(256, 256)
    neutral = topology.load_topology().neutral.astype(np.float64)
    weights = random_weights(rng, frames)
    pose = random_pose(rng, frames, camera, iod_px)
    return neutral, render_landmarks(neutral, weights, pose, camera, rng, noise_px=noise_px)


def test_box_qp_matches_bruteforce_on_small_problem():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((20, 3))
    target = rng.standard_normal((5, 20))
    solved = solve_box_qp(a.T @ a, target @ a, sweeps=200)
    grid = np.stack(np.meshgrid(*[np.linspace(0, 1, 41)] * 3, indexing="ij"), -1).reshape(-1, 3)
    for row, w in zip(target, solved):
        costs = ((grid @ a.T - row) ** 2).sum(1)
        assert ((w @ a.T - row) ** 2).sum() <= costs.min() + 1e-9
        assert np.all((w >= 0) & (w <= 1))


def test_similarity_recovers_a_known_transform():
    rng = np.random.default_rng(2)
    source = rng.standard_normal((50, 3))
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    rotation = q * np.sign(np.linalg.det(q))
    target = 3.0 * source @ rotation.T + np.array([1.0, -2.0, 0.5])
    scale, r, t = similarity(source, target[None])
    assert scale[0] == pytest.approx(3.0)
    np.testing.assert_allclose(r[0], rotation, atol=1e-9)
    np.testing.assert_allclose(t[0], [1.0, -2.0, 0.5], atol=1e-9)


def test_synthetic_round_trip_gives_the_weights_back():
    neutral, seq = _synthetic(seed=0)
    valid = np.ones(len(seq.landmarks), bool)
    solved_neutral, weights, pose = fit_landmarks(seq.landmarks, valid, seq.camera, TrackerConfig(smoothing_sigma=0))
    error = np.abs(weights - seq.blendshapes).mean(0)
    for name in SOLVED_SHAPES:
        # eyelid and brow shapes move a few pixels at most: 0.5 px of noise costs them more
        limit = 0.08 if name.startswith(("eye", "brow")) else 0.05
        assert error[ARKIT_INDEX[name]] < limit, f"{name}: mean abs error {error[ARKIT_INDEX[name]]:.3f}"
    unsolved = np.setdiff1d(np.arange(52), SOLVED_INDEX)
    assert np.all(weights[:, unsolved] == 0)
    np.testing.assert_allclose(pose[:, :3], seq.pose[:, :3], atol=np.radians(2.0))
    np.testing.assert_allclose(pose[:, 3:5], seq.pose[:, 3:5], atol=0.05)
    np.testing.assert_allclose(pose[:, 5], seq.pose[:, 5], rtol=0.03)
    assert np.abs(solved_neutral - neutral).max() < 0.03  # inter-ocular units


def test_jaw_signal_is_not_confused_with_blinks():
    """A jaw-only sequence must not leak into eyelids or brows."""
    rng = np.random.default_rng(3)
    camera = Camera(256, 256)
    neutral = topology.load_topology().neutral.astype(np.float64)
    weights = np.zeros((200, 52))
    weights[40:, ARKIT_INDEX["jawOpen"]] = 0.5 * (1 - np.cos(np.linspace(0, 12 * np.pi, 160)))
    pose = random_pose(rng, 200, camera, 60.0)
    seq = render_landmarks(neutral, weights, pose, camera, rng)
    _, solved, _ = fit_landmarks(seq.landmarks, np.ones(200, bool), camera, TrackerConfig(smoothing_sigma=0))
    r = np.corrcoef(solved[:, ARKIT_INDEX["jawOpen"]], weights[:, ARKIT_INDEX["jawOpen"]])[0, 1]
    assert r > 0.98
    for name in ("eyeBlinkLeft", "eyeBlinkRight", "browInnerUp", "browDownLeft", "browDownRight"):
        leak = solved[:, ARKIT_INDEX[name]]
        assert leak.mean() < 0.08 and np.quantile(leak, 0.95) < 0.2, name  # noise floor at 0.5 px, unsmoothed


def test_missing_frames_are_flagged_and_interpolated(tmp_path: Path):
    _, seq = _synthetic(seed=4, frames=120)
    valid = np.ones(120, bool)
    valid[50:60] = False
    landmarks = seq.landmarks.copy()
    landmarks[~valid] = 0  # what the detector leaves there
    info = VideoInfo(tmp_path / "x.mp4", 256, 256, Fraction(30), 120)
    from talkinghead.renderer.tracking import _interpolate_missing

    track = track_landmarks(_interpolate_missing(landmarks, valid), valid, info)
    assert not track.valid[50:60].any() and track.valid[:50].all()
    jaw = track.blendshapes[:, ARKIT_INDEX["jawOpen"]]
    lo, hi = sorted((jaw[49], jaw[60]))
    assert np.all((jaw[50:60] >= lo - 0.02) & (jaw[50:60] <= hi + 0.02))
    path = tmp_path / "track.npz"
    track.save(path)
    loaded = Track.load(path)
    for name in ("landmarks", "valid", "blendshapes", "pose", "neutral"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(track, name))
    assert loaded.fps == Fraction(30) and loaded.camera == track.camera
    coefficients = loaded.coefficients()
    assert coefficients.blendshapes.shape == (120, 52) and coefficients.fps == 30


def _write_video(path: Path, frames: list[np.ndarray], fps: int = 25) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


def test_video_without_faces_is_refused(tmp_path: Path):
    pytest.importorskip("mediapipe")
    from talkinghead.renderer.tracking import track_video

    path = tmp_path / "noface.mp4"
    rng = np.random.default_rng(0)
    _write_video(path, [rng.integers(0, 255, (128, 128, 3), dtype=np.uint8) for _ in range(10)])
    with pytest.raises(ValueError, match="face was found in only 0%"):
        track_video(path, progress=False)


def test_not_a_video_is_a_clear_error(tmp_path: Path):
    from talkinghead.renderer.tracking import track_video

    path = tmp_path / "broken.mp4"
    path.write_bytes(b"this is not a video")
    with pytest.raises(ValueError, match="broken.mp4"):
        track_video(path, progress=False)
    with pytest.raises(ValueError, match="no such file"):
        track_video(tmp_path / "missing.mp4", progress=False)


def _frames(path: Path, count: int) -> list[np.ndarray]:
    from talkinghead.renderer.video import iter_frames

    out = []
    for frame in iter_frames(path):
        out.append(frame)
        if len(out) == count:
            break
    return out


def test_largest_face_is_followed(tmp_path: Path, data_root: Path):
    """A big face plus a small second face: the track stays on the big one."""
    pytest.importorskip("mediapipe")
    from talkinghead.renderer.tracking import track_video

    big = _frames(data_root / "talking" / "andrew_clip_2" / "video.mp4", 40)
    small = _frames(data_root / "talking" / "feifeili_clip2_short" / "video.mp4", 40)
    canvas = []
    for a, b in zip(big, small):
        frame = np.zeros((384, 512, 3), np.uint8)
        frame[64:320, 224:480] = a  # 256 px face on the right
        frame[150:278, 24:152] = b[::2, ::2]  # half-size face on the left
        canvas.append(frame)
    path = tmp_path / "two_faces.mp4"
    _write_video(path, canvas)
    track = track_video(path, progress=False)
    assert track.valid.mean() > 0.9
    centre_x = track.landmarks[track.valid, :468, 0].mean(1)
    assert np.all(centre_x > 224) and np.all(centre_x < 480)


def test_cli_tracks_a_real_clip(tmp_path: Path, data_root: Path):
    pytest.importorskip("mediapipe")
    from talkinghead.cli import main

    out = tmp_path / "track.npz"
    assert main(["track", str(data_root / "talking" / "feifeili_clip2_short" / "video.mp4"), "-o", str(out), "-q"]) == 0
    with np.load(out) as data:
        assert data["landmarks"].shape[1:] == (478, 3)
        assert data["blendshapes"].shape == (len(data["valid"]), 52)
        assert data["pose"].shape == (len(data["valid"]), 6)
        assert data["neutral"].shape == (478, 3)
        assert list(data["fps"]) == [30, 1]
        assert data["valid"].mean() > 0.95
        jaw = data["blendshapes"][:, ARKIT_INDEX["jawOpen"]]
        assert jaw.std() > 0.02  # a talking person's jaw moves


def test_cli_reports_errors_in_one_line(tmp_path: Path, capsys):
    from talkinghead.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["track", str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "t.npz")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("talkinghead: error:") and "\n" not in err
