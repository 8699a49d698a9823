"""The audio-to-expression network: log-mel -> per-step ARKit weights, pose and phones.

Time grid: the network runs at 50 steps per second. Step ``s`` reads mel
frames ``2s`` and ``2s+1`` and is *at* the centre of mel frame ``2s+1``,
``STEP.offset + s * STEP.period`` = ``0.01 + 0.02 s`` seconds. Everything in
the trunk is causal (no step sees a mel frame after its own), so look-ahead
is a delay: head ``L`` at trunk step ``i`` predicts the target of step
``i - L``, i.e. it has heard ``L * 20`` ms past the instant it describes (plus
the mel window's 12.5 ms). One trunk serves every look-ahead in
``0 .. max_lookahead_steps``; choosing one at inference needs no retraining.

Layers, in order:
- per-utterance feature normalisation that streams: subtract the mean of the
  last ``norm_window`` mel frames (a causal running mean; it removes the
  channel's colouring and level), then divide by a global scale learnt from
  the corpus;
- conv front-end: the two mel frames of a step stacked and projected, then
  causal convolutions over steps;
- transformer encoder with causal sliding-window attention (``context_steps``)
  and ALiBi distance biases (no absolute positions, so any length streams);
- heads per look-ahead: 52 blendshape logits (sigmoid), 6 pose values, and
  phone logits (an auxiliary training target that teaches the trunk phones).

The same code path computes a whole sequence and a streamed chunk: each part
takes its history explicitly (:class:`StreamState`), and the whole-sequence
call is the streamed call with an empty history, which is what makes streaming
equal offline inference.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from talkinghead.audio2motion.phones import PHONES

STEPS_PER_SECOND = Fraction(50)
STEP_OFFSET = Fraction(1, 100)  # step s is at 0.01 + 0.02 s seconds (centre of mel frame 2s+1)
MELS_PER_STEP = 2
SILENT_MEL = math.log(1e-6)  # the front end's log-mel of digital silence, used for padding
NUM_BLENDSHAPES = 52
NUM_POSE = 6


@dataclass(frozen=True)
class ModelConfig:
    n_mels: int = 80
    dim: int = 160
    layers: int = 4
    heads: int = 4
    ff_mult: int = 3
    conv_kernel: int = 3
    conv_layers: int = 2
    context_steps: int = 128  # attention window: 2.56 s of history
    max_lookahead_steps: int = 10  # heads for 0, 20, ..., 200 ms
    norm_window: int = 300  # mel frames (3 s) in the running mean
    n_phones: int = len(PHONES)
    dropout: float = 0.1

    @property
    def conv_history(self) -> int:
        """Stacked steps of history the conv front-end needs."""
        return self.conv_layers * (self.conv_kernel - 1)

    @property
    def head_width(self) -> int:
        return NUM_BLENDSHAPES + NUM_POSE + self.n_phones

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class StreamState:
    """Everything a streamed chunk needs from the past; starts empty."""

    mel_history: torch.Tensor  # (B, <= norm_window-1, n_mels) raw log-mel
    step_history: torch.Tensor  # (B, conv_history, 2*n_mels) normalised, stacked
    keys: list[torch.Tensor] = field(default_factory=list)  # per layer (B, heads, <= context-1, d)
    values: list[torch.Tensor] = field(default_factory=list)
    steps_done: int = 0


def running_mean(mel: torch.Tensor, history: torch.Tensor, window: int) -> torch.Tensor:
    """Mean of each frame's last ``window`` frames (itself included), history prepended."""
    full = torch.cat([history, mel], 1).double()
    cumsum = F.pad(full.cumsum(1), (0, 0, 1, 0))
    end = torch.arange(history.shape[1] + 1, full.shape[1] + 1, device=mel.device)
    start = (end - window).clamp(min=0)
    count = (end - start).to(full.dtype)[None, :, None]
    return ((cumsum[:, end] - cumsum[:, start]) / count).to(mel.dtype)


class CausalAttention(nn.Module):
    """Multi-head attention over a sliding causal window with ALiBi distance biases."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.heads, self.context = config.heads, config.context_steps
        self.qkv = nn.Linear(config.dim, 3 * config.dim)
        self.out = nn.Linear(config.dim, config.dim)
        slopes = torch.tensor([2.0 ** (-8.0 * (h + 1) / config.heads) for h in range(config.heads)])
        self.register_buffer("slopes", slopes[:, None, None], persistent=False)
        self.dropout = config.dropout

    def forward(self, x: torch.Tensor, past_k: torch.Tensor, past_v: torch.Tensor):
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        k, v = torch.cat([past_k, k], 2), torch.cat([past_v, v], 2)
        past = past_k.shape[2]
        q_pos = torch.arange(past, past + t, device=x.device)[:, None]
        k_pos = torch.arange(past + t, device=x.device)[None, :]
        distance = (q_pos - k_pos).to(x.dtype)
        visible = (distance >= 0) & (distance < self.context)
        bias = torch.where(visible, -self.slopes * distance, torch.tensor(float("-inf"), dtype=x.dtype))
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=self.dropout if self.training else 0.0)
        keep = self.context - 1
        return self.out(y.transpose(1, 2).reshape(b, t, d)), k[:, :, -keep:], v[:, :, -keep:]


class Block(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(config.dim), nn.LayerNorm(config.dim)
        self.attention = CausalAttention(config)
        self.ff = nn.Sequential(
            nn.Linear(config.dim, config.ff_mult * config.dim), nn.GELU(),
            nn.Linear(config.ff_mult * config.dim, config.dim),
        )
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x, past_k, past_v):
        y, k, v = self.attention(self.norm1(x), past_k, past_v)
        x = x + self.drop(y)
        return x + self.drop(self.ff(self.norm2(x))), k, v


class Audio2Motion(nn.Module):
    """Causal trunk and per-look-ahead heads; see the module docstring for the time grid."""

    def __init__(self, config: ModelConfig = ModelConfig()) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("feature_scale", torch.ones(config.n_mels))
        self.project = nn.Linear(MELS_PER_STEP * config.n_mels, config.dim)
        self.convs = nn.ModuleList(
            nn.Conv1d(config.dim, config.dim, config.conv_kernel) for _ in range(config.conv_layers)
        )
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.layers))
        self.norm = nn.LayerNorm(config.dim)
        self.heads = nn.Linear(config.dim, (config.max_lookahead_steps + 1) * config.head_width)

    def initial_state(self, batch: int = 1) -> StreamState:
        c, p = self.config, next(self.parameters())
        empty = torch.zeros(batch, c.heads, 0, c.dim // c.heads, dtype=p.dtype, device=p.device)
        return StreamState(
            mel_history=torch.zeros(batch, 0, c.n_mels, dtype=p.dtype, device=p.device),
            step_history=torch.zeros(batch, c.conv_history, MELS_PER_STEP * c.n_mels, dtype=p.dtype, device=p.device),
            keys=[empty] * c.layers,
            values=[empty] * c.layers,
        )

    def normalise(self, mel: torch.Tensor, history: torch.Tensor) -> torch.Tensor:
        return (mel - running_mean(mel, history, self.config.norm_window)) / self.feature_scale

    def forward(self, mel: torch.Tensor, state: StreamState | None = None):
        """Mel frames (B, 2S, n_mels) -> head outputs (B, S, L+1, head_width) and the new state.

        ``state`` is the history from earlier chunks (``None``: start of stream).
        The mel count must be even (whole steps).
        """
        c = self.config
        if mel.shape[1] % MELS_PER_STEP:
            raise ValueError(f"mel frames must come in whole steps of {MELS_PER_STEP}, got {mel.shape[1]}")
        state = state or self.initial_state(mel.shape[0])
        normalised = self.normalise(mel, state.mel_history)
        stacked = normalised.reshape(mel.shape[0], -1, MELS_PER_STEP * c.n_mels)
        steps = torch.cat([state.step_history, stacked], 1)
        x = self.project(steps).transpose(1, 2)
        for conv in self.convs:
            x = F.gelu(conv(x))
        x = x.transpose(1, 2)
        keys, values = [], []
        for block, past_k, past_v in zip(self.blocks, state.keys, state.values):
            x, k, v = block(x, past_k, past_v)
            keys.append(k)
            values.append(v)
        out = self.heads(self.norm(x)).view(x.shape[0], x.shape[1], c.max_lookahead_steps + 1, c.head_width)
        new_state = StreamState(
            mel_history=torch.cat([state.mel_history, mel], 1)[:, -(c.norm_window - 1):],
            step_history=steps[:, steps.shape[1] - c.conv_history:],
            keys=keys,
            values=values,
            steps_done=state.steps_done + stacked.shape[1],
        )
        return out, new_state


def split_heads(out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Head outputs -> blendshape weights in [0,1], pose, phone logits."""
    weights = torch.sigmoid(out[..., :NUM_BLENDSHAPES])
    pose = out[..., NUM_BLENDSHAPES:NUM_BLENDSHAPES + NUM_POSE]
    return weights, pose, out[..., NUM_BLENDSHAPES + NUM_POSE:]


DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "assets" / "a2m.pt"


def save_model(model: Audio2Motion, path: str | Path) -> None:
    """Config and weights (float16 to keep the shipped file small) in one ``.pt`` file."""
    state = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    torch.save({"format_version": 1, "config": model.config.to_dict(), "state": state}, Path(path))


def load_model(path: str | Path | None = None, device: str = "cpu") -> Audio2Motion:
    """The shipped weights (``path=None``) or a trained ``a2m.pt``; float32, eval mode."""
    path = DEFAULT_WEIGHTS if path is None else Path(path)
    if not path.exists():
        raise ValueError(f"{path}: no audio2motion weights there (train with `talkinghead train-a2m`)")
    try:
        saved = torch.load(path, map_location=device, weights_only=True)
        model = Audio2Motion(ModelConfig(**saved["config"]))
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in saved["state"].items()})
    except (KeyError, TypeError, RuntimeError) as error:
        raise ValueError(f"{path}: not an audio2motion weights file ({error})") from None
    return model.to(device).eval()
