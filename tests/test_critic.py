"""The standard preset's patch critic: it learns to tell real texture from blur, and sees only the mask."""

import torch
import torch.nn.functional as F

from talkinghead.renderer.training.critic import PatchCritic, critic_loss, generator_loss


def textures(count: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Sharp random textures (B,3,32,32) in [0, 255] and the same blurred."""
    sharp = torch.rand(count, 3, 32, 32, generator=generator) * 255
    blurred = F.avg_pool2d(F.pad(sharp, (2, 2, 2, 2), mode="replicate"), 5, 1)
    return sharp, blurred


def test_the_critic_learns_to_score_sharp_texture_above_blur():
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    critic = PatchCritic(width=8)
    optimiser = torch.optim.Adam(critic.parameters(), lr=2e-3, betas=(0.5, 0.999))
    mask = torch.ones(8, 32, 32)
    for _ in range(60):
        sharp, blurred = textures(8, generator)
        optimiser.zero_grad()
        critic_loss(critic, sharp, blurred, mask).backward()
        optimiser.step()
    sharp, blurred = textures(8, generator)  # unseen images
    with torch.no_grad():
        assert critic(sharp, mask).mean() > critic(blurred, mask).mean() + 0.5
        assert generator_loss(critic, blurred, mask) > generator_loss(critic, sharp, mask)


def test_the_critic_sees_nothing_outside_its_mask():
    generator = torch.Generator().manual_seed(1)
    critic = PatchCritic(width=8).eval()
    a, b = textures(2, generator)
    mask = torch.zeros(2, 32, 32)
    mask[:, 8:24, 8:24] = 1
    b[:, :, 8:24, 8:24] = a[:, :, 8:24, 8:24]  # the same inside the mask, different outside
    with torch.no_grad():
        assert torch.equal(critic(a, mask), critic(b, mask))
        assert not torch.equal(critic(a, torch.ones(2, 32, 32)), critic(b, torch.ones(2, 32, 32)))
