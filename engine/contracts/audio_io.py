"""Decode the audio of any audio file or video file (PyAV) to mono float32.

One decoder for every container FFmpeg reads (wav, mp3, m4a/aac, ogg/opus,
flac, mp4/mov, ...). Channels are averaged to mono; integer sample formats are
scaled to [-1, 1). Codec priming samples are dropped the way FFmpeg's
demuxers signal them (edit lists, LAME headers, Opus pre-skip), so sample 0
is the first sample of the programme. Anything wrong with the file becomes
one clear ``ValueError`` naming the file and the problem.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from talkinghead.contracts.resample import resample

FEATURE_RATE = 16000  # Hz: what audio2motion hears (every model's input rate)
AUDIO_OUT_RATE = 48000  # Hz: the audio track of the videos the jobs write
STREAMED_WAV_SIZE = 0x7FFF0000  # a WAV header's data size from here up is a streaming writer's placeholder

# Full-scale value and offset per FFmpeg sample format (planar suffix "p" removed).
_INT_FORMATS = {
    "u8": (128.0, 128.0),
    "s16": (32768.0, 0.0),
    "s32": (2.0**31, 0.0),
    "s64": (2.0**63, 0.0),
}


def _frame_to_mono(frame) -> np.ndarray:
    """Average the channels of one decoded frame to float32 mono."""
    data = frame.to_ndarray()
    channels = len(frame.layout.channels)
    fmt = frame.format.name.rstrip("p")
    if fmt in _INT_FORMATS:
        scale, offset = _INT_FORMATS[fmt]
        data = (data.astype(np.float64) - offset) / scale
    if not frame.format.is_planar:
        data = data.reshape(-1, channels).T  # packed: samples interleaved
    return data.mean(axis=0).astype(np.float32)


def load_audio(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Decode the first audio track of ``path``: ``(mono float32 samples, native rate)``."""
    p = Path(path)
    if not p.exists():
        raise ValueError(f"{p}: file not found")
    if not p.is_file():
        raise ValueError(f"{p}: not a regular file")
    if p.stat().st_size == 0:
        raise ValueError(f"{p}: file is empty")
    import av  # PyAV is needed to decode, not to stream: a live server or a GPU box may run without it

    chunks: list[np.ndarray] = []
    rate: int | None = None
    try:
        with av.open(str(p)) as container:
            if not container.streams.audio:
                raise ValueError(f"{p}: no audio track")
            stream = container.streams.audio[0]
            for frame in container.decode(stream):
                if rate is None:
                    rate = frame.sample_rate
                elif frame.sample_rate != rate:
                    raise ValueError(
                        f"{p}: sample rate changes mid-stream ({rate} -> {frame.sample_rate} Hz)"
                    )
                chunks.append(_frame_to_mono(frame))
    except av.FFmpegError as exc:
        reason = " ".join(str(exc).replace(str(p), "").split()).strip(" :;'\"")
        raise ValueError(f"{p}: cannot decode audio ({reason or type(exc).__name__})") from None
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    if rate is None or samples.size == 0:
        raise ValueError(f"{p}: audio track holds no samples")
    if not np.isfinite(samples).all():
        raise ValueError(f"{p}: audio holds NaN or infinite samples")
    shortfall = _wav_shortfall(p)
    if shortfall is not None:
        raise ValueError(f"{p}: truncated WAV (its header declares {shortfall[0]} bytes of audio, the file "
                         f"holds {shortfall[1]})")
    return samples, rate


def _wav_shortfall(path: Path) -> tuple[int, int] | None:
    """(declared, present) bytes of a RIFF/WAVE file's ``data`` chunk when under 90% is there; else None.

    FFmpeg quietly decodes what a cut-off WAV still holds; its header says
    how much there should be. A WAV written as a stream carries a
    placeholder size instead (0, or 2 GiB and more: espeak-ng writes
    0x7FFFF000), which is not checked.
    """
    size = path.stat().st_size
    with open(path, "rb") as file:
        head = file.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        offset = 12
        for _ in range(64):
            file.seek(offset)
            chunk = file.read(8)
            if len(chunk) < 8:
                return None
            length = int.from_bytes(chunk[4:], "little")
            if chunk[:4] == b"data":
                present = size - offset - 8
                return (length, present) if 0 < length < STREAMED_WAV_SIZE and present < 0.9 * length else None
            offset += 8 + length + (length & 1)
    return None


def write_wav(path: str | os.PathLike, samples: np.ndarray, rate: int) -> Path:
    """Write mono float samples in [-1, 1] as 16-bit PCM WAV (clipped); returns the path."""
    import wave

    path = Path(path)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def load_audio_16k(path: str | os.PathLike) -> np.ndarray:
    """Decode ``path`` and resample (zero phase) to 16 kHz mono float32."""
    samples, rate = load_audio(path)
    return resample(samples, rate, FEATURE_RATE)


def caller_pcm(pcm: np.ndarray) -> np.ndarray:
    """Caller PCM as every streaming stage reads it: int16 scaled to [-1, 1), channels
    averaged, float32, finite; anything else is a one-line ``ValueError``."""
    pcm = np.asarray(pcm)
    if pcm.dtype == np.int16:
        pcm = pcm.astype(np.float32) / 32768.0
    if pcm.ndim == 2:
        pcm = pcm.mean(axis=1)
    if pcm.ndim != 1:
        raise ValueError(f"audio must be 1-D samples or (samples, channels), got shape {pcm.shape}")
    if pcm.dtype.kind not in "fiu" and pcm.size:
        raise ValueError(f"audio must be numbers, got dtype {pcm.dtype}")
    pcm = pcm.astype(np.float32, copy=False)
    if not np.isfinite(pcm).all():
        raise ValueError("audio contains NaN or infinite samples")
    return pcm
