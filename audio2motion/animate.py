"""Speech -> :class:`~talkinghead.Coefficients` at any frame rate, streamed or whole.

The network runs on its own 50 Hz step grid (:mod:`.model`); a video frame
``k`` at rate ``F`` is the step curve sampled at the frame's midpoint
``(k + 1/2) / F``, linearly between the two nearest steps. Frame ``k`` is
final once the step after its midpoint is final; at the end of the stream the
caller gets exactly ``ceil(N * F / sr)`` frames (the clock's count), the last
ones holding the last step where no later step exists. :class:`StreamingAnimator`
and :func:`animate` share every computation, so they agree for any chunking.
Both drive any :class:`MotionNetwork`: the torch model or the onnxruntime
runner (:class:`~talkinghead.audio2motion.onnx_export.OnnxAudio2Motion`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from talkinghead.audio2motion.features import StreamingFrontEnd
from talkinghead.audio2motion.model import (
    STEP_OFFSET,
    STEPS_PER_SECOND,
    ModelConfig,
    pad_for_lookahead,
    split_heads,
)
from talkinghead.contracts.arkit import NUM_BLENDSHAPES, NUM_POSE
from talkinghead.contracts.audio_io import FEATURE_RATE, caller_pcm
from talkinghead.contracts.clock import FrameClock, RateLike, as_fraction
from talkinghead.contracts.coefficients import Coefficients
from talkinghead.contracts.resample import resample

STEP_MS = 1000 // int(STEPS_PER_SECOND)
OFFLINE_BLOCK_STEPS = 1024  # bounds memory on long files; results do not depend on it


class MotionNetwork(Protocol):
    """What the animators need from a network: its config and one stream's chunk step."""

    config: ModelConfig

    def run(self, mel: np.ndarray, state: Any | None) -> tuple[np.ndarray, Any]:
        """Mel (2S, n_mels) and the previous state (``None``: start) -> heads (S, L+1, head_width), new state."""
        ...


def _ready(model: MotionNetwork) -> MotionNetwork:
    if isinstance(model, torch.nn.Module):
        model.eval()
    return model


def lookahead_steps(model: MotionNetwork, lookahead_ms: int) -> int:
    """Milliseconds -> the head index; must be a multiple of the step within the trained range."""
    top = model.config.max_lookahead_steps * STEP_MS
    if lookahead_ms % STEP_MS or not 0 <= lookahead_ms <= top:
        raise ValueError(f"look-ahead must be a multiple of {STEP_MS} ms in 0..{top} ms, got {lookahead_ms}")
    return lookahead_ms // STEP_MS


@dataclass(frozen=True)
class Reading:
    """How a network's outputs become frames: ``head``, the steps its trunk hears past a step (the
    look-ahead head), and ``delay``, the steps frames are read behind the audio (0 but for look-aheads
    shorter than a live Whisper head's own windows reach)."""

    head: int
    delay: int = 0


def reading_for(model: MotionNetwork, lookahead_ms: int, sample_rate: int, fps: Fraction) -> Reading:
    """The reading of ``lookahead_ms``.

    Mel ears and offline Whisper heads: that head (the features' own reach of
    a few ms is not counted). A live Whisper head: ``lookahead_ms`` bounds
    all audio a frame hears past its span's end (its windows' reach, the step
    grid, the resampler), as a test asserts: the longest head within it, else
    head 0 with the frames read late by the steps the windows overreach.
    """
    head = lookahead_steps(model, lookahead_ms)
    windowing = model.config.live_windowing
    if model.config.ears != "whisper" or windowing is None:
        return Reading(head)
    spare = (Fraction(lookahead_ms, 1000) - live_reach(windowing.hop, sample_rate, fps)) * STEPS_PER_SECOND
    steps = spare.numerator // spare.denominator
    return Reading(min(steps, model.config.max_lookahead_steps), 0) if steps >= 0 else Reading(0, -steps)


def live_reach(hop: int, sample_rate: int, fps: Fraction) -> Fraction:
    """Seconds of audio past frame k's span end that a live Whisper head's head 0 hears (delay 0), at most.

    Frame k's midpoint ``m`` is ``1/(2F)`` before its end; it reads steps up to
    one past ``m`` and a step ``s`` is complete with the window ending at frame
    ``hop * ceil((s + 2) / hop)`` <= ``s + 1 + hop``: ``m + 0.03 + 0.02 hop`` s,
    plus the resampler's look-ahead. Each head step adds 20 ms, each delay step takes 20 ms off.
    """
    from talkinghead.contracts.resample import StreamingResampler

    resampler = Fraction(StreamingResampler(sample_rate, FEATURE_RATE).lookahead_in, sample_rate)
    return Fraction(3, 100) + Fraction(hop, STEPS_PER_SECOND) - 1 / (2 * fps) + resampler


def sample_steps(values: np.ndarray, frames: range, fps: Fraction, first_step: int = 0, delay: int = 0) -> np.ndarray:
    """Step values (n, C) -> frame values at midpoints ``(k+1/2)/fps`` (read ``delay`` steps late), held past
    either end.

    ``values`` holds steps ``first_step .. first_step+n-1`` (a stream drops steps no
    later frame needs); positions are computed on the whole step axis, so the
    result does not depend on ``first_step``.
    """
    last = first_step + len(values) - 1
    k = np.arange(frames.start, frames.stop, dtype=np.float64)
    position = np.clip(step_position(k, fps) - delay, 0.0, last)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, last)
    frac = (position - low)[:, None]
    return (values[low - first_step] * (1 - frac) + values[high - first_step] * frac).astype(np.float32)


def step_position(frames: np.ndarray, fps: Fraction) -> np.ndarray:
    """Frame midpoints on the step axis (step s is at ``STEP_OFFSET + s / STEPS_PER_SECOND``)."""
    return ((frames + 0.5) / float(fps) - float(STEP_OFFSET)) * float(STEPS_PER_SECOND)


def frames_covered(n_steps: int, fps: Fraction, delay: int = 0) -> int:
    """Frames whose midpoint (read ``delay`` steps late) lies before the last of ``n_steps`` steps (so both
    neighbours exist)."""
    if n_steps < 1:
        return 0
    n_steps += delay
    if n_steps < 2:
        return 0
    last = STEP_OFFSET + Fraction(n_steps - 1) / STEPS_PER_SECOND
    # midpoint (k + 1/2)/fps < last  <=>  k < last*fps - 1/2
    bound = last * fps - Fraction(1, 2)
    return max(0, -(-bound.numerator // bound.denominator))


class StreamingAnimator:
    """``push(pcm) -> Coefficients`` of the frames that became final; ``flush()`` ends the stream."""

    def __init__(self, model: MotionNetwork, sample_rate: int, fps: RateLike = 30, lookahead_ms: int = 100,
                 encoder: Any | None = None) -> None:
        """``encoder``: a live Whisper head's encoder (default: the process's shared one; the live engine
        passes one whose calls batch across its sessions)."""
        config = model.config
        if config.ears == "whisper" and config.live_windowing is None:
            raise ValueError("this Whisper head was trained on full windows: offline only (stream with a live head)")
        self.model = _ready(model)
        self.clock = FrameClock(sample_rate, as_fraction(fps, "fps"))
        self.reading = reading_for(model, lookahead_ms, sample_rate, self.clock.fps)
        if config.ears == "whisper":
            from talkinghead.audio2motion.whisper import WhisperStream, shared_encoder

            self._front = WhisperStream(sample_rate, config.live_windowing, encoder or shared_encoder())
        else:
            self._front = StreamingFrontEnd(sample_rate)
        self._mel = np.zeros((0, config.feature_dim), np.float32)
        self._state = None
        self._trunk_steps = 0
        self._values = np.zeros((0, NUM_BLENDSHAPES + NUM_POSE), np.float32)  # steps not yet passed
        self._first_step = 0  # step index of self._values[0]
        self._received = 0
        self._emitted = 0
        self._closed = False

    @property
    def fps(self) -> Fraction:
        return self.clock.fps

    def input_needed(self, n_frames: int) -> int:
        """Caller samples that must arrive (while streaming) before frames ``0..n_frames-1`` are out:
        the step after the last frame's midpoint, its look-ahead steps, and the front end's look-ahead."""
        if n_frames <= 0:
            return 0
        position = (Fraction(2 * n_frames - 1, 2) / self.fps - STEP_OFFSET) * STEPS_PER_SECOND
        # the fewest steps with frames_covered(steps, fps, delay) >= n_frames
        steps = max(1, max(2, position.numerator // position.denominator + 2) - self.reading.delay)
        return self._front.input_needed((steps + self.reading.head) * self.model.config.frames_per_step)

    def push(self, pcm: np.ndarray) -> Coefficients:
        if self._closed:
            raise ValueError("push() after flush(): start a new StreamingAnimator")
        pcm = caller_pcm(pcm)
        self._received += len(pcm)
        self._feed(self._front.push(pcm))
        return self._emit(frames_covered(self._first_step + len(self._values), self.fps, self.reading.delay))

    def flush(self) -> Coefficients:
        if self._closed:
            raise ValueError("flush() called twice")
        self._closed = True
        if self.model.config.ears == "whisper":  # the look-ahead's padding heard as silence after the speech
            self._feed(self._front.flush(self.reading.head))
        else:
            mel = np.concatenate([self._mel, self._front.flush()])
            self._mel = np.zeros((0, mel.shape[1]), np.float32)
            self._feed(pad_for_lookahead(mel, self.reading.head))
        return self._emit(self.clock.frames_for(self._received))

    def _feed(self, mel: np.ndarray) -> None:
        mel = np.concatenate([self._mel, mel])
        whole = len(mel) - len(mel) % self.model.config.frames_per_step
        self._mel = mel[whole:]
        if whole == 0:
            return
        out, self._state = self.model.run(mel[:whole], self._state)
        first = max(0, self.reading.head - self._trunk_steps)  # trunk steps before L have no target
        self._trunk_steps += out.shape[0]
        self._values = np.concatenate([self._values, _step_values(out[first:, self.reading.head])])

    def _emit(self, stop: int) -> Coefficients:
        frames = range(self._emitted, max(self._emitted, stop))
        self._emitted = frames.stop
        if not len(self._values) or not len(frames):
            return _coefficients(self._values[:0], self.fps, frames.start, source_of(self.model))
        values = sample_steps(self._values, frames, self.fps, self._first_step, self.reading.delay)
        # later frames start at or after the step below the next frame's (delayed) midpoint
        needed = int(np.floor(max(0.0, step_position(np.float64(frames.stop), self.fps) - self.reading.delay)))
        drop = min(max(0, needed - self._first_step), len(self._values) - 1)
        self._values, self._first_step = self._values[drop:], self._first_step + drop
        return _coefficients(values, self.fps, frames.start, source_of(self.model))


def animate(
    model: MotionNetwork, audio: np.ndarray, sample_rate: int, fps: RateLike = 30, lookahead_ms: int = 100
) -> Coefficients:
    """Whole-utterance inference (blocks of steps with carried state, so memory stays bounded)."""
    fps = as_fraction(fps, "fps")
    audio = caller_pcm(audio)
    if len(audio) == 0:
        raise ValueError("the audio is empty")
    reading = reading_for(model, lookahead_ms, sample_rate, fps)
    inputs = hear(model.config, audio, sample_rate, reading.head)
    # _step_values copies: a view would keep every head of every block
    outputs = [_step_values(out[:, reading.head]) for out in run_blocks(_ready(model), inputs)]
    values = np.concatenate(outputs)[reading.head:]
    frames = range(FrameClock(sample_rate, fps).frames_for(len(audio)))
    return _coefficients(sample_steps(values, frames, fps, delay=reading.delay), fps, 0, source_of(model))


def hear(config: ModelConfig, audio: np.ndarray, sample_rate: int, lookahead: int) -> np.ndarray:
    """What the network hears of a whole utterance, with ``lookahead`` steps of silence after it.

    Mel ears: the streaming front end's log-mel. Whisper ears: the live
    windows a streaming head was trained on (what a live session computes),
    else the encoder's offline windows
    (:data:`~talkinghead.audio2motion.whisper.OFFLINE_WINDOW`, offline only);
    the padding heard as what it is, silence after the speech.
    """
    if config.ears == "whisper":
        from talkinghead.audio2motion.whisper import (
            FRAME_SAMPLES,
            live_step_features,
            shared_encoder,
            step_features,
            steps_for,
        )

        speech = resample(audio, sample_rate, FEATURE_RATE)
        steps = steps_for(len(speech)) + lookahead
        if config.live_windowing is not None:
            return live_step_features(speech, config.live_windowing, shared_encoder(), steps)
        speech = np.pad(speech, (0, steps * FRAME_SAMPLES - len(speech)))
        return step_features(shared_encoder().frames(speech))
    return pad_for_lookahead(log_mel(audio, sample_rate), lookahead)


def run_blocks(model: MotionNetwork, mel: np.ndarray) -> Iterator[np.ndarray]:
    """Head outputs of a whole utterance, ``OFFLINE_BLOCK_STEPS`` steps at a time with carried state."""
    state = None
    block = OFFLINE_BLOCK_STEPS * model.config.frames_per_step
    for start in range(0, len(mel), block):
        out, state = model.run(mel[start:start + block], state)
        yield out


def log_mel(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """The front end over the whole audio, pushed in blocks of ``OFFLINE_BLOCK_STEPS`` steps:
    one push of a long file holds its whole complex STFT (~0.6 GB for 10 minutes)."""
    front = StreamingFrontEnd(sample_rate)
    block = int(OFFLINE_BLOCK_STEPS * sample_rate / STEPS_PER_SECOND)
    mel = [front.push(audio[start:start + block]) for start in range(0, len(audio), block)]
    return np.concatenate([*mel, front.flush()])


def animate_file(model: MotionNetwork, path: str | Path, fps: RateLike = 30, lookahead_ms: int = 100) -> Coefficients:
    from talkinghead.contracts.audio_io import load_audio

    samples, sample_rate = load_audio(path)
    return animate(model, samples, sample_rate, fps, lookahead_ms)


def _step_values(out: np.ndarray) -> np.ndarray:
    """Head rows (n, head_width) -> (n, 58): weights in [0,1] then pose."""
    weights, pose, _ = split_heads(torch.from_numpy(out))
    return torch.cat([weights, pose], -1).float().numpy()


def source_of(model: MotionNetwork) -> str:
    """What coefficients record as their maker: audio2motion and the ears it heard with."""
    return f"audio2motion:{model.config.ears}"


def _coefficients(values: np.ndarray, fps: Fraction, start: int, source: str) -> Coefficients:
    return Coefficients(
        np.clip(values[:, :NUM_BLENDSHAPES], 0.0, 1.0), values[:, NUM_BLENDSHAPES:], fps, start, source
    )
