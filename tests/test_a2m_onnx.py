"""The exported ONNX graph on onnxruntime computes what the torch model computes: whole
utterances, streamed chunks of any length, batches; the file carries its config."""

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from test_a2m_model import SMALL, speech_like, stream

from talkinghead.audio2motion.animate import animate
from talkinghead.audio2motion.model import Audio2Motion, ModelConfig
from talkinghead.audio2motion.onnx_export import OnnxAudio2Motion, export_onnx

TOLERANCE = 1e-3


@pytest.fixture(scope="module")
def model() -> Audio2Motion:
    torch.manual_seed(0)
    model = Audio2Motion(SMALL).eval()
    with torch.no_grad():
        model.feature_scale.uniform_(0.5, 2.0)  # a trained model's scale is not all ones
    return model


@pytest.fixture(scope="module")
def runner(model) -> OnnxAudio2Motion:
    return OnnxAudio2Motion.from_model(model, threads=1, providers=["CPUExecutionProvider"])


def mel_frames(steps: int, batch: int = 1, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((batch, 2 * steps, SMALL.n_mels)) * 3 - 6).astype(np.float32)


def torch_heads(model, mel: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return model(torch.from_numpy(mel))[0].numpy()


@pytest.mark.parametrize("chunk_steps", [2, 4, 100])
def test_graph_runs_chunks_of_any_length_like_torch(model, runner, chunk_steps):
    """Past the cache's and the running mean's length (16 and 20 steps), so padding and full buffers both run."""
    mel = mel_frames(230)
    expected = torch_heads(model, mel)
    state, outs = None, []
    for start in range(0, 230, chunk_steps):
        out, state = runner(mel[:, 2 * start:2 * (start + chunk_steps)], state)
        assert out.shape[1] == min(chunk_steps, 230 - start)
        outs.append(out)
    assert int(state["steps_done"]) == 230
    assert np.abs(np.concatenate(outs, 1) - expected).max() < TOLERANCE


def test_random_chunkings_and_batches_agree_with_torch(model, runner):
    mel = mel_frames(150, batch=2, seed=1)
    expected = torch_heads(model, mel)
    assert np.abs(runner(mel)[0] - expected).max() < TOLERANCE
    rng = np.random.default_rng(2)
    state, outs, start = None, [], 0
    torch_state, torch_outs = None, []
    while start < 150:
        steps = int(rng.integers(1, 40))
        chunk = mel[:, 2 * start:2 * (start + steps)]
        out, state = runner(chunk, state)
        with torch.inference_mode():
            torch_out, torch_state = model(torch.from_numpy(chunk), torch_state)
        outs.append(out)
        torch_outs.append(torch_out.numpy())
        start += steps
    assert np.abs(np.concatenate(outs, 1) - expected).max() < TOLERANCE
    assert np.abs(state["keys"] - torch.stack(torch_state.keys).numpy()).max() < TOLERANCE
    assert np.abs(state["mel_history"] - torch_state.mel_history.numpy()).max() == 0.0


@pytest.mark.parametrize("sample_rate, fps, lookahead_ms", [
    (16000, 30, 100), (44100, 25, 0), (8000, "30000/1001", 200),
])
def test_animate_and_streaming_on_onnx_agree_with_torch(model, runner, sample_rate, fps, lookahead_ms):
    audio = speech_like(2.1, sample_rate, seed=3)
    expected = animate(model, audio, sample_rate, fps, lookahead_ms)
    offline = animate(runner, audio, sample_rate, fps, lookahead_ms)
    assert np.abs(offline.blendshapes - expected.blendshapes).max() < TOLERANCE
    assert np.abs(offline.pose - expected.pose).max() < TOLERANCE
    parts = stream(runner, audio, sample_rate, fps, lookahead_ms, np.random.default_rng(4))
    weights = np.concatenate([p.blendshapes for p in parts])
    assert weights.shape == expected.blendshapes.shape
    assert np.abs(weights - expected.blendshapes).max() < TOLERANCE
    assert np.abs(np.concatenate([p.pose for p in parts]) - expected.pose).max() < TOLERANCE


def test_file_round_trip_carries_the_config(model, tmp_path):
    path = tmp_path / "a2m.onnx"
    export_onnx(model, path)
    loaded = OnnxAudio2Motion(path, threads=1)
    assert loaded.config == model.config
    mel = mel_frames(30)
    assert np.abs(loaded(mel)[0] - torch_heads(model, mel)).max() < TOLERANCE


def test_export_leaves_the_model_alone(model):
    model.train()
    try:
        OnnxAudio2Motion.from_model(model)
        assert model.training
        assert next(model.parameters()).dtype == torch.float32
    finally:
        model.eval()


def test_other_configs_export(tmp_path):
    torch.manual_seed(1)
    config = ModelConfig(dim=24, layers=1, heads=3, conv_layers=1, context_steps=5, norm_window=8,
                         max_lookahead_steps=2, dropout=0.0)
    model = Audio2Motion(config).eval()
    runner = OnnxAudio2Motion.from_model(model, threads=1)
    mel = mel_frames(20)
    state, outs = None, []
    for start in range(0, 20, 3):
        out, state = runner(mel[:, 2 * start:2 * (start + 3)], state)
        outs.append(out)
    assert np.abs(np.concatenate(outs, 1) - torch_heads(model, mel)).max() < TOLERANCE


def test_bad_input_is_refused(runner, tmp_path):
    with pytest.raises(ValueError, match="whole steps"):
        runner(mel_frames(3)[:, :5])
    with pytest.raises(ValueError, match="shape"):
        runner.run(np.zeros((4, 7), np.float32), None)
    with pytest.raises(ValueError, match="no audio2motion ONNX graph"):
        OnnxAudio2Motion(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a graph")
    with pytest.raises(ValueError, match="not an audio2motion ONNX graph"):
        OnnxAudio2Motion(tmp_path / "junk.onnx")


def test_empty_chunk_keeps_the_state(runner):
    state = runner.initial_state()
    out, new = runner.run(np.zeros((0, SMALL.n_mels), np.float32), state)
    assert out.shape == (0, SMALL.max_lookahead_steps + 1, SMALL.head_width)
    assert new is state
