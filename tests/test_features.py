"""Audio front end: decoding (PyAV), zero-phase streaming resampler, streaming log-mel."""

from __future__ import annotations

import itertools
from fractions import Fraction
from math import ceil
from pathlib import Path

import av
import librosa
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from talkinghead.audio2motion.features import (
    MelConfig,
    StreamingFrontEnd,
    StreamingLogMel,
    features_from_file,
    log_mel,
    mel_filters,
)
from talkinghead.contracts.audio_io import load_audio, load_audio_16k, write_wav
from talkinghead.contracts.clock import FrameClock
from talkinghead.contracts.resample import StreamingResampler, resample

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
RATES = [8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000]
FLOOR = float(np.log(np.float32(1e-6)))


def _data(rel: str) -> Path:
    path = DATA / rel
    if not path.exists():
        pytest.skip(f"shared test data absent: {path}")
    return path


def _noise(seed: int, n: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.3 * rng.standard_normal(n)).astype(np.float32)


def _split(x: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    """Chunks of the given sizes (zeros included), then whatever is left as one chunk."""
    bounds = np.minimum(np.cumsum([0, *sizes]), x.size)
    chunks = [x[a:b] for a, b in itertools.pairwise(bounds)]
    return chunks + [x[bounds[-1] :]]


def _stream(obj, chunks: list[np.ndarray]) -> np.ndarray:
    parts = [obj.push(c) for c in chunks]
    parts.append(obj.flush())
    return np.concatenate(parts)


def _chirp(sr: int, seconds: float = 1.0) -> np.ndarray:
    """Amplitude-modulated 200 Hz -> 2 kHz chirp: speech-band content every codec keeps."""
    t = np.arange(int(sr * seconds)) / sr
    phase = 2 * np.pi * np.cumsum(200 + 1800 * t / seconds) / sr
    return (0.5 * (0.5 + 0.4 * np.sin(2 * np.pi * 3 * t)) * np.sin(phase)).astype(np.float32)


# ---------------------------------------------------------------- resampler


@settings(max_examples=60, deadline=None)
@given(
    sr_in=st.sampled_from(RATES),
    sr_out=st.sampled_from(RATES),
    n=st.integers(0, 6000),
    seed=st.integers(0, 2**16),
    sizes=st.lists(st.integers(0, 2500), max_size=12),
)
def test_resampler_stream_equals_whole(sr_in, sr_out, n, seed, sizes):
    x = _noise(seed, n)
    whole = resample(x, sr_in, sr_out)
    streamed = _stream(StreamingResampler(sr_in, sr_out), _split(x, sizes))
    assert whole.shape == streamed.shape == (ceil(Fraction(n * sr_out, sr_in)),)
    assert whole.dtype == np.float32
    np.testing.assert_allclose(streamed, whole, atol=1e-6, rtol=0)


@pytest.mark.parametrize("sr_in", [44099, 96001])  # phase table / per-block kernel rows
def test_resampler_odd_rates_stream_equals_whole(sr_in):
    x = _noise(3, 9000)
    whole = resample(x, sr_in, 16000)
    streamed = _stream(StreamingResampler(sr_in, 16000), _split(x, [1, 777, 0, 4096, 0, 5]))
    assert whole.size == ceil(Fraction(9000 * 16000, sr_in))
    np.testing.assert_allclose(streamed, whole, atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    "sr_in, sr_out", [(44100, 16000), (48000, 16000), (8000, 16000), (22050, 44100)]
)
def test_resampler_is_zero_phase(sr_in, sr_out):
    """Output m equals the band-limited signal at exactly m/sr_out seconds: no delay."""
    freq = 1000.0
    x = np.sin(2 * np.pi * freq * np.arange(sr_in) / sr_in)
    y = resample(x, sr_in, sr_out)
    expected = np.sin(2 * np.pi * freq * np.arange(y.size) / sr_out)
    inner = slice(sr_out // 20, -sr_out // 20)  # away from the zero-padded edges
    assert np.abs(y[inner] - expected[inner]).max() < 1e-3


def test_resampler_anti_aliasing():
    sr = 44100
    t = np.arange(sr) / sr
    for freq in (9000.0, 12000.0, 20000.0):  # above the 8 kHz output Nyquist
        y = resample(np.sin(2 * np.pi * freq * t), sr, 16000)[800:-800]
        assert np.sqrt(np.mean(y**2)) < 1e-3, freq  # < -57 dB re. a 0.707 RMS tone
    passband = resample(np.sin(2 * np.pi * 5000.0 * t), sr, 16000)[800:-800]
    assert abs(np.sqrt(np.mean(passband**2)) - np.sqrt(0.5)) < 0.01


def test_resampler_same_rate_is_identity():
    x = _noise(1, 1234)
    np.testing.assert_array_equal(resample(x, 16000, 16000), x)
    assert _stream(StreamingResampler(22050, 22050), _split(x, [100] * 13)).tolist() == x.tolist()


def test_resampler_emits_only_with_full_support():
    r = StreamingResampler(48000, 16000)
    assert r.push(np.zeros(r.lookahead_in, np.float32)).size == 0  # output 0 needs sample K
    assert r.push(np.zeros(1, np.float32)).size == 1
    assert r.emitted == 1 and r.received == r.lookahead_in + 1


def test_resampler_bad_input():
    with pytest.raises(ValueError, match="sr_in"):
        StreamingResampler(0, 16000)
    with pytest.raises(ValueError, match="sr_out"):
        StreamingResampler(16000, -1)
    with pytest.raises(ValueError, match="sr_in"):
        StreamingResampler(44100.0, 16000)
    r = StreamingResampler(44100, 16000)
    with pytest.raises(ValueError, match="NaN"):
        r.push(np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match="NaN"):
        resample(np.array([np.inf]), 8000, 16000)
    with pytest.raises(ValueError, match="floating"):
        r.push(np.array([1, 2], dtype=np.int16))
    with pytest.raises(ValueError, match="1-D"):
        r.push(np.zeros((2, 10)))
    r.flush()
    with pytest.raises(ValueError, match="after flush"):
        r.push(np.zeros(10))


# ---------------------------------------------------------------- log-mel


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(0, 5000),
    seed=st.integers(0, 2**16),
    sizes=st.lists(st.integers(0, 1200), max_size=10),
)
def test_log_mel_stream_equals_whole_and_frame_count(n, seed, sizes):
    x = _noise(seed, n)
    whole = log_mel(x)
    assert whole.shape == (ceil(n / 160), 80) and whole.dtype == np.float32
    streamed = _stream(StreamingLogMel(), _split(x, sizes))
    assert streamed.shape == whole.shape
    np.testing.assert_allclose(streamed, whole, atol=1e-4, rtol=0)


def test_log_mel_stream_equals_whole_on_real_speech():
    x, sr = load_audio(_data("speech/intro_en.wav"))
    assert sr == 16000
    whole = log_mel(x)
    sizes = list(np.random.default_rng(0).integers(0, 2000, 800))
    streamed = _stream(StreamingLogMel(), _split(x, sizes))
    assert whole.shape == (ceil(x.size / 160), 80)
    assert np.abs(streamed - whole).max() < 1e-4
    assert whole.max() - whole.min() > 10  # real speech: a wide dynamic range


def test_log_mel_convention_matches_librosa_centered():
    """Frame j is centred at sample j*160: librosa's center=True with zero padding."""
    x = _noise(7, 16000) * np.hanning(16000).astype(np.float32)
    ours = log_mel(x)
    ref = librosa.feature.melspectrogram(
        y=x.astype(np.float64),
        sr=16000,
        n_fft=512,
        hop_length=160,
        win_length=400,
        window="hann",
        center=True,
        pad_mode="constant",
        power=2.0,
        n_mels=80,
        fmin=0.0,
        fmax=8000.0,
    )
    ref = np.log(ref + 1e-6).T
    np.testing.assert_allclose(ours, ref[: ours.shape[0]], atol=1e-3)


def test_log_mel_frame_is_centred_on_its_sample():
    for j in (3, 7):
        x = np.zeros(3200, np.float32)
        x[160 * j] = 1.0
        energy = np.exp(log_mel(x)).sum(axis=1)
        assert int(np.argmax(energy)) == j
        assert np.isclose(energy[j - 1], energy[j + 1], rtol=1e-3)  # symmetric about j


def test_log_mel_silence_is_constant_floor():
    m = log_mel(np.zeros(1600, np.float32))
    assert m.shape == (10, 80)
    assert np.all(m == np.float32(np.log(1e-6)))


@pytest.mark.parametrize("n, frames", [(0, 0), (1, 1), (160, 1), (161, 2), (399, 3)])
def test_log_mel_short_inputs(n, frames):
    m = log_mel(_noise(n, n))
    assert m.shape == (frames, 80)
    assert np.isfinite(m).all()


def test_streaming_log_mel_waits_for_half_window():
    s = StreamingLogMel()
    assert s.push(np.zeros(199, np.float32)).shape == (0, 80)  # frame 0 needs samples < 200
    assert s.push(np.zeros(1, np.float32)).shape == (1, 80)
    assert s.push(np.zeros(159, np.float32)).shape == (0, 80)
    assert s.push(np.zeros(1, np.float32)).shape == (1, 80)  # frame 1 needs samples < 360
    assert s.flush().shape == (1, 80)  # ceil(360/160) = 3 frames in all
    with pytest.raises(ValueError, match="after flush"):
        s.push(np.zeros(1, np.float32))


def test_log_mel_bad_input():
    with pytest.raises(ValueError, match="NaN"):
        log_mel(np.array([0.0, np.nan, 0.0]))
    with pytest.raises(ValueError, match="NaN"):
        StreamingLogMel().push(np.array([np.inf], np.float32))
    with pytest.raises(ValueError, match="1-D"):
        log_mel(np.zeros((2, 400)))
    with pytest.raises(ValueError, match="win"):
        MelConfig(win=600)
    with pytest.raises(ValueError, match="fmax"):
        MelConfig(fmax=9000.0)
    with pytest.raises(ValueError, match="hop"):
        MelConfig(hop=0)


def test_mel_filters_computed_once_and_read_only():
    cfg = MelConfig()
    fb = mel_filters(cfg)
    assert fb is mel_filters(MelConfig()) and fb.shape == (80, 257)
    assert not fb.flags.writeable
    assert mel_filters(MelConfig(n_mels=40)).shape == (40, 257)
    assert cfg.frame_rate == 100


# ---------------------------------------------------------------- front end


@settings(max_examples=25, deadline=None)
@given(
    sr=st.sampled_from([8000, 22050, 44100, 48000]),
    n=st.integers(0, 12000),
    seed=st.integers(0, 2**16),
    sizes=st.lists(st.integers(0, 3000), max_size=8),
)
def test_front_end_stream_equals_whole(sr, n, seed, sizes):
    x = _noise(seed, n)
    whole = log_mel(resample(x, sr, 16000))
    streamed = _stream(StreamingFrontEnd(sr), _split(x, sizes))
    assert streamed.shape == whole.shape == (ceil(ceil(Fraction(n * 16000, sr)) / 160), 80)
    np.testing.assert_allclose(streamed, whole, atol=1e-4, rtol=0)


@settings(max_examples=30, deadline=None)
@given(sr=st.sampled_from([8000, 16000, 44100, 48000, 44099]), n_frames=st.integers(1, 40))
def test_front_end_input_needed_is_exact(sr, n_frames):
    """Mel frames 0..n-1 come out exactly when input_needed(n) caller samples have arrived."""
    front = StreamingFrontEnd(sr)
    needed = front.input_needed(n_frames)
    x = _noise(n_frames, needed)
    assert front.push(x[:-1]).shape[0] == n_frames - 1
    assert front.push(x[-1:]).shape[0] == 1


@pytest.mark.parametrize(
    "sr, fps", [(44100, Fraction(30000, 1001)), (48000, Fraction(25)), (22050, Fraction(24))]
)
def test_clock_maps_video_frame_to_its_mel_frames(sr, fps):
    """A tone burst filling video frame k's caller samples lands on its mel span: no delay."""
    clock, k = FrameClock(sr, fps), 12
    span = clock.span(k)
    x = np.zeros(clock.span(k + 12).stop, np.float32)
    t = np.arange(span.start, span.stop) / sr
    x[span.start : span.stop] = 0.5 * np.sin(2 * np.pi * 1000 * t)
    mel = _stream(StreamingFrontEnd(sr), _split(x, [999] * (x.size // 999)))
    energy = np.exp(mel).sum(axis=1)
    centroid = (energy * np.arange(energy.size)).sum() / energy.sum()
    burst_centre = float((span.start + span.stop - 1) / 2 / sr * 100)  # in mel frames
    assert abs(centroid - burst_centre) < 0.05  # zero phase end to end
    frames = clock.span_in_rate(k, MelConfig().frame_rate)
    assert frames.start - 0.5 < centroid < frames.stop - 0.5  # the clock's mel frames hold it


# ---------------------------------------------------------------- decoding


def _encode(path: Path, codec: str, sr: int, channels: np.ndarray, video: bool = False) -> None:
    """Write (channels, samples) float audio with PyAV, optionally beside a video track."""
    layout = "stereo" if channels.shape[0] == 2 else "mono"
    with av.open(str(path), "w") as out:
        if video:
            vstream = out.add_stream("libx264", rate=25)
            vstream.width = vstream.height = 64
            vstream.pix_fmt = "yuv420p"
        astream = out.add_stream(codec, rate=sr)
        astream.layout = layout
        for i in range(0, channels.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(channels[:, i : i + 1024]), format="fltp", layout=layout
            )
            frame.sample_rate = sr
            frame.pts, frame.time_base = i, Fraction(1, sr)  # lets the muxer record priming
            for packet in astream.encode(frame):
                out.mux(packet)
        for packet in astream.encode(None):
            out.mux(packet)
        if video:
            for _ in range(channels.shape[1] * 25 // sr):
                image = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")
                for packet in vstream.encode(image):
                    out.mux(packet)
            for packet in vstream.encode(None):
                out.mux(packet)


CODECS = [
    ("wav", "pcm_s16le", 22050),
    ("mp3", "libmp3lame", 44100),
    ("m4a", "aac", 44100),
    ("ogg", "libopus", 48000),
    ("flac", "flac", 16000),
    ("mp4", "aac", 48000),  # video file with an AAC track
]


@pytest.mark.parametrize("ext, codec, sr", CODECS)
def test_load_audio_every_container(tmp_path, ext, codec, sr):
    source = _chirp(sr)
    path = tmp_path / f"clip.{ext}"
    _encode(path, codec, sr, source[None], video=ext == "mp4")
    samples, rate = load_audio(path)
    assert rate == sr and samples.dtype == np.float32 and samples.ndim == 1
    assert source.size <= samples.size <= source.size + 1024  # AAC pads to its 1024 frame
    corr = np.corrcoef(source, samples[: source.size])[0, 1]  # aligned at sample 0
    assert corr > 0.9
    y16 = load_audio_16k(path)
    assert y16.size == ceil(Fraction(samples.size * 16000, sr))


def test_load_audio_stereo_is_channel_mean(tmp_path):
    source = _chirp(22050)
    path = tmp_path / "stereo.wav"
    _encode(path, "pcm_s16le", 22050, np.stack([source, -0.5 * source]))
    samples, _ = load_audio(path)
    np.testing.assert_allclose(samples, 0.25 * source, atol=1e-4)


def test_features_from_file_matches_pipeline(tmp_path):
    path = tmp_path / "clip.flac"
    _encode(path, "flac", 44100, _chirp(44100, 0.5)[None])
    mel = features_from_file(path)
    np.testing.assert_allclose(mel, log_mel(load_audio_16k(path)), atol=1e-4)
    assert mel.shape == (ceil(ceil(Fraction(22050 * 16000, 44100)) / 160), 80)


def _error_of(path) -> str:
    with pytest.raises(ValueError) as info:
        load_audio(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def test_load_audio_errors(tmp_path):
    assert "not found" in _error_of(tmp_path / "missing.wav")
    (tmp_path / "empty.mp3").write_bytes(b"")
    assert "empty" in _error_of(tmp_path / "empty.mp3")
    (tmp_path / "corrupt.mp3").write_bytes(np.random.default_rng(0).bytes(4000))
    assert "cannot decode" in _error_of(tmp_path / "corrupt.mp3")
    (tmp_path / "text.wav").write_text("RIFF but not really a wave file")
    assert "cannot decode" in _error_of(tmp_path / "text.wav")
    assert "not a regular file" in _error_of(tmp_path)
    whole = write_wav(tmp_path / "whole.wav", np.zeros(16000, np.float32), 16000)
    assert load_audio(whole)[0].size == 16000
    (tmp_path / "cut.wav").write_bytes(whole.read_bytes()[:8000])  # a copy cut off half-way
    assert "truncated WAV" in _error_of(tmp_path / "cut.wav")
    streamed = bytearray(whole.read_bytes())  # a streaming writer's placeholder size (espeak-ng's)
    streamed[40:44] = (0x7FFFF000).to_bytes(4, "little")
    (tmp_path / "streamed.wav").write_bytes(bytes(streamed))
    assert load_audio(tmp_path / "streamed.wav")[0].size == 16000


def test_load_audio_video_without_audio(tmp_path):
    path = tmp_path / "silent.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width = stream.height = 64
        stream.pix_fmt = "yuv420p"
        for _ in range(5):
            frame = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    assert "no audio track" in _error_of(path)


def test_load_audio_real_video_track():
    path = _data("video_with_audio/retalk_1.mp4")
    samples, sr = load_audio(path)
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        declared = float(stream.duration * stream.time_base)
    assert sr == 44100
    assert abs(samples.size / sr - declared) < 0.01
    assert np.isfinite(samples).all() and 0.05 < np.abs(samples).max() <= 1.0
    mel = features_from_file(path)
    assert mel.shape == (ceil(ceil(Fraction(samples.size * 16000, sr)) / 160), 80)
    assert np.isfinite(mel).all() and mel.max() > FLOOR + 5
