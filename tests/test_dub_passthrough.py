"""Dubs that never break: frames that cannot be redrawn pass through untouched and are reported; several faces."""

from fractions import Fraction

import numpy as np
import pytest

from talkinghead.cli import main
from talkinghead.contracts import topology
from talkinghead.contracts.audio_io import load_audio, write_wav
from talkinghead.jobs.dub_plan import fade_around, plan_dub
from talkinghead.jobs.passthrough import (
    NONE,
    REASONS,
    PassConfig,
    frame_reasons,
    mouth_covered,
    shot_cuts,
    spans,
)
from talkinghead.jobs.render import demo_audio
from talkinghead.renderer.faces import People, choose_face, parse_face, speech_envelope
from talkinghead.renderer.landmarks import DetectorConfig, follow_faces
from talkinghead.renderer.video import VideoWriter, iter_frames

FPS = 30


def _face(x: float, y: float, size: float = 100.0) -> np.ndarray:
    """A face-shaped landmark set: the topology's neutral scaled to ``size`` pixels wide at (x, y)."""
    neutral = np.asarray(topology.load_topology().neutral, np.float32)
    span = neutral[:, 0].max() - neutral[:, 0].min()
    points = neutral * size / span
    points[:, 1] *= -1  # y down
    return (points + [x, y, 0]).astype(np.float32)


def _box(x: float) -> np.ndarray:
    return np.array([x, 0, x + 10, 10], float)


def test_faces_are_followed_as_people_by_overlap():
    left, right = _box(0), _box(50)
    table = follow_faces([[left, right], [right, left], [left], [right, left]])
    assert table.shape == (4, 2)
    assert list(table[:, 0]) == [0, 1, 0, 1] and list(table[:, 1]) == [1, 0, -1, 0]


def test_one_face_at_a_time_is_one_person():
    """A face lost and found elsewhere, or two faces for a frame at a cut, is still the one person."""
    frames = [[_box(0)], [], [_box(50)], [_box(50), _box(0)], [_box(0)]] + [[_box(0)]] * 10
    table = follow_faces(frames, DetectorConfig(together_fraction=0.1))
    assert table.shape == (15, 1) and list(table[:5, 0]) == [0, -1, 0, 0, 0]


def _people(gaps: list[np.ndarray], xs: list[float], sizes: list[float]) -> People:
    """People whose lips open by ``gaps`` (per frame, in inter-ocular distances)."""
    faces = []
    for t in range(len(gaps[0])):
        frame = []
        for gap, x, size in zip(gaps, xs, sizes):
            face = _face(x, 100, size)
            face[topology.LOWER_LIP_INNER_MID, 1] += gap[t] * size * 0.4  # about an IOD per 0.4 face widths
            frame.append(face)
        faces.append(frame)
    return People(faces, np.tile(np.arange(len(gaps)), (len(faces), 1)))


def test_choosing_a_face():
    rng = np.random.default_rng(0)
    chatter = 0.3 * np.abs(np.sin(np.arange(150) * 0.9))  # lips opening and closing about 4 times a second
    loud = np.repeat(rng.uniform(0, 1, 15) > 0.5, 10).astype(float)  # words and pauses of a third of a second
    speaking = loud * chatter + rng.normal(0, 0.005, 150)
    other = np.repeat(rng.uniform(0, 1, 15) > 0.5, 10) * chatter + rng.normal(0, 0.005, 150)
    people = _people([other, speaking], [400, 100], [120, 80])  # the speaker is smaller, and on the left
    assert choose_face(people, "speaking", loud) == 1
    assert choose_face(people, "speaking") == 0  # no speech: the largest
    assert choose_face(people, "largest") == 0
    assert (choose_face(people, "left"), choose_face(people, "right")) == (1, 0)
    assert (choose_face(people, "1"), choose_face(people, "2")) == (1, 0)
    with pytest.raises(ValueError, match="face 3 asked for, but the video shows 2 faces"):
        choose_face(people, "3")
    for bad in ("0", "middle", "-1"):
        with pytest.raises(ValueError, match="face must be one of"):
            parse_face(bad)


def test_speech_envelope_is_the_rms_per_frame():
    samples = np.concatenate([np.zeros(1600), np.ones(1600), 0.5 * np.ones(800)])
    assert speech_envelope(samples, 16000, 10, 5) == pytest.approx([0, 1, 0.5, 0, 0])


def test_the_drive_fades_around_untouched_frames():
    untouched = np.zeros(20, bool)
    untouched[[8, 9]] = True
    assert list(fade_around(untouched, 4)[3:15]) == pytest.approx([1, 0.8, 0.6, 0.4, 0.2, 0, 0, 0.2, 0.4, 0.6, 0.8, 1])
    times, durations = [Fraction(k, FPS) for k in range(20)], [Fraction(1, FPS)] * 20
    landmarks = np.random.default_rng(1).uniform(0, 100, (20, 478, 3))
    longer = plan_dub(times, durations, landmarks, np.ones(20, bool), Fraction(2), Fraction(FPS), max_stretch=6,
                      untouched=untouched)
    assert not set(longer.stretch) & {8, 9}  # the loop avoids untouched frames
    assert np.all(longer.speech[np.isin(longer.source, [8, 9])] == 0)


def _reasons(n=60, **changes):
    landmarks = np.stack([_face(128, 128)] * n)
    valid, yaw = np.ones(n, bool), np.zeros(n)
    histograms = np.tile(np.eye(4)[0], (n, 1))
    mouths = np.random.default_rng(2).normal([-0.5, -1.5], [0.02, 0.05], (n, 2))
    values = {"landmarks": landmarks, "valid": valid, "yaw": yaw, "histograms": histograms, "mouths": mouths}
    for name, change in changes.items():
        change(values[name])
    return frame_reasons(**values)


def test_each_reason_is_found():
    def lose(valid):
        valid[5:8] = False

    def cut(histograms):
        histograms[30:] = np.eye(4)[1]

    def turn(yaw):
        yaw[50:52] = np.radians(40)

    def cover(mouths):
        mouths[12:16, 1] -= 2.0  # flat: no texture

    reasons = _reasons(valid=lose, histograms=cut, yaw=turn, mouths=cover)
    named = {k: REASONS[r] for k, r in enumerate(reasons) if r != NONE}
    assert named == {5: "face lost", 6: "face lost", 7: "face lost", 12: "mouth covered", 13: "mouth covered",
                     14: "mouth covered", 15: "mouth covered", 28: "shot cut", 29: "shot cut", 30: "shot cut",
                     31: "shot cut", 50: "profile view", 51: "profile view"}

    def shrink(landmarks):
        landmarks[:] = (landmarks - [128, 128, 0]) * 0.2 + [128, 128, 0]  # inter-ocular distance under 12 px

    assert {REASONS[r] for r in _reasons(landmarks=shrink)} == {"face too small"}


def test_mouth_covered_needs_a_few_frames_and_is_judged_per_shot():
    mouths = np.random.default_rng(3).normal([-0.5, -1.5], [0.02, 0.05], (80, 2))
    mouths[10:12, 0] += 1.0  # two frames: a blink of light, not an occlusion
    mouths[50:, 0] += 0.5  # another person after a cut
    cuts = np.zeros(80, bool)
    assert mouth_covered(mouths, cuts).sum() == 30  # judged against the first person
    cuts[50] = True
    assert not mouth_covered(mouths, cuts).any()


def test_the_cli_prints_the_face_and_the_spans(monkeypatch, tmp_path, capsys):
    from talkinghead.jobs import dub
    from talkinghead.jobs.passthrough import Span

    spans = (Span(3, 5, 0.1, 0.1667, "shot cut"), Span(40, 60, 1.3333, 2.0, "mouth covered"))
    result = dub.DubResult(tmp_path / "out.mp4", 90, 66, 0, 3.0, spans, face=2, faces=2)
    monkeypatch.setattr(dub, "dub", lambda *args, **kwargs: result)
    assert main(["dub", "in.mp4", "speech.wav", "-o", str(tmp_path / "out.mp4")]) == 0
    assert capsys.readouterr().err.splitlines()[1:] == [
        "dubbed face 2 of 2 (counted from the left)",
        "frames 3-4 (0.10-0.17 s) passed through: shot cut",
        "frames 40-59 (1.33-2.00 s) passed through: mouth covered",
    ]


def test_a_slow_pan_is_not_a_cut():
    n = 30
    landmarks = np.stack([_face(100 + 2 * k, 128) for k in range(n)])  # 2 px a frame, an IOD of about 40
    histograms = np.tile(np.eye(4)[0], (n, 1))
    assert not shot_cuts(histograms, landmarks, np.ones(n, bool), PassConfig()).any()


def test_spans_group_frames_with_one_reason():
    reasons = np.array([NONE, 0, 0, NONE, 4, 4, 4, 1])
    times = [Fraction(k, 10) for k in range(8)]
    found = spans(reasons, times, [Fraction(1, 10)] * 8)
    assert [(s.start_frame, s.end_frame, s.reason) for s in found] == [(1, 3, "face lost"), (4, 7, "mouth covered"),
                                                                       (7, 8, "shot cut")]
    assert (found[1].start_s, found[1].end_s) == (0.4, 0.7)
    assert str(found[1]) == "frames 4-6 (0.40-0.70 s) passed through: mouth covered"


# Whole dubs of real clips (MediaPipe and ../shared/data).


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    """New speech: 2 s of the demo sentence."""
    samples, rate = load_audio(demo_audio())
    return write_wav(tmp_path_factory.mktemp("speech") / "new.wav", samples[3 * rate: 5 * rate], rate)


def _first(video, count):
    return np.stack([frame for _, frame in zip(range(count), iter_frames(video))])


def _write(path, frames, samples=None, rate=16000):
    with VideoWriter(path, Fraction(FPS), frames.shape[1:3], samples, rate, crf=14) as out:
        out.write(frames)
    return path


def _dub(video, speech, config, video_speech=None):
    """The dub's result, and per output frame (redrawn?, the frame as drawn, the input frame)."""
    from talkinghead.jobs.dub import Dubbing

    seen = {}

    def keep(frame, original, patched):
        seen[frame.index] = (patched is not None, frame.image, original)

    dubbing = Dubbing(video, speech, config, video_speech=video_speech, progress=False)
    return dubbing.write(video.parent / "out.mp4", on_frame=keep), seen


def _passed_through(result, reason):
    return {k for span in result.passed_through if span.reason == reason for k in range(span.start_frame,
                                                                                        span.end_frame)}


def _untouched(seen, frames):
    return all(not seen[k][0] and np.array_equal(seen[k][1], seen[k][2]) for k in frames)


@pytest.fixture(scope="module")
def covered_clip(data_root, tmp_path_factory):
    """andrew_clip_1's first 3 s with a cheek-coloured rectangle over the mouth in frames 40-59."""
    from talkinghead.renderer.landmarks import FaceMeshDetector

    pytest.importorskip("mediapipe")
    clip = data_root / "talking" / "andrew_clip_1"
    frames = _first(clip / "video.mp4", 90)
    with FaceMeshDetector() as detector:
        for k in range(40, 60):
            face = detector(frames[k])
            lips = face[list(topology.LIPS_OUTER), :2]
            (x0, y0), (x1, y1) = lips.min(0), lips.max(0)
            cheeks = face[[117, 346, 50, 280], :2].astype(int)
            skin = np.median(frames[k][cheeks[:, 1], cheeks[:, 0]], 0)
            frames[k, int(y0 - 6): int(y1 + 8), int(x0 - 8): int(x1 + 8)] = skin.astype(np.uint8)
    folder = tmp_path_factory.mktemp("covered")
    samples, rate = load_audio(clip / "audio.wav")
    return _write(folder / "covered.mp4", frames), write_wav(folder / "own.wav", samples[: 3 * rate], rate)


def test_a_covered_mouth_passes_through_untouched(covered_clip, speech):
    from talkinghead.jobs.dub import DubConfig

    video, own = covered_clip
    result, seen = _dub(video, speech, DubConfig(), video_speech=own)
    covered = _passed_through(result, "mouth covered")
    assert set(range(40, 60)) <= covered <= set(range(37, 63))  # the occlusion, give or take its edges
    assert {span.reason for span in result.passed_through} == {"mouth covered"}
    assert _untouched(seen, covered)
    assert seen[30][0] and seen[min(covered) - 1][0] and seen[max(covered) + 1][0]  # drawn, fading out and in
    assert result.drawn == result.frames - len(covered)


@pytest.fixture(scope="module")
def joined_clip(data_root, tmp_path_factory):
    """1.5 s of andrew_clip_1 then 1.5 s of Obama_clip1, with their own speech: a cut at frame 45."""
    pytest.importorskip("mediapipe")
    parts = [data_root / "talking" / name for name in ("andrew_clip_1", "Obama_clip1")]
    frames = np.concatenate([_first(part / "video.mp4", 45) for part in parts])
    sounds = [load_audio(part / "audio.wav") for part in parts]
    samples = np.concatenate([s[: int(1.5 * rate)] for s, rate in sounds])
    return _write(tmp_path_factory.mktemp("joined") / "joined.mp4", frames, samples, sounds[0][1])


def test_a_shot_cut_passes_through_untouched(joined_clip, speech):
    from talkinghead.jobs.dub import DubConfig

    result, seen = _dub(joined_clip, speech, DubConfig())
    cut = _passed_through(result, "shot cut")
    assert cut == {43, 44, 45, 46}
    assert [span.reason for span in result.passed_through] == ["shot cut"]
    assert _untouched(seen, cut)
    assert seen[40][0] and seen[50][0]


@pytest.fixture(scope="module")
def two_faces(data_root, tmp_path_factory):
    """feifeili_clip1 (left, with its speech) beside andrew_clip_1 (right), 4 s."""
    pytest.importorskip("mediapipe")
    talking = data_root / "talking"
    frames = np.concatenate([_first(talking / name / "video.mp4", 120) for name in ("feifeili_clip1",
                                                                                   "andrew_clip_1")], axis=2)
    samples, rate = load_audio(talking / "feifeili_clip1" / "audio.wav")
    return _write(tmp_path_factory.mktemp("two") / "two.mp4", frames, samples[: 4 * rate], rate)


@pytest.mark.parametrize(("face", "dubbed"), [("speaking", 1), ("right", 2)])
def test_two_faces_only_the_chosen_one_changes(two_faces, speech, face, dubbed):
    from talkinghead.jobs.dub import DubConfig

    result, seen = _dub(two_faces, speech, DubConfig(face=face))
    assert (result.face, result.faces) == (dubbed, 2)
    width = seen[0][2].shape[1] // 2
    kept, changed = (slice(width, None), slice(0, width)) if dubbed == 1 else (slice(0, width), slice(width, None))
    assert all(np.array_equal(image[:, kept], original[:, kept]) for _, image, original in seen.values())
    speaking = [seen[k] for k in range(60)]  # the 2 s of new speech
    assert np.mean([not np.array_equal(image[:, changed], original[:, changed]) for _, image, original in
                    speaking]) > 0.9


def test_asking_for_a_face_the_video_lacks_is_one_line(two_faces, speech, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["dub", str(two_faces), str(speech), "-o", str(tmp_path / "out.mp4"), "--face", "3", "-q"])
    assert stop.value.code == 2
    message = capsys.readouterr().err.strip()
    assert message == "talkinghead: error: face 3 asked for, but the video shows 2 faces (numbered from 1 at the left)"
    assert not list(tmp_path.iterdir())
