"""A visible mark that a video is synthetic: a text label drawn in the lower right corner.

The label is rasterised once per frame size with matplotlib's Agg renderer
(installed with the ``track`` extra that dubbing needs anyway) as white text
with a dark outline, then alpha-blended into each frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TEXT = "AI-generated"


@dataclass(frozen=True)
class Watermark:
    """A label's coverage ``alpha`` (h,w) in [0,1] and colour (h,w,3), placed at ``origin`` (y, x)."""

    origin: tuple[int, int]
    alpha: np.ndarray
    colour: np.ndarray

    def apply(self, frame: np.ndarray) -> np.ndarray:
        """The frame (H,W,3) uint8 with the label blended in (a new array)."""
        out = frame.copy()
        (y, x), (h, w) = self.origin, self.alpha.shape
        window = out[y:y + h, x:x + w].astype(np.float32)
        blended = window + self.alpha[..., None] * (self.colour - window)
        out[y:y + h, x:x + w] = np.clip(np.round(blended), 0, 255).astype(np.uint8)
        return out


def make_watermark(width: int, height: int, text: str = TEXT) -> Watermark:
    """The label for frames of ``width`` x ``height``: text about 4% of the shorter side tall."""
    from matplotlib import patheffects
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    side = max(8, round(min(width, height) * 0.04))
    box_w, box_h = min(width, side * (len(text) + 2)), min(height, side * 2)
    figure = Figure(figsize=(box_w / 100, box_h / 100), dpi=100)
    figure.patch.set_alpha(0)
    canvas = FigureCanvasAgg(figure)
    label = figure.text(0.95, 0.5, text, ha="right", va="center", color="white", fontsize=side * 72 / 100,
                        fontweight="bold")
    label.set_path_effects([patheffects.withStroke(linewidth=max(1.0, side / 8) * 72 / 100, foreground="black")])
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba(), np.float32)[:box_h, :box_w] / 255.0
    margin = max(2, side // 2)
    origin = (max(0, height - box_h - margin // 2), max(0, width - box_w - margin))
    return Watermark(origin, rgba[..., 3], rgba[..., :3] * 255.0)
