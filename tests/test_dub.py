"""Dubbing: the plan, the box redraw, and whole dubs of a talking video made here (rotated, variable-rate, face lost)."""

from fractions import Fraction

import av
import numpy as np
import pytest

from talkinghead.cli import main
from talkinghead.contracts.audio_io import load_audio, write_wav
from talkinghead.jobs.dub_plan import PlanConfig, frame_motion, ping_pong, plan_dub
from talkinghead.jobs.render import demo_audio
from talkinghead.renderer.video import (
    VideoStyle,
    VideoWriter,
    iter_frames,
    iter_timed_frames,
    probe_video,
)

CLIP = 75  # frames (2.5 s at 30 fps) of the talking video


def _clip(talking_video, path, style=VideoStyle(), times=None, blank=()):
    """The talking video's first frames (and speech), optionally rotated, re-timed, or with the face gone."""
    frames = np.stack([f for _, f in zip(range(CLIP), iter_frames(talking_video))])
    frames[list(blank)] = 128
    samples, rate = load_audio(talking_video)
    base = Fraction(1, 90000)
    times = times if times is not None else [Fraction(k, 30) for k in range(CLIP)]
    pts = np.array([round(t / base) for t in times])
    with VideoWriter(path, Fraction(30), frames.shape[1:3], samples[: int(times[-1] * rate) + rate // 30], rate,
                     crf=14, style=style, time_base=base) as out:
        out.write(frames, pts, np.diff(pts, append=pts[-1] + 3000))
    return path


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    """New speech: 2 s of the demo sentence from its middle (other words than the clip says)."""
    samples, rate = load_audio(demo_audio())
    return write_wav(tmp_path_factory.mktemp("speech") / "new.wav", samples[3 * rate: 5 * rate], rate)


def test_plan_keeps_frame_times_and_extends_longer_speech_by_ping_pong():
    times = [Fraction(k, 15) if k < 10 else Fraction(10, 15) + Fraction(k - 10, 30) for k in range(40)]
    durations = [b - a for a, b in zip(times, times[1:])] + [Fraction(1, 30)]
    rng = np.random.default_rng(0)
    landmarks = np.repeat(rng.uniform(0, 100, (1, 478, 3)), 40, 0)
    landmarks[:30] += rng.normal(0, 3, (30, 478, 3))  # moving, then still until the end
    valid = np.ones(40, bool)
    plan = plan_dub(times, durations, landmarks, valid, Fraction(3), Fraction(30), max_stretch=8)
    assert plan.times[:40] == times and plan.durations[:40] == durations
    assert plan.duration >= 3 > plan.duration - Fraction(1, 30)
    assert list(plan.stretch) == list(range(32, 40))  # the still end: no cut
    assert list(plan.source[40:46]) == [38, 37, 36, 35, 34, 33]
    assert np.all(np.abs(np.diff(plan.source[39:])) == 1)  # never jumps
    assert plan.speech.min() == 1


def test_plan_tails():
    times = [Fraction(k, 25) for k in range(50)]
    durations = [Fraction(1, 25)] * 50
    landmarks = np.random.default_rng(1).uniform(0, 100, (50, 478, 3))
    rest = plan_dub(times, durations, landmarks, np.ones(50, bool), Fraction(1), Fraction(25), "rest")
    assert len(rest) == 50 and rest.speech.min() == 1
    original = plan_dub(times, durations, landmarks, np.ones(50, bool), Fraction(1), Fraction(25), "original",
                        config=PlanConfig(fade_frames=4))
    assert list(original.speech[24:31]) == pytest.approx([1, 0.8, 0.6, 0.4, 0.2, 0, 0])
    with pytest.raises(ValueError, match="tail"):
        plan_dub(times, durations, landmarks, np.ones(50, bool), Fraction(1), Fraction(25), "loop")


def test_motion_and_ping_pong():
    still = np.zeros((5, 478, 3))
    still[..., 0] = np.arange(478)  # a non-degenerate face
    assert frame_motion(still, np.array([1, 1, 0, 1, 1], bool))[2] == np.inf
    assert list(ping_pong(np.arange(3, 6), 7, from_end=False)) == [3, 4, 5, 4, 3, 4, 5]


pytest.importorskip("mediapipe")


@pytest.fixture(scope="module")
def tracked_clip(talking_video, tmp_path_factory):
    from talkinghead.renderer.tracking import track_video

    path = _clip(talking_video, tmp_path_factory.mktemp("clip") / "clip.mp4")
    return path, track_video(path, progress=False)


def test_box_redraw_matches_the_whole_frame_warp(tracked_clip):
    from talkinghead.contracts.face_model import FaceModel
    from talkinghead.renderer.calibration import at_rest, driven_by
    from talkinghead.renderer.face_frame import FaceFrame
    from talkinghead.renderer.mouth_bank import build_bank
    from talkinghead.renderer.redraw import MouthRedrawer, TrackedFrame

    path, track = tracked_clip
    frames = list(iter_frames(path))
    bank = build_bank(iter(frames), track.landmarks, track.blendshapes)
    face = FaceModel(track.neutral)
    k = 40
    driving = np.zeros((1, 52), np.float32)
    driving[0, 24] = 0.6  # jawOpen
    frame = TrackedFrame(frames[k], track.landmarks[k], track.blendshapes[k], track.pose[k])
    patched = MouthRedrawer(face, bank).draw([frame], driving)[0]
    weights = driven_by(track.blendshapes[k], driving[0])
    whole = FaceFrame(frames[k], track.landmarks[k], face, at_rest(track.blendshapes[k]), track.pose[k])
    expected = whole.render(weights[None], interior=lambda fan: bank.interior(weights, fan))[0]
    difference = np.abs(patched.image.astype(int) - expected)
    assert difference.max() <= 1 and (difference > 0).mean() < 1e-4  # float32 rounding of shifted coordinates
    changed = patched.changed()
    assert not np.array_equal(patched.image, frames[k])
    np.testing.assert_array_equal(patched.image[~changed], frames[k][~changed])


@pytest.mark.parametrize("preset", ["quick", "retrieval"])
def test_dub_keeps_the_video_and_changes_only_the_face(tracked_clip, speech, tmp_path, preset):
    from talkinghead.jobs.dub import SYNTHETIC_TAG, Dubbing, DubConfig

    path, _ = tracked_clip
    dubbing = Dubbing(path, speech, DubConfig(preset=preset), progress=False)
    outside, drawn = [], []

    def check(frame, original, patched):
        if patched is not None:
            changed = patched.changed()
            outside.append(np.array_equal(frame.image[~changed], original[~changed]))
            drawn.append(changed.mean())

    result = dubbing.write(tmp_path / "out.mp4", on_frame=check)
    assert result.frames == CLIP and result.drawn == CLIP and result.extended == 0
    assert all(outside) and 0.05 < np.mean(drawn) < 0.6  # the face changed, the rest of the frame did not
    before, after = probe_video(path), probe_video(tmp_path / "out.mp4")
    assert (after.width, after.height, after.fps, after.num_frames) == (before.width, before.height, before.fps, CLIP)
    with av.open(str(tmp_path / "out.mp4")) as container:
        assert container.metadata["comment"] == SYNTHETIC_TAG
        lengths = {s.type: float(s.duration * s.time_base) for s in container.streams}
    assert abs(lengths["video"] - lengths["audio"]) <= 1 / 30 + 0.03  # within a frame (+ one AAC block)
    assert list(tmp_path.iterdir()) == [tmp_path / "out.mp4"]  # no temporary file left


def test_dub_of_a_rotated_variable_rate_video_whose_face_leaves(talking_video, speech, tmp_path):
    from talkinghead.jobs.dub import Dubbing, DubConfig

    times = [Fraction(k, 30) + (Fraction(1, 60) if k % 3 == 2 else 0) for k in range(CLIP)]  # uneven steps
    lost = range(30, 45)
    path = _clip(talking_video, tmp_path / "rotated.mp4", VideoStyle(rotation=90), times, lost)
    speech_seconds = 4  # longer than the 2.5 s video: extended
    samples, rate = load_audio(demo_audio())
    longer = write_wav(tmp_path / "longer.wav", samples[rate: (1 + speech_seconds) * rate], rate)
    dubbing = Dubbing(path, longer, DubConfig(watermark=True), progress=False)
    passed = {}

    def check(frame, original, patched):
        if frame.index in lost:
            passed[frame.index] = patched is None and np.array_equal(frame.image, original)

    result = dubbing.write(tmp_path / "out.mp4", on_frame=check)
    assert passed == {k: True for k in lost}
    assert result.extended == result.frames - CLIP > 0
    info, source = probe_video(tmp_path / "out.mp4"), probe_video(path)
    assert info.style.rotation == 90 and (info.width, info.height) == (source.width, source.height) == (490, 478)
    out_times = [f.time for f in iter_timed_frames(tmp_path / "out.mp4")]
    assert out_times[:CLIP] == times
    assert speech_seconds <= float(out_times[-1]) + 1 / 30 + 1e-6 < speech_seconds + 2 / 30
    corner = next(iter_frames(tmp_path / "out.mp4"))[-20:, -60:]
    assert corner.max() > 200  # the white label (the clip's corner is a dim background)


def test_a_failed_dub_leaves_nothing(tracked_clip, speech, tmp_path):
    from talkinghead.jobs.dub import Dubbing, DubConfig

    path, _ = tracked_clip
    dubbing = Dubbing(path, speech, DubConfig(), progress=False)

    def fail(frame, original, patched):
        if frame.index == 20:
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        dubbing.write(tmp_path / "out.mp4", on_frame=fail)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("case", ["audio as video", "corrupt audio", "unwritable", "no speech in video"])
def test_bad_input_is_one_line_and_leaves_no_file(case, tracked_clip, speech, tmp_path, capsys):
    path, _ = tracked_clip
    video, audio, output = path, speech, tmp_path / "out.mp4"
    if case == "audio as video":
        video = speech
    elif case == "corrupt audio":
        audio = tmp_path / "broken.wav"
        audio.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt garbage" * 10)
    elif case == "unwritable":
        output = tmp_path / "missing" / "out.mp4"
    else:
        video = tmp_path / "silent.mp4"
        with VideoWriter(video, Fraction(30), (64, 64)) as out:
            out.write(np.zeros((10, 64, 64, 3), np.uint8))
    with pytest.raises(SystemExit) as stop:
        main(["dub", str(video), str(audio), "-o", str(output), "-q"])
    assert stop.value.code == 2
    message = capsys.readouterr().err.strip()
    assert message.startswith("talkinghead: error:") and "\n" not in message
    assert not output.exists() and not list(tmp_path.glob(".out.*"))


def test_cli_dub_with_original_tail_and_coefficients(tracked_clip, speech, tmp_path):
    from talkinghead.contracts.coefficients import Coefficients

    path, track = tracked_clip
    output, coefficients = tmp_path / "out.mov", tmp_path / "drive.json"
    assert main(["dub", str(path), str(speech), "-o", str(output), "--tail", "original",
                 "--coefficients-out", str(coefficients), "-q"]) == 0
    drive = Coefficients.load(coefficients)
    assert drive.fps == 30 and len(drive) >= CLIP  # the speech padded to the video's length
    with av.open(str(output)) as container:
        assert container.format.name.startswith("mov")
        lengths = {s.type: float(s.duration * s.time_base) for s in container.streams}
    assert abs(lengths["video"] - 2.5) < 1e-6 and abs(lengths["audio"] - 2.5) <= 0.03  # the video's own length
    lips = track.landmarks[:, 0:20, :2]  # around the mouth (mesh vertices 0-19: lips and chin centre line)
    (x0, y0), (x1, y1) = lips.min((0, 1)).astype(int) - 10, lips.max((0, 1)).astype(int) + 10
    error = [np.abs(a[y0:y1, x0:x1].astype(int) - b[y0:y1, x0:x1]).mean()
             for a, b in zip(iter_frames(path), iter_frames(output))]
    assert max(error[70:]) < 0.5 * np.mean(error[10:50])  # past the 2 s of speech the mouth is the video's own


def test_dub_with_a_given_standard_avatar(talking_video, tracked_clip, speech, tmp_path):
    from talkinghead.jobs.dub import Dubbing, DubConfig
    from talkinghead.jobs.enroll import enroll_video
    from talkinghead.renderer.standard import StandardConfig

    config = StandardConfig(steps=30, references=8, max_examples=80, bases_per_target=1)  # small, for CI
    enroll_video(talking_video, preset="standard", config=config, progress=False).save(tmp_path / "avatar")
    path, _ = tracked_clip
    dubbing = Dubbing(path, speech, DubConfig(), avatar=tmp_path / "avatar", progress=False)
    assert dubbing.fit.lower_face is not None
    outside = []

    def check(frame, original, patched):
        changed = patched.changed()
        outside.append(np.array_equal(frame.image[~changed], original[~changed]) and changed.any())

    result = dubbing.write(tmp_path / "out.mp4", on_frame=check)
    assert result.drawn == CLIP and all(outside)
