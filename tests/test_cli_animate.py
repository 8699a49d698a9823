"""`talkinghead animate` end to end: files in every format, the clock's frame
count, the motion layer, ONNX backend, text mode, one-line errors, and bad
audio (empty, very short, 8 kHz stereo, NaN/inf; the 10-minute case is
benchmarks/a2m_bad_input.py)."""

import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from talkinghead.audio2motion.ears import whisper_installed
from talkinghead.audio2motion.model import DEFAULT_WEIGHTS, Audio2Motion, ModelConfig, save_model
from talkinghead.cli import main
from talkinghead.contracts.audio_io import write_wav
from talkinghead.contracts.coefficients import Coefficients

SMALL = ModelConfig(dim=32, layers=1, heads=2, context_steps=16, norm_window=40)


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "a2m.pt"
    save_model(Audio2Motion(SMALL).eval(), path)
    return path


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> Path:
    rate = 22050
    t = np.arange(int(2.5 * rate)) / rate
    bursts = (np.sin(2 * np.pi * 2 * t) > 0) * np.random.default_rng(0).standard_normal(len(t)) * 0.2
    return write_wav(tmp_path_factory.mktemp("audio") / "speech.wav", bursts, rate)


@pytest.mark.parametrize("suffix, fps", [(".npz", "30"), (".json", "25"), (".csv", "30000/1001")])
def test_animate_writes_every_format_with_the_clocks_frame_count(tmp_path, weights, speech, suffix, fps):
    out = tmp_path / f"out{suffix}"
    assert main([ "animate", str(speech), "-o", str(out), "--fps", fps, "--weights", str(weights), "-q"]) == 0
    # Live Link CSV carries timecodes at a nominal integer rate: the caller names the exact one
    coefficients = Coefficients.load(out, fps=fps) if suffix == ".csv" else Coefficients.load(out)
    expected = -(-int(2.5 * 22050) * Fraction(fps) // 22050)
    assert len(coefficients) == expected
    assert coefficients.fps == Fraction(fps)


def test_motion_layer_options_change_the_output(tmp_path, weights, speech):
    def run(*extra):
        out = tmp_path / f"{len(extra)}-{'-'.join(extra)}.npz"
        main(["animate", str(speech), "-o", str(out), "--weights", str(weights), "-q", *extra])
        return Coefficients.load(out)

    plain = run()
    idle = run("--style", "idle")
    still = run("--no-head-motion", "--no-blinks")
    jaw = plain.blendshape("jawOpen")
    assert np.abs(idle.blendshape("jawOpen")).max() == 0.0
    assert np.abs(plain.pose - still.pose).max() > 0.01  # idle head motion, added to the network's pose
    assert np.array_equal(still.blendshape("jawOpen"), jaw)


def test_onnx_backend_agrees_with_torch(tmp_path, weights, speech):
    pytest.importorskip("onnxruntime")
    outs = {}
    for backend in ("torch", "onnx"):
        outs[backend] = tmp_path / f"{backend}.npz"
        main(["animate", str(speech), "-o", str(outs[backend]), "--weights", str(weights), "--backend", backend, "-q"])
    a, b = Coefficients.load(outs["torch"]), Coefficients.load(outs["onnx"])
    assert np.abs(a.blendshapes - b.blendshapes).max() < 1e-3


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng makes the speech for text mode")
def test_text_mode_closes_the_lips_on_bilabials(tmp_path):
    wav = tmp_path / "papa.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(wav), "a map, a bomb, a palm"], check=True)
    out = tmp_path / "text.npz"
    assert main(["animate", str(wav), "-o", str(out), "--text", "a map, a bomb, a palm", "--no-blinks", "-q"]) == 0
    coefficients = Coefficients.load(out)
    close, jaw = coefficients.blendshape("mouthClose"), coefficients.blendshape("jawOpen")
    assert close.max() > 0.05 and jaw.max() > 0.2


@pytest.mark.parametrize("ears", ["mel", "whisper"])
def test_shipped_weights_animate_and_record_their_ears(tmp_path, speech, ears):
    if not DEFAULT_WEIGHTS[ears].exists():
        pytest.skip(f"no shipped {ears} weights in this checkout")
    if ears == "whisper" and not whisper_installed():
        pytest.skip("the `whisper` extra is not installed")
    out = tmp_path / "shipped.json"
    assert main(["animate", str(speech), "-o", str(out), "-q", "--ears", ears]) == 0
    coefficients = Coefficients.load(out)
    assert len(coefficients) == 75 and coefficients.source == f"audio2motion:{ears}"


def test_weights_that_hear_otherwise_are_refused(tmp_path, capsys, weights, speech):
    with pytest.raises(SystemExit) as exit_info:
        main(["animate", str(speech), "-o", str(tmp_path / "x.npz"), "--weights", str(weights), "--ears", "whisper"])
    assert exit_info.value.code == 2
    assert "hear with mel, not whisper" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["animate", "missing.wav", "-o", "x.npz"], "missing.wav"),
    (["animate", "SPEECH", "-o", "x.npz", "--lookahead-ms", "30", "--weights", "WEIGHTS"], "look-ahead"),
    (["animate", "SPEECH", "-o", "x.txt", "--weights", "WEIGHTS"], ".txt"),
    (["animate", "SPEECH", "-o", "x.npz", "--fps", "0", "--weights", "WEIGHTS"], "fps"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, capsys, weights, speech, args, message):
    args = [a.replace("SPEECH", str(speech)).replace("WEIGHTS", str(weights)) for a in args]
    args = [str(tmp_path / a) if a in ("x.npz", "x.txt") else a for a in args]
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("talkinghead: error:") and "\n" not in err and message in err


@pytest.mark.parametrize("seconds, rate, frames", [(0.1, 16000, 3), (1.0, 8000, 30)])
def test_short_and_stereo_audio_give_the_clocks_frame_count(tmp_path, weights, seconds, rate, frames):
    """Stereo is averaged to mono, any rate resampled: the same samples in both channels
    animate exactly like the mono file."""
    mono = np.random.default_rng(0).standard_normal(round(seconds * rate)) * 0.1
    outputs = []
    for channels in (1, 2):
        wav, out = tmp_path / f"{channels}.wav", tmp_path / f"{channels}.npz"
        sf.write(wav, np.repeat(mono[:, None], channels, axis=1), rate, subtype="PCM_16")
        assert main(["animate", str(wav), "-o", str(out), "--weights", str(weights), "-q"]) == 0
        outputs.append(Coefficients.load(out))
    assert len(outputs[0]) == frames
    assert np.array_equal(outputs[0].blendshapes, outputs[1].blendshapes)
    assert np.array_equal(outputs[0].pose, outputs[1].pose)


def _with(value: float) -> np.ndarray:
    samples = np.zeros(1600, np.float32)
    samples[800] = value
    return samples


@pytest.mark.parametrize("samples, message", [
    (np.zeros(0, np.float32), "no samples"),
    (_with(np.nan), "NaN or infinite"),
    (_with(np.inf), "NaN or infinite"),
])
def test_bad_audio_is_one_line_exit_2(tmp_path, capsys, weights, samples, message):
    wav = tmp_path / "bad.wav"
    sf.write(wav, samples, 16000, subtype="FLOAT")
    with pytest.raises(SystemExit) as exit_info:
        main(["animate", str(wav), "-o", str(tmp_path / "x.npz"), "--weights", str(weights), "-q"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"talkinghead: error: {wav}:") and "\n" not in err and message in err
