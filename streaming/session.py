"""A live session's frame clock: caller audio in any chunking -> numbered frames of coefficients, exactly.

The session runs one continuous *stream* through one streaming animator and
one motion layer: the caller's audio, plus silence the session inserts
where there is none (before the first word, when a live producer stalls,
after ``flush()`` so an utterance's tail becomes final). Stream frame ``v``
covers stream samples ``[v*sr/F, (v+1)*sr/F)`` (:mod:`.clock`), so frames
never drift whatever the chunking. Each frame carries its *source*: the
caller samples inside its span (``None`` for a frame of inserted silence).

``interrupt()`` (barge-in) drops the caller audio not yet fed and the
frames computed but not yet taken; the stream goes on with silence, and
the session's frame numbers go on from the first dropped one (a session
index is the stream index less the frames dropped so far, so indices never
repeat or skip). The next frames fade the last taken frame's mouth to rest
over ``fade_frames`` and its other channels and pose into the stream's, so
the face does not jump; the mouth stays at rest until new speech arrives.

No wall clock here and no rendering: a pacer decides when to feed and when
to insert silence (:meth:`SessionCore.idle_until`), and frames are drawn
elsewhere, batched across sessions.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from talkinghead.audio2motion.animate import MotionNetwork, StreamingAnimator
from talkinghead.audio2motion.motion import MOUTH_SHAPES, MotionConfig, MotionLayer
from talkinghead.contracts.arkit import ARKIT_INDEX
from talkinghead.contracts.audio_io import caller_pcm
from talkinghead.contracts.clock import FrameClock, as_fraction
from talkinghead.contracts.coefficients import Coefficients
from talkinghead.contracts.frame import Frame

SILENCE_STEP_MS = 10  # silence is inserted in these steps until the wanted frames are final
MOUTH = np.array([ARKIT_INDEX[name] for name in MOUTH_SHAPES])


@dataclass(frozen=True)
class SessionConfig:
    fps: Fraction = Fraction(25)
    lookahead_ms: int = 100
    motion: MotionConfig = MotionConfig()
    seed: int = 0
    fade_frames: int = 3  # interrupt: frames from the last taken face to rest
    keep_audio: bool = False  # each frame carries its span of the stream's audio (caller rate)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fps", as_fraction(self.fps, "fps"))
        if self.fade_frames < 1:
            raise ValueError(f"fade_frames must be >= 1, got {self.fade_frames}")


class SessionCore:
    """Caller audio -> session frames, deterministic (see the module docstring)."""

    def __init__(self, model: MotionNetwork, sample_rate: int, config: SessionConfig = SessionConfig(),
                 encoder: Any | None = None) -> None:
        """``encoder``: a live Whisper head's encoder (see :class:`StreamingAnimator`)."""
        self.config = config
        self.clock = FrameClock(sample_rate, config.fps)
        self._animator = StreamingAnimator(model, sample_rate, config.fps, config.lookahead_ms, encoder)
        self._motion = MotionLayer(sample_rate, config.fps, config.motion, config.seed)
        self._pending: deque[np.ndarray] = deque()  # caller audio not fed yet
        self._pending_samples = 0
        self._caller_fed = 0  # caller samples fed into the stream
        self._stream_fed = 0  # stream samples fed (caller audio + inserted silence)
        self._real_end = 0  # stream position just after the last caller sample fed
        self._real: deque[tuple[int, int, int]] = deque()  # (stream start, caller start, length) of fed caller audio
        self._coefficients: deque[tuple[int, np.ndarray, np.ndarray]] = deque()  # animator frames for the motion layer
        self._stream_frames = 0  # stream frames computed
        self._dropped = 0  # stream frames dropped by interrupts: session index = stream index - this
        self.ready: deque[Frame] = deque()  # computed, not taken
        self._last: Frame | None = None  # the last frame taken
        self._fade: tuple[Frame, int] | None = None  # (face faded from, first session index of the fade)
        self._closed = False
        self._audio = np.zeros(0, np.float32)  # stream samples from _audio_start on (keep_audio)
        self._audio_start = 0

    @property
    def sample_rate(self) -> int:
        return self.clock.sample_rate

    @property
    def ears(self) -> str:
        """What audio2motion hears with in this session (``mel`` or ``whisper``), announced to clients."""
        return self._animator.model.config.ears

    @property
    def next_index(self) -> int:
        """The session index the next computed frame gets."""
        return self._stream_frames - self._dropped

    @property
    def pending_samples(self) -> int:
        return self._pending_samples

    @property
    def caller_samples(self) -> int:
        """Caller samples received so far (fed or pending)."""
        return self._caller_fed + self._pending_samples

    def audio_short(self) -> int:
        """Caller samples still to come before a feed can make the next frame final (0: it can now, or one is
        ready): the animator's and the motion layer's exact look-ahead, without running the network, so a
        pacer can wake exactly when a frame can be computed."""
        if self.ready:
            return 0
        end = self._stream_frames + 1
        needed = max(self._animator.input_needed(end), self._motion.input_needed(end))
        return max(0, needed - self._stream_fed - self._pending_samples)

    def push(self, pcm: np.ndarray) -> None:
        """Queue caller audio (int16 or float in [-1, 1], mono or (samples, channels)); nothing is computed yet."""
        if self._closed:
            raise ValueError("push after end(): the session is closed")
        pcm = caller_pcm(pcm)
        if len(pcm):
            self._pending.append(pcm)
            self._pending_samples += len(pcm)

    def feed(self, samples: int | None = None) -> list[Frame]:
        """Feed up to ``samples`` pending caller samples (all by default); the frames that became final.

        The pending chunks go in as one piece: the network's cost is mostly per call.
        """
        budget = self._pending_samples if samples is None else min(samples, self._pending_samples)
        if budget <= 0:
            return self._compute()
        pieces, taken = [], 0
        while taken < budget:
            chunk = self._pending.popleft()
            if taken + len(chunk) > budget:
                chunk, rest = chunk[:budget - taken], chunk[budget - taken:]
                self._pending.appendleft(rest)
            pieces.append(chunk)
            taken += len(chunk)
        self._pending_samples -= taken
        audio = pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
        self._real.append((self._stream_fed, self._caller_fed, taken))
        self._caller_fed += taken
        self._stream(audio)
        self._real_end = self._stream_fed
        return self._compute()

    def feed_ahead(self, frames: int) -> list[Frame]:
        """Feed only the pending audio the next ``frames`` frames need; the rest of a burst waits for later
        calls, so a realtime pacer's tick costs what its own frames cost."""
        end = self._stream_frames + frames
        needed = max(self._animator.input_needed(end), self._motion.input_needed(end)) - self._stream_fed
        return self.feed(max(0, needed))

    def idle_until(self, index: int) -> list[Frame]:
        """Insert silence (after any pending audio is fed) until frames before session ``index`` are final."""
        out = self.feed()
        behind = index - self.next_index
        if behind > 1:  # frames before index - 1 cannot need less: one piece, not a network call per step
            self._stream(np.zeros(int((behind - 1) * self.sample_rate / self.config.fps), np.float32))
            out += self._compute()
        step = max(1, self.sample_rate * SILENCE_STEP_MS // 1000)
        while self.next_index < index:
            self._stream(np.zeros(step, np.float32))
            out += self._compute()
        return out

    def flush(self) -> list[Frame]:
        """End an utterance: feed everything and pad with silence until every frame holding caller audio is final."""
        out = self.feed()
        if self._real_end:
            last_real = self.clock.frame_of_sample(self._real_end - 1)
            out += self.idle_until(last_real + 1 - self._dropped)
        return out

    def interrupt(self, returned: int = 0, last_shown: Frame | None = None) -> int:
        """Barge-in: drop pending audio and untaken frames; returns the session index of the next frame.

        ``returned``: frames already taken but never shown (a consumer's
        queue), dropped too; the fade then starts from ``last_shown``.
        """
        self._pending.clear()
        self._pending_samples = 0
        dropped = len(self.ready) + returned
        self.ready.clear()
        self._dropped += dropped
        if returned:
            self._last = last_shown
        if self._last is not None:
            self._fade = (self._last, self.next_index)
        self._real.clear()  # from here on, what was fed and not taken is silence to the caller
        return self.next_index

    def take(self) -> Frame | None:
        """The next computed frame, marked as delivered (interrupts fade from the last one taken)."""
        if not self.ready:
            return None
        frame = self.ready.popleft()
        self._last = frame
        return frame

    def end(self) -> list[Frame]:
        """End the session: the stream ends (padded with silence as the clock says), every frame made final.

        Afterwards exactly ``ceil(stream_samples * fps / sr)`` stream frames exist.
        """
        out = self.feed()
        self._closed = True
        self._queue_rows(self._animator.flush())
        self._motion.end_audio()
        return out + self._compute()

    @property
    def closed(self) -> bool:
        """Whether :meth:`end` was called."""
        return self._closed

    @property
    def dropped(self) -> int:
        """Stream frames dropped by interrupts so far."""
        return self._dropped

    @property
    def stream_samples(self) -> int:
        """Samples fed into the stream: the caller's audio plus the silence inserted."""
        return self._stream_fed

    def _stream(self, samples: np.ndarray) -> None:
        self._stream_fed += len(samples)
        if self.config.keep_audio:
            self._audio = np.concatenate([self._audio, samples])
        self._motion.push_audio(samples)
        self._queue_rows(self._animator.push(samples))

    def _queue_rows(self, coefficients: Coefficients) -> None:
        for row, (weights, pose) in enumerate(zip(coefficients.blendshapes, coefficients.pose)):
            self._coefficients.append((coefficients.start_frame + row, weights, pose))

    def _compute(self) -> list[Frame]:
        """Run the motion layer on the animator's new frames; number them, find their sources, fade."""
        if not self._coefficients or not self._motion.can_apply(self._coefficients[0][0] + 1):
            return []
        end = self._coefficients[0][0]
        while end - self._coefficients[0][0] < len(self._coefficients) and self._motion.can_apply(end + 1):
            end += 1
        rows = [self._coefficients.popleft() for _ in range(end - self._coefficients[0][0])]
        moved = self._motion.apply(Coefficients(np.stack([r[1] for r in rows]), np.stack([r[2] for r in rows]),
                                                self.config.fps, rows[0][0]))
        out = []
        for offset, (weights, pose) in enumerate(zip(moved.blendshapes, moved.pose)):
            stream_index = rows[0][0] + offset
            index = stream_index - self._dropped
            source = self._source(stream_index)
            frame = Frame(index, index / self.config.fps, *self._faded(index, weights, pose, source), source,
                             self._frame_audio(stream_index))
            out.append(frame)
            self.ready.append(frame)
        self._stream_frames = rows[-1][0] + 1
        return out

    def _frame_audio(self, stream_index: int) -> np.ndarray | None:
        """The stream's samples in frame ``stream_index`` (silence past the stream's end), dropping earlier ones."""
        if not self.config.keep_audio:
            return None
        span = self.clock.span(stream_index)
        piece = self._audio[span.start - self._audio_start: span.stop - self._audio_start]
        drop = max(0, span.stop - self._audio_start)
        self._audio, self._audio_start = self._audio[drop:], self._audio_start + drop
        return np.pad(piece, (0, len(span) - len(piece)))

    def _source(self, stream_index: int) -> tuple[int, int] | None:
        """Caller samples inside stream frame ``stream_index`` (pruning real stretches wholly before it)."""
        span = self.clock.span(stream_index)
        while self._real and self._real[0][0] + self._real[0][2] <= span.start:
            self._real.popleft()
        first, end = None, None
        for stream_start, caller_start, length in self._real:
            lo, hi = max(span.start, stream_start), min(span.stop, stream_start + length)
            if lo >= span.stop:
                break
            if lo < hi:
                first = caller_start + lo - stream_start if first is None else first
                end = caller_start + hi - stream_start
        return None if first is None else (first, end)

    def _faded(self, index: int, weights: np.ndarray, pose: np.ndarray,
               source: tuple[int, int] | None) -> tuple[np.ndarray, np.ndarray]:
        """After an interrupt: from the last taken face to the stream's, the mouth held at rest until new speech."""
        if self._fade is None:
            return weights.astype(np.float32), pose.astype(np.float32)
        start, first = self._fade
        share = min(1.0, (index - first + 1) / self.config.fade_frames)
        if source is not None and share == 1.0:  # new speech, and the fade is over: the stream's face again
            self._fade = None
            return weights.astype(np.float32), pose.astype(np.float32)
        mixed = (1 - share) * start.blendshapes + share * weights
        mixed[MOUTH] = (1 - share) * start.blendshapes[MOUTH]
        return mixed.astype(np.float32), ((1 - share) * start.pose + share * pose).astype(np.float32)
