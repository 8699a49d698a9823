"""Offline render: speech (or a coefficients file) -> an avatar's video with the speech, as MP4.

Frame ``k`` of the video is presented at ``k / fps`` and there are exactly
``ceil(N * fps / sr)`` of them for ``N`` audio samples (the project's clock),
so audio and video durations agree within one frame. The audio is written
as AAC at 48 kHz.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from tqdm import tqdm

from talkinghead.audio2motion.ears import AUTO
from talkinghead.audio2motion.model import Audio2Motion, from_checkpoint
from talkinghead.contracts.audio_io import AUDIO_OUT_RATE
from talkinghead.contracts.clock import FrameClock
from talkinghead.contracts.coefficients import Coefficients
from talkinghead.contracts.frame import Frame
from talkinghead.contracts.renderer import Renderer


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
    ears: str = AUTO  # audio2motion's ears: mel, whisper, or auto (an avatar's calibration's, else whisper if installed)


def motion_model(ears: str = AUTO, own: dict | None = None, calibrated_on: str | None = None,
                 avatar: str = "the avatar") -> Audio2Motion:
    """The audio2motion that drives an avatar: its own fine-tuned weights (``own``), else the shipped
    weights of ``ears``; ``auto`` means the ears its calibration was fitted on, else Whisper where
    installed. A model its calibration was not fitted on is a one-line error."""
    from talkinghead.audio2motion.ears import choose_ears
    from talkinghead.audio2motion.model import check_calibrated_on, load_model

    if own is not None:
        model = from_checkpoint(own, f"{avatar}'s audio2motion")
        if ears not in (AUTO, model.config.ears):
            raise ValueError(f"{avatar} carries its own audio2motion, which hears with {model.config.ears}: "
                             f"choose --ears {model.config.ears} or re-enroll")
        return model
    if ears == AUTO and calibrated_on is not None:
        ears = calibrated_on.partition(":")[0]
    model = load_model(ears=choose_ears(ears))
    check_calibrated_on(model, calibrated_on, avatar)
    return model


def drive(samples: np.ndarray, rate: int, config: RenderConfig, idle_motion: bool = True,
          model: Audio2Motion | None = None) -> Coefficients:
    """audio2motion plus the motion layer; ``idle_motion``: blinks and head motion (a still photo
    needs them; a video avatar has its own from its base frames). ``model``: the audio2motion
    (default: :func:`motion_model` of ``config.ears``)."""
    from talkinghead.audio2motion.animate import animate
    from talkinghead.audio2motion.motion import MotionConfig, apply_motion

    model = model or motion_model(config.ears)
    coefficients = animate(model, samples, rate, config.fps, config.lookahead_ms)
    motion = MotionConfig.from_knobs(config.lookahead_ms, idle_motion)
    return apply_motion(coefficients, samples, rate, motion, seed=config.seed)


def animate_file(audio: str | Path, config: RenderConfig = RenderConfig(),
                 idle_motion: bool = True) -> Coefficients:
    """An audio file's coefficients: audio2motion and the motion layer (``talkinghead.animate``)."""
    from talkinghead.contracts.audio_io import load_audio

    samples, rate = load_audio(audio)
    return drive(samples, rate, config, idle_motion)


def renderer_motion_model(renderer: Renderer, ears: str = AUTO, avatar: str = "the avatar") -> Audio2Motion:
    """:func:`motion_model` for the avatar ``renderer`` draws."""
    return motion_model(ears, renderer.motion_weights, renderer.calibrated_on, avatar)


def render_file(audio: str | Path, output: str | Path, avatar: str | Path | None = None,
                coefficients: str | Path | None = None, config: RenderConfig = RenderConfig(),
                progress: bool = True) -> int:
    """Render ``audio`` spoken by ``avatar`` (default: the built-in one) to ``output``; returns frames.

    With ``coefficients`` (a file from ``talkinghead animate``), those drive the
    face instead of audio2motion; they must cover the audio's frames (±1).
    """
    from talkinghead.contracts.audio_io import load_audio
    from talkinghead.contracts.resample import resample
    from talkinghead.renderer.avatar import avatar_renderer, load_avatar
    from talkinghead.renderer.video import VideoWriter

    samples, rate = load_audio(audio)
    loaded = load_avatar(avatar, config.backend, config.device)
    renderer = avatar_renderer(loaded)
    if coefficients is None:
        driving = drive(samples, rate, config, renderer.idle_motion,
                        renderer_motion_model(renderer, config.ears, str(avatar or "the built-in avatar")))
    else:
        driving = Coefficients.load(coefficients)
        config = dataclasses.replace(config, fps=driving.fps)
    clock = FrameClock(rate, config.fps)
    frames = clock.frames_for(len(samples))
    if abs(len(driving) - frames) > 1:
        raise ValueError(
            f"{coefficients}: {len(driving)} frames at {driving.fps} fps, but the audio needs {frames}; "
            "make the coefficients from the same audio"
        )
    driving = Coefficients(_fit_length(driving.blendshapes, frames), _fit_length(driving.pose, frames),
                           config.fps, source=driving.source)
    metadata = {"comment": f"talkinghead render; face driven by {driving.source or 'coefficients'}"}
    with VideoWriter(output, config.fps, renderer.size, resample(samples, rate, AUDIO_OUT_RATE), AUDIO_OUT_RATE,
                     metadata=metadata) as out:
        with tqdm(total=frames, desc=f"render {Path(output).name}", unit="frame", disable=not progress) as bar:
            for batch in drawn_frames(renderer, driving, clock, len(samples), config.batch):
                out.write(np.stack([frame.image for frame in batch]))
                bar.update(len(batch))
    return frames


def drawn_frames(renderer: Renderer, driving: Coefficients, clock: FrameClock, samples: int,
                 batch: int) -> Iterator[list[Frame]]:
    """``driving``'s frames drawn by ``renderer``, ``batch`` at a time, each with its span of the
    audio's ``samples`` samples (one sequence: a batch continues the one before)."""
    sequence = renderer.sequence()
    for first in range(0, len(driving), batch):
        rows = driving[first:first + batch]
        frames = []
        for i, image in enumerate(renderer.draw(rows, sequence)):
            k = rows.start_frame + i
            span = clock.span(k)
            frames.append(Frame(k, k / driving.fps, rows.blendshapes[i], rows.pose[i],
                                (span.start, min(span.stop, samples)), image=image))
        yield frames


def _fit_length(rows: np.ndarray, frames: int) -> np.ndarray:
    """Drop a surplus last row or repeat the last row once (a one-frame rounding difference)."""
    if len(rows) >= frames:
        return rows[:frames]
    return np.concatenate([rows, np.repeat(rows[-1:], frames - len(rows), 0)])
