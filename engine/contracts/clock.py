"""The frame clock: exact rational time shared by every streaming stage.

The caller's audio sample clock is the master. With the caller's sample rate
``sr`` (a positive int) and the video frame rate ``fps`` (a ``Fraction``),
everything here is exact rational arithmetic, never floats, so no drift can
accumulate whatever the chunk sizes:

- video frame ``k`` covers the caller's sample axis ``[k*sr/fps, (k+1)*sr/fps)``,
  i.e. the integer samples ``range(ceil(k*sr/fps), ceil((k+1)*sr/fps))``;
  consecutive spans tile the axis with no gap and no overlap;
- its presentation time is exactly ``k/fps`` seconds on the audio timeline;
- it is final once the samples up to ``(k+1)*sr/fps + lookahead`` have
  arrived, or at end of stream (the rest is padded with silence);
- after ``N`` samples and end of stream there are exactly ``ceil(N*fps/sr)``
  frames.

Resampling delay is compensated: the project's resampler
(``talkinghead.contracts.resample``) is zero-phase, so its output sample
``m`` at rate ``r`` sits exactly at time ``m/r`` on the caller's timeline. A
frame's span therefore maps exactly into any other rate's index domain (the
16 kHz feature domain, the 100 Hz mel-frame domain) with ``span_in_rate``;
the resampler's and the mel window's latency appear as a *look-ahead* (how
long we wait before a frame is final), never as a shift of the spans.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

RateLike = int | Fraction | str | Sequence[int]
"""A rate as callers give it: ``25``, ``Fraction(30000, 1001)``, ``"30000/1001"``, ``[30000, 1001]``."""

DEFAULT_FPS = Fraction(25)


def _parse_fraction(value: RateLike, name: str) -> Fraction:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got {value!r}")  # noqa: TRY004
    if isinstance(value, (Fraction, int)):
        return Fraction(value)
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(
                f"{name} {value!r} is not exact; give it as a fraction such as '30000/1001'"
            )
        return Fraction(int(value))
    if isinstance(value, str):
        try:
            return Fraction(value.strip())
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"{name} {value!r} is not a number or 'num/den'") from None
    if isinstance(value, Sequence) and len(value) == 2:
        num, den = value
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (num, den)):
            raise ValueError(f"{name} [num, den] must hold two ints, got {value!r}")
        if den == 0:
            raise ValueError(f"{name} {value!r} has a zero denominator")
        return Fraction(num, den)
    raise ValueError(f"{name} must be an int, Fraction, 'num/den' or [num, den], got {value!r}")


def as_fraction(value: RateLike, name: str = "rate") -> Fraction:
    """Parse a positive rate exactly; floats other than whole numbers are refused.

    Non-integral floats are refused because ``29.97`` is not ``30000/1001``:
    a silent approximation here would drift against the audio clock.
    """
    result = _parse_fraction(value, name)
    if result <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return result


def as_pair(value: RateLike) -> list[int]:
    """A rate as ``[num, den]``, the form rates travel in (files, protocol)."""
    f = as_fraction(value)
    return [f.numerator, f.denominator]


def _ceil(x: Fraction) -> int:
    return -((-x.numerator) // x.denominator)


def _check_lookahead(lookahead_samples: int | Fraction) -> Fraction:
    if isinstance(lookahead_samples, bool) or not isinstance(lookahead_samples, (int, Fraction)):
        raise ValueError(  # noqa: TRY004 (the project's contract: bad input is a ValueError)
            f"lookahead_samples must be an int or Fraction, got {lookahead_samples!r}"
        )
    if lookahead_samples < 0:
        raise ValueError(f"lookahead_samples must be >= 0, got {lookahead_samples}")
    return Fraction(lookahead_samples)


def check_count(value: int, name: str) -> int:
    """An int >= 0 (a frame index, a frame or sample count); numpy integers accepted."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an int, got {value!r}")  # noqa: TRY004
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {int(value)}")
    return int(value)


def check_sample_rate(rate: int, name: str = "sample_rate", lowest: int = 1, highest: int | None = None) -> int:
    """A sample rate: an int (numpy integers accepted) in ``[lowest, highest]`` Hz."""
    is_int = isinstance(rate, numbers.Integral) and not isinstance(rate, (bool, np.bool_))
    if highest is None:
        if not is_int or rate < lowest:
            raise ValueError(f"{name} must be a positive int, got {rate!r}")
    elif not is_int or not lowest <= rate <= highest:
        raise ValueError(f"{name} must be an int in [{lowest}, {highest}] Hz, got {rate!r}")
    return int(rate)


@dataclass(frozen=True)
class FrameClock:
    """Maps video frame indices to the caller's audio samples and back, exactly."""

    sample_rate: int
    fps: Fraction = DEFAULT_FPS

    def __post_init__(self) -> None:
        sr = self.sample_rate
        if isinstance(sr, bool) or not isinstance(sr, int) or sr <= 0:
            raise ValueError(f"sample_rate must be a positive int, got {sr!r}")
        object.__setattr__(self, "fps", as_fraction(self.fps, "fps"))

    @property
    def samples_per_frame(self) -> Fraction:
        """Exact (usually fractional) number of caller samples per video frame."""
        return self.sample_rate / self.fps

    def bounds(self, k: int) -> tuple[Fraction, Fraction]:
        """Exact rational bounds ``[k*sr/fps, (k+1)*sr/fps)`` of frame ``k`` on the sample axis."""
        check_count(k, "frame index")
        return k * self.samples_per_frame, (k + 1) * self.samples_per_frame

    def span(self, k: int) -> range:
        """Integer sample indices ``n`` with ``k*sr/fps <= n < (k+1)*sr/fps``."""
        lo, hi = self.bounds(k)
        return range(_ceil(lo), _ceil(hi))

    def pts(self, k: int) -> Fraction:
        """Presentation time of frame ``k`` in seconds: exactly ``k/fps``."""
        check_count(k, "frame index")
        return k / self.fps

    def frames_for(self, n_samples: int) -> int:
        """Frames that exist after ``n_samples`` and end of stream: ``ceil(n*fps/sr)``."""
        check_count(n_samples, "n_samples")
        return _ceil(n_samples * self.fps / self.sample_rate)

    def frame_of_sample(self, n: int) -> int:
        """The frame whose span holds sample ``n``: ``floor(n*fps/sr)``."""
        check_count(n, "sample index")
        return math.floor(n * self.fps / self.sample_rate)

    def frames_ready(
        self, n_received: int, lookahead_samples: int | Fraction = 0, ended: bool = False
    ) -> int:
        """How many frames (indices ``0..r-1``) are final after ``n_received`` samples.

        Frame ``k`` is final when ``(k+1)*sr/fps + lookahead <= n_received``, or
        once the stream has ended (everything left is padded with silence).
        """
        check_count(n_received, "n_received")
        lookahead = _check_lookahead(lookahead_samples)
        if ended:
            return self.frames_for(n_received)
        return max(0, math.floor((n_received - lookahead) * self.fps / self.sample_rate))

    def span_in_rate(self, k: int, rate: RateLike) -> range:
        """Indices ``m`` of another rate's samples (time ``m/rate``) inside frame ``k``.

        E.g. ``rate=16000`` for the zero-phase resampled feature domain, or
        ``rate=100`` for mel frames centred at ``j*160/16000`` s. Spans of
        consecutive frames tile that domain too.
        """
        check_count(k, "frame index")
        r = as_fraction(rate, "rate")
        return range(_ceil(k * r / self.fps), _ceil((k + 1) * r / self.fps))

    def lookahead_in_samples(self, seconds: RateLike) -> Fraction:
        """Convert a look-ahead given in (exact) seconds to caller samples."""
        value = _parse_fraction(seconds, "lookahead seconds")
        if value < 0:
            raise ValueError(f"lookahead seconds must be >= 0, got {seconds!r}")
        return value * self.sample_rate


class StreamCounter:
    """Tracks one audio stream's arrivals and reports which frames became final.

    Feed it chunk sizes with ``push``; each call returns the range of frame
    indices that became final with that chunk (in order, each exactly once).
    ``end()`` returns the remaining frames (padded with silence).
    """

    def __init__(self, clock: FrameClock, lookahead_samples: int | Fraction = 0) -> None:
        self.clock = clock
        self.lookahead_samples = _check_lookahead(lookahead_samples)
        self.received = 0
        self.emitted = 0
        self.ended = False

    def push(self, n_samples: int) -> range:
        """Record ``n_samples`` more samples; return the frames that became final."""
        check_count(n_samples, "chunk size")
        if self.ended:
            raise ValueError("push() after end(): the stream is over")
        self.received += n_samples
        return self._advance(self.clock.frames_ready(self.received, self.lookahead_samples))

    def end(self) -> range:
        """Mark end of stream; return the remaining frames. Calling it again returns nothing."""
        self.ended = True
        return self._advance(self.clock.frames_for(self.received))

    def _advance(self, ready: int) -> range:
        new = range(self.emitted, max(self.emitted, ready))
        self.emitted = new.stop
        return new
