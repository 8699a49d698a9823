"""Enrollment of a talking video: the job that joins audio2motion to the renderer.

Track the face; run audio2motion on the video's own audio and find the
video's A/V offset from it (:mod:`.av_offset`; not trusted -> 0 and a
warning); fit the calibration from audio2motion's scale to this face's
(:mod:`talkinghead.renderer.calibration`, mandatory); pick the base loop,
the most restful second (:mod:`talkinghead.renderer.base_loop`); keep those
frames, their fits, the calibration and every frame's mouth crop as a
:class:`~talkinghead.renderer.video_avatar.VideoAvatar`. The ``standard``
preset also trains the lower-face network on every enrollment frame
(:mod:`talkinghead.renderer.training.standard`); ``finetune_audio2motion``
fits audio2motion's articulation layer to this face
(:mod:`talkinghead.audio2motion.training.finetune`). These two per-avatar
trainers are imported here and nowhere else at run time.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from talkinghead.audio2motion.animate import animate
from talkinghead.audio2motion.ears import AUTO, choose_ears
from talkinghead.audio2motion.model import (
    Audio2Motion,
    from_checkpoint,
    load_model,
    model_identity,
    to_checkpoint,
)
from talkinghead.audio2motion.training.finetune import finetune_articulation
from talkinghead.contracts.audio_io import load_audio
from talkinghead.contracts.face_model import FaceModel, interocular, lip_gap
from talkinghead.contracts.mouth_signals import mouth_signals
from talkinghead.jobs.av_offset import estimate_av_offset
from talkinghead.jobs.calibration import align, fit_calibration
from talkinghead.renderer.base_loop import base_loop
from talkinghead.renderer.calibration import DRIVEN, Calibration
from talkinghead.renderer.coverage import mouth_coverage
from talkinghead.renderer.crops import cut_crops
from talkinghead.renderer.mouth_bank import MouthBank, build_bank
from talkinghead.renderer.retrieval import BankCutter, NativeBank
from talkinghead.renderer.standard import LowerFaceModel, References, StandardConfig, require_device
from talkinghead.renderer.tracking import Track, track_video
from talkinghead.renderer.training.standard import (
    Enrollment,
    build_examples,
    pick_references,
    train_network,
    training_errors,
)
from talkinghead.renderer.video import iter_frames, probe_video
from talkinghead.renderer.video_avatar import DEFAULT_PRESET, PRESETS, VideoAvatar, region_views


@dataclass(frozen=True)
class MouthFit:
    """What enrollment learns of a person's mouth from their video: all a redraw needs besides frames."""

    calibration: Calibration
    av_offset: int
    av_offset_trusted: bool
    mouths: MouthBank
    lower_face: LowerFaceModel | None
    motion_model: Audio2Motion | None
    frames: int  # enrollment frames (from the track's first)
    bank: NativeBank | None = None  # the retrieval preset's lower faces at native resolution
    calibrated_on: str = "mel"  # the audio2motion (model_identity) whose output the calibration maps


def fit_mouth(path: str | Path, track: Track, audio: str | Path | None = None, frames: int | None = None,
              preset: str = DEFAULT_PRESET, device: str = "cpu", work_dir: str | Path | None = None,
              config: StandardConfig = StandardConfig(), finetune_audio2motion: bool = False,
              progress: bool = True, usable: np.ndarray | None = None, ears: str = AUTO) -> MouthFit:
    """Fit the calibration, mouth bank and (``standard``) the lower-face network on ``track``'s first ``frames``.

    ``ears``: the audio2motion whose output the calibration maps (``auto``:
    Whisper where installed); the avatar records it, and only that model drives it.

    The video's frames are streamed (one decode pass), never all held.
    ``usable`` (T,) bool: frames the retrieval bank may take mouths from (a
    dub leaves out the frames it passes through: a hand over the mouth, a
    cut, a profile).
    """
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {', '.join(PRESETS)}, got {preset!r}")
    if preset == "standard":
        require_device(device)
    try:
        samples, rate = load_audio(audio or path)
    except ValueError as error:
        raise ValueError(f"enrollment needs the video's speech for calibration: {error} (use --audio)") from None
    limit = track.num_frames if frames is None else min(frames, track.num_frames)
    samples = samples[: int(limit / track.fps * rate)]
    model = load_model(ears=choose_ears(ears))
    predicted = animate(model, samples, rate, track.fps, 100).blendshapes
    n = min(len(predicted), limit)
    predicted, tracked = predicted[:n], track.blendshapes[:n]
    landmarks = track.landmarks[:n].astype(np.float64)
    estimate = estimate_av_offset(mouth_signals(predicted)["aperture"], lip_gap(landmarks) / interocular(landmarks))
    calibration = fit_calibration(predicted, tracked, estimate.lag)
    motion_model = None
    if finetune_audio2motion:
        frames_at, wanted_weights = align(np.arange(n)[:, None], calibration.invert(tracked), estimate.lag)
        motion_model, _, _ = finetune_articulation(model, samples, rate, track.fps, frames_at[:, 0], wanted_weights,
                                                   list(DRIVEN), progress=progress)
        refitted = animate(motion_model, samples, rate, track.fps, 100).blendshapes[:n]
        calibration = fit_calibration(refitted, tracked, estimate.lag)
    size = (track.camera.width, track.camera.height)
    region = config.region
    views = region_views(track.landmarks[:n], size, region)
    regions = []
    bankable = track.valid[:n] if usable is None else track.valid[:n] & np.asarray(usable, bool)[:n]
    cutter = BankCutter(track.landmarks[:n], tracked, bankable, track.neutral) if preset == "retrieval" else None

    def frames_cutting_regions():
        frames = tqdm(zip(range(n), iter_frames(path)), total=n, unit="frame", desc="enroll", disable=not progress)
        for k, frame in frames:
            if preset == "standard":
                regions.append(cut_crops(frame[None], views[k].transform[None], region.size)[0])
            if cutter is not None:
                cutter.cut(k, frame)
            yield frame

    mouths = build_bank(frames_cutting_regions(), track.landmarks[:n], tracked)
    lower_face = None
    if preset == "standard":
        enrollment = Enrollment(np.stack(regions), views, track.landmarks[:n], tracked, track.pose[:n],
                                FaceModel(track.neutral), mouths)
        picks = pick_references(mouths.keys, config.references)
        references = References(enrollment.regions[picks], mouths.keys[picks], picks)
        fields, truths = build_examples(enrollment, references, config, progress)
        checkpoint = None if work_dir is None else Path(work_dir) / "lower_face.ckpt"
        net = train_network(fields, truths, config, checkpoint, device, progress)
        network_error, quick_error = training_errors(net, fields, truths)
        if not network_error < quick_error:
            raise ValueError(f"standard preset: the trained network ({network_error:.1f}) does not beat the quick "
                             f"drawing ({quick_error:.1f}) on its own examples; use --preset quick")
        lower_face = LowerFaceModel(net, region, references)
    return MouthFit(calibration, estimate.lag, estimate.confident, mouths, lower_face, motion_model, n,
                    None if cutter is None else cutter.bank(), model_identity(motion_model or model))


def track_for_enrollment(path: str | Path, work_dir: str | Path | None = None, progress: bool = True) -> Track:
    """The video's track: the one an interrupted enrollment left in ``work_dir`` if it fits, else a fresh one."""
    info = probe_video(path)
    work = Path(work_dir) if work_dir is not None else None
    if work is not None and (work / "track.npz").is_file():
        cached = Track.load(work / "track.npz")
        if (cached.camera.width, cached.camera.height, cached.fps) == (info.width, info.height, info.fps):
            return cached
    track = track_video(path, progress=progress)
    if work is not None:
        work.mkdir(parents=True, exist_ok=True)
        track.save(work / "track.npz")
    return track


def enroll_video(path: str | Path, audio: str | Path | None = None, frames: int | None = None,
                 preset: str = DEFAULT_PRESET, device: str = "cpu", max_minutes: float | None = None,
                 track: Track | None = None, work_dir: str | Path | None = None,
                 config: StandardConfig = StandardConfig(), finetune_audio2motion: bool = False,
                 progress: bool = True, ears: str = AUTO) -> VideoAvatar:
    """Make a video avatar from a talking video and its speech (needs the ``track`` extra).

    ``audio``: the speech as its own file, when the video has no audio track
    (it must start with the video). ``frames`` / ``max_minutes``: enroll on
    the first frames only (and their speech), e.g. to hold the rest out for
    testing. ``track``: the video's track, if already made. ``work_dir``:
    where an interrupted enrollment left its track and training checkpoint
    (running again resumes from them). ``preset`` ``standard`` trains the
    lower-face network on ``device``. ``finetune_audio2motion``: also fit
    audio2motion's articulation layer to this video's mouth (short videos
    overfit; off by default). ``ears``: see :func:`fit_mouth`.
    """
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {', '.join(PRESETS)}, got {preset!r}")
    if frames is not None and frames < 2:
        raise ValueError(f"frames must be at least 2, got {frames}")
    if max_minutes is not None and max_minutes <= 0:
        raise ValueError(f"max_minutes must be positive, got {max_minutes}")
    if preset == "standard":
        require_device(device)
    probe_video(path)  # an unreadable file says so before anything else
    try:  # before tracking, so a missing speech track fails at once
        load_audio(audio or path)
    except ValueError as error:
        raise ValueError(f"enrollment needs the video's speech for calibration: {error} (use --audio)") from None
    track = track or track_for_enrollment(path, work_dir, progress)
    limit = track.num_frames if frames is None else frames
    if max_minutes is not None:
        limit = min(limit, int(max_minutes * 60 * track.fps))
    coverage = mouth_coverage(track, iter_frames(path), limit)  # before the fit: thin spots show at once
    if progress:
        print(coverage.summary(), file=sys.stderr)
    for line in coverage.warnings():
        print(f"talkinghead: warning: {path}: {line}", file=sys.stderr)
    fit = fit_mouth(path, track, audio, limit, preset, device, work_dir, config, finetune_audio2motion, progress,
                    ears=ears)
    n = fit.frames
    loop = base_loop(track.landmarks[:n], track.fps)
    window = np.unique(loop)
    wanted = set(window.tolist())
    kept = {k: frame for k, frame in zip(range(int(window[-1]) + 1), iter_frames(path)) if k in wanted}
    size = (track.camera.width, track.camera.height)
    views = region_views(track.landmarks[:n], size, config.region)
    return VideoAvatar(
        np.stack([kept[k] for k in window]), track.landmarks[window], track.blendshapes[window],
        track.pose[window], track.neutral, np.searchsorted(window, loop), track.fps, fit.calibration,
        fit.av_offset, fit.av_offset_trusted, fit.mouths, np.stack([views[k].transform for k in window]),
        fit.lower_face, None if fit.motion_model is None else to_checkpoint(fit.motion_model), fit.bank,
        dataclasses.asdict(coverage), fit.calibrated_on,
    )


def avatar_mouth_fit(avatar: VideoAvatar) -> MouthFit:
    """The person's mouth as enrollment fitted it, to redraw other frames of them (a dub)."""
    motion_model = None if avatar.motion_weights is None else from_checkpoint(avatar.motion_weights, "avatar")
    return MouthFit(avatar.calibration, avatar.av_offset, avatar.av_offset_trusted, avatar.mouths,
                    avatar.lower_face, motion_model, len(avatar.mouths.keys), avatar.bank, avatar.calibrated_on)


