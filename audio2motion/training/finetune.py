"""Fine-tune audio2motion's articulation layer on one person's video (optional, off by default).

Only the layer that turns phone posteriors into weights is trained (viseme
targets and dominances, a few thousand numbers); the phone recogniser is
frozen, so its posteriors on the video's speech are computed once. The
caller gives per-frame targets in audio2motion's own scale (a video avatar
takes its tracked mouth back through its calibration, at the video's A/V
offset). A pull towards the shipped layer limits overfitting, which short
videos invite: a few seconds hold few examples of each phone.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch
from tqdm import tqdm

from talkinghead.audio2motion.animate import hear, lookahead_steps, run_blocks, step_position
from talkinghead.audio2motion.model import Audio2Motion, split_heads


@dataclass(frozen=True)
class FinetuneConfig:
    steps: int = 300
    learning_rate: float = 3e-3
    anchor_weight: float = 1.0  # squared distance to the shipped layer's parameters
    lookahead_ms: int = 100


def _posteriors(model: Audio2Motion, mel: np.ndarray) -> torch.Tensor:
    """Phone posteriors of every head (S, L+1, phones) over a whole utterance (the frozen part)."""
    return torch.cat([torch.softmax(split_heads(torch.from_numpy(out))[2], -1) for out in run_blocks(model, mel)])


def finetune_articulation(model: Audio2Motion, samples: np.ndarray, rate: int, fps: Fraction, frames: np.ndarray,
                          targets: np.ndarray, channels: list[int], config: FinetuneConfig = FinetuneConfig(),
                          progress: bool = True) -> tuple[Audio2Motion, float, float]:
    """A copy of ``model`` whose articulation layer fits ``targets``; also the mean L1 before and after.

    ``frames`` (N,): output frame indices at ``fps`` of the speech
    ``samples``; ``targets`` (N,52): the weights wanted there, in
    audio2motion's scale; ``channels``: the channels that count.
    """
    tuned = copy.deepcopy(model).float().eval()
    head = lookahead_steps(tuned, config.lookahead_ms)
    mel = hear(tuned.config, samples, rate, head)
    posteriors = _posteriors(tuned, mel)[head:]  # row s describes step s
    position = np.clip(step_position(np.asarray(frames, np.float64), fps), 0, len(posteriors) - 1)
    low = torch.from_numpy(np.floor(position).astype(np.int64))
    high = (low + 1).clamp(max=len(posteriors) - 1)
    frac = torch.from_numpy(position - np.floor(position)).float()[:, None]
    target = torch.from_numpy(np.asarray(targets, np.float32)[:, channels])
    parameters = [tuned.viseme_logits, tuned.dominance, tuned.shape_dominance]
    anchors = [p.detach().clone() for p in parameters]
    for p in tuned.parameters():
        p.requires_grad_(False)
    for p in parameters:
        p.requires_grad_(True)
    optimiser = torch.optim.Adam(parameters, lr=config.learning_rate)

    def fit_error() -> torch.Tensor:
        steps = tuned.articulate(posteriors)[:, head]  # (S,52)
        per_frame = steps[low] * (1 - frac) + steps[high] * frac
        return (per_frame[:, channels] - target).abs().mean()

    with torch.no_grad():
        before = float(fit_error())
    for _ in tqdm(range(config.steps), desc="fine-tune audio2motion", unit="step", disable=not progress):
        anchor = sum(((p - a) ** 2).mean() for p, a in zip(parameters, anchors))
        value = fit_error() + config.anchor_weight * anchor
        optimiser.zero_grad()
        value.backward()
        optimiser.step()
    for p in parameters:
        p.requires_grad_(False)
    with torch.no_grad():
        after = float(fit_error())
    return tuned.eval(), before, after
