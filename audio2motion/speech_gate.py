"""Speech or not, from a model that has heard real rooms: Silero VAD's ONNX, streamed (extra ``whisper``).

An energy detector takes a room's hum, a fan or a music bed for speech when
it is loud enough; Silero VAD (MIT; its ``silero_vad.onnx`` ships inside the
``silero-vad`` wheel and runs on onnxruntime alone) was trained on real
speech and noise. It reads 16 kHz audio in chunks of 512 samples (32 ms),
each with the 64 samples before it, and carries a recurrent state.

Caller audio at any rate is brought to 16 kHz by linear interpolation at
exact rational positions (16 kHz sample ``i`` reads caller samples
``floor(i*sr/16000)`` and the next one): causal, at most one caller sample
ahead, and the same numbers whatever the chunking, so streaming equals a
whole-file run. Interpolation does not filter aliases; they are far below
speech in the band the VAD listens to (an approximation).
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np

from talkinghead.contracts.audio_io import FEATURE_RATE

CHUNK = 512  # 16 kHz samples per VAD decision (32 ms)
CONTEXT = 64  # samples of the previous chunk each decision also reads


def silero_installed() -> bool:
    return importlib.util.find_spec("silero_vad") is not None and importlib.util.find_spec("onnxruntime") is not None


@functools.lru_cache(maxsize=1)
def _session():
    """One onnxruntime session per process (``run`` is thread-safe; each stream keeps its own state)."""
    import onnxruntime

    spec = importlib.util.find_spec("silero_vad")
    if spec is None or spec.origin is None:
        raise ValueError("the Silero speech gate needs the `whisper` extra (silero-vad)")
    path = Path(spec.origin).parent / "data" / "silero_vad.onnx"
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class SileroStream:
    """Caller PCM at ``sample_rate`` in any chunking -> speech probability of each completed 32 ms chunk.

    ``push`` returns the probabilities of the chunks it completed; chunk ``c``
    covers 16 kHz samples ``[512c, 512(c+1))``, i.e. caller time up to
    ``512(c+1)/16000`` s.
    """

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self._session = _session()
        self._state = np.zeros((2, 1, 128), np.float32)
        self._context = np.zeros(CONTEXT, np.float32)
        self._caller = np.zeros(0, np.float64)  # caller samples from _caller_start on
        self._caller_start = 0
        self._made = 0  # 16 kHz samples made
        self._pending = np.zeros(0, np.float32)  # 16 kHz samples not yet in a chunk

    def push(self, pcm: np.ndarray) -> list[float]:
        self._caller = np.concatenate([self._caller, np.asarray(pcm, np.float64)])
        available = self._caller_start + len(self._caller)
        # 16 kHz sample i is ready once the caller samples its interpolation reads exist: i*sr <= (available-1)*16000
        ready = (available - 1) * FEATURE_RATE // self.sample_rate + 1 if available else 0
        count = max(0, ready - self._made)
        if count:
            position = np.arange(self._made, ready, dtype=np.int64) * self.sample_rate
            low, remainder = position // FEATURE_RATE - self._caller_start, position % FEATURE_RATE
            high = np.minimum(low + 1, len(self._caller) - 1)
            fraction = remainder / FEATURE_RATE
            made = self._caller[low] * (1 - fraction) + self._caller[high] * fraction
            self._pending = np.concatenate([self._pending, made.astype(np.float32)])
            self._made += count
            drop = max(0, int(low[-1]))
            self._caller, self._caller_start = self._caller[drop:], self._caller_start + drop
        out = []
        while len(self._pending) >= CHUNK:
            chunk, self._pending = self._pending[:CHUNK], self._pending[CHUNK:]
            window = np.concatenate([self._context, chunk])[None]
            probability, self._state = self._session.run(
                None, {"input": window, "state": self._state, "sr": np.array(FEATURE_RATE, np.int64)})
            self._context = chunk[-CONTEXT:]
            out.append(float(probability[0, 0]))
        return out
