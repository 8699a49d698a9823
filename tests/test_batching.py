"""Different avatars' networks stacked into one call give each avatar's own output."""

import pytest
import torch

from talkinghead.renderer.batching import StackedNetworks
from talkinghead.renderer.lower_face import LowerFaceNet


def _trained_like(seed: int) -> LowerFaceNet:
    torch.manual_seed(seed)
    net = LowerFaceNet(width=8)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.1 * torch.randn_like(p))  # the head starts at zero: give every avatar its own output
    return net.eval()


def test_stacked_networks_match_each_network_alone():
    networks = [_trained_like(seed) for seed in range(3)]
    inputs = [torch.randn(n, 14, 32, 32) for n in (2, 1, 3)]  # sessions per avatar differ
    stacked = StackedNetworks(networks)(inputs)
    with torch.inference_mode():
        alone = [net(x) for net, x in zip(networks, inputs)]
    for a, b in zip(stacked, alone):
        assert a.shape == b.shape
        assert torch.allclose(a, b, atol=1e-3)
    with torch.inference_mode():
        assert not torch.allclose(networks[0](inputs[1]), alone[1], atol=1e-2)  # the avatars really differ


def test_networks_of_different_widths_do_not_stack():
    with pytest.raises(ValueError, match="one width"):
        StackedNetworks([LowerFaceNet(8), LowerFaceNet(16)])
