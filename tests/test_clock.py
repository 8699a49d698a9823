"""Property tests of the frame clock: exact, drift-free, chunking-independent."""

from __future__ import annotations

import itertools
from fractions import Fraction
from math import ceil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from talkinghead.contracts.clock import FrameClock, StreamCounter, as_fraction, as_pair

FPS_CHOICES = [Fraction(24), Fraction(25), Fraction(30), Fraction(30000, 1001), Fraction(60)]
rates = st.integers(8000, 48000)
fpss = st.sampled_from(FPS_CHOICES)
chunkings = st.lists(st.integers(0, 5000), min_size=0, max_size=40)
lookaheads = st.one_of(st.integers(0, 4000), st.fractions(min_value=0, max_value=4000))


def _run(counter: StreamCounter, chunks: list[int]) -> list[tuple[int, int]]:
    """(frame, samples received when it was emitted), in emission order."""
    emitted = []
    for c in chunks:
        emitted += [(k, counter.received) for k in counter.push(c)]
    emitted += [(k, None) for k in counter.end()]
    return emitted


@settings(max_examples=200, deadline=None)
@given(sr=rates, fps=fpss, chunks=chunkings, lookahead=lookaheads)
def test_stream_emits_each_frame_once_in_order_and_never_early(sr, fps, chunks, lookahead):
    clock = FrameClock(sr, fps)
    emitted = _run(StreamCounter(clock, lookahead), chunks)
    n = sum(chunks)
    frames = [k for k, _ in emitted]
    assert frames == list(range(ceil(Fraction(n) * fps / sr)))
    assert len(frames) == clock.frames_for(n)
    for k, received in emitted:
        if received is not None:  # emitted before end of stream
            assert (k + 1) * Fraction(sr) / fps + lookahead <= received


@settings(max_examples=100, deadline=None)
@given(sr=rates, fps=fpss, chunks=chunkings, lookahead=st.integers(0, 4000))
def test_frames_emitted_as_soon_as_final(sr, fps, chunks, lookahead):
    """After each push, every frame whose samples (+look-ahead) have all arrived is out."""
    clock = FrameClock(sr, fps)
    counter = StreamCounter(clock, lookahead)
    for c in chunks:
        counter.push(c)
        k = counter.emitted  # first frame not yet emitted
        assert (k + 1) * Fraction(sr) / fps + lookahead > counter.received


@settings(max_examples=200, deadline=None)
@given(sr=st.integers(1, 96000), fps=fpss, n_frames=st.integers(1, 300))
def test_spans_tile_the_sample_axis(sr, fps, n_frames):
    clock = FrameClock(sr, fps)
    spans = [clock.span(k) for k in range(n_frames)]
    assert spans[0].start == 0
    for a, b in itertools.pairwise(spans):
        assert a.stop == b.start  # no gap, no overlap
    for k, s in enumerate(spans):
        lo, hi = clock.bounds(k)
        assert all(lo <= n < hi for n in (s.start, s.stop - 1) if len(s))
        assert s.start - 1 < lo and s.stop - 1 < hi <= s.stop
    # Samples before the end of a span belong to frames that exist after end of stream.
    assert clock.frames_for(spans[-1].stop) >= n_frames


@settings(max_examples=200, deadline=None)
@given(sr=rates, fps=fpss, n=st.integers(0, 10**7))
def test_sample_lies_in_its_frame_span(sr, fps, n):
    clock = FrameClock(sr, fps)
    k = clock.frame_of_sample(n)
    assert n in clock.span(k)
    assert k < clock.frames_for(n + 1)


@settings(max_examples=100, deadline=None)
@given(
    sr=rates,
    fps=fpss,
    rate=st.sampled_from([100, 16000, 22050, Fraction(16000, 160)]),
    n_frames=st.integers(1, 200),
)
def test_span_in_rate_tiles_and_matches_times(sr, fps, rate, n_frames):
    clock = FrameClock(sr, fps)
    spans = [clock.span_in_rate(k, rate) for k in range(n_frames)]
    for a, b in itertools.pairwise(spans):
        assert a.stop == b.start
    for k, s in enumerate(spans):
        for m in (s.start, s.stop - 1) if len(s) else ():
            assert clock.pts(k) <= Fraction(m) / Fraction(rate) < clock.pts(k + 1)


def test_pts_exact_and_no_drift_over_a_day():
    clock = FrameClock(44100, "30000/1001")
    k = 30 * 60 * 60 * 24
    assert clock.pts(k) == Fraction(k * 1001, 30000)
    assert clock.span(k).start == ceil(Fraction(k * 1001 * 44100, 30000))
    assert clock.pts(1) == Fraction(1001, 30000)


def test_known_spans_at_25_fps_16k():
    clock = FrameClock(16000)
    assert clock.fps == 25
    assert clock.span(0) == range(640)
    assert clock.span(3) == range(1920, 2560)
    assert clock.span_in_rate(2, 100) == range(8, 12)  # 4 mel frames per video frame
    assert clock.frames_for(1) == 1 and clock.frames_for(640) == 1 and clock.frames_for(641) == 2
    assert clock.frames_ready(639) == 0 and clock.frames_ready(640) == 1
    assert clock.frames_ready(640, lookahead_samples=1) == 0
    assert clock.frames_ready(641, ended=True) == 2


def test_fractional_lookahead_and_seconds():
    clock = FrameClock(48000, 30)
    assert clock.lookahead_in_samples("1/10") == 4800
    assert clock.lookahead_in_samples(0) == 0
    assert clock.frames_ready(1600 + 4800, clock.lookahead_in_samples("1/10")) == 1


def test_counter_end_is_final():
    counter = StreamCounter(FrameClock(16000, 25), lookahead_samples=100)
    assert counter.push(739) == range(0)
    assert counter.push(1) == range(1)
    assert counter.end() == range(1, 2)
    assert counter.end() == range(1, 1)
    with pytest.raises(ValueError, match="after end"):
        counter.push(10)


@pytest.mark.parametrize(
    "value, expected",
    [
        (25, Fraction(25)),
        (Fraction(30000, 1001), Fraction(30000, 1001)),
        ("30000/1001", Fraction(30000, 1001)),
        (" 24 ", Fraction(24)),
        ([30000, 1001], Fraction(30000, 1001)),
        ((60, 1), Fraction(60)),
        (25.0, Fraction(25)),
    ],
)
def test_as_fraction_accepts(value, expected):
    assert as_fraction(value) == expected


@pytest.mark.parametrize(
    "value", [0, -25, 29.97, "abc", "1/0", [1, 0], [1.5, 2], [1, 2, 3], True, None, "-30"]
)
def test_as_fraction_refuses(value):
    with pytest.raises(ValueError):
        as_fraction(value)


def test_as_pair_round_trip():
    assert as_pair("60000/2002") == [30000, 1001]
    assert as_fraction(as_pair(Fraction(24000, 1001))) == Fraction(24000, 1001)


@pytest.mark.parametrize("sr", [0, -16000, 16000.0, True, "16000"])
def test_invalid_sample_rate(sr):
    with pytest.raises(ValueError, match="sample_rate"):
        FrameClock(sr, 25)


@pytest.mark.parametrize("fps", [0, -1, "0/5", 29.97])
def test_invalid_fps(fps):
    with pytest.raises(ValueError, match="fps"):
        FrameClock(16000, fps)


def test_invalid_counts():
    clock = FrameClock(16000)
    counter = StreamCounter(clock)
    with pytest.raises(ValueError, match="chunk size"):
        counter.push(-1)
    with pytest.raises(ValueError, match="chunk size"):
        counter.push(1.5)
    with pytest.raises(ValueError, match="lookahead"):
        StreamCounter(clock, lookahead_samples=-1)
    with pytest.raises(ValueError):
        clock.frames_for(-5)
    with pytest.raises(ValueError):
        clock.span(-1)
    with pytest.raises(ValueError):
        clock.lookahead_in_samples(-1)


def test_clock_is_frozen_and_hashable():
    clock = FrameClock(16000, "25")
    assert clock == FrameClock(16000, Fraction(25))
    assert hash(clock) == hash(FrameClock(16000, 25))
    with pytest.raises(AttributeError):
        clock.fps = Fraction(30)  # type: ignore[misc]
