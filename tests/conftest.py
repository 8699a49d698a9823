from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def energy_speech_gate(monkeypatch):
    """Synthetic noise bursts stand in for speech throughout the suite, and Silero VAD (rightly) hears no
    speech in them: the motion layer's gate is the energy detector here unless a test asks for silero
    (tests/test_speech_gate.py does, on real speech)."""
    monkeypatch.setattr("talkinghead.audio2motion.speech_gate.silero_installed", lambda: False)


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

    from talkinghead.contracts.audio_io import load_audio
    from talkinghead.jobs.render import RenderConfig, demo_audio, drive
    from talkinghead.renderer.avatar import avatar_renderer, load_avatar
    from talkinghead.renderer.video import VideoWriter

    samples, rate = load_audio(demo_audio())
    photo = avatar_renderer(load_avatar())
    coefficients = drive(samples, rate, RenderConfig())
    path = tmp_path_factory.mktemp("video") / "talking.mp4"
    with VideoWriter(path, Fraction(30), photo.size, samples, rate, crf=14) as out:
        out.write(photo.draw(coefficients))
    return path


@pytest.fixture(scope="session")
def engine():
    """One live engine (default avatar, at most 3 sessions) for the session and server tests."""
    from talkinghead.streaming.live import Engine

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


BROWSER_DIR = Path(__file__).parent / "browser"


@pytest.fixture(scope="session")
def run_browser_script():
    """Runs a node script of ``tests/browser`` (headless chromium through playwright-core) and returns the
    JSON object its last stdout line holds; skips when chromium, node or ``npm ci`` there are missing."""
    import json
    import os
    import shutil
    import subprocess

    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not Path(chromium).exists() or shutil.which("node") is None:
        pytest.skip("needs Debian's chromium and node (.ci/run installs them)")
    if not (BROWSER_DIR / "node_modules" / "playwright-core").is_dir():
        pytest.skip("needs `npm ci` in tests/browser (.ci/run does it)")

    def run(script: str, *args: str, timeout: float = 120) -> dict:
        done = subprocess.run(["node", str(BROWSER_DIR / script), *args], capture_output=True, text=True,
                              timeout=timeout, cwd=BROWSER_DIR)
        lines = done.stdout.strip().splitlines()
        assert done.returncode == 0 and lines, f"{script} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        return json.loads(lines[-1])

    return run
