"""Picture codecs for streaming: RGB frames to JPEG bytes (Pillow's libjpeg-turbo)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


class JpegEncoder:
    """Encodes RGB uint8 frames (H, W, 3) of one size to baseline JPEG (4:2:0) at ``quality`` (1-95).

    Pillow's encoder rather than FFmpeg's mjpeg: half the time per frame (0.8 against 1.6 ms for the
    built-in avatar's 490×478), at a quality (85) whose files are no smaller than mjpeg's qscale 3 was."""

    def __init__(self, width: int, height: int, quality: int = 85) -> None:
        if not 1 <= quality <= 95:
            raise ValueError(f"JPEG quality must be 1 to 95, got {quality}")
        self.size, self.quality = (width, height), quality

    def __call__(self, rgb: np.ndarray) -> bytes:
        image = Image.fromarray(np.ascontiguousarray(rgb, np.uint8), "RGB")
        if image.size != self.size:
            raise ValueError(f"this encoder takes {self.size[0]}x{self.size[1]} frames, got {image.size[0]}x{image.size[1]}")
        out = io.BytesIO()
        image.save(out, "JPEG", quality=self.quality)
        return out.getvalue()
