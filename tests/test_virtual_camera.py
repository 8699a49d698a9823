"""The virtual camera (``talkinghead live --virtual-camera``): microphone → live session → camera.

Only the device boundary is faked here: a camera with pyvirtualcam's
surface that records what it is sent and when, and a microphone stream with
sounddevice's ``InputStream`` signature whose callback delivers the built-in
demo speech in 20 ms blocks at real-time pace. The live session, its pacing
and rendering in between are the real ones. The real devices are only met
where they are missing (no v4l2loopback device, no microphone on these
machines): those paths must give one-line errors.
"""

import asyncio
import glob
import os
import re
import signal
import sys
import threading
import time
from fractions import Fraction
from types import SimpleNamespace

import numpy as np
import pytest

from talkinghead.cli import main
from talkinghead.contracts import topology
from talkinghead.contracts.audio_io import load_audio
from talkinghead.jobs.render import demo_audio
from talkinghead.renderer.avatar import load_avatar
from talkinghead.streaming.virtual_camera import EXTRA, DeviceError, Microphone, run_camera

SPEECH_SECONDS = 4.0
RUN_SECONDS = 5.5  # the speech, then the microphone's silence
FPS = 5  # kept in real time by this 2-core machine while other jobs hold the cores (25 fps drops frames here)


class FakeCamera:
    """pyvirtualcam.Camera's surface: records each frame with the time it was sent."""

    opened: list["FakeCamera"] = []  # the cameras the CLI opened, for its test

    def __init__(self, width: int, height: int, fps: float, device: str | None = None) -> None:
        self.width, self.height, self.fps = width, height, fps
        self.device = device or "/dev/video9"
        self.frames: list[np.ndarray] = []
        self.times: list[float] = []
        self.closed = False
        FakeCamera.opened.append(self)

    def send(self, frame: np.ndarray) -> None:
        self.times.append(time.monotonic())
        self.frames.append(frame.copy())

    def close(self) -> None:
        self.closed = True


class FakeInputStream:
    """sounddevice.InputStream's surface: a thread calls ``callback(indata, frames, time, status)`` with
    20 ms blocks of ``samples`` (then silence, as a microphone goes on) at real-time pace."""

    def __init__(self, samples: np.ndarray, rate: int, *, samplerate=None, channels=1, dtype="float32",
                 latency=None, device=None, callback=None) -> None:
        assert samplerate is None and channels == 1 and dtype == "float32"
        self.samples, self.samplerate, self.callback = samples, rate, callback
        self._running = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._running.set()
        self._thread.start()

    def stop(self) -> None:
        self._running.clear()
        self._thread.join()

    def close(self) -> None:
        pass

    def _run(self) -> None:
        step = self.samplerate // 50
        start = time.monotonic()
        k = 0
        while self._running.is_set():
            time.sleep(max(0.0, start + (k + 1) * step / self.samplerate - time.monotonic()))
            block = np.zeros((step, 1), np.float32)
            chunk = self.samples[k * step:(k + 1) * step]
            block[: len(chunk), 0] = chunk
            stamp = SimpleNamespace(inputBufferAdcTime=start + k * step / self.samplerate, currentTime=time.monotonic())
            self.callback(block, step, stamp, 0)  # 0: no CallbackFlags set (sounddevice's flags are falsy then)
            k += 1


def test_the_microphone_drives_the_camera_at_the_frame_rate_with_a_moving_mouth(engine):
    samples, rate = load_audio(demo_audio())
    speech = samples[: int(SPEECH_SECONDS * rate)]
    renderer = engine.renderer()
    height, width = renderer.size
    camera = FakeCamera(width, height, float(FPS))
    microphone = Microphone(input_stream=lambda **kw: FakeInputStream(speech, rate, **kw))

    result = run_camera(engine, microphone, camera, fps=Fraction(FPS), seconds=RUN_SECONDS)

    assert result.sent == len(camera.frames) and result.dropped <= 0.1 * RUN_SECONDS * FPS
    assert list(result.indices) == sorted(set(result.indices))
    assert abs(result.sent + result.dropped - RUN_SECONDS * FPS) <= 2  # every frame of the audio: sent or counted
    assert all(f.shape == (height, width, 3) and f.dtype == np.uint8 for f in camera.frames)
    intervals = np.diff(camera.times)
    assert abs(np.median(intervals) - 1 / FPS) < 0.1 / FPS, intervals  # sent at the frame rate
    assert min(result.lateness) >= 0, result.lateness  # none early, not even the tail drawn after the stop
    # The mouth opens (a dark cavity where the photo had none) while the speech plays, not in the silence after.
    avatar = load_avatar()  # the built-in photo avatar the engine draws
    points = avatar.landmarks[list(topology.LIPS_OUTER), :2]
    (x0, y0), (x1, y1) = points.min(0).astype(int) - 10, points.max(0).astype(int) + 10
    was_dark = avatar.image[y0:y1, x0:x1].mean(-1) < 30
    dark = np.array([((f[y0:y1, x0:x1].mean(-1) < 30) & ~was_dark).sum() for f in camera.frames])
    index = np.array(result.indices)  # frame k shows the audio at k / FPS
    talking = dark[index < SPEECH_SECONDS * FPS]
    silent = dark[index >= (SPEECH_SECONDS + 0.5) * FPS]
    assert (talking > 50).sum() >= 5, talking  # about a third of the speech's frames show the opening
    assert len(silent) >= 2 and silent.max() <= 10, silent


def test_ctrl_c_ends_the_stream_cleanly_with_its_tail(engine):
    samples, rate = load_audio(demo_audio())
    height, width = engine.renderer().size
    camera = FakeCamera(width, height, float(FPS))
    microphone = Microphone(input_stream=lambda **kw: FakeInputStream(samples, rate, **kw))
    timer = threading.Timer(1.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        result = run_camera(engine, microphone, camera, fps=Fraction(FPS))
    finally:
        timer.cancel()
    assert abs(result.sent + result.dropped - 1.5 * FPS) <= 2 and min(result.lateness) >= 0
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # given back


def test_the_cli_streams_a_file_to_the_camera_and_sums_up(monkeypatch, capsys):
    pyvirtualcam = pytest.importorskip("pyvirtualcam")
    monkeypatch.setattr(pyvirtualcam, "Camera", FakeCamera)  # the device boundary; the rest is the real command
    FakeCamera.opened.clear()
    assert main(["live", "--audio", str(demo_audio()), "--virtual-camera", "--fps", "5", "--seconds", "2"]) == 0
    (camera,) = FakeCamera.opened
    assert camera.closed and camera.fps == 5.0 and camera.frames
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("talkinghead: the avatar is on /dev/video9 (490x478 at 5 fps)")
    sent, dropped = map(int, re.match(r"talkinghead: (\d+) frames sent in [\d.]+ s, (\d+) dropped", err[1]).groups())
    assert sent == len(camera.frames) and abs(sent + dropped - 2 * 5) <= 2  # 2 s of the file: sent or counted


def test_no_virtual_camera_device_is_a_one_line_error(tmp_path, capsys):
    pytest.importorskip("pyvirtualcam")
    if sys.platform != "linux" or glob.glob("/dev/video*"):
        pytest.skip("needs Linux without any video device (a v4l2loopback one may be there)")
    with pytest.raises(SystemExit) as exit_:
        main(["live", "--audio", str(demo_audio()), "--virtual-camera", "-q"])
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("talkinghead: error: no virtual camera device found: load v4l2loopback")
    assert error.count("\n") == 1


def test_no_microphone_is_a_one_line_error():
    try:
        sounddevice = __import__("sounddevice")
    except (ImportError, OSError):
        pytest.skip("needs sounddevice with the PortAudio library")
    if any(device["max_input_channels"] > 0 for device in sounddevice.query_devices()):
        pytest.skip("this machine has a microphone")

    async def open_it():
        async with Microphone():
            pass

    with pytest.raises(DeviceError, match="^cannot open the microphone: "):
        asyncio.run(open_it())


@pytest.mark.parametrize("args, message", [
    (["--mic"], "live needs an output: --virtual-camera"),
    (["--virtual-camera"], "give --mic or --audio FILE (one of them)"),
    (["--mic", "--audio", "speech.wav", "--virtual-camera"], "give --mic or --audio FILE (one of them)"),
    (["--audio", "missing.wav", "--virtual-camera"], "missing.wav: file not found"),
    (["--audio", "BAD", "--virtual-camera"], "cannot decode audio"),
])
def test_argument_errors_are_one_line(tmp_path, capsys, args, message):
    (tmp_path / "bad.wav").write_bytes(b"not audio")
    args = [str(tmp_path / "bad.wav") if a == "BAD" else a for a in args]
    with pytest.raises(SystemExit) as exit_:
        main(["live", *args])
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1


def test_without_the_extra_it_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pyvirtualcam", None)  # as if not installed: import fails
    with pytest.raises(SystemExit) as exit_:
        main(["live", "--audio", str(demo_audio()), "--virtual-camera"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == f"talkinghead: error: {EXTRA}\n"
