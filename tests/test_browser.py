"""The browser live avatar (``streaming/web``) in headless chromium against an in-process server: the fake
microphone and a dropped file, frames arriving and drawn on the audio clock, the 3D face moving, no page
errors. Also: the vendored three.js is the version ``streaming/web/package.json`` pins."""

import json
import re
import urllib.request
import wave
from pathlib import Path

import numpy as np
import pytest
from servers import serving_in_thread

from talkinghead.contracts.audio_io import load_audio
from talkinghead.jobs.render import demo_audio

WEB = Path(__file__).resolve().parents[1] / "streaming" / "web"
FPS = 15  # the page's fps setting here: two cores draw the video, run chromium and its software WebGL


def test_the_vendored_three_is_the_pinned_version():
    pinned = json.loads((WEB / "package.json").read_text())["devDependencies"]["three"]
    core = (WEB / "vendor" / "three.core.js").read_text()
    revision = re.search(r"const REVISION = '(\d+)'", core).group(1)
    assert pinned == f"0.{revision}.0"
    assert "from './three.core.js'" in (WEB / "vendor" / "three.module.js").read_text()
    assert "MIT License" in (WEB / "vendor" / "three.LICENSE").read_text()


@pytest.fixture(scope="module")
def web_server(engine):
    """``Server`` serving ``streaming/web`` on its own event loop in a background thread; yields its base URL."""
    with serving_in_thread(engine, web_root=WEB) as server:
        yield f"http://127.0.0.1:{server.port}/"


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory) -> tuple[Path, float]:
    """4 s of the built-in demo speech as a 16 kHz PCM16 WAV, and its length in seconds."""
    samples, rate = load_audio(demo_audio())
    samples = samples[: 4 * rate]
    path = tmp_path_factory.mktemp("speech") / "speech.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path, len(samples) / rate


def test_the_page_modules_are_served_as_javascript(web_server):
    for name in ("app.js", "client.js", "pcm-worklet.js", "vendor/three.module.js"):
        with urllib.request.urlopen(web_server + name) as response:
            assert response.headers["Content-Type"] == "text/javascript", name


def test_without_webgl_the_3d_view_says_so(run_browser_script, web_server):
    result = run_browser_script("web_no_webgl.mjs", web_server, timeout=60)
    assert result["errors"] == [] and result["avatars"] == ["default"]
    assert result["error"].startswith("3D view unavailable") and result["text"] == result["error"]


def _check_page(result: dict, frames: int) -> dict:
    """What both cases share: frames arrived and were drawn, the canvas shows a changing picture, the 3D
    face has the mesh's 478 vertices and moved, latencies were measured, and the page logged no error."""
    stats, face, canvas = result["stats"], result["face"], result["canvas"]
    assert result["errors"] == []
    assert stats["received"] >= stats["drawn"] >= frames
    assert stats["drawn"] + stats["skipped"] <= stats["received"]
    for signature in (canvas["early"], canvas["late"]):
        assert signature["std"] > 20 and 20 < signature["mean"] < 235  # a picture, not a blank canvas
    assert canvas["change"] > 0.2  # mean change of a 16x16 luminance grid (0 when the picture is frozen)
    assert face["error"] is None and face["vertices"] == 478
    assert face["updates"] == stats["drawn"] > result["faceEarlyUpdates"]
    assert result["faceLargest"] > 0.05  # inter-ocular distances: the mesh moved off its neutral
    assert 0 < stats["latencyP50"] <= stats["latencyP95"] < 5
    assert result["counters"]["p50"].endswith(" ms") and int(result["counters"]["received"]) > 0
    return stats


@pytest.fixture(scope="module")
def microphone_run(run_browser_script, web_server, speech_wav, tmp_path_factory) -> dict:
    """The page with the fake microphone: 40 frames drawn, Interrupt, then Stop (web_page.mjs)."""
    screenshot = tmp_path_factory.mktemp("mic") / "web_demo.png"
    result = run_browser_script("web_page.mjs", f"{web_server}?fps={FPS}&delay=1000", "mic", str(speech_wav[0]),
                                str(screenshot), "40", timeout=90)
    return {**result, "screenshot": screenshot}


def test_the_microphone_drives_the_avatar(microphone_run):
    """Talk, interrupt, stop: the session ends and every frame is accounted for."""
    stats = _check_page(microphone_run, 40)
    assert stats["samplesSent"] > stats["sampleRate"] and stats["t0"] is not None
    assert stats["interrupted"]["next_index"] >= 40
    end = stats["ended"]
    assert end["frames"] == stats["received"] + end["dropped"]  # every frame arrived or was counted dropped
    assert stats["gaps"] == end["dropped"]  # the page's live count of dropped frames is the server's
    assert microphone_run["screenshot"].stat().st_size > 10_000


def test_frames_go_on_after_an_interrupt(microphone_run):
    assert microphone_run["afterInterrupt"] >= 3


def test_a_dropped_file_is_drawn_on_the_audio_clock(run_browser_script, web_server, speech_wav, tmp_path):
    wav, seconds = speech_wav
    result = run_browser_script("web_page.mjs", f"{web_server}?fps={FPS}&delay=1000", "file", str(wav),
                                str(tmp_path / "file.png"), timeout=90)
    stats = _check_page(result, 10)
    rate, t0 = stats["sampleRate"], stats["t0"]
    assert abs(stats["samplesSent"] - seconds * rate) <= 1  # the whole file, once, at the context's rate
    assert stats["ended"]["frames"] >= seconds * FPS
    # a frame is drawn when its audio is heard: its first caller sample's time on the audio clock
    span = rate / FPS
    on_time = [d for d in result["draws"] if not d["late"] and d["source"] and
               abs(d["source"][1] - d["source"][0] - span) <= 1]
    assert len(on_time) >= 10
    errors = [d["at"] - (t0 + d["source"][0] / rate) for d in on_time]
    assert np.median(np.abs(errors)) < 1 / FPS
