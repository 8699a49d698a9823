"""Every GPU figure in one short run: audio2motion, the renderer, live sessions, enrollment and dubbing.

    python benchmarks/gpu_suite.py --device cuda [--out gpu_suite.md] [--budget-s 270] [--quick]

How to run it on a lent machine: ``benchmarks/GPU.md``. Each stage appends
its block to ``--out`` as soon as it ends (a run cut off still reports what
it measured) and prints it; a stage whose dependency is missing says which,
and one that fails says how in one line, and the next stage runs. The
stages stop starting when ``--budget-s`` is spent. It makes its own inputs:
the built-in avatar, the built-in sentence (festival TTS, shipped in the
package), and a talking video of the built-in avatar drawn by the engine.
``--quick`` (CI, on the CPU) runs every stage small, so it never rots.

Stages:

1. audio2motion: the live mel network's streaming step (one 40 ms chunk, two
   20 ms steps, per stream) batched across N streams; steps per second, and
   how many streams that is in real time (50 steps/s each); fp32, bf16 and
   (CUDA) fp16 under autocast; torch eager, the engine's ``run_batch`` path
   (per-session state split and joined), CUDA graphs (CUDA), and
   ``torch.compile`` (CUDA, not ``--quick``).
2. renderer: the ``standard`` preset's lower-face network per 256² face crop
   (it draws the crop's 128² lower-face region), batched, fp32 and fp16;
   its weights are untrained (the speed of the shipped architecture, not an
   avatar's); the tensor rasteriser's face maps of a 256² crop per batch; the
   built-in photo avatar's whole frames per batch (that renderer runs on the
   CPU whatever the device: measured as it is).
3. live sessions: N simultaneous realtime 25 fps video sessions of the
   built-in avatar on one ``Engine(device=...)``, in-process (no sockets),
   each fed the sentence at the wall clock's pace in 40 ms chunks; dropped
   frames and the p99 latency from the chunk that completes a frame's audio
   to the frame; N doubles until more than 1% are dropped or time runs out.
4. enrollment and dubbing (needs the ``track`` extra, MediaPipe, and PyAV):
   the built-in avatar driven into a 20 s talking MP4, enrolled with the
   trained preset (``standard``: tracking and training timed), then with
   the others on its track; each avatar's frames per batch; an offline dub
   of that video with other speech, its real-time factor.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import importlib.util
import os
import platform
import statistics
import sys
import tempfile
import time
import wave
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

RATE = 16000
FPS = 25
CHUNK_STEPS = 2  # one 40 ms chunk: a frame at 25 fps, two 20 ms network steps
OPTIONAL = ("av", "librosa", "mediapipe", "ctranslate2", "websockets", "onnxruntime", "numba")


class Skip(Exception):
    """A stage (or one measurement) that cannot run here, with the reason."""


def need(*modules: str) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise Skip(f"needs {', '.join(missing)}, not installed here")


class Report:
    """The RESULTS block, rewritten whole after every stage (atomically: a cut-off run leaves a whole file)."""

    def __init__(self, path: Path | None, header: list[str]) -> None:
        self.path, self.lines = path, list(header)
        self._write()

    def add(self, lines: list[str]) -> None:
        self.lines += [*lines, ""]
        print("\n".join(lines) + "\n", flush=True)
        self._write()

    def _write(self) -> None:
        if self.path is None:
            return
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text("\n".join(self.lines) + "\n")
        os.replace(partial, self.path)


class Budget:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def rate_of(run: Callable[[], object], device: str, calls: int, repeats: int = 3, cap_s: float = 2.0) -> float:
    """Calls per second of ``run``: the median of ``repeats`` timings of ``calls`` calls each (fewer where they
    would take over ``cap_s``: a slow configuration costs seconds, not minutes), after 2 warm-up calls."""
    for _ in range(2):
        run()
    rates = []
    for _ in range(repeats):
        sync(device)
        start, done = time.perf_counter(), 0
        while done < calls and (done == 0 or time.perf_counter() - start < cap_s):
            run()
            done += 1
        sync(device)
        rates.append(done / (time.perf_counter() - start))
    return statistics.median(rates)


def autocast(device: str, precision: str, cache: bool = True):
    """``precision``'s autocast (none for fp32); ``cache=False`` inside a CUDA graph capture, where autocast's
    cache of cast weights must not outlive the capture."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device, dtype=torch.bfloat16 if precision == "bf16" else torch.float16, cache_enabled=cache)


def precisions(device: str) -> list[str]:
    return ["fp32", "bf16", "fp16"] if device == "cuda" else ["fp32", "bf16"]


def sentence() -> tuple[np.ndarray, int]:
    """The built-in sentence (a PCM WAV in the package), read without PyAV."""
    from talkinghead.jobs.render import demo_audio

    with wave.open(str(demo_audio())) as wav:
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").reshape(-1, wav.getnchannels())
        return pcm.mean(axis=1).astype(np.float32) / 32768, wav.getframerate()


def speaking(batch: int):
    """``batch`` frames of a mouth in speech (the jaw between 0.1 and 0.5 open, lips apart): drawing a closed
    mouth skips the interior, which would flatter the speed."""
    from talkinghead.contracts.arkit import ARKIT_INDEX
    from talkinghead.contracts.coefficients import Coefficients

    blendshapes = np.zeros((batch, 52), np.float32)
    phase = (np.arange(batch) * 0.37 + 0.5) % 1
    blendshapes[:, ARKIT_INDEX["jawOpen"]] = 0.1 + 0.4 * phase
    blendshapes[:, ARKIT_INDEX["mouthFunnel"]] = 0.2 * (1 - phase)
    return Coefficients(blendshapes, np.zeros((batch, 6), np.float32), Fraction(FPS))


# ---------------------------------------------------------------- 1. audio2motion
def stage_audio2motion(args, budget: Budget) -> list[str]:
    need("librosa")
    from talkinghead.audio2motion.model import load_model

    device = args.device
    model = load_model(ears="mel", live=True, device=device).eval()
    config = model.config
    sizes = (1, 8) if args.quick else (1, 8, 32, 128)
    calls = 5 if args.quick else 50
    lines = ["### 1. audio2motion: batched streaming steps (the live mel network, one 40 ms chunk per stream a call)", "",
             "| streams N | precision | path | steps/s | streams in real time | ms per call |", "|---|---|---|---|---|---|"]
    generator = torch.Generator().manual_seed(0)

    def chunk(n: int) -> torch.Tensor:
        mel = torch.randn(n, CHUNK_STEPS * config.frames_per_step, config.feature_dim, generator=generator) - 4.0
        return mel.to(device)

    def row(n: int, precision: str, path: str, calls_per_s: float | str) -> str:
        if isinstance(calls_per_s, str):
            return f"| {n} | {precision} | {path} | {calls_per_s} | | |"
        steps = calls_per_s * n * CHUNK_STEPS
        return f"| {n} | {precision} | {path} | {steps:,.0f} | {steps / 50:,.0f} | {1000 / calls_per_s:.2f} |"

    for n in sizes:
        for precision in precisions(device):
            if budget.left() < 20:
                lines.append(f"| {n} | {precision} | (budget spent) | | | |")
                continue
            mel, state = chunk(n), model.initial_state(n)
            holder = {"state": state}

            def eager(mel=mel, holder=holder, precision=precision) -> None:
                with torch.inference_mode(), autocast(device, precision):
                    _, holder["state"] = model(mel, holder["state"])

            lines.append(row(n, precision, "eager", rate_of(eager, device, calls)))
            if device == "cuda":
                lines.append(row(n, precision, "CUDA graph", attempt(
                    lambda mel=mel, n=n, precision=precision: rate_of(graphed_step(model, mel, n, precision), device,
                                                                      calls))))
        if budget.left() > 20:
            mels = [np.random.default_rng(k).normal(-4, 1, (CHUNK_STEPS * config.frames_per_step, config.feature_dim))
                    .astype(np.float32) for k in range(n)]
            states = {"all": [None] * n}

            def engine_path(mels=mels, states=states) -> None:
                out = model.run_batch(mels, states["all"])
                states["all"] = [s for _, s in out]

            lines.append(row(n, "fp32", "engine run_batch", rate_of(engine_path, device, calls)))
    if device == "cuda" and not args.quick and budget.left() > 90:
        n = sizes[-1]
        mel, compiled = chunk(n), torch.compile(model)
        holder = {"state": model.initial_state(n)}

        def step() -> None:
            with torch.inference_mode(), autocast(device, "bf16"):
                _, holder["state"] = compiled(mel, holder["state"])

        started = time.perf_counter()
        first = attempt(step)
        compiled_in = f"compiled in {time.perf_counter() - started:.0f} s"
        lines.append(row(n, "bf16", f"torch.compile ({compiled_in})", first if isinstance(first, str)
                         else attempt(lambda: rate_of(step, device, calls))))
    return lines


def graphed_step(model, mel: torch.Tensor, n: int, precision: str) -> Callable[[], None]:
    """One chunk's step captured as a CUDA graph: the state lives in fixed buffers, copied forward after each
    replay (the streaming state's shapes never change once the history buffers are full)."""
    state = model.initial_state(n)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side), torch.no_grad(), autocast("cuda", precision, cache=False):
        for _ in range(3):
            model(mel, state)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph), torch.no_grad(), autocast("cuda", precision, cache=False):
        _, new = model(mel, state)

    def step() -> None:
        graph.replay()
        state.mel_history.copy_(new.mel_history)
        state.step_history.copy_(new.step_history)
        for old, fresh in zip(state.keys + state.values, new.keys + new.values):
            old.copy_(fresh)
        state.steps_done.copy_(new.steps_done)

    return step


# ---------------------------------------------------------------- 2. renderer
def stage_renderer(args, budget: Budget) -> list[str]:
    from talkinghead.contracts.face_model import FaceModel
    from talkinghead.renderer import raster
    from talkinghead.renderer.avatar import avatar_renderer, load_avatar
    from talkinghead.renderer.lower_face import IN_CHANNELS, LowerFaceNet, RegionConfig
    from talkinghead.renderer.standard import StandardConfig

    device = args.device
    batches = (1, 8) if args.quick else (1, 8, 32, 64)
    calls = 2 if args.quick else 10
    region = RegionConfig()
    lines = ["### 2. renderer", "",
             (f"The `standard` preset's lower-face network per {region.crop}² face crop (it draws the crop's "
             f"{region.size}² lower-face region; untrained weights: the architecture's speed, not an avatar's):"), "",
             "| batch | precision | crops/s | ms per batch |", "|---|---|---|---|"]
    net = LowerFaceNet(StandardConfig().width).to(device).eval()
    for batch in batches:
        x = torch.rand(batch, IN_CHANNELS, region.size, region.size, device=device) * 255
        for precision in ("fp32", "fp16" if device == "cuda" else "bf16"):
            if budget.left() < 15:
                lines.append(f"| {batch} | {precision} | (budget spent) | |")
                continue
            dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
            run_net = net.to(dtype)
            xs = x.to(dtype)

            def draw(run_net=run_net, xs=xs) -> None:
                with torch.inference_mode():
                    run_net(xs)

            per_s = rate_of(draw, device, calls)
            lines.append(f"| {batch} | {precision} | {per_s * batch:,.0f} | {1000 / per_s:.2f} |")

    face = FaceModel()
    lines += ["", (f"The tensor rasteriser (`raster.face_maps`, the face mesh of {len(face.triangles)} triangles "
              f"into a 256² crop, on {device}):"), "",
              "| batch | maps/s | ms per batch |", "|---|---|---|"]
    neutral, triangles = face.neutral.to(device), face.triangles.to(device)
    for batch in batches:
        if budget.left() < 15:
            break
        vertices = face(torch.from_numpy(speaking(batch).blendshapes.copy()))
        scale = 256 / 3.2
        screen = torch.stack([128 + scale * vertices[..., 0], 0.43 * 256 - scale * vertices[..., 1],
                              10 - vertices[..., 2]], -1).to(device)
        per_s = rate_of(lambda screen=screen: raster.face_maps(screen, (256, 256), neutral, triangles), device, calls)
        lines.append(f"| {batch} | {per_s * batch:,.0f} | {1000 / per_s:.2f} |")

    renderer = avatar_renderer(load_avatar(None, "torch", device))
    height, width = renderer.size
    lines += ["", (f"The built-in photo avatar's whole frames ({width}×{height}; the photo renderer runs on the CPU "
              "whatever the device):"), "", "| batch | frames/s | ms per batch |", "|---|---|---|"]
    for batch in batches:
        if budget.left() < 15:
            break
        coefficients = speaking(batch)
        per_s = rate_of(lambda coefficients=coefficients: renderer.draw(coefficients), "cpu", calls)
        lines.append(f"| {batch} | {per_s * batch:,.1f} | {1000 / per_s:.1f} |")
    return lines


# ---------------------------------------------------------------- 3. live sessions
async def live_round(engine, pcm: np.ndarray, sessions: int, seconds: float) -> dict:
    """``sessions`` realtime video sessions at once, each fed ``pcm`` at the wall clock's pace in 40 ms chunks."""
    from talkinghead.streaming.live import LiveConfig

    config = LiveConfig(fps=Fraction(FPS), lookahead_ms=100)
    chunk = RATE * 40 // 1000
    total = int(seconds * RATE) // chunk * chunk

    async def one(k: int) -> dict:
        audio = np.resize(np.roll(pcm, 3217 * k), total)  # the sentence over and over, each session from elsewhere
        pushed_at: list[tuple[int, float]] = []  # (samples pushed, when)
        latencies, frames = [], 0
        async with engine.session(None, RATE, config) as session:
            async def produce() -> None:
                start = time.monotonic()
                for offset in range(0, total, chunk):
                    await asyncio.sleep(max(0.0, start + offset / RATE - time.monotonic()))
                    await session.push_audio(audio[offset:offset + chunk])
                    pushed_at.append((offset + chunk, time.monotonic()))
                await session.end()

            producer = asyncio.create_task(produce())
            async for frame in session:
                frames += 1
                if frame.source is not None:
                    end = frame.source[1]
                    when = next((t for n, t in pushed_at if n >= end), None)
                    if when is not None:
                        latencies.append(time.monotonic() - when)
            await producer
            return {"frames": frames, "dropped": session.dropped, "latencies": latencies}

    runs = await asyncio.gather(*(one(k) for k in range(sessions)))
    frames, dropped = sum(r["frames"] for r in runs), sum(r["dropped"] for r in runs)
    p99 = [float(np.percentile(r["latencies"], 99)) * 1000 for r in runs if r["latencies"]]
    return {"frames": frames, "dropped": dropped, "share": dropped / max(1, frames + dropped),
            "p99": statistics.median(p99) if p99 else float("nan"), "worst": max(p99) if p99 else float("nan")}


def stage_live(args, budget: Budget) -> list[str]:
    need("librosa")
    from talkinghead.contracts.resample import resample
    from talkinghead.streaming.live import Engine

    samples, rate = sentence()
    pcm = np.clip(np.round(resample(samples, rate, RATE) * 32767), -32768, 32767).astype("<i2")
    seconds = 3.0 if args.quick else 8.0
    ladder = (1, 2) if args.quick else (1, 2, 4, 8, 16, 32, 48, 64, 96, 128)
    engine = Engine(device=args.device, max_sessions=max(ladder), ears=args.ears)
    lines = [(f"### 3. live sessions: realtime 25 fps video sessions of the built-in avatar, look-ahead 100 ms, "
             f"{engine.model.config.ears} ears, in-process, {seconds:g} s each"), "",
             "| sessions | frames | dropped | dropped % | median p99 latency ms | worst p99 ms |", "|---|---|---|---|---|---|"]
    held = 0
    try:
        for sessions in ladder:
            if budget.left() < seconds + 15:
                lines.append(f"| {sessions} | (budget spent) | | | | |")
                break
            result = asyncio.run(live_round(engine, pcm, sessions, seconds))
            lines.append(f"| {sessions} | {result['frames']} | {result['dropped']} | {100 * result['share']:.2f} | "
                         f"{result['p99']:.0f} | {result['worst']:.0f} |")
            if result["share"] >= 0.01:
                break
            held = sessions
    finally:
        engine.close()
    lines += ["", f"Held with < 1% dropped: **{held}** sessions (the last row above that did)."]
    return lines


# ---------------------------------------------------------------- 4. enrollment and dubbing
def stage_enroll_dub(args, budget: Budget) -> list[str]:
    need("mediapipe", "av", "librosa")
    from talkinghead.contracts.audio_io import write_wav
    from talkinghead.jobs.dub import DubConfig, dub
    from talkinghead.jobs.enroll import enroll_video
    from talkinghead.jobs.render import RenderConfig, render_file
    from talkinghead.renderer.avatar import avatar_renderer, load_avatar
    from talkinghead.renderer.standard import StandardConfig
    from talkinghead.renderer.tracking import Track
    from talkinghead.renderer.video import probe_video
    from talkinghead.renderer.video_avatar import PRESETS

    seconds = 4.0 if args.quick else 20.0
    steps = 10 if args.quick else StandardConfig().steps
    batches = (1, 8) if args.quick else (1, 8, 32)
    samples, rate = sentence()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        speech = np.tile(samples, int(np.ceil(seconds * rate / len(samples))))[: int(seconds * rate)]
        write_wav(work / "speech.wav", speech, rate)
        render_file(work / "speech.wav", work / "talking.mp4", config=RenderConfig(), progress=False)
        frames = probe_video(work / "talking.mp4").num_frames
        lines = [(f"### 4. enrollment and dubbing (a {seconds:g} s talking video of the built-in avatar, {frames} "
                 f"frames, drawn by the engine; {args.device})"), "",
                 ("| preset | enrollment s | " + " | ".join(f"frames/s at batch {b}" for b in batches) + " |"),
                 "|---|---|" + "---|" * len(batches)]
        track = None
        for preset in ("standard", *(p for p in PRESETS if p != "standard")):  # the trained preset tracks first
            if budget.left() < 30:
                lines.append(f"| {preset} | (budget spent) |" + " |" * len(batches))
                continue
            started = time.perf_counter()
            avatar = enroll_video(work / "talking.mp4", preset=preset, device=args.device, track=track,
                                  config=StandardConfig(steps=steps), work_dir=work / preset, progress=False)
            enrolled = time.perf_counter() - started
            avatar.save(work / preset)
            track = track or Track.load(work / preset / "track.npz")  # the others reuse the standard's track
            renderer = avatar_renderer(load_avatar(work / preset, "torch", args.device))
            rates = [rate_of(functools.partial(renderer.draw, speaking(b)), args.device, 2) * b for b in batches]
            what = f"{enrolled:.1f} ({'tracking and ' if preset == 'standard' else ''}" + (
                f"{steps} training steps)" if preset == "standard" else "the same track)")
            lines.append(f"| {preset} | {what} | " + " | ".join(f"{r:.1f}" for r in rates) + " |")
        if budget.left() > 30:
            write_wav(work / "new.wav", speech[::-1].copy(), rate)  # other sounds, the same length
            started = time.perf_counter()
            dub(work / "talking.mp4", work / "new.wav", work / "dubbed.mp4", avatar=work / "standard",
                config=DubConfig(), progress=False)
            dub_s = time.perf_counter() - started
            lines.append(f"\n- offline dub of the {seconds:g} s video with its `standard` avatar: {dub_s:.1f} s, "
                         f"real-time factor **{dub_s / seconds:.2f}** (wall time / speech time)")
    return lines


def one_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:200]


def attempt(measure: Callable[[], object]) -> object:
    """``measure()``, or how it failed in one line (the stage's other figures stand)."""
    try:
        return measure()
    except Exception as error:
        return f"failed: {type(error).__name__}: {one_line(error)}"


STAGES = [("audio2motion", stage_audio2motion), ("renderer", stage_renderer), ("live sessions", stage_live),
          ("enrollment and dubbing", stage_enroll_dub)]


def header(args) -> list[str]:
    if args.device == "cuda":
        properties = torch.cuda.get_device_properties(0)
        device = f"{properties.name}, {properties.total_memory / 2**30:.0f} GiB, CUDA {torch.version.cuda}"
    else:
        device = f"CPU ({os.cpu_count()} logical cores)"
    present = [m for m in OPTIONAL if importlib.util.find_spec(m) is not None]
    missing = [m for m in OPTIONAL if m not in present]
    return [f"## GPU suite on {device}", "",
            (f"`{' '.join(['python', 'benchmarks/gpu_suite.py', *sys.argv[1:]])}`, "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; Python {platform.python_version()}, "
            f"torch {torch.__version__}, numpy {np.__version__}; present: {', '.join(present) or 'none'}; "
            f"missing: {', '.join(missing) or 'none'}."), ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cuda")
    parser.add_argument("--out", type=Path, default=None, help="where the RESULTS block goes (rewritten after each stage)")
    parser.add_argument("--budget-s", type=float, default=270, help="no stage starts after this much time")
    parser.add_argument("--quick", action="store_true", help="every stage small (CI, on the CPU)")
    parser.add_argument("--ears", default="auto", help="the live sessions' ears (auto: Whisper where installed)")
    parser.add_argument("--stages", nargs="+", default=[name for name, _ in STAGES], choices=[name for name, _ in STAGES])
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("gpu_suite: --device cuda, but torch sees no CUDA device here (use --device cpu)")
    torch.manual_seed(0)
    budget = Budget(args.budget_s)
    report = Report(args.out, header(args))
    for name, stage in STAGES:
        if name not in args.stages:
            continue
        started = time.perf_counter()
        if budget.left() < 10:
            report.add([f"### {name}: not run (the {args.budget_s:g} s budget is spent)"])
            continue
        try:
            lines = stage(args, budget)
        except Skip as reason:
            lines = [f"### {name}: skipped ({reason})"]
        except Exception as error:  # one stage's failure is reported; the others still run
            lines = [f"### {name}: failed ({type(error).__name__}: {one_line(error)})"]
        report.add([*lines, "", f"({name}: {time.perf_counter() - started:.1f} s)"])
    print(f"gpu_suite: done in {args.budget_s - budget.left():.0f} s" + (f"; results in {args.out}" if args.out else ""))


if __name__ == "__main__":
    main()
