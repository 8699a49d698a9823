"""Many avatars' lower-face networks per tick: one call per avatar vs one stacked ``vmap`` call.

    python benchmarks/stacked_networks.py [--avatars 8] [--frames 1] [--runs 7] [--device cpu|cuda]

Each avatar has its own weights (randomised copies of the standard preset's
:class:`LowerFaceNet`, width 32, 128² region) and ``--frames`` frames due
this tick. ``loop`` runs the avatars one after another (the baseline, in
the same run); ``stacked`` runs :class:`talkinghead.renderer.batching.StackedNetworks`.
Medians over ``--runs`` repetitions; also the region crops per second.
"""

from __future__ import annotations

import argparse

import torch
from timing import median_seconds

from talkinghead.renderer.batching import StackedNetworks
from talkinghead.renderer.lower_face import IN_CHANNELS, LowerFaceNet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--avatars", type=int, default=8)
    parser.add_argument("--frames", type=int, default=1)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    args = parser.parse_args()
    networks = []
    for seed in range(args.avatars):
        torch.manual_seed(seed)
        net = LowerFaceNet(32)
        with torch.no_grad():
            for p in net.parameters():
                p.add_(0.05 * torch.randn_like(p))
        networks.append(net.to(args.device).eval())
    inputs = [torch.randn(args.frames, IN_CHANNELS, 128, 128, device=args.device) for _ in networks]
    stacked = StackedNetworks(networks)

    def loop() -> None:
        with torch.inference_mode():
            for net, x in zip(networks, inputs):
                net(x)

    def together() -> None:
        stacked(inputs)

    loop(), together()  # warm up
    seconds = {"loop": median_seconds(loop, args.runs, args.device),
               "stacked": median_seconds(together, args.runs, args.device)}
    crops = args.avatars * args.frames
    print(f"{args.avatars} avatars x {args.frames} frame(s), {args.device}, {torch.get_num_threads()} threads")
    print("| way | ms per tick | crops/s | / loop |")
    print("|---|---|---|---|")
    for name, value in seconds.items():
        print(f"| {name} | {value * 1000:.1f} | {crops / value:.0f} | {value / seconds['loop']:.2f} |")


if __name__ == "__main__":
    main()
