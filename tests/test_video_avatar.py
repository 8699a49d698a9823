"""Video avatars (both presets): enrollment from a talking video, bundle, rendering on the base loop."""

from fractions import Fraction

import numpy as np
import pytest

from talkinghead.contracts.arkit import ARKIT_INDEX
from talkinghead.contracts.audio_io import load_audio
from talkinghead.contracts.coefficients import Coefficients
from talkinghead.contracts.frame import Frame
from talkinghead.jobs.render import demo_audio, render_file
from talkinghead.renderer.avatar import avatar_renderer, load_avatar
from talkinghead.renderer.video import VideoWriter, probe_video

pytest.importorskip("mediapipe")


@pytest.fixture(scope="module")
def enrolled(talking_video, tmp_path_factory):
    from talkinghead.jobs.enroll import enroll_video

    directory = tmp_path_factory.mktemp("avatar")
    enroll_video(talking_video, progress=False).save(directory)
    return directory


def test_enrollment_finds_the_offset_a_loop_and_a_calibration(enrolled):
    avatar = load_avatar(enrolled)
    assert avatar.av_offset_trusted and abs(avatar.av_offset) <= 1  # the video was made in sync
    assert len(avatar.frames) == 30 and avatar.fps == 30  # a one-second base window
    assert set(np.abs(np.diff(avatar.loop)).tolist()) == {1}
    jaw = ARKIT_INDEX["jawOpen"]
    opened = avatar.calibration.apply(np.linspace(0, 1, 11)[:, None] * np.eye(52)[jaw])[:, jaw]
    assert opened[-1] > opened[0] + 0.05  # the calibrated jaw still opens (a flat map would freeze the mouth)


def test_live_sessions_stream_an_avatar_with_the_model_its_calibration_fits(enrolled):
    """Whatever the engine's own ears, an avatar streams with the live model its calibration fits: enrolled
    with Whisper ears (the offline head), the live Whisper head that shares its calibrations."""
    import asyncio

    from talkinghead.audio2motion.ears import whisper_installed
    from talkinghead.audio2motion.model import model_identity
    from talkinghead.streaming.live import Engine, LiveConfig

    calibrated_on = load_avatar(enrolled).calibrated_on
    engine = Engine({"me": enrolled}, ears="mel", max_sessions=1)
    try:
        model = engine.motion_model(engine.renderer("me"))
        assert calibrated_on.split(":")[0] == model.config.ears == ("whisper" if whisper_installed() else "mel")
        assert calibrated_on in (model_identity(model), model.config.calibrates_as)

        async def run():
            async with engine.session("me", config=LiveConfig(video=False, pacing="fast")) as session:
                await session.push_audio(load_audio(demo_audio())[0][:16000])
                await session.end()
                return session.ears, [frame async for frame in session]

        ears, frames = asyncio.run(run())
        assert ears == model.config.ears and len(frames) == 25
    finally:
        engine.close()


def test_rendering_walks_the_loop_and_keeps_pixels_outside_the_face(enrolled):
    avatar = load_avatar(enrolled)
    renderer = avatar_renderer(avatar)
    weights = np.zeros((4, 52), np.float32)
    weights[1::2, ARKIT_INDEX["jawOpen"]] = 0.5
    frames = renderer.draw(Coefficients(weights, np.zeros((4, 6), np.float32), 25, start_frame=5))
    for k, frame in enumerate(frames):
        base = avatar.frames[avatar.loop[5 + k]]
        face = avatar.landmarks[avatar.loop[5 + k], :, :2]
        margin = 0.25 * (face.max(0) - face.min(0))  # room for the opened jaw below the tracked chin
        x0, y0 = np.floor(face.min(0) - margin).astype(int).clip(0)
        x1, y1 = np.ceil(face.max(0) + margin).astype(int)
        outside = np.ones(base.shape[:2], bool)
        outside[y0:y1, x0:x1] = False
        assert outside.sum() > base.shape[0] * base.shape[1] // 4  # the check covers much of the frame
        assert np.array_equal(frame[outside], base[outside])
    closed = renderer.draw(Coefficients(weights[:1], np.zeros((1, 6), np.float32), 25, start_frame=6))[0]
    assert np.abs(frames[1].astype(int) - closed).sum(-1).astype(bool).sum() > 500  # the same base, jaw open


def test_rows_of_different_sessions_draw_at_their_own_timeline_index(enrolled):
    """``draw_frames`` (the live engine's batch across sessions) draws each frame as ``draw`` at its index."""
    renderer = avatar_renderer(load_avatar(enrolled))
    weights = np.zeros((3, 52), np.float32)
    weights[:, ARKIT_INDEX["jawOpen"]] = [0.1, 0.5, 0.3]
    pose = np.zeros((3, 6), np.float32)
    batch = renderer.draw_frames([Frame(index, Fraction(index, 25), weights[row], pose[row], None)
                                  for row, index in enumerate([7, 2, 19])])
    for row, index in enumerate([7, 2, 19]):
        alone = renderer.draw(Coefficients(weights[row:row + 1], pose[row:row + 1], 25, start_frame=index))[0]
        assert np.array_equal(batch[row], alone)
    assert not np.array_equal(batch[0], batch[1])


def test_render_file_with_a_video_avatar(enrolled, tmp_path):
    frames = render_file(demo_audio(), tmp_path / "out.mp4", avatar=enrolled, progress=False)
    info = probe_video(tmp_path / "out.mp4")
    assert info.num_frames == frames and (info.height, info.width) == load_avatar(enrolled).frames.shape[1:3]


def test_enroll_bad_videos_get_one_line_errors(tmp_path, capsys):
    from talkinghead.cli import main

    rate = 16000
    speech = (0.1 * np.sin(np.arange(2 * rate) / rate * 2 * np.pi * 150)).astype(np.float32)
    with VideoWriter(tmp_path / "noface.mp4", Fraction(25), (120, 160), speech, rate) as out:
        out.write(np.full((50, 120, 160, 3), 90, np.uint8))
    (tmp_path / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not a video at all")
    for name, message in (("noface.mp4", "a face was found in only 0%"), ("corrupt.mp4", "corrupt.mp4")):
        with pytest.raises(SystemExit) as exit_info:
            main(["enroll", str(tmp_path / name), "-o", str(tmp_path / "av"), "-q"])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert err.startswith("talkinghead: error:") and message in err


def test_a_two_second_video_enrolls_with_an_untrusted_offset(talking_video, tmp_path, capsys):
    from talkinghead.cli import main

    samples, rate = load_audio(demo_audio())
    short = tmp_path / "short.mp4"
    with VideoWriter(short, Fraction(30), load_avatar().image.shape[:2], samples[: 2 * rate], rate) as out:
        from talkinghead.renderer.video import iter_frames

        out.write(np.stack([f for _, f in zip(range(60), iter_frames(talking_video))]))
    assert main(["enroll", str(short), "-o", str(tmp_path / "av"), "-q"]) == 0
    assert "A/V offset could not be measured" in capsys.readouterr().err
    assert not load_avatar(tmp_path / "av").av_offset_trusted


def test_enrolling_on_the_first_frames_only(talking_video):
    from talkinghead.jobs.enroll import enroll_video

    avatar = enroll_video(talking_video, frames=150, progress=False)
    assert avatar.mouths.crops.shape[0] == 150  # one mouth per enrolled frame, no more
    with pytest.raises(ValueError, match="at least 2"):
        enroll_video(talking_video, frames=1, progress=False)




@pytest.fixture(scope="module")
def enrolled_standard(talking_video, tmp_path_factory):
    from talkinghead.jobs.enroll import enroll_video
    from talkinghead.renderer.standard import StandardConfig

    directory = tmp_path_factory.mktemp("standard")
    config = StandardConfig(steps=30, references=8, max_examples=80, bases_per_target=1)  # small, for CI
    avatar = enroll_video(talking_video, preset="standard", work_dir=directory, config=config, progress=False)
    avatar.save(directory)  # the work dir kept the track: the bundle lists it
    return directory


def test_standard_bundle_holds_the_network_its_onnx_and_the_track(enrolled_standard):
    import json

    meta = json.loads((enrolled_standard / "avatar.json").read_text())
    assert meta["preset"] == "standard"
    for key in ("network", "network_onnx", "references", "track"):
        assert (enrolled_standard / meta["files"][key]).is_file()
    avatar = load_avatar(enrolled_standard)
    assert avatar.preset == "standard" and len(avatar.lower_face.references.regions) == 8


def test_standard_renders_the_same_on_torch_and_onnx_and_only_inside_its_mask(enrolled_standard):
    weights = np.zeros((3, 52), np.float32)
    weights[1, ARKIT_INDEX["jawOpen"]] = 0.6
    pose = np.zeros((3, 6), np.float32)
    torch_avatar = load_avatar(enrolled_standard)
    driving = Coefficients(weights, pose, 25)
    frames = avatar_renderer(torch_avatar).draw(driving, calibrate=False)
    onnx_frames = avatar_renderer(load_avatar(enrolled_standard, backend="onnx")).draw(driving, calibrate=False)
    assert np.abs(frames.astype(int) - onnx_frames).max() <= 2
    for k, frame in enumerate(frames):
        base = torch_avatar.frames[torch_avatar.loop[k]]
        changed = np.any(frame != base, -1)
        ys, xs = np.nonzero(changed)
        # the region: a 128-pixel square of the 256 crop, about the lower face; nothing changes above the nose
        nose_y = torch_avatar.landmarks[torch_avatar.loop[k], 2, 1]
        assert changed.sum() > 0 and ys.min() > nose_y - 40
    assert np.abs(frames[1].astype(int) - frames[0]).sum(-1).astype(bool).sum() > 300  # the jaw opened


@pytest.mark.parametrize("adversarial_weight", [0.0, 0.1])
def test_standard_training_resumes_where_it_was_interrupted(tmp_path, monkeypatch, adversarial_weight):
    import torch

    from talkinghead.renderer.training import standard

    rng = np.random.default_rng(0)
    n, size = 6, 32

    def images():
        return torch.from_numpy(rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8))

    fields = {"drawn": images(), "base": images(), "reference": images(),
              "hard": torch.zeros(n, size, size, dtype=torch.bool), "soft": torch.ones(n, size, size).half(),
              "canonical": torch.zeros(n, size, size, 3).half(), "mouth_hole": torch.zeros(n, size, size, dtype=torch.bool),
              "lower": torch.ones(n, size, size, dtype=torch.bool), "mouth": torch.ones(n, size, size, dtype=torch.bool)}
    truths = images()
    config = standard.StandardConfig(steps=8, batch=2, width=8, checkpoint_every=4,
                                     adversarial_weight=adversarial_weight, adversarial_start=0.25)
    straight = standard.train_network(fields, truths, config, progress=False)

    real_loss, calls = standard.loss, []

    def interrupted(*args):
        calls.append(1)
        if len(calls) == 6:
            raise KeyboardInterrupt
        return real_loss(*args)

    monkeypatch.setattr(standard, "loss", interrupted)
    with pytest.raises(KeyboardInterrupt):
        standard.train_network(fields, truths, config, tmp_path / "ckpt", progress=False)
    monkeypatch.setattr(standard, "loss", real_loss)
    resumed = standard.train_network(fields, truths, config, tmp_path / "ckpt", progress=False)
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)


def test_standard_on_cuda_without_cuda_is_a_clear_error(talking_video):
    import torch

    from talkinghead.jobs.enroll import enroll_video

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match="no CUDA device"):
        enroll_video(talking_video, preset="standard", device="cuda", progress=False)


def test_optional_audio2motion_fine_tune_fits_the_video_and_rides_in_the_bundle(talking_video, tmp_path):
    from talkinghead.audio2motion.model import load_model
    from talkinghead.audio2motion.training.finetune import FinetuneConfig, finetune_articulation
    from talkinghead.jobs.enroll import enroll_video
    from talkinghead.renderer.calibration import DRIVEN
    from talkinghead.renderer.tracking import track_video

    track = track_video(talking_video, progress=False)
    samples, rate = load_audio(talking_video)
    frames = np.arange(track.num_frames)
    _, before, after = finetune_articulation(load_model(), samples, rate, track.fps, frames, track.blendshapes,
                                             list(DRIVEN), FinetuneConfig(steps=100), progress=False)
    assert after < 0.9 * before  # it fits this mouth better than the shipped layer (0.87 at 100 steps; 60 sat at 0.90)
    avatar = enroll_video(talking_video, track=track, finetune_audio2motion=True, progress=False)
    avatar.save(tmp_path / "av")
    assert load_avatar(tmp_path / "av").motion_weights is not None
    assert load_avatar().motion_weights is None  # the built-in photo avatar has none
