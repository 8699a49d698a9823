"""`talkinghead animate` end to end: files in every format, the clock's frame
count, the motion layer, ONNX backend, text mode, and one-line errors."""

import shutil
import subprocess
import wave
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from talkinghead.audio2motion.model import DEFAULT_WEIGHTS, Audio2Motion, ModelConfig, save_model
from talkinghead.cli import main
from talkinghead.coefficients import Coefficients

SMALL = ModelConfig(dim=32, layers=1, heads=2, context_steps=16, norm_window=40)


def write_wav(path: Path, samples: np.ndarray, rate: int) -> Path:
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


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


@pytest.mark.skipif(not DEFAULT_WEIGHTS.exists(), reason="no shipped weights in this checkout")
def test_shipped_weights_animate(tmp_path, speech):
    out = tmp_path / "shipped.json"
    assert main(["animate", str(speech), "-o", str(out), "-q"]) == 0
    assert len(Coefficients.load(out)) == 75


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
