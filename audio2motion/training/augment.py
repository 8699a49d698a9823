"""Audio augmentation for the teacher corpus: many voices and recording conditions from few TTS voices.

Debian's TTS engines give a handful of voices recorded in a perfect studio. A
model trained on that alone learns those voices, so each utterance is passed
through a random chain that changes who speaks (WORLD vocoder: pitch, F0
range, vocal-tract length, breathiness), how fast (tempo without pitch), the
room (synthetic reverberation), the background (white, pink or babble noise at
a set SNR), the channel (telephone band, MP3/Opus round trip) and the level
(gain, then a soft limiter).

Timing is the contract: the phone timings from the TTS engine stay valid.
Every transform keeps the length and has zero delay (direct path at t=0,
zero-phase filters, codec priming removed), except :func:`change_speed`, which
maps input time ``t`` to output time ``t / factor`` exactly. :func:`augment`
returns that scale so callers multiply phone times by it.

All functions take 1-D float mono audio and return float32 of the stated length.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, fields

import av
import numpy as np
from scipy.signal import butter, fftconvolve, sosfiltfilt

from talkinghead.contracts.clock import check_sample_rate
from talkinghead.contracts.resample import check_samples, resample

NOISE_KINDS = ("white", "pink", "babble")
CODECS = ("mp3", "opus")
# Frames for the active-speech level (samples; the rate is not needed for a level).
_LEVEL_FRAME = 256
# Frames more than this far below the loudest frame count as silence (dB).
_ACTIVE_FLOOR_DB = 40.0
_MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
_TELEPHONE_RATE = 8000


@dataclass(frozen=True)
class WorldConfig:
    """WORLD analysis settings.

    ``harvest`` is the default for quality: on espeak-ng and festival speech,
    ``dio`` (+ StoneMask) left 2-26% of the frames that harvest found voiced
    unvoiced (1-8% of the loud ones), and those are resynthesised as whisper.
    dio is much faster (measured on the shared 2-core machine: world_voice
    0.09 vs 0.20 x real time); the analysis is cacheable (:func:`world_analyse`),
    so harvest's cost is paid once per utterance, and each further voice costs
    ~0.01 x real time. ``f0_floor`` 71 Hz keeps CheapTrick's FFT at 1024 points
    at 22.05 kHz.
    """

    f0_method: str = "harvest"
    frame_period: float = 5.0  # ms
    f0_floor: float = 71.0
    f0_ceil: float = 700.0

    def __post_init__(self) -> None:
        if self.f0_method not in ("dio", "harvest"):
            raise ValueError(f"f0_method must be 'dio' or 'harvest', got {self.f0_method!r}")
        if not 1.0 <= self.frame_period <= 20.0:
            raise ValueError(f"frame_period must be in [1, 20] ms, got {self.frame_period}")
        if not 0 < self.f0_floor < self.f0_ceil:
            raise ValueError(f"need 0 < f0_floor < f0_ceil, got {self.f0_floor}, {self.f0_ceil}")


@dataclass(frozen=True)
class WorldAnalysis:
    """WORLD parameters of one utterance; synthesise many voices from one analysis."""

    f0: np.ndarray  # (frames,) Hz, 0 = unvoiced
    spectral_envelope: np.ndarray  # (frames, fft/2+1)
    aperiodicity: np.ndarray  # (frames, fft/2+1), in [0, 1]
    sample_rate: int
    frame_period: float  # ms
    n_samples: int
    rms: float


def _pyworld():
    """WORLD (extra ``teacher``), imported only by the voice edits: the noise and channel helpers work without it."""
    try:
        with warnings.catch_warnings():  # pyworld 0.3.5 imports the deprecated pkg_resources
            warnings.simplefilter("ignore")
            import pyworld
    except ImportError:
        raise ImportError("voice edits need the `teacher` extra (pip install 'talkinghead[teacher]')") from None
    return pyworld


def _check_audio(audio: np.ndarray) -> np.ndarray:
    x = check_samples(audio, "audio")
    if x.size == 0:
        raise ValueError("audio is empty")
    return x


def _fit(y: np.ndarray, n: int) -> np.ndarray:
    """Cut or zero-pad to ``n`` samples, float32 (tails only: sample 0 never moves)."""
    out = np.zeros(n, np.float32)
    m = min(n, y.size)
    out[:m] = y[:m]
    return out


def world_analyse(
    audio: np.ndarray, sample_rate: int, world: WorldConfig = WorldConfig()
) -> WorldAnalysis:
    """F0 (harvest or dio+StoneMask), CheapTrick envelope and D4C aperiodicity of ``audio``."""
    x = _check_audio(audio)
    sr = check_sample_rate(sample_rate, "sample_rate", 8000, 192000)
    fp = world.frame_period
    pyworld = _pyworld()
    if world.f0_method == "dio":
        f0, t = pyworld.dio(x, sr, f0_floor=world.f0_floor, f0_ceil=world.f0_ceil, frame_period=fp)
        f0 = pyworld.stonemask(x, f0, t, sr)
    else:
        f0, t = pyworld.harvest(
            x, sr, f0_floor=world.f0_floor, f0_ceil=world.f0_ceil, frame_period=fp
        )
    sp = pyworld.cheaptrick(x, f0, t, sr, f0_floor=world.f0_floor)
    ap = pyworld.d4c(x, f0, t, sr, fft_size=2 * (sp.shape[1] - 1))
    rms = math.sqrt(float(np.mean(x * x)))
    return WorldAnalysis(f0, sp, ap, sr, fp, x.size, rms)


def _check_edit(
    pitch_semitones: float, formant_factor: float, breathiness: float, f0_range: float, speed: float
) -> None:
    if not -24.0 <= pitch_semitones <= 24.0:
        raise ValueError(f"pitch_semitones must be in [-24, 24], got {pitch_semitones}")
    if not 0.5 <= formant_factor <= 2.0:
        raise ValueError(f"formant_factor must be in [0.5, 2], got {formant_factor}")
    if not 0.0 <= breathiness <= 1.0:
        raise ValueError(f"breathiness must be in [0, 1], got {breathiness}")
    if not 0.0 <= f0_range <= 4.0:
        raise ValueError(f"f0_range must be in [0, 4], got {f0_range}")
    if not 0.25 <= speed <= 4.0:
        raise ValueError(f"speed factor must be in [0.25, 4], got {speed}")


def world_synthesise(
    analysis: WorldAnalysis,
    *,
    pitch_semitones: float = 0.0,
    formant_factor: float = 1.0,
    breathiness: float = 0.0,
    f0_range: float = 1.0,
    speed: float = 1.0,
) -> np.ndarray:
    """Edit the parameters and resynthesise (voice and tempo in one pass).

    Frame ``i`` was analysed at ``i * frame_period`` and is synthesised at
    ``i * frame_period / speed``, so input time ``t`` lands at ``t / speed``;
    the output has ``round(n_samples / speed)`` samples and the input's RMS
    (level is :func:`gain`'s job). Timing holds to a few ms (energy envelopes
    agree within 0-4 ms on TTS speech; WORLD resynthesis is not waveform-exact:
    the phase becomes minimum phase, and voicing edges move by up to a frame).
    """
    _check_edit(pitch_semitones, formant_factor, breathiness, f0_range, speed)
    a = analysis
    n_out = round(a.n_samples / speed)
    if a.rms == 0:
        return np.zeros(n_out, np.float32)
    f0 = _edit_f0(a.f0, pitch_semitones, f0_range)
    sp = _warp_envelope(a.spectral_envelope, formant_factor)
    ap = _breathe(a.aperiodicity, a.sample_rate, breathiness)
    y = _fit(_pyworld().synthesize(f0, sp, ap, a.sample_rate, a.frame_period / speed), n_out)
    rms_out = math.sqrt(float(np.mean(y.astype(np.float64) ** 2)))
    if rms_out > 0:
        y *= a.rms / rms_out
    return y


def _edit_f0(f0: np.ndarray, semitones: float, f0_range: float) -> np.ndarray:
    """Shift voiced F0 by ``semitones`` and scale its log-range about the mean by ``f0_range``."""
    out = f0.copy()
    voiced = out > 0
    if voiced.any():
        log_f0 = np.log(out[voiced])
        mean = log_f0.mean()
        out[voiced] = np.exp(mean + f0_range * (log_f0 - mean) + semitones * math.log(2) / 12)
    return out


def _warp_envelope(sp: np.ndarray, factor: float) -> np.ndarray:
    """New envelope at frequency ``f`` = old at ``f / factor``: factor > 1 moves formants up.

    Interpolated in the log domain; frequencies read past Nyquist take the top bin.
    """
    if factor == 1.0:
        return sp
    bins = sp.shape[1]
    source = np.minimum(np.arange(bins) / factor, bins - 1)
    lo = np.floor(source).astype(int)
    hi = np.minimum(lo + 1, bins - 1)
    frac = source - lo
    log_sp = np.log(np.maximum(sp, 1e-300))
    warped = (1 - frac) * log_sp[:, lo] + frac * log_sp[:, hi]
    return np.ascontiguousarray(np.exp(warped))


def _breathe(ap: np.ndarray, sample_rate: int, amount: float) -> np.ndarray:
    """Raise aperiodicity toward 1, more at high frequencies (approximation of a breathy voice).

    The weight ramps from 0.3 at 0 Hz to 1 at 3 kHz and above.
    """
    if amount == 0.0:
        return ap
    freqs = np.linspace(0.0, sample_rate / 2, ap.shape[1])
    weight = amount * np.clip(0.3 + 0.7 * freqs / 3000.0, 0.0, 1.0)
    return np.ascontiguousarray(ap + (1.0 - ap) * weight[None, :])


def world_voice(
    audio: np.ndarray,
    sample_rate: int,
    pitch_semitones: float,
    formant_factor: float,
    breathiness: float = 0.0,
    *,
    f0_range: float = 1.0,
    world: WorldConfig = WorldConfig(),
) -> np.ndarray:
    """A different speaker: F0 shifted by semitones, spectral envelope warped by ``formant_factor``.

    ``formant_factor`` > 1 moves formants up (a shorter vocal tract), < 1 down.
    ``breathiness`` in [0, 1] adds aperiodicity; ``f0_range`` scales the
    intonation range (1 = unchanged). Same length and timing as the input.
    """
    _check_edit(pitch_semitones, formant_factor, breathiness, f0_range, 1.0)
    return world_synthesise(
        world_analyse(audio, sample_rate, world),
        pitch_semitones=pitch_semitones,
        formant_factor=formant_factor,
        breathiness=breathiness,
        f0_range=f0_range,
    )


def change_speed(
    audio: np.ndarray, sample_rate: int, factor: float, *, world: WorldConfig = WorldConfig()
) -> np.ndarray:
    """Tempo times ``factor`` with pitch unchanged (WORLD on a time-scaled frame grid).

    Output has ``round(len / factor)`` samples; input time ``t`` maps to
    ``t / factor``, so phone times must be multiplied by ``1 / factor``.
    """
    _check_edit(0.0, 1.0, 0.0, 1.0, factor)
    return world_synthesise(world_analyse(audio, sample_rate, world), speed=factor)


def _active_mask(x: np.ndarray) -> np.ndarray:
    """Per-sample mask of frames within 40 dB of the loudest frame (an approximate active level)."""
    frames = -(-x.size // _LEVEL_FRAME)
    padded = np.zeros(frames * _LEVEL_FRAME)
    padded[: x.size] = x
    energy = np.mean(padded.reshape(frames, _LEVEL_FRAME) ** 2, axis=1)
    active = energy > energy.max() * 10 ** (-_ACTIVE_FLOOR_DB / 10)
    return np.repeat(active, _LEVEL_FRAME)[: x.size]


def active_power(audio: np.ndarray) -> float:
    """Mean power over active frames (frames within 40 dB of the loudest); 0 for silence."""
    x = _check_audio(audio)
    mask = _active_mask(x)
    return float(np.mean(x[mask] ** 2)) if mask.any() else 0.0


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Noise with a 1/f power spectrum (white spectrum shaped by 1/sqrt(f); DC removed).

    Made at least 4096 samples long and cut, so very short signals still get noise.
    """
    m = max(n, 4096)
    spectrum = rng.standard_normal(m // 2 + 1) + 1j * rng.standard_normal(m // 2 + 1)
    k = np.arange(m // 2 + 1, dtype=np.float64)
    k[0] = 1.0
    spectrum /= np.sqrt(k)
    spectrum[0] = 0.0
    return np.fft.irfft(spectrum, m)[:n]


def _babble(n: int, rng: np.random.Generator, sources: Sequence[np.ndarray]) -> np.ndarray:
    """Sum of up to 6 talkers, each at a random offset (looped) and equal active level."""
    if not sources:
        raise ValueError("babble noise needs at least one babble source")
    count = min(len(sources), int(rng.integers(3, 7)))
    out = np.zeros(n)
    for i in rng.choice(len(sources), size=count, replace=False):
        s = _check_audio(sources[i])
        power = active_power(s)
        if power == 0:
            continue
        looped = np.tile(s, -(-(n + s.size) // s.size))
        start = int(rng.integers(0, s.size))
        out += looped[start : start + n] / math.sqrt(power)
    return out


def add_noise(
    audio: np.ndarray,
    snr_db: float,
    rng: np.random.Generator,
    kind: str = "white",
    babble: Sequence[np.ndarray] | None = None,
) -> np.ndarray:
    """Add white, pink or babble noise at ``snr_db`` relative to the active speech level.

    Both powers are measured over the speech's active frames (within 40 dB of
    its loudest frame; an approximation of ITU-T P.56). Babble sources must be
    at the audio's sample rate. Silent audio is returned unchanged.
    """
    x = _check_audio(audio)
    if not math.isfinite(snr_db) or not -20.0 <= snr_db <= 100.0:
        raise ValueError(f"snr_db must be in [-20, 100], got {snr_db}")
    if kind not in NOISE_KINDS:
        raise ValueError(f"kind must be one of {NOISE_KINDS}, got {kind!r}")
    mask = _active_mask(x)
    if not mask.any():
        return x.astype(np.float32)
    if kind == "white":
        noise = rng.standard_normal(x.size)
    elif kind == "pink":
        noise = pink_noise(x.size, rng)
    else:
        noise = _babble(x.size, rng, babble or ())
    noise_power = float(np.mean(noise[mask] ** 2))
    if noise_power == 0:
        raise ValueError("babble sources are silent")
    speech_power = float(np.mean(x[mask] ** 2))
    scale = math.sqrt(speech_power / noise_power * 10 ** (-snr_db / 10))
    return (x + scale * noise).astype(np.float32)


# Octave-ish bands (Hz) and their RT60 relative to the nominal one: high frequencies
# decay faster (air and wall absorption). Typical-room shape, not a measured room.
_REVERB_BANDS = (0.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0)
_REVERB_RT60_SCALE = (1.3, 1.15, 1.0, 0.9, 0.75, 0.6, 0.45)


def room_impulse_response(
    sample_rate: int, rt60: float, rng: np.random.Generator, wet: float
) -> np.ndarray:
    """Synthetic RIR: unit-energy, a direct path at sample 0, then a decaying noise tail.

    The tail starts 1-8 ms after the direct sound (first reflections) and decays
    by 60 dB in ``rt60`` (scaled per band). ``wet`` is the tail's share of the
    response's energy, so the direct path keeps ``1 - wet``.
    """
    sr = check_sample_rate(sample_rate, "sample_rate", 8000, 192000)
    if not 0.05 <= rt60 <= 5.0:
        raise ValueError(f"rt60 must be in [0.05, 5] s, got {rt60}")
    if not 0.0 <= wet < 1.0:
        raise ValueError(f"wet must be in [0, 1), got {wet}")
    n = int(1.2 * rt60 * max(_REVERB_RT60_SCALE) * sr)
    gap = int(rng.uniform(0.001, 0.008) * sr)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / sr)
    t = np.arange(n) / sr
    tail = np.zeros(n)
    edges = _REVERB_BANDS + (math.inf,)
    for lo, hi, scale in zip(edges[:-1], edges[1:], _REVERB_RT60_SCALE):
        band = np.where((freqs >= lo) & (freqs < hi), spectrum, 0.0)
        tail += np.fft.irfft(band, n) * np.exp(-3.0 * math.log(10) * t / (rt60 * scale))
    tail[:gap] = 0.0
    h = np.zeros(n)
    h[0] = math.sqrt(1.0 - wet)
    energy = float(np.sum(tail**2))
    if energy > 0:
        h += tail * math.sqrt(wet / energy)
    return h


def reverberate(
    audio: np.ndarray, sample_rate: int, rt60: float, rng: np.random.Generator, wet: float
) -> np.ndarray:
    """Convolve with :func:`room_impulse_response`; same length, direct sound unshifted."""
    x = _check_audio(audio)
    h = room_impulse_response(sample_rate, rt60, rng, wet)
    return fftconvolve(x, h)[: x.size].astype(np.float32)


def _mu_law(x: np.ndarray, mu: float = 255.0) -> np.ndarray:
    """8-bit mu-law quantisation (G.711-like companding; values clipped to [-1, 1])."""
    x = np.clip(x, -1.0, 1.0)
    code = np.round(np.sign(x) * np.log1p(mu * np.abs(x)) / math.log1p(mu) * 127.0) / 127.0
    return np.sign(code) * np.expm1(np.abs(code) * math.log1p(mu)) / mu


def telephone(audio: np.ndarray, sample_rate: int, mu_law: bool = True) -> np.ndarray:
    """Narrow-band phone line: 8 kHz, 300-3400 Hz, mu-law, back to ``sample_rate``.

    Band-pass on both sides of the mu-law step (its quantisation noise is
    wide-band, as after a real G.711 decoder before the handset filter). All
    filters are zero-phase, the resampler has no delay: same length and timing.
    """
    x = _check_audio(audio)
    sr = check_sample_rate(sample_rate, "sample_rate", 8000, 192000)
    narrow = resample(x, sr, _TELEPHONE_RATE).astype(np.float64)
    sos = butter(4, (300.0, 3400.0), btype="bandpass", fs=_TELEPHONE_RATE, output="sos")
    pad = min(3 * (2 * len(sos) + 1), narrow.size - 1)  # scipy's default, short inputs allowed
    narrow = sosfiltfilt(sos, narrow, padlen=pad)
    if mu_law:
        narrow = sosfiltfilt(sos, _mu_law(narrow), padlen=pad)
    return _fit(resample(narrow, _TELEPHONE_RATE, sr), x.size)


def codec_roundtrip(
    audio: np.ndarray, sample_rate: int, codec: str = "mp3", bitrate: int = 64000
) -> np.ndarray:
    """Encode and decode in memory (PyAV: libmp3lame in MP3, libopus in Ogg).

    The containers carry the encoder delay (LAME header, Opus pre-skip) and the
    demuxer drops it, so decoded sample 0 is input sample 0 (checked by
    cross-correlation in the tests); the end padding is cut. Opus runs at 48 kHz
    and MP3 at the input rate when MP3 allows it, else 48 kHz, through the
    zero-delay resampler.
    """
    x = _check_audio(audio)
    sr = check_sample_rate(sample_rate, "sample_rate", 8000, 192000)
    if codec not in CODECS:
        raise ValueError(f"codec must be one of {CODECS}, got {codec!r}")
    is_int = isinstance(bitrate, (int, np.integer)) and not isinstance(bitrate, bool)
    if not is_int or not 6000 <= bitrate <= 320000:
        raise ValueError(f"bitrate must be an int in [6000, 320000] bit/s, got {bitrate!r}")
    rate = sr if codec == "mp3" and sr in _MP3_RATES else 48000
    signal = resample(x, sr, rate) if rate != sr else x.astype(np.float32)
    signal = np.clip(signal, -1.0, 1.0)
    encoder, container = ("libmp3lame", "mp3") if codec == "mp3" else ("libopus", "ogg")
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as out:
        stream = out.add_stream(encoder, rate=rate)
        stream.bit_rate = int(bitrate)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(signal[None, :], format="fltp", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    chunks = []
    decoded_rate = rate
    with av.open(io.BytesIO(buffer.getvalue())) as inp:
        for decoded in inp.decode(audio=0):
            decoded_rate = decoded.sample_rate
            chunks.append(decoded.to_ndarray().astype(np.float32).mean(axis=0))
    y = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    if decoded_rate != sr:
        y = resample(y, decoded_rate, sr)
    return _fit(y, x.size)


def gain(audio: np.ndarray, db: float) -> np.ndarray:
    """Scale by ``db`` decibels (no limiting: follow with :func:`limit`)."""
    x = _check_audio(audio)
    if not math.isfinite(db) or abs(db) > 60.0:
        raise ValueError(f"gain must be within +-60 dB, got {db}")
    return (x * 10 ** (db / 20)).astype(np.float32)


def limit(audio: np.ndarray, ceiling: float = 0.98) -> np.ndarray:
    """Soft-clip peaks into ``[-ceiling, ceiling]``: linear below 80% of it, tanh knee above.

    Memoryless (a saturating recorder, not a look-ahead limiter), so loud
    augmentations distort a little, as real overdriven recordings do.
    """
    x = _check_audio(audio)
    if not 0.0 < ceiling <= 1.0:
        raise ValueError(f"ceiling must be in (0, 1], got {ceiling}")
    knee = 0.8 * ceiling
    mag = np.abs(x)
    over = mag > knee
    soft = knee + (ceiling - knee) * np.tanh((mag[over] - knee) / (ceiling - knee))
    y = x.copy()
    y[over] = np.sign(x[over]) * soft
    return y.astype(np.float32)


_RANGE_FIELDS = (
    "pitch_semitones",
    "formant_factor",
    "f0_range",
    "breathiness",
    "speed",
    "rt60",
    "wet",
    "snr_db",
    "gain_db",
)


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities and ranges of the random chain in :func:`augment` (ranges are inclusive)."""

    p_voice: float = 0.9
    pitch_semitones: tuple[float, float] = (-4.0, 4.0)
    formant_factor: tuple[float, float] = (0.85, 1.2)  # sampled log-uniformly
    f0_range: tuple[float, float] = (0.7, 1.4)  # sampled log-uniformly
    p_breathy: float = 0.2
    breathiness: tuple[float, float] = (0.1, 0.5)
    p_speed: float = 0.5
    speed: tuple[float, float] = (0.8, 1.25)  # sampled log-uniformly
    p_reverb: float = 0.3
    rt60: tuple[float, float] = (0.1, 0.8)
    wet: tuple[float, float] = (0.1, 0.6)
    p_noise: float = 0.5
    snr_db: tuple[float, float] = (0.0, 30.0)
    noise_weights: tuple[float, float, float] = (0.3, 0.4, 0.3)  # white, pink, babble
    p_telephone: float = 0.1
    p_codec: float = 0.15
    mp3_bitrates: tuple[int, ...] = (32000, 48000, 64000, 96000, 128000)
    opus_bitrates: tuple[int, ...] = (12000, 16000, 24000, 32000, 64000)
    p_gain: float = 1.0
    gain_db: tuple[float, float] = (-12.0, 12.0)
    world: WorldConfig = WorldConfig()

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.startswith("p_") and not 0.0 <= value <= 1.0:
                raise ValueError(f"{f.name} must be a probability in [0, 1], got {value}")
            if f.name in _RANGE_FIELDS and not 0 <= value[1] - value[0] < math.inf:
                raise ValueError(f"{f.name} must be a (low, high) range, got {value}")
        weights = self.noise_weights
        if len(weights) != 3 or min(weights) < 0 or sum(weights) == 0:
            raise ValueError(f"noise_weights must be 3 non-negative weights, got {weights}")
        if self.p_telephone + self.p_codec > 1.0:
            raise ValueError("p_telephone + p_codec must be <= 1 (one channel per utterance)")
        if not self.mp3_bitrates or not self.opus_bitrates:
            raise ValueError("mp3_bitrates and opus_bitrates must not be empty")


def _log_uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(math.exp(rng.uniform(math.log(bounds[0]), math.log(bounds[1]))))


def augment(
    audio: np.ndarray,
    sample_rate: int,
    rng: np.random.Generator,
    config: AugmentConfig = AugmentConfig(),
    babble: Sequence[np.ndarray] | None = None,
    analysis: WorldAnalysis | None = None,
) -> tuple[np.ndarray, float]:
    """Apply a random chain; return ``(audio, time_scale)``: multiply phone times by ``time_scale``.

    Order, as sound travels: speaker (voice and tempo in one WORLD pass), room
    (reverb), background (noise), channel (telephone or codec), level (gain,
    limiter). Every random number is drawn in a fixed order, whether or not its
    step runs, so one step's probability never reshuffles the others' values.
    Deterministic for a given ``rng`` state. Babble noise becomes pink noise
    when no ``babble`` sources are given. Pass ``analysis`` (from
    :func:`world_analyse` on this ``audio``) to skip WORLD analysis when making
    several copies of one utterance.
    """
    x = _check_audio(audio)
    sr = check_sample_rate(sample_rate, "sample_rate", 8000, 192000)
    c = config
    if analysis is not None and (analysis.n_samples, analysis.sample_rate) != (x.size, sr):
        raise ValueError("analysis does not belong to this audio (length or rate differ)")
    do_voice = rng.random() < c.p_voice
    pitch = float(rng.uniform(*c.pitch_semitones))
    formant = _log_uniform(rng, c.formant_factor)
    f0_range = _log_uniform(rng, c.f0_range)
    do_breath = rng.random() < c.p_breathy
    breath = float(rng.uniform(*c.breathiness)) * do_breath
    do_speed = rng.random() < c.p_speed
    speed = _log_uniform(rng, c.speed)
    do_reverb = rng.random() < c.p_reverb
    rt60, wet = float(rng.uniform(*c.rt60)), float(rng.uniform(*c.wet))
    reverb_rng = np.random.default_rng(rng.integers(2**63))
    do_noise = rng.random() < c.p_noise
    snr = float(rng.uniform(*c.snr_db))
    white, pink, babble_weight = c.noise_weights
    if not babble:
        pink, babble_weight = pink + babble_weight, 0.0
    cumulative = np.cumsum([white, pink, babble_weight]) / (white + pink + babble_weight)
    kind = NOISE_KINDS[min(2, int(np.searchsorted(cumulative, rng.random(), side="right")))]
    noise_rng = np.random.default_rng(rng.integers(2**63))
    channel = rng.random()
    codec = CODECS[int(rng.integers(2))]
    bitrates = c.mp3_bitrates if codec == "mp3" else c.opus_bitrates
    bitrate = int(bitrates[int(rng.integers(len(bitrates)))])
    do_gain = rng.random() < c.p_gain
    db = float(rng.uniform(*c.gain_db))

    speed = speed if do_speed else 1.0
    if do_voice or do_speed:
        x = world_synthesise(
            analysis or world_analyse(x, sr, c.world),
            pitch_semitones=pitch if do_voice else 0.0,
            formant_factor=formant if do_voice else 1.0,
            breathiness=breath if do_voice else 0.0,
            f0_range=f0_range if do_voice else 1.0,
            speed=speed,
        )
    if do_reverb:
        x = reverberate(x, sr, rt60, reverb_rng, wet)
    if do_noise:
        x = add_noise(x, snr, noise_rng, kind, babble)
    if channel < c.p_telephone:
        x = telephone(x, sr)
    elif channel < c.p_telephone + c.p_codec:
        x = codec_roundtrip(x, sr, codec, bitrate)
    if do_gain:
        x = gain(x, db)
    return limit(x), 1.0 / speed
