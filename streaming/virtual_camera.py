"""The virtual camera: the avatar as a webcam, driven by a microphone or by a file played in real time.

Conferencing apps (Zoom, Meet, OBS) take the virtual camera as any other
camera. The job is one live session with realtime pacing between two thin
device boundaries:

- audio in: :class:`Microphone` (sounddevice's input callback, on
  PortAudio's thread, hands blocks to the event loop) or :class:`FilePlayer`
  (a file's blocks at the wall clock's pace, for machines without a
  microphone and for demos);
- pictures out: a camera with pyvirtualcam's surface (``send``, ``close``,
  ``width``, ``height``, ``fps``), opened by :func:`open_camera`.

Each frame is sent when the session hands it, at its presentation time;
frames the camera could not take in time are dropped by the session and
counted. The picture trails the voice by the session's delay (one frame,
the look-ahead and the jitter budget: 190 ms at 25 fps).
"""

from __future__ import annotations

import asyncio
import contextlib
import platform
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from talkinghead.contracts.audio_io import load_audio
from talkinghead.streaming.live import Engine, LiveConfig

BLOCK_MS = 20  # a file's blocks: what a microphone typically hands over
STALL_SECONDS = 2.0  # a microphone silent this long has stopped
EXTRA = "the virtual camera needs the virtualcam extra: pip install 'talkinghead[virtualcam]'"


class DeviceError(OSError):
    """A camera or microphone that is missing or refuses to work (the CLI's one-line message, exit 2)."""


class AudioSource(Protocol):
    """Caller audio for a session: its rate, and mono float blocks as they are captured."""

    sample_rate: int

    async def __aenter__(self) -> AudioSource: ...

    async def __aexit__(self, *exc: object) -> None: ...

    def blocks(self) -> AsyncIterator[np.ndarray]: ...


class Camera(Protocol):
    """What is used of ``pyvirtualcam.Camera``."""

    width: int
    height: int
    fps: float
    device: str

    def send(self, frame: np.ndarray) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class CameraRun:
    """What a run did: frames dropped for lateness, the sent frames' numbers and lateness (seconds after
    each one's release, the earliest the session lets it go; never negative), and the run's length."""

    dropped: int
    indices: tuple[int, ...]
    lateness: tuple[float, ...]
    seconds: float

    @property
    def sent(self) -> int:
        return len(self.lateness)

    def summary(self) -> str:
        late = (f"; sent {1000 * float(np.median(self.lateness)):.0f} ms after their audio could be in "
                f"(median, worst {1000 * max(self.lateness):.0f} ms)") if self.lateness else ""
        return f"{self.sent} frames sent in {self.seconds:.1f} s, {self.dropped} dropped{late}"


def require(module: str) -> Any:
    """Import one of the virtualcam extra's modules (``pyvirtualcam`` or ``sounddevice``), or say how to install it."""
    try:
        if module == "pyvirtualcam":
            import pyvirtualcam as loaded
        elif module == "sounddevice":
            import sounddevice as loaded
        else:
            raise ValueError(f"{module!r} is not one of the virtualcam extra's modules")
        return loaded
    except ImportError:
        raise ImportError(EXTRA) from None
    except OSError as error:  # sounddevice without the PortAudio library
        raise DeviceError(f"the microphone needs the PortAudio library (apt-get install libportaudio2): {error}") from None


def open_camera(width: int, height: int, fps: Fraction, device: str | None = None) -> Camera:
    """pyvirtualcam's camera for RGB frames (v4l2loopback on Linux, OBS's virtual camera on Windows and macOS)."""
    pyvirtualcam = require("pyvirtualcam")
    try:
        return pyvirtualcam.Camera(width, height, float(fps), device=device)
    except RuntimeError as error:  # one line per backend tried
        reason = "; ".join(line.strip() for line in str(error).splitlines() if line.strip())
        if device is not None:
            raise DeviceError(f"cannot open the virtual camera {device}: {reason}") from None
        hint = ("load v4l2loopback (sudo modprobe v4l2loopback devices=1) or give --camera-device"
                if platform.system() == "Linux" else "install OBS Studio and start its virtual camera once")
        raise DeviceError(f"no virtual camera device found: {hint} ({reason})") from None


class Microphone:
    """An input device's audio at its own rate: sounddevice's callback hands each block to the event loop.

    Blocks captured before :meth:`blocks` is first iterated are discarded, so
    a session never starts behind the voice. ``input_stream`` is
    ``sounddevice.InputStream`` or a stand-in with its signature.
    """

    def __init__(self, device: int | str | None = None,
                 input_stream: Callable[..., Any] | None = None) -> None:
        self.device = device
        self.overflows = 0  # blocks PortAudio flagged (an input overflow: audio was lost)
        self.sample_rate = 0
        self._input_stream = input_stream
        self._stream: Any = None
        self._queue: asyncio.Queue[np.ndarray] | None = None

    async def __aenter__(self) -> Microphone:
        input_stream = self._input_stream or require("sounddevice").InputStream
        loop = asyncio.get_running_loop()

        def callback(indata: np.ndarray, frames: int, time: Any, status: Any) -> None:  # on PortAudio's thread
            with contextlib.suppress(RuntimeError):  # the loop closed while the stream was stopping
                loop.call_soon_threadsafe(self._take, indata[:frames, 0].copy(), bool(status))

        try:  # PortAudio's errors (PortAudioError; ValueError for an unknown device name)
            self._stream = input_stream(samplerate=None, channels=1, dtype="float32", latency="low",
                                        device=self.device, callback=callback)
            self._stream.start()
        except Exception as error:
            self._stream = None
            raise DeviceError(f"cannot open the microphone: {error}") from None
        self.sample_rate = round(self._stream.samplerate)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None

    def _take(self, block: np.ndarray, flagged: bool) -> None:
        self.overflows += flagged
        if self._queue is not None:
            self._queue.put_nowait(block)

    async def blocks(self) -> AsyncIterator[np.ndarray]:
        """Everything captured since the last block, as it comes; a stalled device is an error."""
        self._queue = queue = asyncio.Queue()
        while True:
            try:
                parts = [await asyncio.wait_for(queue.get(), STALL_SECONDS)]
            except asyncio.TimeoutError:
                raise DeviceError(f"the microphone sent no audio for {STALL_SECONDS:g} s") from None
            while not queue.empty():
                parts.append(queue.get_nowait())
            yield np.concatenate(parts)


class FilePlayer:
    """A file's audio handed over in real time, block by block, as a microphone would (no device needed)."""

    def __init__(self, samples: np.ndarray, sample_rate: int, block_ms: int = BLOCK_MS) -> None:
        self.samples, self.sample_rate = samples, sample_rate
        self.step = max(1, sample_rate * block_ms // 1000)

    @classmethod
    def from_file(cls, path: str | Path) -> FilePlayer:
        return cls(*load_audio(path))

    async def __aenter__(self) -> FilePlayer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def blocks(self) -> AsyncIterator[np.ndarray]:
        """Block ``k`` once its last sample would have been captured; ends with the file."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        for begin in range(0, len(self.samples), self.step):
            block = self.samples[begin:begin + self.step]
            await asyncio.sleep(max(0.0, start + (begin + len(block)) / self.sample_rate - loop.time()))
            yield block


async def stream_to_camera(engine: Engine, source: AudioSource, camera: Camera, stop: asyncio.Event,
                           avatar: str | None = None, fps: Fraction = Fraction(25)) -> CameraRun:
    """Run one realtime session from ``source`` (entered here) to ``camera`` until the source ends or
    ``stop`` is set; the session's tail is drawn and sent before it returns."""
    loop = asyncio.get_running_loop()
    async with source, engine.session(avatar, source.sample_rate, LiveConfig(fps=fps)) as session:
        if (camera.width, camera.height) != session.width_height:
            raise ValueError(f"the camera is {camera.width}x{camera.height}, the avatar "
                             f"{session.width_height[0]}x{session.width_height[1]}")
        begun = loop.time()

        async def feed() -> None:
            blocks = source.blocks()
            async with contextlib.aclosing(blocks):
                async for block in blocks:
                    await session.push_audio(block)
                    if stop.is_set():
                        break
            await session.end()

        feeder = asyncio.create_task(feed())
        indices: list[int] = []
        lateness: list[float] = []
        try:
            async for frame in session:  # realtime: idle frames come even while no audio does
                await asyncio.sleep(max(0.0, session.release(frame.index) - loop.time()))  # the tail after end()
                sent_at = loop.time()
                try:
                    camera.send(np.ascontiguousarray(frame.image))
                except RuntimeError as error:
                    raise DeviceError(f"the virtual camera stopped taking frames: {error}") from None
                indices.append(frame.index)
                lateness.append(sent_at - session.release(frame.index))
                if feeder.done() and feeder.exception() is not None:
                    break
        finally:
            feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feeder  # the source's own error, if it failed
        return CameraRun(session.dropped, tuple(indices), tuple(lateness), loop.time() - begun)


def run_camera(engine: Engine, source: AudioSource, camera: Camera, avatar: str | None = None,
               fps: Fraction = Fraction(25), seconds: float | None = None) -> CameraRun:
    """:func:`stream_to_camera` until the source ends, ``seconds`` pass or Ctrl-C (which ends cleanly)."""

    async def run() -> CameraRun:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        if seconds is not None:
            loop.call_later(seconds, stop.set)
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on Windows, not off the main thread
            loop.add_signal_handler(signal.SIGINT, stop.set)
        try:
            return await stream_to_camera(engine, source, camera, stop, avatar, fps)
        finally:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signal.SIGINT)

    return asyncio.run(run())
