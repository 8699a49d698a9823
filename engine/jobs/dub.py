"""Dubbing: make the person in a video say new speech, at the video's own resolution, rate and style.

Stages: track the video (every face; the one to dub is chosen as
:mod:`talkinghead.renderer.faces` says, the speaking one by default) and
measure its pictures in the same pass; decide which frames cannot be redrawn
believably (:mod:`.passthrough`: face lost, shot cut, face too small,
profile view, mouth covered); enroll on it (or take a given avatar of the
same person); drive the mouth from the new speech at the video's frame
times (:mod:`.dub_plan`: fading out before and in after each frame passed
through); stream the frames once more, redraw the mouth of every other
frame (:mod:`talkinghead.renderer.redraw`: only the face region changes)
and encode as they come, so memory does not grow with the video's length or
resolution. Frames passed through are bit-identical to the input before
encoding and reported as spans. The output keeps the input's size, timestamps, pixel
format, colour tags and rotation, carries a tag saying it is synthetic,
and is written to a temporary file renamed at the very end: a failed or
interrupted run leaves nothing at the output path.

Dubbing a person requires their consent.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
from tqdm import tqdm

from talkinghead.audio2motion.ears import AUTO
from talkinghead.contracts.audio_io import AUDIO_OUT_RATE
from talkinghead.contracts.coefficients import Coefficients
from talkinghead.contracts.frame import Frame
from talkinghead.jobs.dub_plan import TAILS, PlanConfig, plan_dub
from talkinghead.jobs.enroll import avatar_mouth_fit, fit_mouth
from talkinghead.jobs.passthrough import NONE, PassConfig, Span, spans, survey
from talkinghead.renderer.composite import Patched
from talkinghead.renderer.faces import parse_face
from talkinghead.renderer.standard import StandardConfig
from talkinghead.renderer.tracking import TrackerConfig
from talkinghead.renderer.video_avatar import DEFAULT_PRESET, PRESETS

SYNTHETIC_TAG = ("synthetic: the mouth in this video was redrawn by talkinghead to say speech the person "
                 "may never have said")


@dataclass(frozen=True)
class DubConfig:
    preset: str = DEFAULT_PRESET  # enrollment on the video: retrieval or quick (seconds), standard (trains a network, minutes)
    tail: str = "rest"  # speech shorter than the video: the rest rests closed, or keeps its own mouth and sound
    watermark: bool = False  # a visible "AI-generated" label
    lookahead_ms: int = 100
    ears: str = AUTO  # audio2motion's ears (see RenderConfig.ears)
    backend: str = "torch"
    device: str = "cpu"
    batch: int = 8  # frames drawn at once
    crf: int = 18
    stretch_memory_mb: int = 256  # frames held to loop when the speech is longer (4K: 10 frames)
    face: str = "speaking"  # several faces: speaking, largest, left, right, or N from the left (renderer.faces)
    plan: PlanConfig = PlanConfig()
    checks: PassConfig = field(default_factory=PassConfig)  # which frames pass through untouched
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    standard: StandardConfig = StandardConfig()  # the standard preset's training

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise ValueError(f"preset must be one of {', '.join(PRESETS)}, got {self.preset!r}")
        if self.tail not in TAILS:
            raise ValueError(f"tail must be one of {', '.join(TAILS)}, got {self.tail!r}")
        parse_face(self.face)


@dataclass(frozen=True)
class DubResult:
    output: Path
    frames: int
    drawn: int  # frames with a redrawn mouth (the rest passed through: see passed_through, or the original tail)
    extended: int  # frames added to cover longer speech
    seconds: float  # duration of the output
    passed_through: tuple[Span, ...] = ()  # output frames that could not be redrawn believably, and why
    face: int = 1  # the face dubbed, counted from the left
    faces: int = 1  # faces in the video (found in at least the tracker's min_valid_fraction of frames)


class Dubbing:
    """A prepared dub: the video tracked, the person enrolled, the speech turned into a drive per output frame."""

    def __init__(self, video: str | Path, audio: str | Path, config: DubConfig = DubConfig(),
                 avatar: str | Path | None = None, video_speech: str | Path | None = None, text: str | None = None,
                 progress: bool = True) -> None:
        from talkinghead.contracts.audio_io import load_audio
        from talkinghead.renderer.video import probe_video

        self.video, self.config, self.progress = Path(video), config, progress
        self.info = probe_video(video)
        self.samples, self.rate = load_audio(audio)
        if not len(self.samples):
            raise ValueError(f"{audio}: holds no audio samples")
        loaded = _load_video_avatar(avatar, config) if avatar is not None else None
        if loaded is None and video_speech is None and not self.info.has_audio:
            raise ValueError(f"{video}: has no audio track, and enrolling the person needs their own speech; give "
                             "--video-speech FILE (their speech, starting with the video) or --avatar DIR")
        self._stage(1, f"tracking {self.video.name}")
        own_speech = video_speech or (self.video if self.info.has_audio else None)  # to find who speaks
        found = survey(video, config.face, own_speech, config.tracker, config.checks, progress)
        self.track, self.face, self.faces = found.track, found.face, found.faces
        self._stage(2, f"enrollment ({loaded.preset + ', given' if loaded else config.preset})")
        if loaded is not None:
            self.fit = avatar_mouth_fit(loaded)
        else:
            self.fit = fit_mouth(video, self.track, video_speech, preset=config.preset, device=config.device,
                                 config=config.standard, progress=progress, usable=found.reasons == NONE,
                                 ears=config.ears)
        self.times, self.durations, self.time_base = _frame_times(video, self.track.num_frames, self.info.fps)
        speech_seconds = Fraction(len(self.samples), self.rate)
        held = max(2, config.stretch_memory_mb * 2**20 // (self.info.width * self.info.height * 3))
        self.plan = plan_dub(self.times, self.durations, self.track.landmarks, self.track.valid, speech_seconds,
                             self.info.fps, config.tail, held, config.plan, untouched=found.reasons != NONE)
        self.passed_through = tuple(spans(found.reasons[self.plan.source], self.plan.times, self.plan.durations))
        self.coefficients = self._drive(text)

    def _stage(self, number: int, what: str) -> None:
        if self.progress:
            print(f"talkinghead dub [{number}/4] {what}", file=sys.stderr, flush=True)

    def _drive(self, text: str | None) -> Coefficients:
        """The new speech's coefficients at the video's nominal rate, silence-padded to the output's end."""
        from talkinghead.jobs.render import RenderConfig, drive, motion_model

        fps = self.info.fps
        padded = np.zeros(max(len(self.samples), int(np.ceil(self.plan.duration * self.rate))), np.float32)
        padded[: len(self.samples)] = self.samples
        config = RenderConfig(fps=fps, lookahead_ms=self.config.lookahead_ms)
        if text is None:
            model = self.fit.motion_model or motion_model(self.config.ears, None, self.fit.calibrated_on,
                                                          str(self.video))
            return drive(padded, self.rate, config, idle_motion=False, model=model)
        from talkinghead.audio2motion.align import text_coefficients
        from talkinghead.audio2motion.motion import MotionConfig, apply_motion

        motion = MotionConfig.from_knobs(self.config.lookahead_ms, idle_motion=False)
        return apply_motion(text_coefficients(padded, self.rate, text, fps), padded, self.rate, motion)

    def driving(self) -> np.ndarray:
        """Mouth weights in the person's tracked scale (N,52), one row per output frame (read at its time)."""
        calibrated = self.fit.calibration.apply(self.coefficients.blendshapes)
        at = np.array([float(t * self.info.fps) for t in self.plan.times])
        rows = np.arange(len(calibrated))
        return np.stack([np.interp(at, rows, calibrated[:, c]) for c in range(calibrated.shape[1])], 1)

    def frames(self) -> Iterator[tuple[Frame, np.ndarray, Patched | None]]:
        """The output frames in order, drawn as the input streams past (the loop stretch is held, bounded)."""
        from talkinghead.contracts.face_model import FaceModel
        from talkinghead.renderer.redraw import MouthRedrawer
        from talkinghead.renderer.retrieval import PickTrack, Retrieval
        from talkinghead.renderer.video import iter_frames

        plan, track, fit = self.plan, self.track, self.fit
        retrieval = None if fit.bank is None else Retrieval(fit.bank, track.neutral)
        picks = PickTrack()  # the dub is one sequence: retrieval smooths its picks from frame to frame
        redrawer = MouthRedrawer(FaceModel(track.neutral), fit.mouths, fit.lower_face, retrieval=retrieval)
        views = self._region_views()
        driving = self.driving()
        own = track.blendshapes
        held_wanted = set(plan.stretch.tolist())
        held: dict[int, np.ndarray] = {}

        def inputs() -> Iterator[np.ndarray]:
            for k, image in enumerate(iter_frames(self.video)):
                if k >= len(self.times):
                    break
                if k in held_wanted:
                    held[k] = image
                yield image
            for k in plan.source[len(self.times):]:
                yield held[int(k)]

        batch: list[tuple[int, np.ndarray]] = []
        for index, image in enumerate(inputs()):
            batch.append((index, image))
            if len(batch) == self.config.batch or index == len(plan) - 1:
                yield from self._draw(batch, redrawer, views, driving, own, picks)
                batch = []

    def _draw(self, batch, redrawer, views, driving, own, picks) -> Iterator[tuple[Frame, np.ndarray, Patched | None]]:
        from talkinghead.renderer.redraw import TrackedFrame

        plan, track = self.plan, self.track
        todo = [(i, image) for i, image in batch if plan.speech[i] > 0]
        frames, rows = [], []
        for i, image in todo:
            k = int(plan.source[i])
            frames.append(TrackedFrame(image, track.landmarks[k], own[k], track.pose[k],
                                       None if views is None else views[k]))
            rows.append(plan.speech[i] * driving[i] + (1 - plan.speech[i]) * own[k])
        redrawn = redrawer.draw(frames, np.array(rows), tracks=[picks] * len(frames)) if todo else []
        drawn = dict(zip([i for i, _ in todo], redrawn))
        weights = dict(zip([i for i, _ in todo], rows))
        for i, image in batch:
            patched = drawn.get(i)
            k = int(plan.source[i])
            frame = Frame(i, plan.times[i], weights.get(i, own[k]), track.pose[k], self._speech_span(i),
                          image=image if patched is None else patched.image)
            yield frame, image, patched

    def _speech_span(self, index: int) -> tuple[int, int] | None:
        """``[first, end)`` of the new speech's samples output frame ``index`` shows; None past the speech."""
        first = round(self.plan.times[index] * self.rate)
        end = min(len(self.samples), round((self.plan.times[index] + self.plan.durations[index]) * self.rate))
        return (first, end) if first < end else None

    def _region_views(self) -> np.ndarray | None:
        if self.fit.lower_face is None:
            return None
        from talkinghead.renderer.video_avatar import region_views

        size = (self.info.width, self.info.height)
        return np.stack([v.transform for v in region_views(self.track.landmarks, size, self.fit.lower_face.region)])

    def audio(self, rate: int = AUDIO_OUT_RATE) -> np.ndarray:
        """The output's sound: the new speech, then (shorter speech) silence or the video's own sound."""
        from talkinghead.contracts.audio_io import load_audio
        from talkinghead.contracts.resample import resample

        total = int(round(self.plan.duration * rate))
        out = np.zeros(max(total, 1), np.float32)
        speech = resample(self.samples, self.rate, rate)[:total]
        out[: len(speech)] = speech
        if self.config.tail == "original" and len(speech) < total and self.info.has_audio:
            own, own_rate = load_audio(self.video)
            own = resample(own, own_rate, rate)[len(speech):total]
            out[len(speech): len(speech) + len(own)] = own
        return out

    def write(self, output: str | Path,
              on_frame: Callable[[Frame, np.ndarray, Patched | None], None] | None = None) -> DubResult:
        """Encode the dub to ``output`` through a temporary file in its folder (renamed when complete).

        ``on_frame(frame, original, patched)`` sees each output frame before encoding, with the input
        frame it was drawn on and where it may differ from it (None: passed through)."""
        from talkinghead.renderer.video import VideoWriter
        from talkinghead.renderer.watermark import make_watermark

        output = Path(output)
        info, plan = self.info, self.plan
        base = self.time_base
        mark = make_watermark(info.width, info.height) if self.config.watermark else None
        metadata = {"comment": SYNTHETIC_TAG, "description": f"{SYNTHETIC_TAG} Mouth driven by {self.coefficients.source}."}
        drawn = 0
        with _staging(output) as staging:
            self._stage(3, f"synthesis and encoding -> {output.name}")
            writer = VideoWriter(staging, info.fps, (info.height, info.width), self.audio(), AUDIO_OUT_RATE,
                                 self.config.crf, info.style, base, metadata)
            with writer, tqdm(total=len(plan), unit="frame", desc="dub", disable=not self.progress) as bar:
                for frame, original, patched in self.frames():
                    if on_frame is not None:
                        on_frame(frame, original, patched)
                    image = frame.image if mark is None else mark.apply(frame.image)
                    pts = round(frame.pts / base)
                    duration = max(1, round((frame.pts + plan.durations[frame.index]) / base) - pts)
                    writer.write(image[None], np.array([pts]), np.array([duration]))
                    drawn += patched is not None
                    bar.update()
            self._stage(4, "encoding finished, audio muxed")
        return DubResult(output, len(plan), drawn, len(plan) - len(self.times), float(plan.duration),
                         self.passed_through, self.face, self.faces)


def dub(video: str | Path, audio: str | Path, output: str | Path, avatar: str | Path | None = None,
        video_speech: str | Path | None = None, text: str | None = None, coefficients_out: str | Path | None = None,
        config: DubConfig = DubConfig(), progress: bool = True) -> DubResult:
    """Make the person in ``video`` say ``audio``; write ``output`` (MP4, or .mov/.mkv by its suffix).

    ``avatar``: a video avatar of the same person (skips enrollment).
    ``video_speech``: the video's own speech as a file, when the video has
    no audio track (enrollment calibrates on it). ``text``: the new speech's
    transcript (text-assisted mouth). ``coefficients_out``: also save the
    driving coefficients (.npz, .json or Live Link .csv).
    """
    output = Path(output)
    _check_output(output, Path(video))
    dubbing = Dubbing(video, audio, config, avatar, video_speech, text, progress)
    result = dubbing.write(output)
    if coefficients_out is not None:
        dubbing.coefficients.save(coefficients_out)
    return result


def _load_video_avatar(path: str | Path, config: DubConfig):
    from talkinghead.renderer.avatar import load_avatar
    from talkinghead.renderer.video_avatar import VideoAvatar

    avatar = load_avatar(path, config.backend, config.device)
    if not isinstance(avatar, VideoAvatar):
        raise ValueError(f"{path}: a dub needs a video avatar of the person (talkinghead enroll VIDEO), not a photo one")
    return avatar


def _frame_times(path: Path, count: int, fps: Fraction) -> tuple[list[Fraction], list[Fraction], Fraction]:
    """Each frame's presentation time and duration from the packets (no decoding; ``k / fps`` if they
    disagree with the decoded count), and the stream's time base (the output keeps it)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        base = Fraction(stream.time_base)
        stamps = sorted((p.pts, p.duration) for p in container.demux(stream) if p.pts is not None and p.size)
    if len(stamps) != count:
        return [Fraction(k) / fps for k in range(count)], [1 / fps] * count, base
    start = stamps[0][0]
    times = [(pts - start) * base for pts, _ in stamps]
    last = stamps[-1][1] * base if stamps[-1][1] else 1 / fps
    return times, [b - a for a, b in zip(times, times[1:])] + [last], base


def _check_output(output: Path, video: Path) -> None:
    """Fail before any work when the output cannot be written or would overwrite the input."""
    if output.resolve() == video.resolve():
        raise ValueError(f"{output}: the output would overwrite the input video")
    if output.suffix.lower() not in (".mp4", ".m4v", ".mov", ".mkv"):
        raise ValueError(f"{output}: unsupported output container (use .mp4, .mov or .mkv)")
    with _staging(output, keep=False):
        pass


@contextlib.contextmanager
def _staging(output: Path, keep: bool = True) -> Iterator[Path]:
    """A temporary file beside ``output``, renamed to it on success (``keep``) and removed on any failure.

    The run holds an advisory lock on it while it writes, so a later run can tell a staging file that a
    killed run left (its lock free) from one still being written: stale ones are removed, with a notice."""
    if not output.parent.is_dir():
        raise ValueError(f"{output}: its folder does not exist")
    staging = output.parent / f".{output.stem}.{secrets.token_hex(4)}.partial{output.suffix}"
    try:  # created as an ordinary file (mode 0666 less the umask), not mkstemp's private 0600
        held = os.open(staging, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
    except OSError as error:
        raise ValueError(f"{output}: cannot write there ({error.strerror})") from None
    try:
        _lock(held)
        _remove_stale(output, staging)
        yield staging
        if keep:
            os.replace(staging, output)
    finally:
        staging.unlink(missing_ok=True)
        os.close(held)


def _lock(descriptor: int) -> bool:
    """Take the advisory lock on an open file without waiting; False if another process holds it (always
    True where there are no such locks: Windows)."""
    try:
        import fcntl
    except ImportError:
        return True
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _remove_stale(output: Path, own: Path) -> None:
    """Remove the staging files of ``output`` that no run holds (a run killed mid-write left them): exactly
    the names :func:`_staging` makes, nothing else."""
    name = re.compile(rf"\.{re.escape(output.stem)}\.[0-9a-f]{{8}}\.partial{re.escape(output.suffix)}")
    for path in output.parent.iterdir():
        if path == own or not name.fullmatch(path.name) or not path.is_file():
            continue
        try:
            descriptor = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            if _lock(descriptor):
                path.unlink(missing_ok=True)
                print(f"talkinghead: removed {path.name}, left in {path.parent} by an interrupted run",
                      file=sys.stderr)
        finally:
            os.close(descriptor)
