"""Photo avatars: the warp keeps the photo at rest, opens a mouth, renders to MP4 with the audio."""

import json
import wave
from fractions import Fraction

import av
import numpy as np
import pytest
import torch

from talkinghead.cli import main
from talkinghead.contracts import topology
from talkinghead.contracts.arkit import ARKIT_INDEX
from talkinghead.contracts.clock import FrameClock
from talkinghead.contracts.coefficients import Coefficients
from talkinghead.jobs.render import RenderConfig, drawn_frames, render_file
from talkinghead.renderer.avatar import default_avatar_dir, load_avatar
from talkinghead.renderer.photo import PhotoAvatar, PhotoRenderer
from talkinghead.renderer.video import probe_video, write_image


@pytest.fixture(scope="module")
def avatar() -> PhotoAvatar:
    return load_avatar()


@pytest.fixture(scope="module")
def renderer(avatar) -> PhotoRenderer:
    return PhotoRenderer(avatar)


def weights(**named: float) -> np.ndarray:
    row = np.zeros((1, 52), np.float32)
    for name, value in named.items():
        row[0, ARKIT_INDEX[name]] = value
    return row


def box(points: np.ndarray, pad: float) -> tuple[slice, slice]:
    low, high = points.min(0) - pad, points.max(0) + pad
    return slice(int(low[1]), int(high[1]) + 1), slice(int(low[0]), int(high[0]) + 1)


def test_the_photo_own_expression_gives_the_photo_back_bit_for_bit(avatar, renderer):
    frame = renderer.render(avatar.blendshapes[None])[0]
    assert np.array_equal(frame, avatar.image)


def test_opening_the_jaw_opens_a_mouth_that_grows_and_stays_inside_the_face(avatar, renderer):
    frames = renderer.render(np.concatenate([weights(jawOpen=0.2), weights(jawOpen=0.6)]))
    # The opening shows a dark cavity (and teeth) below the upper lip, larger with the jaw.
    mouth = box(avatar.landmarks[list(topology.LIPS_OUTER), :2], pad=30)
    was_dark = avatar.image[mouth].mean(-1) < 50
    dark = [int(((image[mouth].mean(-1) < 50) & ~was_dark).sum()) for image in frames]
    assert dark[1] > 200 and dark[1] > 2 * dark[0]
    changed = np.abs(frames[1].astype(int) - avatar.image).sum(-1) > 0
    y0, y1, x0, x1 = renderer.warp.window
    outside = np.ones(avatar.image.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    assert changed.sum() > 1000 and not changed[outside].any()  # bit for bit outside the warp's ring
    brow = box(avatar.landmarks[list(topology.BROW_LEFT), :2], pad=2)
    assert np.array_equal(frames[1][brow], avatar.image[brow])


def test_a_given_interior_colours_the_mouth_hole_and_nothing_else(avatar, renderer):
    # The lip edge softens inwards: an interior's colours never reach the lips around the hole.
    def flat(value):
        return lambda fan: torch.full((*fan.triangle.shape, 3), value)

    dark, bright = (renderer.redraw(weights(jawOpen=0.5), interior=flat(v))[0][0] for v in (0.0, 255.0))
    warped = renderer.redraw(weights(jawOpen=0.5))[1]
    differs = (dark != bright).any(-1)
    y0, y1, x0, x1 = warped.window
    hole = np.zeros(differs.shape, bool)
    hole[y0:y1, x0:x1] = warped.mouth[0].numpy()
    assert differs.sum() > 200 and not differs[~hole].any()


def test_a_blink_moves_the_eyes_and_not_the_mouth(avatar, renderer):
    frame = renderer.render(weights(eyeBlinkLeft=1.0, eyeBlinkRight=1.0))[0]
    diff = np.abs(frame.astype(int) - avatar.image).sum(-1)
    eyes = box(avatar.landmarks[list(topology.LEFT_EYE + topology.RIGHT_EYE), :2], pad=6)
    mouth = box(avatar.landmarks[list(topology.LIPS_OUTER), :2], pad=4)
    assert diff[eyes].sum() > 20 * max(1, diff[mouth].sum())


def test_head_motion_moves_the_face_but_not_the_background(avatar, renderer):
    pose = np.zeros((1, 6), np.float32)
    pose[0, 1] = 0.06  # yaw, radians
    frame = renderer.render(avatar.blendshapes[None], pose)[0]
    nose = box(avatar.landmarks[[topology.NOSE_TIP], :2], pad=12)
    assert np.abs(frame[nose].astype(int) - avatar.image[nose]).mean() > 3
    assert np.array_equal(frame[:20], avatar.image[:20])


def test_bundle_round_trip_and_version_check(avatar, tmp_path):
    avatar.save(tmp_path / "a")
    back = load_avatar(tmp_path / "a")
    assert np.array_equal(back.image, avatar.image)
    assert np.allclose(back.landmarks, avatar.landmarks) and np.allclose(back.pose, avatar.pose)
    meta = json.loads((tmp_path / "a" / "avatar.json").read_text())
    meta["format_version"] = 99
    (tmp_path / "a" / "avatar.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="newer than this talkinghead reads"):
        load_avatar(tmp_path / "a")
    with pytest.raises(ValueError, match="not an avatar bundle"):
        load_avatar(tmp_path)
    assert (default_avatar_dir() / "preview.png").is_file()


def write_wav(path, seconds: float, rate: int = 16000) -> int:
    t = np.arange(int(seconds * rate)) / rate
    voiced = (0.3 * np.sin(2 * np.pi * 140 * t) * (np.sin(2 * np.pi * 3 * t) > 0)).astype(np.float32)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(np.round(voiced * 32767).astype("<i2").tobytes())
    return len(t)


@pytest.mark.parametrize("fps", [Fraction(25), Fraction(30000, 1001)])
def test_render_file_video_and_audio_last_as_long(tmp_path, fps):
    n = write_wav(tmp_path / "in.wav", 1.3)
    frames = render_file(tmp_path / "in.wav", tmp_path / "out.mp4", config=RenderConfig(fps=fps), progress=False)
    assert frames == -(-n * fps // 16000)
    info = probe_video(tmp_path / "out.mp4")
    assert info.num_frames == frames and info.fps == fps
    with av.open(str(tmp_path / "out.mp4")) as container:
        audio = container.streams.audio[0]
        audio_s = float(audio.duration * audio.time_base)
    assert abs(audio_s - frames / fps) < 1 / fps


def test_render_with_a_coefficients_file_checks_its_length(tmp_path):
    n = write_wav(tmp_path / "in.wav", 1.0)
    frames = -(-n * 30 // 16000)
    Coefficients.zeros(frames, 30).save(tmp_path / "ok.npz")
    assert render_file(tmp_path / "in.wav", tmp_path / "ok.mp4", coefficients=tmp_path / "ok.npz", progress=False) == frames
    Coefficients.zeros(frames // 2, 30).save(tmp_path / "short.npz")
    with pytest.raises(ValueError, match="the audio needs"):
        render_file(tmp_path / "in.wav", tmp_path / "x.mp4", coefficients=tmp_path / "short.npz", progress=False)


def test_render_cli_errors_are_one_line(tmp_path, capsys):
    write_wav(tmp_path / "in.wav", 0.5)
    with pytest.raises(SystemExit) as exit_info:
        main(["render", str(tmp_path / "in.wav"), "--avatar", str(tmp_path / "none"), "-o", str(tmp_path / "o.mp4")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("talkinghead: error:") and "not an avatar bundle" in err and "\n" not in err


def test_enroll_refuses_photos_without_exactly_one_face(tmp_path):
    pytest.importorskip("mediapipe")
    from talkinghead.renderer.photo import enroll_photo

    image = load_avatar().image
    write_image(tmp_path / "blank.png", np.full((240, 320, 3), 128, np.uint8))
    with pytest.raises(ValueError, match="no face found"):
        enroll_photo(tmp_path / "blank.png")
    write_image(tmp_path / "two.png", np.concatenate([image, image], 1))
    with pytest.raises(ValueError, match="2 faces found"):
        enroll_photo(tmp_path / "two.png")
    write_image(tmp_path / "one.png", image)
    again = enroll_photo(tmp_path / "one.png")
    assert again.image.shape[0] % 2 == 0 and again.image.shape[1] % 2 == 0


def test_enroll_cli_makes_a_bundle_that_renders(tmp_path):
    pytest.importorskip("mediapipe")
    import talkinghead

    write_image(tmp_path / "photo.png", load_avatar().image)
    assert main(["enroll", "--image", str(tmp_path / "photo.png"), "-o", str(tmp_path / "av"), "-q"]) == 0
    avatar = talkinghead.load_avatar(tmp_path / "av")
    frame = PhotoRenderer(avatar).render(weights(jawOpen=0.4))[0]
    assert frame.shape == avatar.image.shape and not np.array_equal(frame, avatar.image)


def test_enroll_cli_refuses_a_corrupt_photo_in_one_line(tmp_path, capsys):
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    with pytest.raises(SystemExit) as exit_info:
        main(["enroll", "--image", str(tmp_path / "bad.jpg"), "-o", str(tmp_path / "av")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("talkinghead: error:") and "bad.jpg" in err and "\n" not in err


def test_offline_render_hands_on_frames_on_the_audio_clock(renderer):
    """The render job's frames carry their index, exact time and span of the audio, tiling it to its end."""
    samples = 3500  # 7 frames at 30 fps of 16 kHz audio, the last one partial
    batches = list(drawn_frames(renderer, Coefficients.zeros(7, 30), FrameClock(16000, Fraction(30)), samples, 3))
    frames = [frame for batch in batches for frame in batch]
    assert [len(batch) for batch in batches] == [3, 3, 1]
    assert [(f.index, f.pts) for f in frames] == [(k, Fraction(k, 30)) for k in range(7)]
    spans = [f.source for f in frames]
    assert spans[0][0] == 0 and spans[-1][1] == samples
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
    assert all(f.image.shape == (*renderer.size, 3) and f.image.dtype == np.uint8 for f in frames)
