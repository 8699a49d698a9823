"""The audio2motion network as one ONNX graph, and an onnxruntime runner for the animators.

The graph is one streamed chunk, ``(mel, state...) -> (heads, new state...)``,
with dynamic batch and chunk length (whole steps: an even number of mel
frames). It is traced from :meth:`Audio2Motion.forward` on the fixed-shape
:class:`~.model.StreamState`, so it is the torch math, not a re-implementation;
a whole utterance is the same graph fed one long chunk. The model config rides
in the file's metadata so a runner needs no ``.pt`` beside it.

Exporting uses torch's TorchScript-based exporter (``dynamo=False``): the
dynamo one needs ``onnxscript``, which would lift protobuf past 5 and break
MediaPipe. That exporter needs the ``onnx`` package; running needs only
``onnxruntime``.
"""

from __future__ import annotations

import copy
import io
import json
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from talkinghead.audio2motion.model import MELS_PER_STEP, Audio2Motion, ModelConfig, StreamState

FORMAT_VERSION = 1
OPSET = 17
STATE_NAMES = ("mel_history", "step_history", "keys", "values", "steps_done")
INPUT_NAMES = ("mel", *STATE_NAMES)
OUTPUT_NAMES = ("heads", *(f"new_{name}" for name in STATE_NAMES))
DEFAULT_ONNX = Path(__file__).resolve().parent / "assets" / "a2m.onnx"


class _ChunkGraph(nn.Module):
    """The forward on flat tensors: per-layer caches stacked into (layers, B, heads, context-1, d)."""

    def __init__(self, model: Audio2Motion) -> None:
        super().__init__()
        self.model = model

    def forward(self, mel, mel_history, step_history, keys, values, steps_done):
        state = StreamState(mel_history, step_history, list(keys.unbind(0)), list(values.unbind(0)), steps_done)
        out, new = self.model(mel, state)
        return out, new.mel_history, new.step_history, torch.stack(new.keys), torch.stack(new.values), new.steps_done


def export_onnx(model: Audio2Motion, path: str | Path | io.BytesIO, opset: int = OPSET) -> None:
    """Write the streamed-chunk graph (float32, CPU weights) with the model config in its metadata."""
    try:
        import onnx
    except ImportError:
        raise ValueError("exporting to ONNX needs the `onnx` package (pip install onnx)") from None
    model = copy.deepcopy(model).float().cpu().eval()
    state = model.initial_state(1)
    steps = 3  # any length; not 1, so the tracer cannot specialise a size-1 axis
    mel = torch.zeros(1, steps * MELS_PER_STEP, model.config.n_mels)
    args = (mel, state.mel_history, state.step_history, torch.stack(state.keys), torch.stack(state.values),
            state.steps_done)
    batch = {0: "batch"}
    dynamic_axes = {
        "mel": {0: "batch", 1: "frames"}, "heads": {0: "batch", 1: "steps"},
        **{name: batch for name in ("mel_history", "step_history", "new_mel_history", "new_step_history")},
        **{name: {1: "batch"} for name in ("keys", "values", "new_keys", "new_values")},
    }
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)  # "legacy exporter": chosen on purpose
        # The tracer's notes are on shape checks that hold for every chunk length once the state has its
        # fixed shapes (tests/test_a2m_onnx.py runs the graph at several lengths against torch).
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message="Constant folding")
        torch.onnx.export(
            _ChunkGraph(model), args, buffer, dynamo=False, opset_version=opset, input_names=list(INPUT_NAMES),
            output_names=list(OUTPUT_NAMES), dynamic_axes=dynamic_axes,
        )
    proto = onnx.load_model_from_string(buffer.getvalue())
    for key, value in {"format_version": str(FORMAT_VERSION), "config": json.dumps(model.config.to_dict())}.items():
        proto.metadata_props.add(key=key, value=value)
    data = proto.SerializeToString()
    if isinstance(path, io.BytesIO):
        path.write(data)
    else:
        Path(path).write_bytes(data)


class OnnxAudio2Motion:
    """An exported graph on onnxruntime; :func:`~.animate.animate` and the streaming animator take it
    in place of the torch model (same ``config`` and ``run``)."""

    def __init__(
        self, source: str | Path | bytes | None = None, threads: int | None = None,
        providers: Sequence[str] | None = None,
    ) -> None:
        """``source``: an ``.onnx`` path, its bytes, or ``None`` for the shipped graph. ``threads``:
        intra-op threads (``None``: onnxruntime's choice). ``providers``: CUDA first when available."""
        import onnxruntime as ort

        if source is None:
            source = DEFAULT_ONNX
        if isinstance(source, (str, Path)):
            if not Path(source).exists():
                raise ValueError(f"{source}: no audio2motion ONNX graph there (export one with export_onnx)")
            source = str(source)
        options = ort.SessionOptions()
        options.log_severity_level = 3  # the graph's unused-initialiser notes are noise
        if threads is not None:
            options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        if providers is None:
            wanted = ("CUDAExecutionProvider", "CPUExecutionProvider")
            providers = [p for p in wanted if p in ort.get_available_providers()]
        errors = ort.capi.onnxruntime_pybind11_state
        try:
            self.session = ort.InferenceSession(source, options, providers=list(providers))
            meta = self.session.get_modelmeta().custom_metadata_map
            if meta["format_version"] != str(FORMAT_VERSION):
                raise ValueError(f"format version {meta['format_version']}, this code reads {FORMAT_VERSION}")
            self.config = ModelConfig(**json.loads(meta["config"]))
        except (KeyError, TypeError, json.JSONDecodeError, errors.Fail, errors.InvalidProtobuf,
                errors.InvalidGraph) as error:
            raise ValueError(f"not an audio2motion ONNX graph ({error})") from None

    @classmethod
    def from_model(
        cls, model: Audio2Motion, threads: int | None = None, providers: Sequence[str] | None = None
    ) -> OnnxAudio2Motion:
        """Export ``model`` in memory and load it (no file)."""
        buffer = io.BytesIO()
        export_onnx(model, buffer)
        return cls(buffer.getvalue(), threads, providers)

    def initial_state(self, batch: int = 1) -> dict[str, np.ndarray]:
        """Zero buffers of their final shapes and ``steps_done = 0`` (as ``Audio2Motion.initial_state``)."""
        c = self.config
        cache = (c.layers, batch, c.heads, c.context_steps - 1, c.dim // c.heads)
        return {
            "mel_history": np.zeros((batch, c.norm_window - 1, c.n_mels), np.float32),
            "step_history": np.zeros((batch, c.conv_history, MELS_PER_STEP * c.n_mels), np.float32),
            "keys": np.zeros(cache, np.float32),
            "values": np.zeros(cache, np.float32),
            "steps_done": np.zeros((), np.int64),
        }

    def __call__(
        self, mel: np.ndarray, state: dict[str, np.ndarray] | None = None
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Batched chunk: mel (B, 2S, n_mels) -> heads (B, S, L+1, head_width), new state."""
        mel = np.ascontiguousarray(mel, np.float32)
        if mel.ndim != 3 or mel.shape[2] != self.config.n_mels:
            raise ValueError(f"mel must be (batch, frames, {self.config.n_mels}), got shape {mel.shape}")
        if mel.shape[1] % MELS_PER_STEP:
            raise ValueError(f"mel frames must come in whole steps of {MELS_PER_STEP}, got {mel.shape[1]}")
        state = self.initial_state(mel.shape[0]) if state is None else state
        if mel.shape[1] == 0:
            c = self.config
            return np.zeros((mel.shape[0], 0, c.max_lookahead_steps + 1, c.head_width), np.float32), state
        out, *new = self.session.run(None, {"mel": mel, **state})
        return out, dict(zip(STATE_NAMES, new))

    def run(self, mel: np.ndarray, state: dict[str, np.ndarray] | None = None):
        """One stream's chunk: mel (2S, n_mels) -> heads (S, L+1, head_width) float32, new state."""
        out, state = self(np.asarray(mel)[None], state)
        return out[0], state
