"""Log-mel features at 16 kHz, whole-signal and streaming, with one exact frame convention.

Convention (what lets the frame clock map video frames to mel frames exactly):

- mel frame ``j`` is centred on 16 kHz sample ``j*hop`` (time ``j*hop/16000``
  s: the 100 Hz mel-frame domain for the default hop of 160). Its periodic
  Hann window of ``win`` samples peaks at that sample and covers samples
  ``[j*hop - win/2, j*hop + win/2)``; the signal is zero before sample 0;
- the FFT frame is ``n_fft`` samples with the window centred in it (as
  ``torch.stft`` places a shorter window), computed with ``center=False`` on
  the signal padded explicitly with ``n_fft/2`` zeros on the left;
- after ``N`` samples and end of stream there are exactly ``ceil(N/hop)``
  frames (every frame whose centre lies inside the signal; 1 to 160 samples
  give 1 frame, 0 samples give 0), the tail zero-padded;
- while streaming, frame ``j`` is final once samples up to ``j*hop + win/2``
  have arrived (12.5 ms look-ahead past its centre by default);
- values are ``ln(mel_power + floor)`` with ``floor = 1e-6``: silence gives the
  constant ``ln(1e-6) ~= -13.8155``. Power is ``|STFT|^2`` of float samples in
  [-1, 1]; filters are ``librosa.filters.mel`` (Slaney scale and norm).

NaN or infinite samples are refused with ``ValueError``.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from fractions import Fraction

import librosa
import numpy as np
import torch

from talkinghead.contracts.audio_io import FEATURE_RATE, load_audio
from talkinghead.contracts.resample import StreamingResampler, check_samples


@dataclass(frozen=True)
class MelConfig:
    """Log-mel parameters; the defaults are the project's feature contract."""

    sample_rate: int = FEATURE_RATE
    n_mels: int = 80
    hop: int = 160
    win: int = 400
    n_fft: int = 512
    fmin: float = 0.0
    fmax: float = 8000.0
    floor: float = 1e-6

    def __post_init__(self) -> None:
        for name in ("sample_rate", "n_mels", "hop", "win", "n_fft"):
            if getattr(self, name) <= 0:
                raise ValueError(f"MelConfig.{name} must be positive, got {getattr(self, name)}")
        if self.win % 2 or self.n_fft % 2 or self.win > self.n_fft:
            raise ValueError(
                f"MelConfig needs even win <= even n_fft, got win={self.win} n_fft={self.n_fft}"
            )
        if not 0.0 <= self.fmin < self.fmax <= self.sample_rate / 2:
            raise ValueError(
                f"MelConfig needs 0 <= fmin < fmax <= sr/2, got {self.fmin}, {self.fmax}"
            )
        if self.floor <= 0:
            raise ValueError(f"MelConfig.floor must be positive, got {self.floor}")

    @property
    def frame_rate(self) -> Fraction:
        """Mel frames per second, exactly ``sample_rate / hop`` (the clock's mel domain)."""
        return Fraction(self.sample_rate, self.hop)

    @property
    def lookahead(self) -> int:
        """Samples past a frame's centre needed before it is final (``win/2``)."""
        return self.win // 2

    def frames_for(self, n_samples: int) -> int:
        """Frames after ``n_samples`` and end of stream: ``ceil(n/hop)``."""
        return -(-n_samples // self.hop)

    def samples_needed(self, n_frames: int) -> int:
        """Samples that must arrive (while streaming) before frames ``0..n_frames-1`` are out."""
        return 0 if n_frames <= 0 else (n_frames - 1) * self.hop + self.lookahead

    def frames_ready(self, n_received: int) -> int:
        """Frames final while streaming: those with ``j*hop + win/2 <= n_received``."""
        if n_received < self.lookahead:
            return 0
        return (n_received - self.lookahead) // self.hop + 1


@functools.lru_cache(maxsize=8)
def mel_filters(config: MelConfig) -> np.ndarray:
    """The ``(n_mels, n_fft/2+1)`` filterbank for ``config`` (read-only, computed once)."""
    fb = librosa.filters.mel(
        sr=config.sample_rate,
        n_fft=config.n_fft,
        n_mels=config.n_mels,
        fmin=config.fmin,
        fmax=config.fmax,
    ).astype(np.float64)
    fb.flags.writeable = False
    return fb


def _frames(padded: np.ndarray, n_frames: int, config: MelConfig) -> np.ndarray:
    """Log-mel of frames ``0..n_frames-1`` of a signal already left-padded by ``n_fft/2``."""
    if n_frames == 0:
        return np.zeros((0, config.n_mels), np.float32)
    need = (n_frames - 1) * config.hop + config.n_fft
    x = torch.from_numpy(np.ascontiguousarray(padded[:need]))
    spec = torch.stft(
        x,
        n_fft=config.n_fft,
        hop_length=config.hop,
        win_length=config.win,
        window=torch.hann_window(config.win, periodic=True, dtype=torch.float64),
        center=False,
        return_complex=True,
    )
    power = spec.abs().square().numpy()  # (n_fft/2+1, n_frames)
    mel = mel_filters(config) @ power
    return np.log(mel + config.floor).T.astype(np.float32)


def log_mel(samples16k: np.ndarray, config: MelConfig = MelConfig()) -> np.ndarray:
    """Whole-signal log-mel: ``(ceil(N/hop), n_mels)`` float32, frame ``j`` centred at ``j*hop``."""
    x = check_samples(samples16k)
    n_frames = config.frames_for(x.size)
    half = config.n_fft // 2
    padded = np.zeros(half + max(x.size, (n_frames - 1) * config.hop + half))
    padded[half : half + x.size] = x
    return _frames(padded, n_frames, config)


class StreamingLogMel:
    """Log-mel of a 16 kHz stream; concatenated output equals ``log_mel`` on the whole."""

    def __init__(self, config: MelConfig = MelConfig()) -> None:
        self.config = config
        self._buf = np.zeros(config.n_fft // 2)  # left padding: signal is zero before 0
        self._buf_start = 0  # index of _buf[0] in the padded signal
        self._received = 0
        self._emitted = 0
        self._done = False

    @property
    def emitted(self) -> int:
        return self._emitted

    def push(self, samples16k: np.ndarray) -> np.ndarray:
        """Append samples; return the frames that became final, ``(k, n_mels)`` float32."""
        if self._done:
            raise ValueError("push() after flush(): the stream is finished")
        x = check_samples(samples16k)
        self._buf = np.concatenate([self._buf, x])
        self._received += x.size
        return self._emit(self.config.frames_ready(self._received))

    def flush(self) -> np.ndarray:
        """End of stream: return the remaining frames (tail zero-padded)."""
        if self._done:
            return np.zeros((0, self.config.n_mels), np.float32)
        self._done = True
        return self._emit(self.config.frames_for(self._received))

    def _emit(self, stop: int) -> np.ndarray:
        cfg = self.config
        start = self._emitted
        if stop <= start:
            return np.zeros((0, cfg.n_mels), np.float32)
        # The window is zero past win/2 of the centre, so zeros stand in for samples
        # not yet received inside the n_fft frame: results are identical.
        offset = start * cfg.hop - self._buf_start
        need = (stop - 1 - start) * cfg.hop + cfg.n_fft
        seg = self._buf[offset : offset + need]
        if seg.size < need:
            seg = np.concatenate([seg, np.zeros(need - seg.size)])
        out = _frames(seg, stop - start, cfg)
        self._emitted = stop
        drop = stop * cfg.hop - self._buf_start
        self._buf = self._buf[drop:]
        self._buf_start += drop
        return out


class StreamingFrontEnd:
    """Caller-rate audio -> zero-phase resampler -> streaming log-mel.

    Mel frame ``j`` is centred at ``j*hop/16000`` s on the caller's timeline
    (the resampler adds look-ahead, not delay). Concatenated output equals
    ``log_mel(resample(x, sr_in, 16000))``; after ``N`` input samples there are
    ``ceil(ceil(N*16000/sr_in)/hop)`` frames.
    """

    def __init__(self, sr_in: int, config: MelConfig = MelConfig()) -> None:
        self.resampler = StreamingResampler(sr_in, config.sample_rate)
        self.mel = StreamingLogMel(config)

    def input_needed(self, n_frames: int) -> int:
        """Caller samples that must arrive before mel frames ``0..n_frames-1`` are out.

        The front end's exact look-ahead: ``win/2`` at 16 kHz plus the
        resampler's kernel half-width, for the session's scheduling.
        """
        return self.resampler.input_needed(self.mel.config.samples_needed(n_frames))

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Append caller-rate samples; return the mel frames that became final."""
        return self.mel.push(self.resampler.push(samples))

    def flush(self) -> np.ndarray:
        """End of stream: return the remaining mel frames."""
        tail = self.mel.push(self.resampler.flush())
        return np.concatenate([tail, self.mel.flush()])


def features_from_file(path: str | os.PathLike, config: MelConfig = MelConfig()) -> np.ndarray:
    """Decode any audio/video file's audio and return its log-mel (see ``log_mel``)."""
    samples, sr = load_audio(path)
    front = StreamingFrontEnd(sr, config)
    return np.concatenate([front.push(samples), front.flush()])
