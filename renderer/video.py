"""Video files with PyAV: frames in with the rate as an exact Fraction, MP4 out.

Frames are taken in decode order at the stream's average rate: the project's
clock counts frames, it does not follow variable-rate timestamps. Written
frames get presentation time ``k / fps`` exactly (the stream's time base is
``1 / fps``), beside the audio from sample 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    width: int
    height: int
    fps: Fraction
    num_frames: int  # container's count or an estimate from the duration; 0 if unknown


def _open(path: Path) -> av.container.InputContainer:
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        container = av.open(str(path))
    except av.FFmpegError as error:
        raise ValueError(f"{path}: not a readable image or video ({error})") from None
    if not container.streams.video:
        container.close()
        raise ValueError(f"{path}: has no video stream")
    return container


def probe_video(path: str | Path) -> VideoInfo:
    path = Path(path)
    with _open(path) as container:
        stream = container.streams.video[0]
        fps = Fraction(stream.average_rate or stream.guessed_rate or 0)
        if fps <= 0:
            raise ValueError(f"{path}: video stream has no frame rate")
        count = stream.frames
        if not count and stream.duration and stream.time_base:
            count = round(stream.duration * stream.time_base * fps)
        return VideoInfo(path, stream.codec_context.width, stream.codec_context.height, fps, int(count or 0))


def iter_frames(path: str | Path) -> Iterator[np.ndarray]:
    """Yield RGB uint8 frames (H, W, 3); a corrupt stream ends with a ValueError."""
    path = Path(path)
    with _open(path) as container:
        try:
            for frame in container.decode(video=0):
                yield frame.to_ndarray(format="rgb24")
        except av.FFmpegError as error:
            raise ValueError(f"{path}: decoding failed ({error})") from None


def read_image(path: str | Path) -> np.ndarray:
    """The first frame of an image (or video) file as RGB uint8 (H, W, 3)."""
    for frame in iter_frames(path):
        return frame
    raise ValueError(f"{path}: holds no image")


def write_image(path: str | Path, rgb: np.ndarray) -> None:
    """Write RGB uint8 (H, W, 3) as a PNG."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    with av.open(str(path), "w", format="image2") as container:
        stream = container.add_stream("png")
        stream.width, stream.height = rgb.shape[1], rgb.shape[0]
        stream.pix_fmt = "rgb24"
        for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


class Mp4Writer:
    """H.264 video (yuv420p, even sides) and AAC audio into one MP4, frame ``k`` at ``k / fps``."""

    def __init__(self, path: str | Path, fps: Fraction, size: tuple[int, int],
                 audio: np.ndarray | None = None, sample_rate: int = 16000, crf: int = 20) -> None:
        height, width = size
        if height % 2 or width % 2 or height <= 0 or width <= 0:
            raise ValueError(f"H.264 needs even, positive frame sides, got {width}x{height}")
        self.size = size
        self._container = av.open(str(path), "w", format="mp4")
        self._video = self._container.add_stream("libx264", rate=fps)
        self._video.width, self._video.height = width, height
        self._video.pix_fmt = "yuv420p"
        self._video.time_base = Fraction(1) / fps
        self._video.options = {"crf": str(crf), "preset": "veryfast"}
        self._audio = None if audio is None or not len(audio) else np.asarray(audio, np.float32)
        self._rate = sample_rate
        if self._audio is not None:  # every stream exists before the first packet is muxed
            self._sound = self._container.add_stream("aac", rate=sample_rate, layout="mono")
        self._frames = 0

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(self, kind, *rest) -> None:
        if kind is None:
            self.close()
        else:
            self._container.close()

    def write(self, frames: np.ndarray) -> None:
        """Append RGB uint8 frames (B, H, W, 3)."""
        if frames.ndim != 4 or frames.shape[1:3] != self.size:
            raise ValueError(f"frames must be (B, {self.size[0]}, {self.size[1]}, 3), got {frames.shape}")
        for rgb in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts = self._frames
            self._frames += 1
            for packet in self._video.encode(frame):
                self._container.mux(packet)

    def close(self) -> None:
        for packet in self._video.encode():
            self._container.mux(packet)
        if self._audio is not None:
            frame = av.AudioFrame.from_ndarray(self._audio.reshape(1, -1), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = self._rate, 0
            for packet in [*self._sound.encode(frame), *self._sound.encode()]:
                self._container.mux(packet)
        self._container.close()
