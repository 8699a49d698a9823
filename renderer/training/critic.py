"""A patch critic, trained here with each avatar: the standard preset's adversarial term.

An L1/SSIM loss on pairs whose skin texture never lines up exactly (the
base frame is from another time) is least when the network blurs; a critic
that tells real lower faces from drawn ones, patch by patch, pays the
network back for real texture and sharp teeth. Both see only the blend
mask's area (the images are multiplied by it), so the mask's shape tells
them nothing. Hinge losses, spectral-normalised convolutions; the critic
is thrown away after training.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


class PatchCritic(nn.Module):
    """Images (B,3,S,S) in [0, 255] and a mask (B,S,S) -> realism scores (B,1,S/8,S/8), one per ~40 px patch."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for out in (width, 2 * width, 4 * width):
            layers += [spectral_norm(nn.Conv2d(channels, out, 4, 2, 1)), nn.LeakyReLU(0.2)]
            channels = out
        layers.append(spectral_norm(nn.Conv2d(channels, 1, 3, 1, 1)))
        self.layers = nn.Sequential(*layers)

    def forward(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.layers((images / 255 - 0.5) * mask[:, None])


def critic_loss(critic: PatchCritic, real: torch.Tensor, drawn: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Hinge loss for the critic (``drawn`` detached: this step trains the critic only)."""
    return F.relu(1 - critic(real, mask)).mean() + F.relu(1 + critic(drawn.detach(), mask)).mean()


def generator_loss(critic: PatchCritic, drawn: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The network's adversarial term: raise the critic's score of what it drew."""
    return -critic(drawn, mask).mean()
