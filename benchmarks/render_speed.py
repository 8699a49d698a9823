"""An avatar's live path per frame on this machine: audio2motion, render, JPEG.

    python benchmarks/render_speed.py [--avatar DIR] [--backend torch|onnx] [--runs 5] [--frames 60] [--threads 1]

Stages, each per 30 fps frame of the avatar (default: the built-in photo
avatar, 490x478, whose warp touches a ~270x245 window around the face; a
video avatar of a 256² talking clip is the issue's "256² face crop"), median
over ``--runs`` repetitions of ``--frames`` frames:
- ``a2m``: 1/30 s of 16 kHz speech through :class:`StreamingAnimator`
  (shipped weights, torch);
- ``render``: ``draw`` one frame at a time (the live case), and
  ``render x8`` in batches of 8 (offline), per frame;
- ``jpeg``: the frame encoded as JPEG (PyAV's mjpeg, quality ~90);
- ``static``: the baseline in the same run: the base frame copied and JPEG
  encoded, what a frame costs with no face motion at all;
- ``raster (kernel)`` and ``raster (tensors)``: the photo avatar's warp mesh
  (face and band) rasterised by the compiled CPU kernel, and by the tensor
  path the GPU runs, here on the CPU (the kernel's baseline; the same maps).
The ``live`` row is a2m + render + jpeg, and its frames per second; ratios to
``static`` stay meaningful on a busy machine.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from timing import median_seconds

from talkinghead.audio2motion.animate import StreamingAnimator
from talkinghead.audio2motion.model import load_model
from talkinghead.contracts.arkit import ARKIT_INDEX
from talkinghead.contracts.coefficients import Coefficients
from talkinghead.renderer import raster
from talkinghead.renderer.avatar import avatar_renderer, load_avatar
from talkinghead.streaming.codecs import JpegEncoder

RATE = 16000
FPS = 30


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--avatar", default=None, help="avatar bundle (default: the built-in photo avatar)")
    parser.add_argument("--backend", choices=("torch", "onnx"), default="torch", help="a standard avatar's network")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    renderer = avatar_renderer(load_avatar(args.avatar, args.backend))
    height, width = renderer.size
    still = renderer.draw(Coefficients.zeros(1, FPS))[0]
    encode = JpegEncoder(width, height)
    rng = np.random.default_rng(0)
    weights = np.zeros((args.frames, 52), np.float32)
    weights[:, ARKIT_INDEX["jawOpen"]] = rng.uniform(0, 0.5, args.frames)
    weights[:, ARKIT_INDEX["mouthFunnel"]] = rng.uniform(0, 0.3, args.frames)
    pose = np.zeros((args.frames, 6), np.float32)
    pose[:, :3] = rng.normal(0, 0.02, (args.frames, 3))
    speech = (rng.standard_normal(args.frames * RATE // FPS) * 0.1).astype(np.float32)
    model = load_model()
    encode(still)  # warm up
    driving = Coefficients(weights, pose, FPS)
    renderer.draw(driving[:8])

    def a2m() -> None:
        animator = StreamingAnimator(model, RATE, FPS, 100)
        for k in range(args.frames):
            animator.push(speech[k * RATE // FPS:(k + 1) * RATE // FPS])

    def render_one() -> None:
        for k in range(args.frames):
            renderer.draw(driving[k:k + 1])

    def render_batched() -> None:
        for k in range(0, args.frames, 8):
            renderer.draw(driving[k:k + 8])

    frames = renderer.draw(driving)

    def jpeg() -> None:
        for frame in frames:
            encode(frame)

    def static() -> None:
        for _ in range(args.frames):
            encode(still.copy())

    stages = {"a2m": a2m, "render": render_one, "render x8": render_batched, "jpeg": jpeg, "static": static}
    if hasattr(renderer, "warp"):  # a photo avatar: its warp mesh as the rasteriser sees it
        meshes = [renderer.warp.window_mesh(renderer.targets(weights[k:k + 1], pose[k:k + 1]))
                  for k in range(args.frames)]
        window = renderer.warp.window
        size = (window[1] - window[0], window[3] - window[2])
        stages["raster (kernel)"] = lambda: [raster.rasterize(m, renderer.warp.triangles, size) for m in meshes]
        stages["raster (tensors)"] = lambda: [raster.rasterize_tensors(m[:, renderer.warp.triangles], size)
                                              for m in meshes]
    seconds = {name: median_seconds(run, args.runs) / args.frames for name, run in stages.items()}
    seconds["live"] = seconds["a2m"] + seconds["render"] + seconds["jpeg"]
    print(f"{args.avatar or 'built-in avatar'} ({args.backend}): {args.threads} thread(s), {args.runs} runs of "
          f"{args.frames} frames, frame {width}x{height}")
    print("| stage | ms per frame | frames/s | / static |")
    print("|---|---|---|---|")
    for name, value in seconds.items():
        print(f"| {name} | {value * 1000:.2f} | {1 / value:.0f} | {value / seconds['static']:.1f} |")


if __name__ == "__main__":
    main()
