import shutil
import subprocess
import warnings

import numpy as np
import pytest
from scipy.ndimage import uniform_filter1d
from scipy.signal import butter, lfilter, sosfilt

with warnings.catch_warnings():  # the `teacher` extra (pyworld) builds the corpus; without it these skip
    warnings.simplefilter("ignore")
    pyworld = pytest.importorskip("pyworld")

from talkinghead.audio2motion.training import augment as A
from talkinghead.contracts.audio_io import load_audio

SR = 22050


def vowel(sr: int, seconds: float, f0: float = 120.0, vibrato: float = 0.05) -> np.ndarray:
    """Pulse train (with vibrato) through three formant resonators (/a/-like: 700, 1200, 2600 Hz)."""
    t = np.arange(int(sr * seconds)) / sr
    phase = np.cumsum(f0 * (1 + vibrato * np.sin(2 * np.pi * 3 * t))) / sr
    y = np.zeros(t.size)
    y[np.nonzero(np.diff(np.floor(phase)) > 0)[0] + 1] = 1.0
    for fc, bw in ((700, 80), (1200, 90), (2600, 120)):
        r, th = np.exp(-np.pi * bw / sr), 2 * np.pi * fc / sr
        y = lfilter([1 - r], [1, -2 * r * np.cos(th), r * r], y)
    return 0.5 * y / np.abs(y).max()


def utterance(sr: int) -> np.ndarray:
    """Two vowel 'syllables' between silences: sharp onsets to check timing."""
    gap = np.zeros(int(0.2 * sr))
    v = vowel(sr, 0.4)
    return np.concatenate([gap, v[: int(0.25 * sr)], gap, v, gap]).astype(np.float32)


def lag(a: np.ndarray, b: np.ndarray) -> int:
    """Lag (samples) of the cross-correlation peak; positive = ``a`` late relative to ``b``."""
    n = min(a.size, b.size)
    c = np.fft.irfft(np.fft.rfft(a[:n], 2 * n) * np.conj(np.fft.rfft(b[:n], 2 * n)))
    c = np.concatenate([c[-n + 1 :], c[:n]])
    return int(np.argmax(c)) - (n - 1)


def envelope(y: np.ndarray, sr: int) -> np.ndarray:
    """RMS over 20 ms at 1 ms hop, mean removed (waveform phase is not kept by WORLD)."""
    power = uniform_filter1d(np.asarray(y, np.float64) ** 2, int(0.02 * sr))
    e = np.sqrt(np.maximum(power, 0.0))[:: sr // 1000]
    return e - e.mean()


def median_f0(y: np.ndarray, sr: int) -> float:
    f0, _ = pyworld.harvest(np.asarray(y, np.float64), sr)
    return float(np.median(f0[f0 > 0]))


def centroid(y: np.ndarray, sr: int) -> float:
    power = np.abs(np.fft.rfft(y)) ** 2
    return float(np.sum(power * np.fft.rfftfreq(y.size, 1 / sr)) / np.sum(power))


def band_power(y: np.ndarray, sr: int, lo: float, hi: float) -> float:
    power = np.abs(np.fft.rfft(y)) ** 2
    f = np.fft.rfftfreq(y.size, 1 / sr)
    return float(np.sum(power[(f >= lo) & (f < hi)]))


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return utterance(SR)


@pytest.fixture(scope="module")
def espeak(tmp_path_factory) -> tuple[np.ndarray, int]:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed")
    path = tmp_path_factory.mktemp("espeak") / "u.wav"
    text = "Maybe the violin was never meant for zebras."
    with open(path, "wb") as f:
        subprocess.run(["espeak-ng", "--stdout", text], stdout=f, check=True, timeout=30)
    return load_audio(path)


# --- WORLD voice and tempo ---------------------------------------------------------------


def test_world_voice_pitch_up_four_semitones_synthetic(speech):
    y = A.world_voice(speech, SR, 4.0, 1.0)
    assert y.shape == speech.shape and y.dtype == np.float32
    ratio = median_f0(y, SR) / median_f0(speech, SR)
    assert ratio == pytest.approx(2 ** (4 / 12), rel=0.05)


def test_world_voice_pitch_up_four_semitones_espeak(espeak):
    audio, sr = espeak
    y = A.world_voice(audio, sr, 4.0, 1.0)
    assert y.size == audio.size
    assert median_f0(y, sr) / median_f0(audio, sr) == pytest.approx(1.26, rel=0.05)
    assert abs(lag(envelope(y, sr), envelope(audio, sr))) <= 3  # ms


@pytest.mark.parametrize(("semitones", "formant"), [(0.0, 1.0), (4.0, 1.2), (-4.0, 0.85)])
def test_world_voice_keeps_timing(speech, semitones, formant):
    y = A.world_voice(speech, SR, semitones, formant)
    assert y.size == speech.size
    assert abs(lag(envelope(y, SR), envelope(speech, SR))) <= 3  # ms
    assert np.sqrt(np.mean(y.astype(np.float64) ** 2)) == pytest.approx(
        np.sqrt(np.mean(speech.astype(np.float64) ** 2)), rel=1e-3
    )


def test_formant_warp_moves_centroid_and_keeps_pitch(speech):
    base = centroid(A.world_voice(speech, SR, 0.0, 1.0), SR)
    up = A.world_voice(speech, SR, 0.0, 1.2)
    down = A.world_voice(speech, SR, 0.0, 0.85)
    assert centroid(up, SR) > 1.1 * base
    assert centroid(down, SR) < 0.95 * base
    assert median_f0(up, SR) == pytest.approx(median_f0(speech, SR), rel=0.03)


def test_breathiness_fills_the_gaps_between_harmonics():
    steady = vowel(SR, 1.0, f0=150.0, vibrato=0.0)

    def valley_to_peak(y: np.ndarray) -> float:
        spectrum = np.abs(np.fft.rfft(y[SR // 4 : 3 * SR // 4] * np.hanning(SR // 2)))
        f = np.fft.rfftfreq(SR // 2, 1 / SR)
        k = np.arange(7, 20)  # harmonics 7-19 (1-3 kHz)
        peaks = [spectrum[np.argmin(np.abs(f - 150 * h))] for h in k]
        valleys = [spectrum[np.argmin(np.abs(f - 150 * (h + 0.5)))] for h in k]
        return float(np.median(np.array(valleys) / np.array(peaks)))

    clean = valley_to_peak(A.world_voice(steady, SR, 0.0, 1.0, 0.0))
    breathy = valley_to_peak(A.world_voice(steady, SR, 0.0, 1.0, 0.8))
    assert breathy > 2 * clean


def test_analysis_reused_gives_same_voice(speech):
    analysis = A.world_analyse(speech, SR)
    direct = A.world_voice(speech, SR, 2.0, 1.1, 0.3)
    reused = A.world_synthesise(analysis, pitch_semitones=2.0, formant_factor=1.1, breathiness=0.3)
    np.testing.assert_array_equal(direct, reused)


@pytest.mark.parametrize("factor", [0.8, 1.25])
def test_change_speed_scales_time_not_pitch(speech, factor):
    y = A.change_speed(speech, SR, factor)
    assert y.size == round(speech.size / factor)
    assert median_f0(y, SR) == pytest.approx(median_f0(speech, SR), rel=0.03)
    # Output time t/factor holds input time t: map it back and compare envelopes.
    back = np.interp(np.arange(speech.size) / factor, np.arange(y.size), y)
    assert abs(lag(envelope(back, SR), envelope(speech, SR))) <= 3  # ms


def test_silence_stays_silent():
    assert not np.any(A.world_voice(np.zeros(4000, np.float32), SR, 3.0, 1.1))
    assert A.change_speed(np.zeros(4000, np.float32), SR, 1.25).size == 3200


# --- noise ---------------------------------------------------------------------------------


def bursts(sr: int = 16000) -> tuple[np.ndarray, np.ndarray]:
    """Tone bursts in digital silence and the mask of where they are."""
    x = np.zeros(sr * 2)
    mask = np.zeros(x.size, bool)
    t = np.arange(sr // 4) / sr
    for i, start in enumerate((2000, 10000, 20000)):
        x[start : start + t.size] = (0.3 + 0.2 * i) * np.sin(2 * np.pi * 220 * (i + 1) * t)
        mask[start : start + t.size] = True
    return x.astype(np.float32), mask


@pytest.mark.parametrize("kind", ["white", "pink", "babble"])
@pytest.mark.parametrize("snr", [0.0, 12.0, 30.0])
def test_add_noise_hits_snr_on_active_speech(kind, snr):
    x, mask = bursts()
    babble = [vowel(16000, 0.7, f0) for f0 in (100.0, 140.0, 190.0, 230.0)]
    y = A.add_noise(x, snr, np.random.default_rng(1), kind, babble)
    assert y.shape == x.shape
    noise = y.astype(np.float64) - x
    measured = 10 * np.log10(np.mean(x[mask].astype(np.float64) ** 2) / np.mean(noise[mask] ** 2))
    assert measured == pytest.approx(snr, abs=1.0)
    assert np.std(noise[~mask]) > 0  # noise everywhere, not only under speech


def test_add_noise_is_seeded():
    x, _ = bursts()
    a = A.add_noise(x, 10.0, np.random.default_rng(5), "pink")
    b = A.add_noise(x, 10.0, np.random.default_rng(5), "pink")
    c = A.add_noise(x, 10.0, np.random.default_rng(6), "pink")
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_pink_noise_falls_3db_per_octave():
    x = np.ones(2**16, np.float32) * 0.1
    noise = A.add_noise(x, 0.0, np.random.default_rng(0), "pink") - x
    octave_low = band_power(noise, 16000, 250, 500)
    octave_high = band_power(noise, 16000, 2000, 4000)
    slope = 10 * np.log10(octave_high / octave_low) / 3  # dB per octave, 3 octaves apart
    # 1/f power: equal power per octave (0 dB); white would be +3 dB per octave.
    assert abs(slope) < 0.5


def test_babble_needs_sources():
    x, _ = bursts()
    with pytest.raises(ValueError, match="babble"):
        A.add_noise(x, 10.0, np.random.default_rng(0), "babble")


# --- room ----------------------------------------------------------------------------------


def schroeder_rt60(h: np.ndarray, sr: int) -> float:
    """RT60 from the -5..-25 dB slope of the backward-integrated energy (T20 x 3)."""
    edc = np.cumsum(h[::-1] ** 2)[::-1]
    db = 10 * np.log10(np.maximum(edc / edc[0], 1e-30))
    t5, t25 = np.argmax(db < -5), np.argmax(db < -25)
    return 3 * (t25 - t5) / sr


def test_room_impulse_response_shape():
    rng = np.random.default_rng(0)
    h = A.room_impulse_response(SR, 0.5, rng, 0.4)
    assert h[0] == pytest.approx(np.sqrt(0.6))
    assert np.sum(h**2) == pytest.approx(1.0)
    assert np.all(np.abs(h[1:]) < h[0])
    tail = np.concatenate([h[1:], np.zeros(SR // 2)])
    mid = sosfilt(butter(4, (500, 1000), "bandpass", fs=SR, output="sos"), tail)
    high = sosfilt(butter(4, 4000, "highpass", fs=SR, output="sos"), tail)
    assert schroeder_rt60(mid, SR) == pytest.approx(0.5, rel=0.2)
    assert schroeder_rt60(high, SR) < 0.8 * schroeder_rt60(mid, SR)


def test_reverberate_keeps_length_and_direct_timing(speech):
    y = A.reverberate(speech, SR, 0.8, np.random.default_rng(3), 0.6)
    assert y.shape == speech.shape
    assert lag(y, speech) == 0
    gaps = slice(int(0.46 * SR), int(0.64 * SR))  # silence after the first syllable
    assert np.std(y[gaps]) > 0.01 * np.std(speech)  # the tail rings into it


# --- channel -------------------------------------------------------------------------------


@pytest.mark.parametrize("sr", [16000, 22050])
def test_telephone_band_and_timing(sr):
    noise = np.random.default_rng(0).standard_normal(sr * 2).astype(np.float32) * 0.1
    y = A.telephone(noise, sr)
    assert y.shape == noise.shape
    assert lag(y, noise) == 0
    inside = band_power(y, sr, 500, 3000) / 2500
    assert band_power(y, sr, 3800, sr / 2) / (sr / 2 - 3800) < 1e-4 * inside
    assert band_power(y, sr, 0, 150) / 150 < 1e-3 * inside
    assert band_power(y, sr, 500, 3000) > 0.5 * band_power(noise, sr, 500, 3000)


@pytest.mark.parametrize(
    ("codec", "bitrate", "sr"),
    [("mp3", 32000, 22050), ("mp3", 64000, 16000), ("opus", 16000, 22050), ("opus", 24000, 16000)],
)
def test_codec_roundtrip_is_aligned(codec, bitrate, sr):
    x = utterance(sr) + 0.01 * np.random.default_rng(0).standard_normal(int(1.45 * sr))[
        : utterance(sr).size
    ].astype(np.float32)
    y = A.codec_roundtrip(x, sr, codec, bitrate)
    assert y.shape == x.shape
    assert abs(lag(y, x)) <= sr // 1000
    assert np.corrcoef(x, y)[0, 1] > 0.8


def test_codec_roundtrip_espeak(espeak):
    audio, sr = espeak
    for codec in A.CODECS:
        y = A.codec_roundtrip(audio, sr, codec, 24000)
        assert y.size == audio.size and lag(y, audio) == 0


# --- level ---------------------------------------------------------------------------------


def test_gain_and_limit():
    x = np.linspace(-0.5, 0.5, 101).astype(np.float32)
    np.testing.assert_allclose(A.gain(x, 20 * np.log10(2)), 2 * x, rtol=1e-6)
    loud = A.limit(A.gain(x, 12.0))
    assert np.max(np.abs(loud)) <= 0.98
    assert np.all(np.diff(loud) > 0)  # monotonic: no fold-over
    np.testing.assert_array_equal(A.limit(0.5 * x), 0.5 * x)  # below the knee: untouched


# --- the chain -----------------------------------------------------------------------------

ALL_ON = A.AugmentConfig(
    p_voice=1.0, p_breathy=1.0, p_speed=1.0, p_reverb=1.0, p_noise=1.0, p_telephone=0.0,
    p_codec=1.0, p_gain=1.0,
)  # fmt: skip


def test_augment_is_deterministic_and_scales_time(speech):
    a, sa = A.augment(speech, SR, np.random.default_rng(7), ALL_ON)
    b, sb = A.augment(speech, SR, np.random.default_rng(7), ALL_ON)
    c, _ = A.augment(speech, SR, np.random.default_rng(8), ALL_ON)
    np.testing.assert_array_equal(a, b)
    assert sa == sb
    assert not np.array_equal(a[: min(a.size, c.size)], c[: min(a.size, c.size)])
    assert 0.8 <= sa <= 1.25 and a.size == round(speech.size * sa)
    assert np.all(np.isfinite(a)) and np.max(np.abs(a)) <= 0.98


def test_augment_with_cached_analysis_matches(speech):
    analysis = A.world_analyse(speech, SR)
    a, _ = A.augment(speech, SR, np.random.default_rng(3), ALL_ON)
    b, _ = A.augment(speech, SR, np.random.default_rng(3), ALL_ON, analysis=analysis)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="analysis"):
        A.augment(speech[:-1], SR, np.random.default_rng(3), ALL_ON, analysis=analysis)


def test_augment_all_off_is_identity(speech):
    off = A.AugmentConfig(
        p_voice=0, p_speed=0, p_reverb=0, p_noise=0, p_telephone=0, p_codec=0, p_gain=0
    )
    y, scale = A.augment(speech, SR, np.random.default_rng(0), off)
    assert scale == 1.0
    np.testing.assert_array_equal(y, speech)  # peaks 0.5: under the limiter's knee


def test_augment_telephone_with_babble(speech):
    config = A.AugmentConfig(p_speed=0.0, p_noise=1.0, noise_weights=(0, 0, 1), p_telephone=1.0,
                             p_codec=0.0, p_gain=0.0)  # fmt: skip
    y, scale = A.augment(speech, SR, np.random.default_rng(2), config, babble=[vowel(SR, 0.5)])
    assert scale == 1.0 and y.size == speech.size
    assert band_power(y, SR, 4000, SR / 2) < 1e-3 * band_power(y, SR, 300, 3400)


# --- bad input -----------------------------------------------------------------------------

BAD_AUDIO = [
    np.zeros(0, np.float32),
    np.array([0.0, np.nan, 0.1], np.float32),
    np.zeros((2, 100), np.float32),
    np.zeros(100, np.int16),
]
CALLS = [
    lambda a: A.world_voice(a, SR, 1.0, 1.0),
    lambda a: A.change_speed(a, SR, 1.1),
    lambda a: A.add_noise(a, 10.0, np.random.default_rng(0)),
    lambda a: A.reverberate(a, SR, 0.3, np.random.default_rng(0), 0.3),
    lambda a: A.telephone(a, SR),
    lambda a: A.codec_roundtrip(a, SR, "mp3", 64000),
    lambda a: A.gain(a, 3.0),
    lambda a: A.limit(a),
    lambda a: A.augment(a, SR, np.random.default_rng(0)),
]


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("audio", BAD_AUDIO, ids=["empty", "nan", "2d", "int"])
def test_bad_audio_raises(call, audio):
    with pytest.raises(ValueError):
        call(audio)


@pytest.mark.parametrize(
    "call",
    [
        lambda x: A.world_voice(x, SR, 1.0, 3.0),
        lambda x: A.world_voice(x, 0, 1.0, 1.0),
        lambda x: A.change_speed(x, SR, 0.0),
        lambda x: A.add_noise(x, 10.0, np.random.default_rng(0), "brown"),
        lambda x: A.add_noise(x, float("nan"), np.random.default_rng(0)),
        lambda x: A.reverberate(x, SR, 0.3, np.random.default_rng(0), 1.0),
        lambda x: A.codec_roundtrip(x, SR, "aac", 64000),
        lambda x: A.codec_roundtrip(x, SR, "mp3", 10),
        lambda x: A.gain(x, float("inf")),
        lambda _: A.AugmentConfig(p_noise=1.5),
        lambda _: A.AugmentConfig(speed=(1.25, 0.8)),
        lambda _: A.AugmentConfig(p_telephone=0.6, p_codec=0.6),
        lambda _: A.WorldConfig(f0_method="yin"),
    ],
)
def test_bad_parameters_raise(call):
    x = np.zeros(1000, np.float32)
    with pytest.raises(ValueError):
        call(x)
