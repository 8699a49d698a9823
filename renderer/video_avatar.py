"""Avatars from a talking video: the video's own frames, warped (``quick``) or redrawn by a network (``standard``).

Enrollment (needs the ``track`` extra): track the face; run audio2motion on
the video's own audio and find the video's A/V offset from it
(:mod:`.av_offset`; not trusted -> 0 and a warning); fit the calibration
from audio2motion's scale to this face's (:mod:`.calibration`, mandatory);
pick the base loop, the most restful second (:mod:`.base_loop`); keep those
frames, their fits, the calibration and every frame's mouth crop as a bundle.
The ``standard`` preset also trains :mod:`.lower_face`'s network on every
enrollment frame (:mod:`.standard`) and keeps it with its reference regions.

Rendering (no MediaPipe needed; :mod:`.redraw`, which a dub shares): output
frame ``k`` is drawn on base frame ``loop[k mod len(loop)]``, a
:class:`.face_frame.FaceFrame` whose mouth and jaw channels take the
calibrated driving weights while every other channel keeps the base frame's
own (its blinks, brows and gaze), and whose head pose is the base frame's. The mouth interior is the enrollment frame's whose tracked
mouth is nearest the driving weights, warped into the hole
(:mod:`.mouth_bank`: real teeth). Base frames are kept exactly (compressed
``.npz``), so pixels outside the warp are the video's. With a network, the
lower face is drawn in the base frame's stabilised face crop instead, and
pasted back into the full frame with a feathered, colour-matched mask
(:mod:`.composite`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from tqdm import tqdm

from talkinghead.audio2motion.finetune import finetune_articulation
from talkinghead.audio2motion.model import Audio2Motion, load_model, save_model
from talkinghead.renderer.bundle import read_meta, write_meta
from talkinghead.renderer.calibration import DRIVEN, Calibration, align, fit_calibration
from talkinghead.renderer.crops import CropConfig, CropView, crop_transforms, cut_crops
from talkinghead.renderer.face_model import FaceModel, interocular, lip_gap
from talkinghead.renderer.lower_face import RegionConfig
from talkinghead.renderer.mouth import MouthStyle
from talkinghead.renderer.mouth_bank import MouthBank, build_bank
from talkinghead.renderer.redraw import MouthRedrawer, TrackedFrame
from talkinghead.renderer.standard import (
    Enrollment, LowerFaceModel, References, StandardConfig, build_examples, pick_references,
    require_device, train_network, training_errors,
)
from talkinghead.renderer.tracking import Track
from talkinghead.renderer.video import write_image

PRESETS = ("quick", "standard")


@dataclass(frozen=True)
class VideoAvatar:
    """The base loop's frames and fits, the calibration, and how they were found."""

    frames: np.ndarray  # (L, H, W, 3) uint8: the base window's frames, in video order
    landmarks: np.ndarray  # (L, 478, 3) float32 pixels
    blendshapes: np.ndarray  # (L, 52) float32: each base frame's tracked weights
    pose: np.ndarray  # (L, 6) float32
    neutral: np.ndarray  # (478, 3) float32 model frame
    loop: np.ndarray  # (M,) int: indices into ``frames``, played in order and repeated
    fps: Fraction
    calibration: Calibration
    av_offset: int  # frames, positive = picture late (0 when not trusted)
    av_offset_trusted: bool
    mouths: MouthBank  # every enrollment frame's mouth, for real teeth
    region_views: np.ndarray  # (L,2,3): each base frame's network region in its frame (smoothed crops)
    lower_face: LowerFaceModel | None = None  # the standard preset's network; None: quick
    motion_model: Audio2Motion | None = None  # audio2motion fine-tuned on this video; None: the shipped one

    @property
    def preset(self) -> str:
        return "quick" if self.lower_face is None else "standard"

    @property
    def mouth_fit(self) -> MouthFit:
        """The person's mouth as enrollment fitted it, to redraw other frames of them (a dub)."""
        return MouthFit(self.calibration, self.av_offset, self.av_offset_trusted, self.mouths, self.lower_face,
                        self.motion_model, len(self.mouths.keys))

    def save(self, directory: str | Path, track: Track | None = None) -> None:
        """Write the bundle, with the enrollment ``track`` as ``track.npz``.

        With no ``track``, a ``track.npz`` already in ``directory`` (where
        enrollment with this directory as its work folder left it) is listed
        as the bundle's, not read and written again.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(directory / "base.npz", frames=self.frames)
        np.savez_compressed(directory / "face.npz", landmarks=self.landmarks, blendshapes=self.blendshapes, pose=self.pose,
                            neutral=self.neutral, loop=self.loop, region_views=self.region_views,
                            **self.calibration.to_arrays(), **self.mouths.to_arrays())
        write_image(directory / "preview.png", self.frames[self.loop[0]])
        files = {"base": "base.npz", "face": "face.npz", "preview": "preview.png"}
        if track is not None:
            track.save(directory / "track.npz")
        if (directory / "track.npz").is_file():
            files["track"] = "track.npz"
        if self.lower_face is not None:
            files.update(self.lower_face.save(directory))
        if self.motion_model is not None:
            save_model(self.motion_model, directory / "a2m.pt")
            files["audio2motion"] = "a2m.pt"
        write_meta(directory, "video", {
            "preset": self.preset, "fps": [self.fps.numerator, self.fps.denominator],
            "image_size": [int(self.frames.shape[2]), int(self.frames.shape[1])],
            "av_offset_frames": self.av_offset, "av_offset_trusted": self.av_offset_trusted,
            "files": files,
        })

    @classmethod
    def load(cls, directory: str | Path, backend: str = "torch", device: str = "cpu") -> VideoAvatar:
        """Read a bundle; a standard avatar's network runs on ``backend`` (torch or onnx) and ``device``."""
        directory = Path(directory)
        meta = read_meta(directory)
        try:
            with np.load(directory / meta["files"]["base"]) as base:
                frames = base["frames"]
            with np.load(directory / meta["files"]["face"]) as face:
                arrays = {k: face[k] for k in face.files}
            fps = Fraction(*meta["fps"])
            calibration = Calibration(arrays["knots_in"], arrays["knots_out"], arrays["low"], arrays["high"])
            lower_face = None
            if meta.get("preset") == "standard":
                lower_face = LowerFaceModel.load(directory, meta["files"], backend, device)
            motion_model = None
            if "audio2motion" in meta["files"]:
                motion_model = load_model(directory / meta["files"]["audio2motion"])
            return cls(frames, arrays["landmarks"], arrays["blendshapes"], arrays["pose"], arrays["neutral"],
                       arrays["loop"].astype(int), fps, calibration, int(meta["av_offset_frames"]),
                       bool(meta["av_offset_trusted"]), MouthBank.from_arrays(arrays), arrays["region_views"],
                       lower_face, motion_model)
        except (OSError, KeyError, ValueError, TypeError, RuntimeError) as error:
            raise ValueError(f"{directory}: broken avatar bundle ({error})") from None


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


def fit_mouth(path: str | Path, track: Track, audio: str | Path | None = None, frames: int | None = None,
              preset: str = "quick", device: str = "cpu", work_dir: str | Path | None = None,
              config: StandardConfig = StandardConfig(), finetune_audio2motion: bool = False,
              progress: bool = True) -> MouthFit:
    """Fit the calibration, mouth bank and (``standard``) the lower-face network on ``track``'s first ``frames``.

    The video's frames are streamed (one decode pass), never all held.
    """
    from talkinghead.audio2motion.animate import animate
    from talkinghead.audio2motion.audio_io import load_audio
    from talkinghead.audio2motion.baselines import mouth_signals
    from talkinghead.renderer.av_offset import estimate_av_offset
    from talkinghead.renderer.video import iter_frames

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
    model = load_model()
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

    def frames_cutting_regions():
        frames = tqdm(zip(range(n), iter_frames(path)), total=n, unit="frame", desc="enroll", disable=not progress)
        for k, frame in frames:
            if preset == "standard":
                regions.append(cut_crops(frame[None], views[k].transform[None], region.size)[0])
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
    return MouthFit(calibration, estimate.lag, estimate.confident, mouths, lower_face, motion_model, n)


def track_for_enrollment(path: str | Path, work_dir: str | Path | None = None, progress: bool = True) -> Track:
    """The video's track: the one an interrupted enrollment left in ``work_dir`` if it fits, else a fresh one."""
    from talkinghead.renderer.tracking import track_video
    from talkinghead.renderer.video import probe_video

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
                 preset: str = "quick", device: str = "cpu", max_minutes: float | None = None,
                 track: Track | None = None, work_dir: str | Path | None = None,
                 config: StandardConfig = StandardConfig(), finetune_audio2motion: bool = False,
                 progress: bool = True) -> VideoAvatar:
    """Make a video avatar from a talking video and its speech (needs the ``track`` extra).

    ``audio``: the speech as its own file, when the video has no audio track
    (it must start with the video). ``frames`` / ``max_minutes``: enroll on
    the first frames only (and their speech), e.g. to hold the rest out for
    testing. ``track``: the video's track, if already made. ``work_dir``:
    where an interrupted enrollment left its track and training checkpoint
    (running again resumes from them). ``preset`` ``standard`` trains the
    lower-face network on ``device``. ``finetune_audio2motion``: also fit
    audio2motion's articulation layer to this video's mouth (short videos
    overfit; off by default).
    """
    from talkinghead.audio2motion.audio_io import load_audio
    from talkinghead.renderer.base_loop import base_loop
    from talkinghead.renderer.video import iter_frames, probe_video

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
    fit = fit_mouth(path, track, audio, limit, preset, device, work_dir, config, finetune_audio2motion, progress)
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
        fit.lower_face, fit.motion_model,
    )


def region_views(landmarks: np.ndarray, size: tuple[int, int], region: RegionConfig) -> list[CropView]:
    """Each frame's network region in its (width, height) frame, from stabilised face crops over the sequence."""
    return [region.view(CropView(t, size)) for t in crop_transforms(landmarks, CropConfig(size=region.crop))]


class VideoRenderer:
    """Draws a :class:`VideoAvatar`: each output frame on the next frame of its base loop."""

    idle_motion = False  # blinks and head motion come from the base frames

    def __init__(self, avatar: VideoAvatar, style: MouthStyle = MouthStyle()) -> None:
        self.avatar = avatar
        self.redrawer = MouthRedrawer(FaceModel(avatar.neutral), avatar.mouths, avatar.lower_face, style)
        self._prepared: dict[int, object] = {}

    @property
    def size(self) -> tuple[int, int]:
        return self.avatar.frames.shape[1], self.avatar.frames.shape[2]

    @property
    def face(self) -> FaceModel:
        """The avatar's 3D face (its own neutral and blendshapes)."""
        return self.redrawer.face

    def base_frame(self, index: int) -> TrackedFrame:
        """Base frame ``index`` with its tracked fit."""
        a = self.avatar
        return TrackedFrame(a.frames[index], a.landmarks[index], a.blendshapes[index], a.pose[index],
                            a.region_views[index])

    def render_frames(self, blendshapes: np.ndarray, pose: np.ndarray, first_frame: int = 0,
                      calibrate: bool = True) -> np.ndarray:
        """Frames ``first_frame ..`` of a sequence; ``pose`` is ignored (the base frames' own).

        ``calibrate=False``: the weights are already in this avatar's tracked
        scale (e.g. tracked from its own video), not audio2motion's.
        """
        return self.render_at(blendshapes, pose, range(first_frame, first_frame + len(blendshapes)), calibrate)

    def render_at(self, blendshapes: np.ndarray, pose: np.ndarray, indices: Sequence[int],
                  calibrate: bool = True) -> np.ndarray:
        """One frame per row, row ``k`` at timeline index ``indices[k]``: frames of several live sessions
        drawn in one batch."""
        a = self.avatar
        driven = a.calibration.apply(blendshapes) if calibrate else np.asarray(blendshapes, np.float32)
        bases = [int(a.loop[index % len(a.loop)]) for index in indices]
        frames = [self.base_frame(base) for base in bases]
        for base, frame in zip(bases, frames):
            if base not in self._prepared:
                self._prepared[base] = self.redrawer.prepare(frame)
        drawn = self.redrawer.draw(frames, driven, [self._prepared[base] for base in bases])
        return np.stack([patched.image for patched in drawn])
