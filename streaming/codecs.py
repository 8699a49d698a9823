"""Picture codecs for streaming: RGB frames to JPEG bytes (PyAV's mjpeg, no extra dependency)."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np


class JpegEncoder:
    """Encodes RGB uint8 frames (H, W, 3) of one size to baseline JPEG; ``quality`` is mjpeg's qscale (2 best)."""

    def __init__(self, width: int, height: int, quality: int = 3) -> None:
        self._codec = av.CodecContext.create("mjpeg", "w")
        self._codec.width, self._codec.height, self._codec.pix_fmt = width, height, "yuvj420p"
        self._codec.time_base = Fraction(1, 25)
        self._codec.options = {"qscale": str(quality)}

    def __call__(self, rgb: np.ndarray) -> bytes:
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").reformat(format="yuvj420p")
        return b"".join(bytes(packet) for packet in self._codec.encode(frame))
