"""Reading video frames with PyAV, with the frame rate as an exact Fraction.

Frames are taken in decode order at the stream's average rate: the project's
clock counts frames, it does not follow variable-rate timestamps.
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
        raise ValueError(f"{path}: not a readable video ({error})") from None
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
            raise ValueError(f"{path}: video decoding failed ({error})") from None


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
