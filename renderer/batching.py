"""Running many avatars' networks in one batch: the rule the live engine follows.

Every ``standard`` avatar has its own weights but the same architecture
(:class:`.lower_face.LowerFaceNet` at one width). Per tick the engine groups
the frames due across sessions:
- sessions of the *same* avatar share one network: their frames are simply
  concatenated into one batch (``batch per avatar``);
- *different* avatars are stacked: their weights become one set of tensors
  with a leading avatar axis (``torch.func.stack_module_state``) and one
  ``vmap``-ed call runs them all, each avatar's frames padded to the
  largest group. On a GPU that is one launch sequence for every session
  instead of one per avatar; on a CPU it saves little (the convolutions
  dominate either way), so the engine stacks only on CUDA.
Networks of different widths cannot stack; they run as separate groups.
"""

from __future__ import annotations

import copy

import torch
from torch.func import functional_call, stack_module_state

from talkinghead.renderer.lower_face import LowerFaceNet


class StackedNetworks:
    """Several :class:`LowerFaceNet` of one width, run together on per-avatar batches."""

    def __init__(self, networks: list[LowerFaceNet]) -> None:
        if not networks:
            raise ValueError("no networks to stack")
        widths = {net.width for net in networks}
        if len(widths) != 1:
            raise ValueError(f"only networks of one width stack, got widths {sorted(widths)}")
        self.params, self.buffers = stack_module_state([net.eval() for net in networks])
        self._skeleton = copy.deepcopy(networks[0]).to("meta")

    def __call__(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        """One input batch (B_i,14,S,S) per network, in order -> each network's output (B_i,3,S,S)."""
        if len(inputs) != len(next(iter(self.params.values()))):
            raise ValueError(f"expected {len(next(iter(self.params.values())))} input batches, got {len(inputs)}")
        largest = max(len(x) for x in inputs)
        padded = torch.stack([torch.cat([x, x.new_zeros(largest - len(x), *x.shape[1:])]) for x in inputs])

        def one(params, buffers, x):
            return functional_call(self._skeleton, (params, buffers), (x,))

        with torch.inference_mode():
            out = torch.vmap(one)(self.params, self.buffers, padded)
        return [o[: len(x)] for o, x in zip(out, inputs)]
