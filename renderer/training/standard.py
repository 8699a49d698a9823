"""The ``standard`` preset: per avatar, train :mod:`talkinghead.renderer.lower_face`'s network on the enrollment video.

Training examples pair every enrollment frame (the target, its real lower
face the truth) with base frames from *other* times, at least ``base_gap``
frames away: the quick preset draws the base frame with the target's
tracked mouth, exactly as at render time, and the network learns what the
warp cannot (the jaw's shading, the lips' real texture, the teeth). The
mouth interiors and references it is given also come from at least
``base_gap`` frames away, so it never sees its own answer. The loss is
:func:`talkinghead.renderer.lower_face.loss`; ``adversarial_weight > 0`` adds, after the first
30% of the steps, a patch critic's term (:mod:`.critic`). It is off by
default: at 0.1 it sharpened the tuning clip (frame-space sharpness ratio
0.69 -> 0.87, -0.65 dB) but lost on Obama_clip2 (0.79 -> 0.68, -0.18 dB).
Training is seeded, shows a progress bar, and resumes from its checkpoint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from talkinghead.contracts.face_model import FaceModel
from talkinghead.renderer.crops import CropView
from talkinghead.renderer.lower_face import Geometry, LowerFaceNet, loss
from talkinghead.renderer.mouth_bank import MouthBank
from talkinghead.renderer.standard import (
    BaseRegion,
    Drawn,
    References,
    StandardConfig,
    require_device,
)
from talkinghead.renderer.training.critic import PatchCritic, critic_loss, generator_loss


@dataclass(frozen=True)
class Enrollment:
    """The tracked enrollment frames, cut to the network's region."""

    regions: np.ndarray  # (T,S,S,3) uint8: each frame's region in its own (smoothed) crop
    views: list[CropView]  # each region's view of its video frame
    landmarks: np.ndarray  # (T,478,3) image pixels
    blendshapes: np.ndarray  # (T,52)
    pose: np.ndarray  # (T,6)
    face: FaceModel
    mouths: MouthBank


def pick_references(keys: np.ndarray, count: int) -> np.ndarray:
    """Frame indices spread over the mouth channels (farthest-point sampling from the most closed)."""
    keys = np.asarray(keys, np.float64)
    chosen = [int(np.argmin(keys.sum(1)))]
    distance = ((keys - keys[chosen[0]]) ** 2).sum(1)
    for _ in range(min(count, len(keys)) - 1):
        chosen.append(int(np.argmax(distance)))
        distance = np.minimum(distance, ((keys - keys[chosen[-1]]) ** 2).sum(1))
    return np.array(sorted(set(chosen)))


def build_examples(enrollment: Enrollment, references: References, config: StandardConfig,
                   progress: bool = True) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Training inputs (stacked :class:`Drawn` fields) and truths (N,S,S,3) uint8."""
    count = len(enrollment.regions)
    rng = np.random.default_rng(config.seed)
    targets = np.arange(count)
    if count * config.bases_per_target > config.max_examples:
        targets = np.sort(rng.choice(count, config.max_examples // config.bases_per_target, replace=False))
    frames = np.arange(count)
    fields: dict[str, list[torch.Tensor]] = {}
    truths = []
    bases: dict[int, BaseRegion] = {}
    bar = tqdm(total=len(targets) * config.bases_per_target, desc="standard: examples", unit="example",
               disable=not progress)
    for t in targets:
        far = np.abs(frames - t) >= config.base_gap
        candidates = frames[far] if far.any() else frames[frames != t]
        for b in rng.choice(candidates, config.bases_per_target):
            if b not in bases:
                e = enrollment
                bases[b] = BaseRegion(e.regions[b], e.views[b], e.landmarks[b], e.blendshapes[b], e.pose[b], e.face,
                                      config.region)
            reference = references.nearest(enrollment.blendshapes[t], t, config.base_gap)
            drawn = bases[b].draw(enrollment.blendshapes[t], enrollment.mouths, reference, far if far.any() else None)
            for name, value in _compact(drawn).items():
                fields.setdefault(name, []).append(value)
            truths.append(torch.from_numpy(enrollment.regions[t]))
            bar.update()
    bar.close()
    return {name: torch.cat(values) for name, values in fields.items()}, torch.stack(truths)


def _compact(drawn: Drawn) -> dict[str, torch.Tensor]:
    """A Drawn's tensors in small dtypes, for keeping a thousand of them in memory."""
    return {
        "drawn": drawn.drawn, "base": drawn.base, "hard": drawn.hard, "soft": drawn.soft.half(),
        "canonical": drawn.target.canonical.half(), "mouth_hole": drawn.target.mouth,
        "lower": drawn.target.lower, "reference": drawn.reference, "mouth": drawn.mouth.bool(),
    }


def _batch(fields: dict[str, torch.Tensor], index: torch.Tensor) -> Drawn:
    f = {name: value[index] for name, value in fields.items()}
    return Drawn(f["drawn"], f["base"], f["hard"], f["soft"].float(),
                 Geometry(f["canonical"].float(), f["mouth_hole"], f["lower"]), f["reference"], f["mouth"].float())


def train_network(fields: dict[str, torch.Tensor], truths: torch.Tensor, config: StandardConfig,
                  checkpoint: Path | None = None, device: str = "cpu", progress: bool = True) -> LowerFaceNet:
    """Train a :class:`LowerFaceNet` on built examples; resumes from ``checkpoint`` when it exists.

    Returns the network on the CPU, in eval mode.
    """
    require_device(device)
    torch.manual_seed(config.seed)
    net = LowerFaceNet(config.width).to(device)
    optimiser = torch.optim.Adam(net.parameters(), lr=config.learning_rate)
    critic = PatchCritic().to(device) if config.adversarial_weight > 0 else None
    critic_optimiser = None if critic is None else \
        torch.optim.Adam(critic.parameters(), lr=config.critic_learning_rate, betas=(0.5, 0.999))
    warmup = max(1, config.steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(  # linear warm-up, cosine decay
        optimiser, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, config.steps) / config.steps)))
    generator = torch.Generator().manual_seed(config.seed)
    step = 0
    if checkpoint is not None and checkpoint.is_file():
        state = torch.load(checkpoint, weights_only=False, map_location=device)
        net.load_state_dict(state["net"])
        optimiser.load_state_dict(state["optimiser"])
        schedule.load_state_dict(state["schedule"])
        generator.set_state(state["generator"])
        if critic is not None and "critic" in state:
            critic.load_state_dict(state["critic"])
            critic_optimiser.load_state_dict(state["critic_optimiser"])
        step = state["step"]
    adversarial_from = int(config.adversarial_start * config.steps)
    bar = tqdm(total=config.steps, initial=step, desc="standard: train", unit="step", disable=not progress)
    net.train()
    while step < config.steps:
        index = torch.randint(len(truths), (config.batch,), generator=generator)
        batch = _batch(fields, index)
        soft, truth = batch.soft.to(device), truths[index].permute(0, 3, 1, 2).float().to(device)
        output = net(batch.network_input().to(device))
        value = loss(output, truth, soft, batch.mouth.to(device), config.mouth_weight, config.ssim_weight)
        if critic is not None and step >= adversarial_from:
            critic_optimiser.zero_grad()
            critic_loss(critic, truth, output, soft).backward()
            critic_optimiser.step()
            value = value + config.adversarial_weight * generator_loss(critic, output, soft)
        optimiser.zero_grad()
        value.backward()
        norm = torch.nn.utils.clip_grad_norm_(net.parameters(), config.clip_norm)
        if torch.isfinite(norm):  # a non-finite batch is skipped, not learnt
            optimiser.step()
        schedule.step()
        step += 1
        bar.update()
        bar.set_postfix(loss=f"{value.item():.4f}")
        if checkpoint is not None and (step % config.checkpoint_every == 0 or step == config.steps):
            state = {"net": net.state_dict(), "optimiser": optimiser.state_dict(), "schedule": schedule.state_dict(),
                     "generator": generator.get_state(), "step": step}
            if critic is not None:
                state |= {"critic": critic.state_dict(), "critic_optimiser": critic_optimiser.state_dict()}
            checkpoint.parent.mkdir(parents=True, exist_ok=True)
            torch.save(state, checkpoint)
    bar.close()
    return net.cpu().eval()


def training_errors(net: LowerFaceNet, fields: dict[str, torch.Tensor], truths: torch.Tensor,
                    count: int = 64) -> tuple[float, float]:
    """Masked mean absolute error (0-255) of the network and of the quick drawing on ``count`` examples.

    A trained network must beat the drawing it corrects; if it does not,
    training failed and the avatar should not be saved as ``standard``.
    """
    index = torch.linspace(0, len(truths) - 1, min(count, len(truths))).long()
    batch = _batch(fields, index)
    truth = truths[index].float()
    weight = batch.soft[..., None]
    with torch.inference_mode():
        output = net(batch.network_input()).permute(0, 2, 3, 1)

    def error(image: torch.Tensor) -> float:
        return float(((image.float() - truth).abs() * weight).sum() / (weight.sum() * 3).clamp(min=1))

    return error(output), error(batch.drawn)
