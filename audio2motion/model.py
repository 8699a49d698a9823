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
- heads per look-ahead: phone logits and 6 pose values;
- articulation from phone posteriors (a phonetic bottleneck): head ``L``'s 52
  weights are a dominance blend of per-phone viseme targets (sigmoids of
  learnt logits, initialised from :mod:`.articulation`), each phone weighted
  by its posterior at every head of the same step times a learnt dominance
  per (head, describing head, phone) and per (phone, shape). The heads of one
  step describe steps ``i-10 .. i``: the target's past and, for ``L > 0``,
  its future, which is how coarticulation anticipates. The output is a
  convex mix of viseme targets, so diffuse posteriors on an unfamiliar voice
  give a cautious mouth rather than an extrapolated one. The posteriors are
  detached: the trunk learns phones only (on the tuning clips, mouths read
  off TTS-trained phone posteriors ranked open vowels above bilabials better
  than a head regressed from the trunk).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from talkinghead.audio2motion.articulation import viseme_weights
from talkinghead.audio2motion.ears import EARS
from talkinghead.audio2motion.phones import PHONES
from talkinghead.audio2motion.whisper import WHISPER_DIM, LiveWindowing
from talkinghead.contracts.arkit import NUM_BLENDSHAPES, NUM_POSE

STEPS_PER_SECOND = Fraction(50)
STEP_OFFSET = Fraction(1, 100)  # step s is at 0.01 + 0.02 s seconds (centre of mel frame 2s+1)
MELS_PER_STEP = 2
SILENT_MEL = math.log(1e-6)  # the front end's log-mel of digital silence, used for padding


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
    # What the network hears: "mel", two log-mel frames per step (running-mean
    # normalised), or "whisper", one Whisper tiny.en encoder frame per step
    # (already normalised by the encoder; ``norm_window`` is then 0).
    ears: str = "mel"
    # Whisper ears only: the live windows (frames) the head was trained on; 0: full offline windows
    # (offline work only: such a head cannot stream).
    live_window: int = 0
    live_hop: int = 0
    # The model (``model_identity``) whose avatar calibrations this one shares: a live Whisper head tuned
    # from the offline head on the same targets records that head; "" for none.
    calibrates_as: str = ""

    def __post_init__(self) -> None:
        if self.ears not in EARS:
            raise ValueError(f"ears must be one of {', '.join(EARS)}, got {self.ears!r}")
        if self.live_hop:
            LiveWindowing(self.live_window, self.live_hop)  # checks them

    @property
    def live_windowing(self) -> LiveWindowing | None:
        """The live windows of a Whisper head that streams; None for full windows (and for mel ears)."""
        return LiveWindowing(self.live_window, self.live_hop) if self.ears == "whisper" and self.live_hop else None

    @classmethod
    def for_ears(cls, ears: str) -> ModelConfig:
        """The default network for ``ears``."""
        return cls(ears="whisper", norm_window=0) if ears == "whisper" else cls(ears=ears)

    @property
    def frames_per_step(self) -> int:
        """Input frames per 20 ms step: 2 log-mel frames, or 1 Whisper frame."""
        return MELS_PER_STEP if self.ears == "mel" else 1

    @property
    def feature_dim(self) -> int:
        return self.n_mels if self.ears == "mel" else WHISPER_DIM

    @property
    def silence(self) -> float:
        """The input value that pads a stream's end (digital silence's log-mel; zero for Whisper features)."""
        return SILENT_MEL if self.ears == "mel" else 0.0

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
    """Everything a streamed chunk needs from the past, in shapes that never change.

    Before the stream has filled them the buffers are left-padded with zeros;
    ``steps_done`` says how much is real: the running mean counts only real
    frames and attention masks the cache slots no step has written yet.
    """

    mel_history: torch.Tensor  # (B, norm_window-1, feature_dim) raw input frames, newest last
    step_history: torch.Tensor  # (B, conv_history, frames_per_step*feature_dim) normalised, stacked
    keys: list[torch.Tensor]  # per layer (B, heads, context_steps-1, dim/heads), newest last
    values: list[torch.Tensor]
    steps_done: torch.Tensor  # () int64: steps consumed since the start of the stream; (B,) in a batch of streams


def running_mean(
    mel: torch.Tensor, history: torch.Tensor, window: int, frames_before: torch.Tensor | int | None = None
) -> torch.Tensor:
    """Mean of each frame's last ``window`` frames (itself included), history prepended.

    ``history`` may be left-padded with zeros: only its last ``frames_before``
    frames (default: all of it; a (B,) tensor: per stream) are real, and only real frames are counted.
    """
    full = torch.cat([history, mel], 1).double()
    cumsum = F.pad(full.cumsum(1), (0, 0, 1, 0))
    end = torch.arange(history.shape[1] + 1, full.shape[1] + 1, device=mel.device)
    start = (end - window).clamp(min=0)
    real_before = torch.as_tensor(history.shape[1] if frames_before is None else frames_before, device=mel.device)
    count = (torch.arange(1, mel.shape[1] + 1, device=mel.device) + real_before.reshape(-1, 1)).clamp(max=window)
    return ((cumsum[:, end] - cumsum[:, start]) / count.to(full.dtype)[:, :, None]).to(mel.dtype)


def keep_last(x: torch.Tensor, n: int, dim: int) -> torch.Tensor:
    """The last ``n`` entries along ``dim``, left-padded with zeros when there are fewer."""
    short = n - x.shape[dim]
    if short > 0:
        x = torch.cat([x.new_zeros(*x.shape[:dim], short, *x.shape[dim + 1:]), x], dim)
    index = (slice(None),) * dim
    return x[(*index, slice(-n, None))] if n else x[(*index, slice(0, 0))]


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

    def forward(self, x: torch.Tensor, past_k: torch.Tensor, past_v: torch.Tensor, past_steps: torch.Tensor | int):
        """``past_k``/``past_v`` hold earlier steps, newest last; only the last ``past_steps`` slots (per
        stream if a (B,) tensor) are real."""
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        k, v = torch.cat([past_k, k], 2), torch.cat([past_v, v], 2)
        past = past_k.shape[2]
        q_pos = torch.arange(past, past + t, device=x.device)[:, None]
        k_pos = torch.arange(past + t, device=x.device)[None, :]
        distance = (q_pos - k_pos).to(x.dtype)
        real = k_pos >= past - torch.as_tensor(past_steps, device=x.device).reshape(-1, 1, 1, 1)
        visible = (distance >= 0) & (distance < self.context) & real  # (1 or B, 1, t, past + t)
        bias = (-self.slopes * distance).masked_fill(~visible, float("-inf"))
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=self.dropout if self.training else 0.0)
        keep = self.context - 1
        return self.out(y.transpose(1, 2).reshape(b, t, d)), keep_last(k, keep, 2), keep_last(v, keep, 2)


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

    def forward(self, x, past_k, past_v, past_steps):
        y, k, v = self.attention(self.norm1(x), past_k, past_v, past_steps)
        x = x + self.drop(y)
        return x + self.drop(self.ff(self.norm2(x))), k, v


class Audio2Motion(nn.Module):
    """Causal trunk and per-look-ahead heads; see the module docstring for the time grid."""

    def __init__(self, config: ModelConfig = ModelConfig()) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("feature_scale", torch.ones(config.feature_dim))
        self.project = nn.Linear(config.frames_per_step * config.feature_dim, config.dim)
        self.convs = nn.ModuleList(
            nn.Conv1d(config.dim, config.dim, config.conv_kernel) for _ in range(config.conv_layers)
        )
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.layers))
        self.norm = nn.LayerNorm(config.dim)
        n_heads = config.max_lookahead_steps + 1
        self.heads = nn.Linear(config.dim, n_heads * (NUM_POSE + config.n_phones))
        # Starts as the articulation model: its viseme targets, and each head's dominance
        # falling with the distance between the step it describes and the others'.
        targets = torch.from_numpy(viseme_weights()).clamp(1e-3, 1 - 1e-3)
        self.viseme_logits = nn.Parameter(torch.log(targets / (1 - targets)))
        distance = (torch.arange(n_heads)[:, None] - torch.arange(n_heads)[None, :]).abs().float()
        self.dominance = nn.Parameter(  # log, [head, describing head, phone]
            (-0.5 * distance)[:, :, None].repeat(1, 1, config.n_phones))
        self.shape_dominance = nn.Parameter(torch.zeros(config.n_phones, NUM_BLENDSHAPES))  # log

    def initial_state(self, batch: int = 1) -> StreamState:
        """The state before any audio: zero buffers of their final shapes, nothing real in them."""
        return self._state(batch, max(0, self.config.norm_window - 1), self.config.context_steps - 1)

    def _state(self, batch: int, mel_frames: int, cached_steps: int) -> StreamState:
        c, p = self.config, next(self.parameters())
        cache = (batch, c.heads, cached_steps, c.dim // c.heads)
        return StreamState(
            mel_history=p.new_zeros(batch, mel_frames, c.feature_dim),
            step_history=p.new_zeros(batch, c.conv_history, c.frames_per_step * c.feature_dim),
            keys=[p.new_zeros(cache) for _ in range(c.layers)],
            values=[p.new_zeros(cache) for _ in range(c.layers)],
            steps_done=torch.zeros((), dtype=torch.long, device=p.device),
        )

    def normalise(self, mel: torch.Tensor, history: torch.Tensor, frames_before: torch.Tensor | int | None = None):
        if not self.config.norm_window:
            return mel / self.feature_scale
        return (mel - running_mean(mel, history, self.config.norm_window, frames_before)) / self.feature_scale

    def forward(self, mel: torch.Tensor, state: StreamState | None = None):
        """Input frames (B, S*frames_per_step, feature_dim) -> head outputs (B, S, L+1, head_width), new state.

        ``state`` is the history from earlier chunks; ``None`` starts a stream
        and skips the empty padded history (same result as :meth:`initial_state`,
        less work for whole sequences). The mel count must be even (whole steps).
        """
        c = self.config
        if mel.shape[1] % c.frames_per_step:
            raise ValueError(f"input frames must come in whole steps of {c.frames_per_step}, got {mel.shape[1]}")
        state = self._state(mel.shape[0], 0, 0) if state is None else state
        normalised = self.normalise(mel, state.mel_history, c.frames_per_step * state.steps_done)
        stacked = normalised.reshape(mel.shape[0], -1, c.frames_per_step * c.feature_dim)
        steps = torch.cat([state.step_history, stacked], 1)
        x = self.project(steps).transpose(1, 2)
        for conv in self.convs:
            x = F.gelu(conv(x))
        x = x.transpose(1, 2)
        keys, values = [], []
        for block, past_k, past_v in zip(self.blocks, state.keys, state.values):
            x, k, v = block(x, past_k, past_v, state.steps_done)
            keys.append(k)
            values.append(v)
        out = self.heads_from_trunk(self.norm(x))
        new_state = StreamState(
            mel_history=keep_last(torch.cat([state.mel_history, mel], 1), max(0, c.norm_window - 1), 1),
            step_history=keep_last(steps, c.conv_history, 1),
            keys=keys,
            values=values,
            steps_done=state.steps_done + stacked.shape[1],
        )
        return out, new_state

    def heads_from_trunk(self, x: torch.Tensor) -> torch.Tensor:
        """Trunk features (B, S, dim) -> head outputs (B, S, L+1, head_width): weights, pose, phones."""
        c, (b, s, _) = self.config, x.shape
        n_heads = c.max_lookahead_steps + 1
        pose, logits = self.heads(x).view(b, s, n_heads, NUM_POSE + c.n_phones).split([NUM_POSE, c.n_phones], -1)
        weights = self.articulate(torch.softmax(logits, -1).detach())
        return torch.cat([weights, pose, logits], -1)

    def articulate(self, posteriors: torch.Tensor) -> torch.Tensor:
        """The articulation layer: phone posteriors (..., L+1, phones) of every head -> weights (..., L+1, 52)."""
        phone_weight = torch.einsum("...mp,lmp->...lp", posteriors, torch.exp(self.dominance))
        shape_weight = torch.exp(self.shape_dominance)
        targets = shape_weight * torch.sigmoid(self.viseme_logits)
        return (phone_weight @ targets) / (phone_weight @ shape_weight)

    def run(self, mel: np.ndarray, state: StreamState | None = None) -> tuple[np.ndarray, StreamState]:
        """One stream's chunk as numpy: mel (2S, n_mels) -> heads (S, L+1, head_width) float32, new state.

        The interface :mod:`.animate` drives, shared with the onnxruntime runner;
        put the model in eval mode first.
        """
        device = self.feature_scale.device
        with torch.inference_mode():
            out, state = self(torch.from_numpy(np.ascontiguousarray(mel, np.float32))[None].to(device), state)
        return out[0].float().cpu().numpy(), state

    def run_batch(self, mels: list[np.ndarray], states: list[StreamState | None]) -> list[tuple[np.ndarray, StreamState]]:
        """Many streams' chunks of one length in one call (what :meth:`run` does for each, batched):
        per call the network costs about the same for one stream or several."""
        if len({len(mel) for mel in mels}) != 1:
            raise ValueError("run_batch needs chunks of one length")
        device = self.feature_scale.device
        starts = [self.initial_state() if state is None else state for state in states]
        batch = StreamState(
            mel_history=torch.cat([s.mel_history for s in starts]),
            step_history=torch.cat([s.step_history for s in starts]),
            keys=[torch.cat(layer) for layer in zip(*(s.keys for s in starts))],
            values=[torch.cat(layer) for layer in zip(*(s.values for s in starts))],
            steps_done=torch.stack([s.steps_done.reshape(()) for s in starts]),
        )
        with torch.inference_mode():
            out, new = self(torch.from_numpy(np.stack(mels).astype(np.float32)).to(device), batch)
        out = out.float().cpu().numpy()
        return [(out[i], StreamState(new.mel_history[i:i + 1], new.step_history[i:i + 1],
                                     [k[i:i + 1] for k in new.keys], [v[i:i + 1] for v in new.values],
                                     new.steps_done[i]))
                for i in range(len(mels))]


def pad_for_lookahead(mel: np.ndarray, lookahead: int, config: ModelConfig = ModelConfig()) -> np.ndarray:
    """End-of-stream input padded with silence to whole steps plus ``lookahead`` steps, so every step gets its head."""
    per_step = config.frames_per_step
    pad = (-len(mel)) % per_step + per_step * lookahead
    return np.concatenate([mel, np.full((pad, mel.shape[1]), config.silence, np.float32)])


def head_rows(model: Audio2Motion, mel: np.ndarray, lookahead: int) -> torch.Tensor:
    """Whole-utterance outputs (S, head_width) of head ``lookahead``, row ``s`` describing step ``s``."""
    with torch.inference_mode():
        out, _ = model(torch.from_numpy(pad_for_lookahead(mel, lookahead, model.config))[None])
    return out[0, lookahead:, lookahead].float()


def split_heads(out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Head outputs -> blendshape weights in [0,1], pose, phone logits."""
    weights = out[..., :NUM_BLENDSHAPES]
    pose = out[..., NUM_BLENDSHAPES:NUM_BLENDSHAPES + NUM_POSE]
    return weights, pose, out[..., NUM_BLENDSHAPES + NUM_POSE:]


FORMAT_VERSION = 2  # 2: articulation layer on phone posteriors
ASSETS = Path(__file__).resolve().parent / "assets"
DEFAULT_WEIGHTS = {"mel": ASSETS / "a2m.pt", "whisper": ASSETS / "a2m_whisper.pt"}  # the shipped weights per ears
LIVE_WEIGHTS = {"mel": ASSETS / "a2m.pt", "whisper": ASSETS / "a2m_whisper_live.pt"}  # the same, for live sessions


def to_checkpoint(model: Audio2Motion) -> dict:
    """Config and weights (float16 to keep the shipped file small): what an ``a2m.pt`` holds."""
    state = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    return {"format_version": FORMAT_VERSION, "config": model.config.to_dict(), "state": state}


def from_checkpoint(saved: dict, source: str = "checkpoint", device: str = "cpu") -> Audio2Motion:
    """The model a checkpoint holds (an ``a2m.pt``'s contents, or an avatar's own weights); float32, eval mode."""
    try:
        if saved.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{source}: weights format {saved.get('format_version')}, this version reads "
                             f"{FORMAT_VERSION} (retrain with `talkinghead train-a2m`)")
        model = Audio2Motion(ModelConfig(**saved["config"]))
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in saved["state"].items()})
    except (AttributeError, KeyError, TypeError, RuntimeError) as error:
        raise ValueError(f"{source}: not an audio2motion weights file ({error})") from None
    return model.to(device).eval()


def model_identity(model: Audio2Motion) -> str:
    """``ears:digest``: which audio2motion made a result (its ears, and 12 hex digits of SHA-256 over
    its weights as a checkpoint stores them), e.g. what an avatar's calibration was fitted on."""
    digest = hashlib.sha256()
    for name, value in to_checkpoint(model)["state"].items():
        digest.update(name.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return f"{model.config.ears}:{digest.hexdigest()[:12]}"


def check_calibrated_on(model: Audio2Motion, calibrated_on: str | None, avatar: str = "the avatar",
                        remedy: str | None = None) -> None:
    """A one-line error when ``model`` is not the audio2motion ``avatar``'s calibration was fitted on
    (``calibrated_on`` ``ears:digest``, or bare ``ears`` from bundles that recorded no digest) nor shares
    its calibrations (``ModelConfig.calibrates_as``), ending with ``remedy`` (default: re-enroll, or
    choose the avatar's ears)."""
    if calibrated_on is None:
        return
    ears, _, digest = calibrated_on.partition(":")
    identity = model_identity(model)
    if ears != model.config.ears or (digest and calibrated_on not in (identity, model.config.calibrates_as)):
        raise ValueError(f"{avatar} was calibrated on audio2motion {calibrated_on}, this run hears with {identity}: "
                         f"{remedy or f're-enroll it, or choose --ears {ears}'}")


def save_model(model: Audio2Motion, path: str | Path) -> None:
    """Write :func:`to_checkpoint` as one ``.pt`` file."""
    torch.save(to_checkpoint(model), Path(path))


def load_model(path: str | Path | None = None, device: str = "cpu", ears: str = "mel",
               live: bool = False) -> Audio2Motion:
    """The shipped weights for ``ears`` (``path=None``; ``live``: the head live sessions stream with, on
    live windows for Whisper ears) or a trained ``a2m.pt``; float32, eval mode."""
    if ears not in DEFAULT_WEIGHTS:
        raise ValueError(f"ears must be one of {', '.join(DEFAULT_WEIGHTS)}, got {ears!r}")
    path = (LIVE_WEIGHTS if live else DEFAULT_WEIGHTS)[ears] if path is None else Path(path)
    if not path.exists():
        raise ValueError(f"{path}: no audio2motion weights there (train with `talkinghead train-a2m`)")
    try:
        saved = torch.load(path, map_location=device, weights_only=True)
    except (AttributeError, KeyError, TypeError, RuntimeError) as error:
        raise ValueError(f"{path}: not an audio2motion weights file ({error})") from None
    return from_checkpoint(saved, str(path), device)
