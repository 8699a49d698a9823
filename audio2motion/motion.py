"""The motion layer: post-processing that runs after the audio2motion network.

It is not the model. It takes the network's :class:`~talkinghead.Coefficients`
and the same caller audio, and adds what a face does besides articulating:

- **silence**: a voice-activity detector on the audio closes the mouth shapes
  (``jaw*``, ``mouth*``, ``cheek*``, ``tongueOut``) when speech stops, within
  100 ms of the end of speech, and keeps them at exactly 0 until speech
  resumes (the model's values then come back over a short ramp);
- **intensity**: a gain on those mouth shapes (``style="idle"`` holds them at 0);
- **blinks**: seeded, every 2-5 s (uniform), ~150 ms each, fast close and
  slower open, sometimes doubled; they only touch ``eyeBlinkLeft/Right``;
- **head motion and breathing**: a few degrees of smooth, band-limited pose
  motion (sums of incommensurate sinusoids, seeded) added to the pose, a bit
  larger while speaking; for avatars without a base video.

Timing. Time functions (head motion, breathing) are evaluated at a frame's
midpoint ``(k + 1/2) / fps``, the convention of the animator and the lip-sync
yardstick; a blink contributes its maximum over the frame's interval
``[k/fps, (k+1)/fps)``, so every blink reaches full closure in some frame at
any frame rate. The VAD runs on 10 ms blocks of the caller's audio (block
``b`` = samples ``[ceil(b*sr/100), ceil((b+1)*sr/100))``) and frame ``k``
reads its state after the block holding the frame's midpoint. So a frame
depends on audio up to at most **10 ms past its midpoint**, less than the
animator waits for (a frame leaves :class:`StreamingAnimator` only once audio
12.5 ms past its midpoint, plus its look-ahead, has arrived), and every frame
the animator emits can be processed at once.

Everything is a function of the seed, the frame index and the audio, computed
in the same order on the same numbers whatever the chunking (block energies
are exact sums, ``math.fsum``), so streamed output equals :func:`apply_motion`
bit for bit.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from talkinghead.contracts.arkit import ARKIT_INDEX, ARKIT_NAMES
from talkinghead.contracts.audio_io import caller_pcm
from talkinghead.contracts.clock import FrameClock, RateLike, as_fraction
from talkinghead.contracts.coefficients import Coefficients

BLOCKS_PER_SECOND = 100  # the VAD's block rate (10 ms blocks)
BLOCK_MS = 1000 // BLOCKS_PER_SECOND
#: Shapes the silence gate, ``intensity`` and ``style="idle"`` act on.
MOUTH_SHAPES: tuple[str, ...] = tuple(
    n for n in ARKIT_NAMES if n.startswith(("jaw", "mouth", "cheek", "tongue"))
)
BLINK_SHAPES: tuple[str, ...] = ("eyeBlinkLeft", "eyeBlinkRight")
STYLES = ("talk", "idle")
DETECTORS = ("energy", "silero")

_MOUTH = np.array([ARKIT_INDEX[n] for n in MOUTH_SHAPES])
_BLINK = np.array([ARKIT_INDEX[n] for n in BLINK_SHAPES])
_HEAD_BANDS_HZ = (0.07, 0.17, 0.31)  # base frequencies, jittered per seed and axis
_HEAD_BAND_WEIGHTS = (0.5, 0.3, 0.2)  # sum to 1: |offset| <= the axis amplitude


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def _finite(name: str, value: float, lo: float, hi: float) -> None:
    _check(
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and lo <= value <= hi,
        f"{name} must be a number in [{lo:g}, {hi:g}], got {value!r}",
    )


@dataclass(frozen=True)
class SilenceConfig:
    """Voice-activity gate on the mouth shapes (an energy VAD, an approximation).

    Per 10 ms block: energy in dBFS; the noise floor is the minimum block
    energy over the last ``floor_window_s`` (causal minimum tracking; the
    window starts filled with ``floor_prior_db`` so a file that opens with
    speech is not taken for noise), never below ``floor_min_db`` (digital
    silence would otherwise make any hiss "speech"). Speech starts at a block
    ``on_db`` above the floor and ends after ``hangover_ms`` of blocks below
    ``off_db`` above it (hysteresis); the mouth gain then falls to 0 over
    ``release_ms`` and rises back over ``attack_ms``. ``hangover_ms +
    release_ms <= 100`` is enforced: with 10 ms blocks read up to 10 ms past a
    frame's midpoint, every frame whose midpoint is 100 ms or more after the
    end of speech then has its mouth shut. ``anticipation_ms`` lets the gate
    open that much before the detector hears speech (a frame's gain is the
    largest in the blocks up to that far past it): set it to the animator's
    look-ahead, which already waits that long for the audio, so the mouth can
    start opening before a word as the network predicts, at no extra latency
    (on the tuning clips a gate without it cost the 100 ms model 0.03
    aperture AUC). Closing after speech is unchanged.

    It is an energy detector, an approximation: loud non-speech (music,
    coughs, breaths) counts as speech, a sound with no dip for
    ``floor_window_s`` becomes the floor, and noise that fluctuates more than
    ``off_db`` keeps the mouth open. Measured at 30 fps on the real clips
    (share of frames in labelled pauses > 200 ms that are shut / share of
    speech frames shut): intro_en 0.97 / 0.009, Obama 0.88-0.95 / 0.03-0.05,
    feifeili 0.98-1.00 / 0.02-0.07, andrew (room noise ~11 dB below the
    speech) 0.33-0.58 / 0.02-0.08.
    """

    enabled: bool = True
    # "energy": the detector above; "silero": Silero VAD's speech probability per 32 ms chunk
    # (:mod:`..speech_gate`, extra ``whisper``), on at ``speech_on`` and off below ``speech_off``;
    # the same hangover, ramps and anticipation follow either. "auto" (the default) is silero where
    # installed: on the tuning clips under white noise at 10 dB SNR the energy detector stays shut
    # through quiet speech (aperture AUC 0.972 clean -> 0.777 with Whisper ears; silero 0.944).
    detector: str = "auto"
    speech_on: float = 0.5
    speech_off: float = 0.35
    on_db: float = 12.0
    off_db: float = 9.0  # chosen on TUNING_CLIPS (6 left noisy pauses open, 12 closed speech)
    hangover_ms: int = 50
    release_ms: int = 40
    attack_ms: int = 20
    anticipation_ms: int = 0
    floor_window_s: float = 1.5
    floor_prior_db: float = -50.0
    floor_min_db: float = -70.0

    def __post_init__(self) -> None:
        _check(
            isinstance(self.enabled, bool), f"silence.enabled must be a bool, got {self.enabled!r}"
        )
        _check(self.detector in (*DETECTORS, "auto"),
               f"silence.detector must be one of {DETECTORS} or auto, got {self.detector!r}")
        if self.detector == "auto":
            from talkinghead.audio2motion.speech_gate import silero_installed

            object.__setattr__(self, "detector", "silero" if silero_installed() else "energy")
        _finite("silence.speech_on", self.speech_on, 0.0, 1.0)
        _finite("silence.speech_off", self.speech_off, 0.0, self.speech_on)
        _finite("silence.on_db", self.on_db, 0.0, 60.0)
        _finite("silence.off_db", self.off_db, 0.0, self.on_db)
        for name in ("hangover_ms", "release_ms", "attack_ms", "anticipation_ms"):
            value = getattr(self, name)
            _check(
                isinstance(value, int)
                and not isinstance(value, bool)
                and value >= 0
                and value % BLOCK_MS == 0,
                f"silence.{name} must be a multiple of {BLOCK_MS} ms >= 0, got {value!r}",
            )
        _check(
            self.hangover_ms + self.release_ms <= 100,
            f"silence.hangover_ms + release_ms must be <= 100 (mouth shut within 100 ms), "
            f"got {self.hangover_ms + self.release_ms}",
        )
        _check(self.anticipation_ms <= 200, f"silence.anticipation_ms must be <= 200, got {self.anticipation_ms}")
        _finite("silence.floor_window_s", self.floor_window_s, 0.1, 30.0)
        _finite("silence.floor_prior_db", self.floor_prior_db, -120.0, 0.0)
        _finite("silence.floor_min_db", self.floor_min_db, -120.0, 0.0)


@dataclass(frozen=True)
class BlinkConfig:
    """Seeded blinks: onsets every ``interval_s`` (uniform), close then open."""

    enabled: bool = True
    interval_s: tuple[float, float] = (2.0, 5.0)
    close_ms: float = 60.0
    open_ms: float = 90.0
    double_probability: float = 0.1
    double_gap_ms: float = 80.0  # from the end of the first blink to the second's onset

    def __post_init__(self) -> None:
        _check(
            isinstance(self.enabled, bool), f"blink.enabled must be a bool, got {self.enabled!r}"
        )
        _check(
            isinstance(self.interval_s, tuple) and len(self.interval_s) == 2,
            f"blink.interval_s must be a (min, max) tuple, got {self.interval_s!r}",
        )
        lo, hi = self.interval_s
        _finite("blink.interval_s min", lo, 0.5, 60.0)
        _finite("blink.interval_s max", hi, lo, 60.0)
        _finite("blink.close_ms", self.close_ms, 10.0, 1000.0)
        _finite("blink.open_ms", self.open_ms, 10.0, 1000.0)
        _finite("blink.double_probability", self.double_probability, 0.0, 1.0)
        _finite("blink.double_gap_ms", self.double_gap_ms, 0.0, 1000.0)
        _check(
            2 * (self.close_ms + self.open_ms) + self.double_gap_ms <= 1000 * lo,
            "blink.interval_s min must leave room for a double blink",
        )

    @property
    def duration_s(self) -> float:
        return (self.close_ms + self.open_ms) / 1000.0


@dataclass(frozen=True)
class HeadConfig:
    """Idle head motion (peak amplitudes) and breathing, added to the pose.

    ``scale=0`` turns both off (video avatars take their pose from the base
    video). While speaking the head motion grows by up to ``speech_boost``
    (an envelope of the VAD's decision, time constant ``speech_tau_s``).
    """

    scale: float = 1.0
    rotation_deg: tuple[float, float, float] = (2.0, 3.0, 1.5)  # pitch, yaw, roll
    translation: tuple[float, float, float] = (0.02, 0.015, 0.02)  # tx, ty, tz (inter-ocular)
    speech_boost: float = 0.5
    speech_tau_s: float = 0.5
    breath_hz: float = 0.25
    breath_ty: float = 0.004
    breath_pitch_deg: float = 0.3

    def __post_init__(self) -> None:
        _finite("head.scale", self.scale, 0.0, 10.0)
        for name, top in (("rotation_deg", 30.0), ("translation", 1.0)):
            value = getattr(self, name)
            _check(
                isinstance(value, tuple) and len(value) == 3,
                f"head.{name} must be a 3-tuple, got {value!r}",
            )
            for v in value:
                _finite(f"head.{name}", v, 0.0, top)
        _finite("head.speech_boost", self.speech_boost, 0.0, 5.0)
        _finite("head.speech_tau_s", self.speech_tau_s, 0.01, 60.0)
        _finite("head.breath_hz", self.breath_hz, 0.0, 2.0)
        _finite("head.breath_ty", self.breath_ty, 0.0, 0.1)
        _finite("head.breath_pitch_deg", self.breath_pitch_deg, 0.0, 5.0)

    def amplitudes(self) -> np.ndarray:
        """Peak offsets (6,) in pose units: radians then inter-ocular distances."""
        return self.scale * np.array([*np.radians(self.rotation_deg), *self.translation])


@dataclass(frozen=True)
class MotionConfig:
    """Everything the motion layer does; the defaults are a talking avatar."""

    intensity: float = 1.0
    style: str = "talk"
    blink: BlinkConfig = field(default_factory=BlinkConfig)
    head: HeadConfig = field(default_factory=HeadConfig)
    silence: SilenceConfig = field(default_factory=SilenceConfig)

    def __post_init__(self) -> None:
        _finite("intensity", self.intensity, 0.0, 3.0)
        _check(self.style in STYLES, f"style must be one of {STYLES}, got {self.style!r}")
        for name, kind in (
            ("blink", BlinkConfig),
            ("head", HeadConfig),
            ("silence", SilenceConfig),
        ):
            _check(
                isinstance(getattr(self, name), kind),
                f"{name} must be a {kind.__name__}, got {type(getattr(self, name)).__name__}",
            )

    @classmethod
    def from_knobs(cls, lookahead_ms: int, idle_motion: bool = True, intensity: float = 1.0, style: str = "talk",
                   blinks: bool | None = None, head_motion: bool | None = None) -> MotionConfig:
        """The motion layer from the few knobs users set; every session, job and command builds it here.

        ``lookahead_ms``: the mouth anticipates speech by the model's look-ahead.
        ``idle_motion``: blinks and head motion (a still photo needs them; a video
        avatar's base frames carry their own). ``blinks`` / ``head_motion``
        override ``idle_motion`` one by one.
        """
        blinks = idle_motion if blinks is None else blinks
        head_motion = idle_motion if head_motion is None else head_motion
        return cls(intensity=intensity, style=style, blink=BlinkConfig(enabled=blinks),
                   head=HeadConfig(scale=1.0 if head_motion else 0.0),
                   silence=SilenceConfig(anticipation_ms=lookahead_ms))


# --------------------------------------------------------------------- the VAD
class _Vad:
    """10 ms block energies -> per-block (mouth gain, speaking envelope); causal."""

    def __init__(self, config: SilenceConfig, tau_s: float) -> None:
        self.config = config
        self.window = round(config.floor_window_s * BLOCKS_PER_SECOND)
        self.minima: deque[tuple[int, float]] = deque()  # (block, dB), increasing dB
        self.block = 0
        self.speaking = False
        self.quiet_blocks = 0
        self.gain = 0.0
        self.envelope = 0.0
        self.smoothing = 1.0 - math.exp(-1.0 / (BLOCKS_PER_SECOND * tau_s))

    def step(self, mean_square: float, speech: float) -> tuple[float, float]:
        """One block: its mean square and the speech probability of the last completed Silero chunk."""
        cfg = self.config
        if cfg.detector == "silero":
            self.block += 1
            return self._decide(speech < cfg.speech_off, speech >= cfg.speech_on)
        level = 10.0 * math.log10(mean_square + 1e-12)
        while self.minima and self.minima[-1][1] >= level:
            self.minima.pop()
        self.minima.append((self.block, level))
        while self.minima[0][0] <= self.block - self.window:
            self.minima.popleft()
        floor = self.minima[0][1]
        if self.block < self.window:  # the window still holds its prior
            floor = min(floor, cfg.floor_prior_db)
        floor = max(floor, cfg.floor_min_db)
        self.block += 1
        return self._decide(level < floor + cfg.off_db, level >= floor + cfg.on_db)

    def _decide(self, quiet: bool, loud: bool) -> tuple[float, float]:
        """Hysteresis with hangover, then the gain's ramps and the speaking envelope."""
        cfg = self.config
        if self.speaking:
            self.quiet_blocks = self.quiet_blocks + 1 if quiet else 0
            self.speaking = self.quiet_blocks * BLOCK_MS < max(cfg.hangover_ms, BLOCK_MS)
        elif loud:
            self.speaking, self.quiet_blocks = True, 0
        if self.speaking:
            self.gain = (
                1.0 if cfg.attack_ms == 0 else min(1.0, self.gain + BLOCK_MS / cfg.attack_ms)
            )
        else:
            down = 1.0 if cfg.release_ms == 0 else BLOCK_MS / cfg.release_ms
            self.gain = 0.0 if self.gain - down <= 1e-9 else self.gain - down
        self.envelope += self.smoothing * (float(self.speaking) - self.envelope)
        return self.gain, self.envelope


# ---------------------------------------------------------------- time curves
class _Blinks:
    """The seeded blink schedule, drawn lazily in order (so it never depends on chunking)."""

    def __init__(self, config: BlinkConfig, rng: np.random.Generator) -> None:
        self.config = config
        self.rng = rng
        self.onsets: deque[float] = deque()
        self.next_primary = 0.0
        self.drawn_until = 0.0

    def _draw_until(self, t: float) -> None:
        cfg = self.config
        while self.drawn_until <= t:
            interval = float(self.rng.uniform(*cfg.interval_s))
            double = float(self.rng.random()) < cfg.double_probability
            self.next_primary += interval
            self.onsets.append(self.next_primary)
            if double:
                self.onsets.append(self.next_primary + cfg.duration_s + cfg.double_gap_ms / 1000.0)
            self.drawn_until = self.next_primary

    def peak(self, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
        """Max closure over each interval ``[start, stop)`` (intervals in increasing order)."""
        if not len(start):
            return np.zeros(0)
        self._draw_until(float(stop[-1]))
        while self.onsets and self.onsets[0] + self.config.duration_s <= start[0]:
            self.onsets.popleft()
        out = np.zeros(len(start))
        for onset in self.onsets:
            out = np.maximum(out, _blink_max(onset, self.config, start, stop))
        return out


def _blink_curve(t: np.ndarray, close: float, open_: float) -> np.ndarray:
    """Lid closure at ``t`` s after onset: eased close over ``close``, eased open over ``open_``."""
    rising = 0.5 - 0.5 * np.cos(np.pi * np.clip(t / close, 0.0, 1.0))
    falling = 0.5 + 0.5 * np.cos(np.pi * np.clip((t - close) / open_, 0.0, 1.0))
    return np.where(t <= close, rising, falling) * ((t > 0) & (t < close + open_))


def _blink_max(onset: float, cfg: BlinkConfig, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Max of the curve over ``[start, stop]``: it rises then falls, so the peak or an end."""
    close, open_ = cfg.close_ms / 1000.0, cfg.open_ms / 1000.0
    a, b = start - onset, stop - onset
    holds_peak = (a <= close) & (close <= b)
    nearest = np.where(b < close, b, a)
    return np.where(holds_peak, 1.0, _blink_curve(nearest, close, open_))


class _Head:
    """Seeded sums of incommensurate sinusoids per pose axis, plus breathing."""

    def __init__(self, config: HeadConfig, rng: np.random.Generator) -> None:
        self.config = config
        bands = np.array(_HEAD_BANDS_HZ)
        self.freqs = bands * rng.uniform(0.8, 1.25, size=(6, len(bands)))
        self.phases = rng.uniform(0.0, 2 * np.pi, size=(6, len(bands)))
        self.weights = np.array(_HEAD_BAND_WEIGHTS) * config.amplitudes()[:, None]
        self.breath_phase = float(rng.uniform(0.0, 2 * np.pi))

    def offsets(self, t: np.ndarray, envelope: np.ndarray) -> np.ndarray:
        """Pose offsets (T, 6) at times ``t`` given the speaking envelope."""
        cfg = self.config
        waves = np.sin(2 * np.pi * self.freqs[None] * t[:, None, None] + self.phases[None])
        motion = (waves * self.weights[None]).sum(-1) * (1.0 + cfg.speech_boost * envelope)[:, None]
        breath = cfg.scale * np.sin(2 * np.pi * cfg.breath_hz * t + self.breath_phase)
        motion[:, 0] += math.radians(cfg.breath_pitch_deg) * breath
        motion[:, 4] += cfg.breath_ty * breath
        return motion


# ---------------------------------------------------------------- the layer
class MotionLayer:
    """Streamed motion layer: ``push_audio`` the caller PCM, ``apply`` frames, ``end_audio``.

    Frames must be applied in increasing order (gaps are fine); a frame can
    be applied once its audio, up to 10 ms (plus the gate's anticipation) past
    its midpoint, has been pushed (``can_apply``), or any time after ``end_audio()`` (the audio is then
    padded with silence, as the animator pads it).
    """

    def __init__(
        self, sample_rate: int, fps: RateLike, config: MotionConfig = MotionConfig(), seed: int = 0
    ) -> None:
        _check(isinstance(config, MotionConfig), f"config must be a MotionConfig, got {config!r}")
        _check(
            isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0,
            f"seed must be an int >= 0, got {seed!r}",
        )
        self.clock = FrameClock(sample_rate, as_fraction(fps, "fps"))
        self.config = config
        blink_rng, head_rng = (
            np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(2)
        )
        self._blinks = _Blinks(config.blink, blink_rng)
        self._head = _Head(config.head, head_rng)
        self._vad = _Vad(config.silence, config.head.speech_tau_s)
        self._silero = None
        if config.silence.detector == "silero":
            from talkinghead.audio2motion.speech_gate import SileroStream

            self._silero = SileroStream(self.clock.sample_rate)
        self._speech = 0.0  # the last completed Silero chunk's speech probability
        self._ahead = config.silence.anticipation_ms // BLOCK_MS  # blocks a frame's gain looks past it
        self._buffer = np.zeros(0, np.float32)  # caller samples from _buffer_start on
        self._buffer_start = 0
        # (gain, speaking envelope) of the VAD blocks from _first_block on
        self._states: deque[tuple[float, float]] = deque()
        self._first_block = 0
        self._ended = False
        self._next_frame = 0

    @property
    def fps(self) -> Fraction:
        return self.clock.fps

    @property
    def received(self) -> int:
        """Caller samples pushed so far."""
        return self._buffer_start + len(self._buffer)

    def push_audio(self, pcm: np.ndarray) -> None:
        """Feed caller PCM (the same samples the animator gets); float in [-1, 1] or int16."""
        _check(not self._ended, "push_audio() after end_audio(): start a new MotionLayer")
        self._buffer = np.concatenate([self._buffer, caller_pcm(pcm)])
        while self._block_bounds(self._blocks_done())[1] <= self.received:
            self._run_block()

    def end_audio(self) -> None:
        """End of stream: later frames read the audio as padded with silence."""
        _check(not self._ended, "end_audio() called twice")
        self._ended = True

    def can_apply(self, end_frame: int) -> bool:
        """Whether frames before ``end_frame`` have all the audio they depend on."""
        return self._ended or self.input_needed(end_frame) <= self.received

    def input_needed(self, end_frame: int) -> int:
        """Caller samples frames before ``end_frame`` depend on (while streaming): through the VAD block
        of the last one's midpoint and the anticipation's blocks past it."""
        if end_frame <= 0:
            return 0
        return self._block_bounds(self._block_of(end_frame - 1) + self._ahead)[1]

    def apply(self, coefficients: Coefficients) -> Coefficients:
        """The layer applied to consecutive frames ``coefficients`` (on the session clock)."""
        _check(isinstance(coefficients, Coefficients), "apply() takes Coefficients")
        _check(
            coefficients.fps == self.fps,
            f"coefficients are at {coefficients.fps} fps, the layer at {self.fps}",
        )
        if not len(coefficients):
            return coefficients
        first, end = coefficients.start_frame, coefficients.end_frame
        _check(
            first >= self._next_frame,
            f"frame {first} comes after frame {self._next_frame - 1}: apply frames in order, once",
        )
        _check(
            self.can_apply(end),
            f"frame {end - 1} needs caller audio up to sample "
            f"{self.input_needed(end)}, only {self.received} pushed",
        )
        frames = np.arange(first, end)
        blocks = [self._block_of(k) for k in range(first, end)]
        while self._blocks_done() <= blocks[-1] + self._ahead:  # only after end_audio: silent padding
            self._run_block()
        states = np.array(self._states)
        rows = np.array(blocks) - self._first_block
        gain = np.array([states[r:r + self._ahead + 1, 0].max() for r in rows])
        envelope = states[rows, 1]
        for _ in range(blocks[0] - self._first_block):
            self._states.popleft()
        self._first_block = blocks[0]
        self._next_frame = end
        return self._compose(coefficients, frames, gain, envelope)

    def _compose(
        self, coefficients: Coefficients, frames: np.ndarray, gain: np.ndarray, envelope: np.ndarray
    ) -> Coefficients:
        cfg = self.config
        weights = coefficients.blendshapes.astype(np.float64)
        pose = coefficients.pose.astype(np.float64)
        if cfg.style == "idle":
            gain, envelope = np.zeros_like(gain), np.zeros_like(envelope)
        elif not cfg.silence.enabled:
            gain = np.ones_like(gain)
        weights[:, _MOUTH] = np.clip(weights[:, _MOUTH] * (cfg.intensity * gain)[:, None], 0.0, 1.0)
        num, den = self.fps.numerator, self.fps.denominator
        if cfg.blink.enabled:
            start, stop = frames * den / num, (frames + 1) * den / num
            blink = self._blinks.peak(start, stop)
            weights[:, _BLINK] = np.maximum(weights[:, _BLINK], blink[:, None])
        if cfg.head.scale > 0:
            pose += self._head.offsets((2 * frames + 1) * den / (2 * num), envelope)
        return Coefficients(weights, pose, self.fps, coefficients.start_frame, coefficients.source)

    # ------------------------------------------------------------- blocks
    def _block_of(self, k: int) -> int:
        """The VAD block holding frame ``k``'s midpoint: ``floor(100 * (k + 1/2) / fps)``."""
        fps = self.fps
        return (BLOCKS_PER_SECOND * (2 * k + 1) * fps.denominator) // (2 * fps.numerator)

    def _block_bounds(self, b: int) -> tuple[int, int]:
        sr = self.clock.sample_rate
        return -(-b * sr // BLOCKS_PER_SECOND), -(-(b + 1) * sr // BLOCKS_PER_SECOND)

    def _blocks_done(self) -> int:
        return self._first_block + len(self._states)

    def _run_block(self) -> None:
        lo, hi = self._block_bounds(self._blocks_done())
        chunk = self._buffer[max(0, lo - self._buffer_start) : max(0, hi - self._buffer_start)]
        squares = chunk.astype(np.float64) ** 2
        if self._silero is not None:  # fed block by block (past the end: the silence it is padded with)
            heard = self._silero.push(np.pad(chunk, (0, hi - lo - len(chunk))))
            self._speech = heard[-1] if heard else self._speech
        self._states.append(self._vad.step(math.fsum(squares.tolist()) / (hi - lo), self._speech))
        drop = min(max(0, hi - self._buffer_start), len(self._buffer))
        self._buffer = self._buffer[drop:]
        self._buffer_start += drop


def apply_motion(
    coefficients: Coefficients,
    audio: np.ndarray,
    sample_rate: int,
    config: MotionConfig = MotionConfig(),
    seed: int = 0,
) -> Coefficients:
    """Offline motion layer: the whole audio, then every frame at once (equals streaming)."""
    layer = MotionLayer(sample_rate, coefficients.fps, config, seed)
    layer.push_audio(audio)
    layer.end_audio()
    return layer.apply(coefficients)
