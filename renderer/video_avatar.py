"""Avatars from a talking video, ``quick`` preset: the video's own frames, warped, no training.

Enrollment (needs the ``track`` extra): track the face; run audio2motion on
the video's own audio and find the video's A/V offset from it
(:mod:`.av_offset`; not trusted -> 0 and a warning); fit the calibration
from audio2motion's scale to this face's (:mod:`.calibration`, mandatory);
pick the base loop, the most restful second (:mod:`.base_loop`); keep those
frames, their fits, the calibration and every frame's mouth crop as a bundle.

Rendering (no MediaPipe needed): output frame ``k`` is drawn on base frame
``loop[k mod len(loop)]``, a :class:`.face_frame.FaceFrame` whose mouth and jaw
channels take the calibrated driving weights while every other channel keeps
the base frame's own (its blinks, brows and gaze), and whose head pose is the
base frame's. The mouth interior is the enrollment frame's whose tracked
mouth is nearest the driving weights, warped into the hole
(:mod:`.mouth_bank`: real teeth). Base frames are kept exactly (compressed
``.npz``), so pixels outside the warp are the video's.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from talkinghead.renderer.bundle import read_meta, write_meta
from talkinghead.renderer.calibration import DRIVEN, Calibration, fit_calibration
from talkinghead.renderer.face_frame import FaceFrame
from talkinghead.renderer.face_model import FaceModel, interocular, lip_gap
from talkinghead.renderer.mouth import MouthStyle
from talkinghead.renderer.mouth_bank import MouthBank, build_bank
from talkinghead.renderer.video import write_image


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

    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(directory / "base.npz", frames=self.frames)
        np.savez_compressed(directory / "face.npz", landmarks=self.landmarks, blendshapes=self.blendshapes, pose=self.pose,
                 neutral=self.neutral, loop=self.loop, **self.calibration.to_arrays(), **self.mouths.to_arrays())
        write_image(directory / "preview.png", self.frames[self.loop[0]])
        write_meta(directory, "video", {
            "preset": "quick", "fps": [self.fps.numerator, self.fps.denominator],
            "image_size": [int(self.frames.shape[2]), int(self.frames.shape[1])],
            "av_offset_frames": self.av_offset, "av_offset_trusted": self.av_offset_trusted,
            "files": {"base": "base.npz", "face": "face.npz", "preview": "preview.png"},
        })

    @classmethod
    def load(cls, directory: str | Path) -> VideoAvatar:
        directory = Path(directory)
        meta = read_meta(directory)
        try:
            with np.load(directory / meta["files"]["base"]) as base:
                frames = base["frames"]
            with np.load(directory / meta["files"]["face"]) as face:
                arrays = {k: face[k] for k in face.files}
            fps = Fraction(*meta["fps"])
            calibration = Calibration(arrays["knots_in"], arrays["knots_out"], arrays["low"], arrays["high"])
            return cls(frames, arrays["landmarks"], arrays["blendshapes"], arrays["pose"], arrays["neutral"],
                       arrays["loop"].astype(int), fps, calibration, int(meta["av_offset_frames"]),
                       bool(meta["av_offset_trusted"]), MouthBank.from_arrays(arrays))
        except (OSError, KeyError, ValueError, TypeError) as error:
            raise ValueError(f"{directory}: broken avatar bundle ({error})") from None


def enroll_video(path: str | Path, audio: str | Path | None = None, frames: int | None = None,
                 progress: bool = True) -> VideoAvatar:
    """Make a ``quick`` video avatar from a talking video and its speech (needs the ``track`` extra).

    ``audio``: the speech as its own file, when the video has no audio track
    (it must start with the video). ``frames``: enroll on the first this many
    frames only (and their speech), e.g. to hold the rest out for testing.
    """
    from talkinghead.audio2motion.animate import animate
    from talkinghead.audio2motion.audio_io import load_audio
    from talkinghead.audio2motion.baselines import mouth_signals
    from talkinghead.audio2motion.model import load_model
    from talkinghead.renderer.av_offset import estimate_av_offset
    from talkinghead.renderer.base_loop import base_loop
    from talkinghead.renderer.tracking import track_video
    from talkinghead.renderer.video import iter_frames, probe_video

    if frames is not None and frames < 2:
        raise ValueError(f"frames must be at least 2, got {frames}")
    probe_video(path)  # an unreadable file says so before anything else
    try:  # before tracking, so a missing speech track fails at once
        samples, rate = load_audio(audio or path)
    except ValueError as error:
        raise ValueError(f"enrollment needs the video's speech for calibration: {error} (use --audio)") from None
    track = track_video(path, progress=progress)
    if frames is not None:
        samples = samples[: int(frames / track.fps * rate)]
    predicted = animate(load_model(), samples, rate, track.fps, 100).blendshapes
    n = min(len(predicted), track.num_frames, frames or track.num_frames)
    predicted, tracked = predicted[:n], track.blendshapes[:n]
    landmarks = track.landmarks[:n].astype(np.float64)
    estimate = estimate_av_offset(mouth_signals(predicted)["aperture"], lip_gap(landmarks) / interocular(landmarks))
    calibration = fit_calibration(predicted, tracked, estimate.lag)
    loop = base_loop(track.landmarks[:n], track.fps)
    window = np.unique(loop)
    wanted, kept = set(window.tolist()), {}

    def frames_keeping_the_window():
        for k, frame in zip(range(n), iter_frames(path)):
            if k in wanted:
                kept[k] = frame
            yield frame

    mouths = build_bank(frames_keeping_the_window(), track.landmarks[:n], tracked)
    return VideoAvatar(
        np.stack([kept[k] for k in window]), track.landmarks[window], track.blendshapes[window],
        track.pose[window], track.neutral, np.searchsorted(window, loop), track.fps, calibration,
        estimate.lag, estimate.confident, mouths,
    )


class VideoRenderer:
    """Draws a :class:`VideoAvatar`: each output frame on the next frame of its base loop."""

    idle_motion = False  # blinks and head motion come from the base frames

    def __init__(self, avatar: VideoAvatar, style: MouthStyle = MouthStyle()) -> None:
        self.avatar = avatar
        self.style = style
        self.face = FaceModel(avatar.neutral)
        self._frames: dict[int, FaceFrame] = {}

    @property
    def size(self) -> tuple[int, int]:
        return self.avatar.frames.shape[1], self.avatar.frames.shape[2]

    def _base(self, index: int) -> FaceFrame:
        """Base frame ``index`` as a FaceFrame whose image counts as mouth shut, jaw at rest."""
        if index not in self._frames:
            a = self.avatar
            rest = a.blendshapes[index].copy()
            rest[list(DRIVEN)] = 0.0
            self._frames[index] = FaceFrame(a.frames[index], a.landmarks[index], self.face, rest, a.pose[index],
                                            self.style)
        return self._frames[index]

    def render_frames(self, blendshapes: np.ndarray, pose: np.ndarray, first_frame: int = 0,
                      calibrate: bool = True) -> np.ndarray:
        """Frames ``first_frame ..`` of a sequence; ``pose`` is ignored (the base frames' own).

        ``calibrate=False``: the weights are already in this avatar's tracked
        scale (e.g. tracked from its own video), not audio2motion's.
        """
        driven = self.avatar.calibration.apply(blendshapes) if calibrate else np.asarray(blendshapes, np.float32)
        out = []
        for k, row in enumerate(driven):
            base = int(self.avatar.loop[(first_frame + k) % len(self.avatar.loop)])
            weights = self.avatar.blendshapes[base].copy()
            weights[list(DRIVEN)] = row[list(DRIVEN)]
            teeth = functools.partial(self.avatar.mouths.interior, weights)
            out.append(self._base(base).render(weights[None], interior=teeth)[0])
        return np.stack(out)
