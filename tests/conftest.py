from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The shared real recordings; tests using them skip when they are absent."""
    if not DATA.is_dir():
        pytest.skip(f"real test data not found at {DATA}")
    return DATA


@pytest.fixture(scope="session")
def talking_video(tmp_path_factory) -> Path:
    """The built-in photo avatar saying the demo sentence (6.6 s): a talking video made here, with audio."""
    from fractions import Fraction

    from talkinghead.audio2motion.audio_io import load_audio
    from talkinghead.render import RenderConfig, demo_audio, drive
    from talkinghead.renderer.avatar import avatar_renderer, load_avatar
    from talkinghead.renderer.video import VideoWriter

    samples, rate = load_audio(demo_audio())
    photo = avatar_renderer(load_avatar())
    coefficients = drive(samples, rate, RenderConfig())
    path = tmp_path_factory.mktemp("video") / "talking.mp4"
    with VideoWriter(path, Fraction(30), photo.size, samples, rate, crf=14) as out:
        out.write(photo.render_frames(coefficients.blendshapes, coefficients.pose))
    return path


@pytest.fixture(scope="session")
def engine():
    """One live engine (default avatar, at most 3 sessions) for the session and server tests."""
    from talkinghead.live import Engine

    engine = Engine(max_sessions=3)
    yield engine
    engine.close()


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """CI has two cores shared with the test runner: torch's thread pool stalls there."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
