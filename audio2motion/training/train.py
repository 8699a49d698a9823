"""Training audio2motion on the teacher corpus: seeded, resumable, with a held-out split.

Every 20th utterance of the corpus is held out. A batch is random crops of
utterances (the crop starts a fresh stream, as a session does), SpecAugment
masks on the mel, and every look-ahead head is trained at once: head ``L``'s
output at trunk step ``i`` is compared with the target of step ``i - L``.
Losses: cross-entropy of the phone at that step (what the trunk learns), and
for the articulation layer on the (detached) phone posteriors the squared
error of the 52 weights (summed over shapes) and of the lip gap those weights
open on the reference face (the visible quantity lip-sync is judged on;
linear in the weights, so one dot product); the pose head is pulled towards
the target pose (zero for TTS speech, which has no head motion; per-avatar
fine-tuning on tracked video gives it real motion).

Besides SpecAugment, each crop's mel axis is warped by a random factor
(vocal-tract-length perturbation), for voices TTS does not have.

P/B/M steps weigh ``1 + closure_weight`` in the articulation layer's errors:
a bilabial that fails to close is the most visible lip-sync error, and
unweighted, the layer learns to hedge towards a half-open mouth whenever the
recogniser is unsure of a bilabial, as it often is on real voices. (Training
the layer on posteriors softened to look like real speech's did not help.)
``lip_shape_weight`` does the same for the vowels the lips, not the jaw, tell
apart (rounded UW OW W UH OY, spread IY IH EY EH AE). Both weights leave the
trunk untouched (the layer reads detached posteriors). On the tuning clips
``lip_shape_weight = 10`` raised rounding AUC by 0.02-0.04 but let bilabials
open again, as P/B/M then carried a smaller share of the error;
``closure_weight = 30`` beside it restores their closure. These classes are
also the lip-sync yardstick's, so the weights aim the layer at what lip sync
is judged on.

A checkpoint (model, optimiser, step, random states) is written every
``checkpoint_every`` steps and at the end; running again with the same output
directory resumes from it.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from talkinghead.audio2motion.model import (
    Audio2Motion,
    ModelConfig,
    load_model,
    model_identity,
    running_mean,
    save_model,
)
from talkinghead.audio2motion.phones import PHONE_INDEX, SILENCE
from talkinghead.audio2motion.training.corpus import Example, read_corpus
from talkinghead.audio2motion.training.whisper_corpus import read_features, sidecar_name
from talkinghead.contracts.arkit import NUM_BLENDSHAPES, NUM_POSE
from talkinghead.contracts.face_model import interocular, signed_lip_gap
from talkinghead.contracts.mouth_signals import reference_face

HELD_OUT_EVERY = 20
# These are also the yardstick's classes (aperture's negatives; rounding's two sides),
# so the weights aim the layer at what lip sync is judged on: say so when quoting gains.
CLOSURES = [PHONE_INDEX[p] for p in ("P", "B", "M")]
# Vowels told apart by the lips rather than the jaw: rounded, then spread.
LIP_SHAPED = [PHONE_INDEX[p] for p in ("UW", "OW", "W", "UH", "OY", "IY", "IH", "EY", "EH", "AE")]


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 2000
    batch: int = 16
    crop_steps: int = 250  # 5 s crops
    lr: float = 1e-3
    warmup: int = 100
    weight_decay: float = 0.01
    phone_loss: float = 1.0
    aperture_loss: float = 10.0  # squared error of the lip gap the weights make on the reference face
    pose_loss: float = 0.1
    freq_masks: int = 2
    freq_mask_bins: int = 12
    time_masks: int = 2
    time_mask_frames: int = 5  # mel frames; short, since lips still move under a masked sound
    mel_warp: float = 0.1  # mel axis stretched by a factor in [1 - w, 1 + w] per crop
    closure_weight: float = 30.0  # P/B/M steps count 1 + this in the weight and lip-gap errors
    lip_shape_weight: float = 10.0  # rounded and spread vowels' steps count 1 + this there
    seed: int = 0
    threads: int = 0  # 0: torch's default
    checkpoint_every: int = 200
    validate_every: int = 200

    def __post_init__(self) -> None:
        for name in ("closure_weight", "lip_shape_weight"):
            if not 0.0 <= getattr(self, name) < math.inf:
                raise ValueError(f"{name} must be a finite weight >= 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class Heard:
    """Utterances with what the network hears of each: its log-mel, or its Whisper features."""

    examples: list[Example]
    inputs: list[np.ndarray]  # per utterance (steps * frames_per_step, feature_dim)
    model: ModelConfig

    def split(self) -> tuple[Heard, Heard]:
        """Every ``HELD_OUT_EVERY``-th utterance held out."""
        held = [i % HELD_OUT_EVERY == HELD_OUT_EVERY - 1 for i in range(len(self.examples))]
        return self._pick(held, False), self._pick(held, True)

    def _pick(self, held: list[bool], keep: bool) -> Heard:
        return Heard([e for e, h in zip(self.examples, held) if h == keep],
                     [x for x, h in zip(self.inputs, held) if h == keep], self.model)


def hear_corpus(corpora: Sequence[Path], model: ModelConfig) -> Heard:
    """The corpora's utterances and their inputs for ``model.ears`` (Whisper features from the sidecars)."""
    examples, inputs = [], []
    for directory in corpora:
        found = read_corpus(directory)
        examples += found
        if model.ears == "whisper":
            inputs += read_features(directory, [len(e.weights) for e in found], name=sidecar_name(model.live_windowing))
        else:
            inputs += [e.mel for e in found]
    return Heard(examples, inputs, model)


def feature_scale(heard: Heard) -> torch.Tensor:
    """Per-dimension spread of the normalised inputs (running-mean-centred mel) over a sample of the corpus."""
    c = heard.model
    sample = [torch.from_numpy(x)[None] for x in heard.inputs[:200]]
    if c.norm_window:
        empty = torch.zeros(1, 0, c.feature_dim)
        sample = [m - running_mean(m, empty, c.norm_window) for m in sample]
    return torch.cat([m.reshape(-1, c.feature_dim) for m in sample]).std(0).clamp(min=0.1)


def make_batch(heard: Heard, config: TrainConfig, rng: np.random.Generator, augment: bool = True):
    """Random crops, padded with silence and masked, plus SpecAugment."""
    examples, per_step = heard.examples, heard.model.frames_per_step
    lengths = np.array([len(e.weights) for e in examples], np.float64)
    chosen = rng.choice(len(examples), size=config.batch, p=lengths / lengths.sum())
    dim = heard.model.feature_dim
    mel = np.full((config.batch, per_step * config.crop_steps, dim), heard.model.silence, np.float32)
    weights = np.zeros((config.batch, config.crop_steps, NUM_BLENDSHAPES), np.float32)
    phones = np.full((config.batch, config.crop_steps), PHONE_INDEX[SILENCE], np.int64)
    mask = np.zeros((config.batch, config.crop_steps), np.float32)
    for row, index in enumerate(chosen):
        example = examples[index]
        steps = len(example.weights)
        start = int(rng.integers(0, max(1, steps - config.crop_steps + 1)))
        stop = min(steps, start + config.crop_steps)
        n = stop - start
        mel[row, :per_step * n] = heard.inputs[index][per_step * start:per_step * stop]
        weights[row, :n] = example.weights[start:stop]
        phones[row, :n] = example.phones[start:stop]
        mask[row, :n] = 1.0
        if augment:
            _spec_augment(mel[row, :per_step * n], config, rng, warp=heard.model.ears == "mel")
    return (torch.from_numpy(mel), torch.from_numpy(weights), torch.from_numpy(phones), torch.from_numpy(mask))


def _spec_augment(mel: np.ndarray, config: TrainConfig, rng: np.random.Generator, warp: bool = True) -> None:
    """Masks in time and feature; on log-mel also a warp of the frequency axis (VTLP)."""
    if config.mel_warp and warp:
        bins = np.arange(mel.shape[1], dtype=np.float64)
        source = np.clip(bins * rng.uniform(1 - config.mel_warp, 1 + config.mel_warp), 0, mel.shape[1] - 1)
        low = np.floor(source).astype(int)
        high, frac = np.minimum(low + 1, mel.shape[1] - 1), (source - low).astype(np.float32)
        mel[:] = mel[:, low] * (1 - frac) + mel[:, high] * frac
    fill = mel.mean(0)
    for _ in range(config.freq_masks):
        width = int(rng.integers(0, config.freq_mask_bins + 1))
        low = int(rng.integers(0, mel.shape[1] - width + 1))
        mel[:, low:low + width] = fill[low:low + width]
    for _ in range(config.time_masks):
        width = int(rng.integers(0, config.time_mask_frames + 1))
        low = int(rng.integers(0, max(1, len(mel) - width + 1)))
        mel[low:low + width] = fill


@functools.lru_cache(maxsize=1)
def lip_gap_direction() -> torch.Tensor:
    """``c`` with lip gap = const + c·w (in IOD) on the reference face: the mesh is linear in w."""
    neutral, basis = reference_face()
    return torch.from_numpy(signed_lip_gap(basis) / interocular(neutral)).float()


def batch_loss(model: Audio2Motion, batch, config: TrainConfig) -> tuple[torch.Tensor, dict[str, float]]:
    mel, weights, phones, mask = batch
    direction = lip_gap_direction()
    out, _ = model(mel)
    closures = torch.isin(phones, torch.tensor(CLOSURES))
    lip_shaped = torch.isin(phones, torch.tensor(LIP_SHAPED))
    articulation_mask = mask * (1.0 + config.closure_weight * closures + config.lip_shape_weight * lip_shaped)
    heads = model.config.max_lookahead_steps + 1
    total = {"weights": 0.0, "aperture": 0.0, "phones": 0.0, "pose": 0.0}
    loss = mel.new_zeros(())
    for lookahead in range(heads):
        steps = out.shape[1] - lookahead
        pred = out[:, lookahead:, lookahead]
        m, am = mask[:, :steps], articulation_mask[:, :steps]
        denominator, articulation_denominator = m.sum().clamp(min=1.0), am.sum().clamp(min=1.0)
        w = pred[..., :NUM_BLENDSHAPES]
        error = w - weights[:, :steps]
        weight_err = ((error ** 2).sum(-1) * am).sum() / articulation_denominator
        aperture_err = (((error @ direction) ** 2) * am).sum() / articulation_denominator
        pose_err = ((pred[..., NUM_BLENDSHAPES:NUM_BLENDSHAPES + NUM_POSE] ** 2).sum(-1) * m).sum() / denominator
        logits = pred[..., NUM_BLENDSHAPES + NUM_POSE:]
        phone_err = (F.cross_entropy(logits.transpose(1, 2), phones[:, :steps], reduction="none") * m).sum() / denominator
        loss = loss + (weight_err + config.aperture_loss * aperture_err + config.phone_loss * phone_err
                       + config.pose_loss * pose_err) / heads
        total["weights"] += weight_err.item() / heads
        total["aperture"] += aperture_err.item() / heads
        total["phones"] += phone_err.item() / heads
        total["pose"] += pose_err.item() / heads
    return loss, total


def validate(model: Audio2Motion, held: Heard, config: TrainConfig) -> dict[str, float]:
    rng = np.random.default_rng(12345)
    model.eval()
    with torch.no_grad():
        parts = [batch_loss(model, make_batch(held, config, rng, augment=False), config)[1] for _ in range(4)]
    model.train()
    return {key: float(np.mean([p[key] for p in parts])) for key in parts[0]}


def learning_rate(step: int, config: TrainConfig) -> float:
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = (step - config.warmup) / max(1, config.steps - config.warmup)
    return config.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def train(
    corpus: Path | Sequence[Path], out_dir: Path, config: TrainConfig = TrainConfig(),
    model_config: ModelConfig = ModelConfig(), progress: bool = True, start_from: Path | None = None,
) -> Audio2Motion:
    """Train (or resume) on one or more corpus directories and write ``out_dir/a2m.pt``; returns the model.

    ``start_from``: a trained ``a2m.pt`` of the same network shape whose weights (input scale included)
    the run starts from instead of random ones, e.g. an offline Whisper head tuned to live windows."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    log = _logger(out_dir / "train.log")
    if config.threads:
        torch.set_num_threads(config.threads)
    corpora = [Path(corpus)] if isinstance(corpus, (str, Path)) else [Path(c) for c in corpus]
    heard = hear_corpus(corpora, model_config)
    train_set, held = heard.split()
    if not held.examples:
        raise ValueError(f"{' + '.join(map(str, corpora))}: too few utterances ({len(heard.examples)}) "
                         "for a held-out split")
    start = None if start_from is None else _start_model(start_from, model_config)
    if start is not None and model_config.live_windowing is not None and start.config.live_windowing is None:
        # the offline head tuned to live windows, on the same targets: avatars calibrated on it fit this one
        model_config = dataclasses.replace(model_config, calibrates_as=model_identity(start))
    torch.manual_seed(config.seed)
    model = Audio2Motion(model_config)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    rng = np.random.default_rng(config.seed)
    step = 0
    checkpoint = out_dir / "checkpoint.pt"
    if checkpoint.exists():
        saved = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(saved["model"])
        optimiser.load_state_dict(saved["optimiser"])
        rng.bit_generator.state = saved["rng"]
        torch.set_rng_state(saved["torch_rng"])
        step = saved["step"]
        log.info("resumed at step %d", step)
    elif start is not None:
        model.load_state_dict(start.state_dict())
        log.info("starting from the weights of %s", start_from)
    else:
        model.feature_scale.copy_(feature_scale(train_set))
    if step == 0:
        log.info("corpus %s (%s ears): %d train / %d held-out utterances, %.2f h; model %.2f M parameters; %s",
                 " + ".join(map(str, corpora)), model_config.ears, len(train_set.examples), len(held.examples),
                 sum(len(e.weights) for e in heard.examples) / 50 / 3600,
                 sum(p.numel() for p in model.parameters()) / 1e6, json.dumps(asdict(config)))
    model.train()
    bar = tqdm(total=config.steps, initial=step, desc="train audio2motion", unit="step", disable=not progress)
    started = time.time()
    while step < config.steps:
        for group in optimiser.param_groups:
            group["lr"] = learning_rate(step, config)
        loss, parts = batch_loss(model, make_batch(train_set, config, rng), config)
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        step += 1
        bar.update()
        bar.set_postfix(loss=f"{loss.item():.3f}")
        if step % config.validate_every == 0 or step == config.steps:
            held_out = validate(model, held, config)
            log.info("step %d train %s held-out %s (%.0f s)", step, _fmt(parts), _fmt(held_out), time.time() - started)
        if step % config.checkpoint_every == 0 or step == config.steps:
            tmp = checkpoint.with_suffix(".tmp")
            torch.save({"model": model.state_dict(), "optimiser": optimiser.state_dict(), "rng": rng.bit_generator.state,
                        "torch_rng": torch.get_rng_state(), "step": step}, tmp)
            tmp.replace(checkpoint)
    bar.close()
    model.eval()
    save_model(model, out_dir / "a2m.pt")
    return model


def _start_model(path: Path, config: ModelConfig) -> Audio2Motion:
    """The trained model at ``path``, if its network has ``config``'s shape and ears."""
    start = load_model(path, ears=config.ears)
    shape = dataclasses.replace(start.config, live_window=config.live_window, live_hop=config.live_hop,
                                dropout=config.dropout, calibrates_as=config.calibrates_as)
    if shape != config:
        raise ValueError(f"{path}: a network of another shape or ears ({start.config}); cannot start from it")
    return start


def _fmt(parts: dict[str, float]) -> str:
    return " ".join(f"{k}={v:.4f}" for k, v in parts.items())


def _logger(path: Path) -> logging.Logger:
    log = logging.getLogger(f"talkinghead.train.{path}")
    if not log.handlers:
        handler = logging.FileHandler(path)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    return log
