"""audio2motion speed: torch against onnxruntime, streamed 40 ms chunks and whole files.

    python benchmarks/a2m_speed.py [--runs 5] [--chunks 500] [--threads 1 2] [--weights a2m.pt]

Per thread count and backend:
- ``net``: one 40 ms chunk (2 steps, 4 mel frames) through the network's
  ``run``, median and p99 over ``--chunks`` chunks;
- ``push``: the same through :class:`StreamingAnimator` (16 kHz PCM in, 30 fps
  coefficients out: front end, network, frame sampling);
- ``rtf``: :func:`animate` on 60 s of 16 kHz audio, seconds per second of audio.
Each figure is the median over ``--runs`` repetitions; ``onnx/torch`` is the
ratio within the same run, which stays meaningful on a busy machine. Random
weights (default ``ModelConfig``) unless ``--weights``; speed does not depend
on the weights.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from talkinghead.audio2motion.animate import StreamingAnimator, animate
from talkinghead.audio2motion.model import MELS_PER_STEP, Audio2Motion, ModelConfig, load_model
from talkinghead.audio2motion.onnx_export import OnnxAudio2Motion

SAMPLE_RATE = 16000
CHUNK_SAMPLES = SAMPLE_RATE // 25  # 40 ms
WARMUP = 20


def audio(seconds: float) -> np.ndarray:
    """Noise bursts with pauses (speed does not depend on content, but keep the features moving)."""
    rng = np.random.default_rng(0)
    n = int(seconds * SAMPLE_RATE)
    envelope = (np.sin(np.arange(n) / SAMPLE_RATE * 2 * np.pi * 3) > 0).astype(np.float32)
    return (rng.standard_normal(n) * 0.1 * envelope).astype(np.float32)


def chunk_costs(step, chunks: int) -> list[float]:
    """Seconds per call of ``step(i)`` for ``chunks`` calls after a warm-up."""
    for i in range(WARMUP):
        step(i)
    costs = []
    for i in range(WARMUP, WARMUP + chunks):
        start = time.perf_counter()
        step(i)
        costs.append(time.perf_counter() - start)
    return costs


def measure(network, chunks: int, pcm: np.ndarray, long_audio: np.ndarray) -> dict[str, float]:
    mel = np.random.default_rng(1).standard_normal((2 * MELS_PER_STEP, network.config.n_mels)).astype(np.float32) - 6
    state = [None]

    def net_step(_: int) -> None:
        state[0] = network.run(mel, state[0])[1]

    animator = StreamingAnimator(network, SAMPLE_RATE, 30, 100)

    def push_step(i: int) -> None:
        animator.push(pcm[i * CHUNK_SAMPLES:(i + 1) * CHUNK_SAMPLES])

    net, push = chunk_costs(net_step, chunks), chunk_costs(push_step, chunks)
    start = time.perf_counter()
    animate(network, long_audio, SAMPLE_RATE, 30, 100)
    rtf = (time.perf_counter() - start) / (len(long_audio) / SAMPLE_RATE)
    return {
        "net median ms": 1e3 * statistics.median(net), "net p99 ms": 1e3 * float(np.percentile(net, 99)),
        "push median ms": 1e3 * statistics.median(push), "push p99 ms": 1e3 * float(np.percentile(push, 99)),
        "rtf": rtf,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--chunks", type=int, default=500)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the offline file")
    parser.add_argument("--weights", help="a2m.pt (default: random init of ModelConfig())")
    parser.add_argument("--providers", nargs="+", default=["CPUExecutionProvider"], help="onnxruntime providers")
    args = parser.parse_args()

    if args.weights:
        model = load_model(args.weights)
    else:
        torch.manual_seed(0)
        model = Audio2Motion(ModelConfig()).eval()
    pcm, long_audio = audio((args.chunks + WARMUP + 1) * CHUNK_SAMPLES / SAMPLE_RATE), audio(args.seconds)
    print(f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters, {args.runs} runs, "
          f"{args.chunks} chunks of 40 ms, {args.seconds:.0f} s offline, onnxruntime {args.providers}")
    keys = ("net median ms", "net p99 ms", "push median ms", "push p99 ms", "rtf")
    print(f"{'threads':>7} {'backend':>12} " + " ".join(f"{k:>14}" for k in keys))
    for threads in args.threads:
        torch.set_num_threads(threads)
        onnx = OnnxAudio2Motion.from_model(model, threads=threads, providers=args.providers)
        runs = {"torch": [], "onnx": [], "onnx/torch": []}
        for _ in range(args.runs):
            a, b = measure(model, args.chunks, pcm, long_audio), measure(onnx, args.chunks, pcm, long_audio)
            runs["torch"].append(a)
            runs["onnx"].append(b)
            runs["onnx/torch"].append({k: b[k] / a[k] for k in keys})
        for backend, results in runs.items():
            row = [statistics.median(r[k] for r in results) for k in keys]
            print(f"{threads:>7} {backend:>12} " + " ".join(f"{v:>14.3f}" for v in row))


if __name__ == "__main__":
    main()
