"""Video files with PyAV: frames in upright with the rate as an exact Fraction, H.264 out; still images with Pillow.

Frames are decoded in presentation order and turned upright by the stream's
display rotation (a phone video's coded pictures lie on their side), so a
face is tracked and drawn the way it is seen. :func:`iter_timed_frames` also
gives each frame's presentation time, for variable-frame-rate input. Written
frames get presentation time ``k / fps`` unless given their own timestamps,
beside the audio from sample 0; :class:`VideoStyle` carries a source video's
pixel format, colour tags and rotation over to the output.

PyAV is imported where a video is read or written, not with the module: a
live server draws avatars (whose bundle images are PNG, read by Pillow)
without FFmpeg, e.g. on a GPU machine whose image has no PyAV.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple

import numpy as np

#: Pixel formats libx264 encodes; other sources are written as yuv420p.
H264_PIXEL_FORMATS = frozenset({"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p",
                                "yuv420p10le", "yuv422p10le", "yuv444p10le", "gray"})
_CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}


@dataclass(frozen=True)
class VideoStyle:
    """How coded pictures are stored: pixel format, colour tags, display rotation (degrees, counter-clockwise)."""

    pix_fmt: str = "yuv420p"
    color_range: int = 0  # FFmpeg's AVColorRange: 0 unspecified, 1 limited (tv), 2 full (pc)
    colorspace: int = 2  # AVColorSpace, 2 = unspecified
    color_primaries: int = 2
    color_trc: int = 2
    rotation: int = 0

    @property
    def quarter_turns(self) -> int:
        return round(self.rotation / 90) % 4


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    width: int  # upright (as displayed)
    height: int
    fps: Fraction
    num_frames: int  # container's count or an estimate from the duration; 0 if unknown
    style: VideoStyle = VideoStyle()
    has_audio: bool = False
    container: str = ""  # the demuxer's name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"


def _open(path: Path) -> av.container.InputContainer:
    import av

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
    """The video stream's size (upright), rate, frame count and style; decodes the first frame for its rotation."""
    import av

    path = Path(path)
    with _open(path) as container:
        stream = container.streams.video[0]
        fps = Fraction(stream.average_rate or stream.guessed_rate or 0)
        if fps <= 0:
            raise ValueError(f"{path}: video stream has no frame rate")
        count = stream.frames
        if not count and stream.duration and stream.time_base:
            count = round(stream.duration * stream.time_base * fps)
        context = stream.codec_context
        try:
            first = next(container.decode(video=0), None)
        except av.FFmpegError as error:
            raise ValueError(f"{path}: decoding failed ({error})") from None
        source = first if first is not None else context
        style = VideoStyle(context.pix_fmt or "yuv420p", int(source.color_range), int(source.colorspace),
                           int(source.color_primaries), int(source.color_trc),
                           int(first.rotation) if first is not None else 0)
        width, height = context.width, context.height
        if style.quarter_turns % 2:
            width, height = height, width
        return VideoInfo(path, width, height, fps, int(count or 0), style, bool(container.streams.audio),
                         container.format.name)


class TimedFrame(NamedTuple):
    image: np.ndarray  # upright RGB uint8 (H, W, 3)
    time: Fraction  # presentation time, seconds from the stream's first frame
    duration: Fraction  # seconds until the next frame (the stream's own, or one frame at the average rate)


def iter_timed_frames(path: str | Path) -> Iterator[TimedFrame]:
    """Yield upright frames with their presentation times and durations (variable-rate input keeps its own).

    A frame without a timestamp gets the previous one's plus one frame at the
    average rate; a corrupt stream ends with a ValueError.
    """
    import av

    path = Path(path)
    with _open(path) as container:
        stream = container.streams.video[0]
        step = 1 / Fraction(stream.average_rate or stream.guessed_rate or 30)
        start, last = None, None
        try:
            for frame in container.decode(video=0):
                base = Fraction(frame.time_base) if frame.time_base is not None else None
                if frame.pts is None or base is None:
                    time = Fraction(0) if last is None else last + step
                else:
                    start = frame.pts * base if start is None else start
                    time = frame.pts * base - start
                duration = frame.duration * base if frame.duration and base is not None else step
                last = time
                yield TimedFrame(_upright(frame.to_ndarray(format="rgb24"), frame.rotation), time, duration)
        except av.FFmpegError as error:
            raise ValueError(f"{path}: decoding failed ({error})") from None


def iter_frames(path: str | Path) -> Iterator[np.ndarray]:
    """Yield upright RGB uint8 frames (H, W, 3); a corrupt stream ends with a ValueError."""
    for frame in iter_timed_frames(path):
        yield frame.image


def _upright(rgb: np.ndarray, rotation: int) -> np.ndarray:
    turns = round(rotation / 90) % 4
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


def read_image(path: str | Path) -> np.ndarray:
    """An image file as RGB uint8 (H, W, 3), turned upright by its EXIF orientation (Pillow); a file that is
    not a still image gives its first video frame (PyAV)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        with Image.open(path) as image:
            return np.array(ImageOps.exif_transpose(image).convert("RGB"))
    except UnidentifiedImageError:
        pass
    except (OSError, SyntaxError, ValueError) as error:  # Pillow knew the format but not these bytes
        raise ValueError(f"{path}: not a readable image ({' '.join(str(error).split())})") from None
    for frame in iter_frames(path):
        return frame
    raise ValueError(f"{path}: holds no image")


def write_image(path: str | Path, rgb: np.ndarray) -> None:
    """Write RGB uint8 (H, W, 3) as a PNG (Pillow)."""
    from PIL import Image

    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8), "RGB").save(path, format="PNG")


class VideoWriter:
    """H.264 video and AAC audio into an MP4 (or .mov / .mkv by the path's suffix).

    Frames are given upright, RGB; ``style`` says how they are coded (pixel
    format, colour tags, and a display rotation: the pictures are turned
    back so a player shows them upright). Frame ``k`` is presented at
    ``k / fps`` unless :meth:`write` gets timestamps (in ``time_base`` units,
    default ``1 / fps``). ``metadata``: container tags (``comment``, ...).
    """

    def __init__(self, path: str | Path, fps: Fraction, size: tuple[int, int],
                 audio: np.ndarray | None = None, sample_rate: int = 16000, crf: int = 20,
                 style: VideoStyle = VideoStyle(), time_base: Fraction | None = None,
                 metadata: dict[str, str] | None = None, container: str | None = None) -> None:
        height, width = size
        coded = (width, height) if style.quarter_turns % 2 == 0 else (height, width)
        pix_fmt = style.pix_fmt if style.pix_fmt in H264_PIXEL_FORMATS else "yuv420p"
        if width <= 0 or height <= 0 or (pix_fmt != "gray" and "444" not in pix_fmt and coded[0] % 2) or (
                "420" in pix_fmt and coded[1] % 2):
            raise ValueError(f"H.264 {pix_fmt} needs even, positive frame sides, got {width}x{height}")
        if container is None:
            container = _CONTAINERS.get(Path(path).suffix.lower())
            if container is None:
                raise ValueError(f"{path}: unsupported output container (use .mp4, .mov or .mkv)")
        import av

        self.size = size
        self._style = style
        self._container = av.open(str(path), "w", format=container)
        for key, value in (metadata or {}).items():
            self._container.metadata[key] = value
        self._video = self._container.add_stream("libx264", rate=fps)
        self._video.width, self._video.height = coded
        self._video.pix_fmt = pix_fmt
        self._video.time_base = time_base or Fraction(1) / fps
        self._video.codec_context.time_base = self._video.time_base
        self._video.options = {"crf": str(crf), "preset": "veryfast", "bf": "0"}
        context = self._video.codec_context
        context.color_range, context.colorspace = style.color_range, style.colorspace
        context.color_primaries, context.color_trc = style.color_primaries, style.color_trc
        if style.rotation:
            self._video.set_display_rotation(style.rotation)
        self._audio = None if audio is None or not len(audio) else np.asarray(audio, np.float32)
        self._rate = sample_rate
        if self._audio is not None:  # every stream exists before the first packet is muxed
            self._sound = self._container.add_stream("aac", rate=sample_rate, layout="mono")
        self._frames = 0
        self._durations: dict[int, int] = {}

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, kind, *rest) -> None:
        if kind is None:
            self.close()
        else:
            self._container.close()

    def write(self, frames: np.ndarray, pts: np.ndarray | None = None, durations: np.ndarray | None = None) -> None:
        """Append upright RGB uint8 frames (B, H, W, 3), at ``pts`` (time-base units) or next in line.

        ``durations`` (time-base units) matter for the last frame of
        variable-rate video: they fix where the stream ends.
        """
        import av

        if frames.ndim != 4 or frames.shape[1:3] != self.size:
            raise ValueError(f"frames must be (B, {self.size[0]}, {self.size[1]}, 3), got {frames.shape}")
        style = self._style
        for index, rgb in enumerate(frames):
            coded = np.rot90(rgb, -style.quarter_turns) if style.quarter_turns else rgb
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(coded), format="rgb24")
            frame = frame.reformat(format=self._video.pix_fmt, dst_colorspace=style.colorspace or None,
                                   dst_color_range=style.color_range or None)
            frame.pts = self._frames if pts is None else int(pts[index])
            if durations is not None:
                self._durations[frame.pts] = int(durations[index])
            self._frames += 1
            self._mux(self._video.encode(frame))

    def _mux(self, packets) -> None:
        """Mux video packets with the durations given for their frames (the encoder would guess them)."""
        for packet in packets:
            if packet.pts in self._durations:
                packet.duration = self._durations.pop(packet.pts)
            self._container.mux(packet)

    def close(self) -> None:
        import av

        self._mux(self._video.encode())
        if self._audio is not None:
            frame = av.AudioFrame.from_ndarray(self._audio.reshape(1, -1), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = self._rate, 0
            for packet in [*self._sound.encode(frame), *self._sound.encode()]:
                self._container.mux(packet)
        self._container.close()
