"""The one frame type every way out hands on: live sessions, dubbing and offline render."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np


@dataclass(frozen=True)
class Frame:
    """Video frame ``index`` on the audio clock, with the coefficients row that drives it.

    ``pts`` is exact: ``index / fps`` seconds for sessions and renders, the
    input frame's own time for a dub. ``source`` is the ``[first, end)`` span
    of the caller's audio samples the frame covers (``None``: inserted
    silence, an idle frame, or a dub frame past the new speech). ``image`` is
    ``None`` until drawn (and for coefficient-only sessions); ``encoded`` is
    the picture in the codec the transport chose. ``sequence`` is the
    renderer's state for the sequence the frame belongs to (a session, a
    render: :meth:`Renderer.sequence`), whose frames are drawn in order.
    """

    index: int
    pts: Fraction
    blendshapes: np.ndarray  # (52,) ARKit weights
    pose: np.ndarray  # (6,) see Coefficients
    source: tuple[int, int] | None
    audio: np.ndarray | None = None  # the frame's span of the audio (caller rate), when asked for
    image: np.ndarray | None = None  # (H, W, 3) uint8 RGB
    encoded: bytes | None = None
    sequence: object | None = field(default=None, compare=False, repr=False)  # None: drawn on its own
