"""Offline render: speech (or a coefficients file) -> an avatar's video with the speech, as MP4.

Frame ``k`` of the video is presented at ``k / fps`` and there are exactly
``ceil(N * fps / sr)`` of them for ``N`` audio samples (the project's clock),
so audio and video durations agree within one frame. The audio is written
as AAC at 48 kHz.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from tqdm import tqdm

from talkinghead.audio2motion.model import Audio2Motion
from talkinghead.coefficients import Coefficients

AUDIO_OUT_RATE = 48000


def demo_audio() -> Path:
    """The built-in demo sentence: festival speech made by ``scripts/build_default_avatar.py``."""
    import importlib.resources

    return Path(str(importlib.resources.files("talkinghead").joinpath("assets", "demo.wav")))


@dataclass(frozen=True)
class RenderConfig:
    fps: Fraction = Fraction(30)
    lookahead_ms: int = 100
    batch: int = 8  # frames rendered at once
    seed: int = 0  # blinks and idle head motion
    backend: str = "torch"  # a standard video avatar's network: torch or onnx
    device: str = "cpu"  # cpu or cuda


def drive(samples: np.ndarray, rate: int, config: RenderConfig, idle_motion: bool = True,
          model: Audio2Motion | None = None) -> Coefficients:
    """audio2motion plus the motion layer; ``idle_motion``: blinks and head motion (a still photo
    needs them; a video avatar has its own from its base frames). ``model``: an avatar's own
    fine-tuned audio2motion (default: the shipped one)."""
    from talkinghead.audio2motion.animate import animate
    from talkinghead.audio2motion.model import load_model
    from talkinghead.audio2motion.motion import BlinkConfig, HeadConfig, MotionConfig, SilenceConfig, apply_motion

    coefficients = animate(model or load_model(), samples, rate, config.fps, config.lookahead_ms)
    motion = MotionConfig(silence=SilenceConfig(anticipation_ms=config.lookahead_ms),
                          blink=BlinkConfig(enabled=idle_motion), head=HeadConfig(scale=1.0 if idle_motion else 0.0))
    return apply_motion(coefficients, samples, rate, motion, seed=config.seed)


def render_file(audio: str | Path, output: str | Path, avatar: str | Path | None = None,
                coefficients: str | Path | None = None, config: RenderConfig = RenderConfig(),
                progress: bool = True) -> int:
    """Render ``audio`` spoken by ``avatar`` (default: the built-in one) to ``output``; returns frames.

    With ``coefficients`` (a file from ``talkinghead animate``), those drive the
    face instead of audio2motion; they must cover the audio's frames (±1).
    """
    from talkinghead.audio2motion.audio_io import load_audio
    from talkinghead.audio2motion.resample import resample
    from talkinghead.renderer.avatar import avatar_renderer, load_avatar
    from talkinghead.renderer.video import VideoWriter
    from talkinghead.streaming.clock import FrameClock

    samples, rate = load_audio(audio)
    loaded = load_avatar(avatar, config.backend, config.device)
    renderer = avatar_renderer(loaded)
    if coefficients is None:
        driving = drive(samples, rate, config, renderer.idle_motion, loaded.motion_model)
    else:
        driving = Coefficients.load(coefficients)
        config = dataclasses.replace(config, fps=driving.fps)
    frames = FrameClock(rate, config.fps).frames_for(len(samples))
    if abs(len(driving) - frames) > 1:
        raise ValueError(
            f"{coefficients}: {len(driving)} frames at {driving.fps} fps, but the audio needs {frames}; "
            "make the coefficients from the same audio"
        )
    weights = _fit_length(driving.blendshapes, frames)
    pose = _fit_length(driving.pose, frames)
    with VideoWriter(output, config.fps, renderer.size, resample(samples, rate, AUDIO_OUT_RATE), AUDIO_OUT_RATE) as out:
        with tqdm(total=frames, desc=f"render {Path(output).name}", unit="frame", disable=not progress) as bar:
            for start in range(0, frames, config.batch):
                stop = min(frames, start + config.batch)
                out.write(renderer.render_frames(weights[start:stop], pose[start:stop], start))
                bar.update(stop - start)
    return frames


def _fit_length(rows: np.ndarray, frames: int) -> np.ndarray:
    """Drop a surplus last row or repeat the last row once (a one-frame rounding difference)."""
    if len(rows) >= frames:
        return rows[:frames]
    return np.concatenate([rows, np.repeat(rows[-1:], frames - len(rows), 0)])
