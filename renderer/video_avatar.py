"""Avatars from a talking video: the video's own frames, warped (``quick``) or redrawn by a network (``standard``).

Enrollment (:mod:`talkinghead.jobs.enroll`, which joins this stage to
audio2motion) tracks the face, fits the calibration from audio2motion's
scale to this face's and the video's A/V offset, picks the base loop, and
keeps those frames, their fits, the calibration and every frame's mouth crop
as a bundle. The ``standard`` preset also keeps :mod:`.lower_face`'s network,
trained on every enrollment frame, with its reference regions.

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

import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from talkinghead.contracts.coefficients import Coefficients
from talkinghead.contracts.face_model import FaceModel
from talkinghead.contracts.frame import Frame
from talkinghead.renderer.bundle import read_meta, write_meta
from talkinghead.renderer.calibration import Calibration
from talkinghead.renderer.crops import CropConfig, CropView, crop_transforms
from talkinghead.renderer.lower_face import RegionConfig
from talkinghead.renderer.mouth import MouthStyle
from talkinghead.renderer.mouth_bank import MouthBank
from talkinghead.renderer.redraw import MouthRedrawer, TrackedFrame
from talkinghead.renderer.retrieval import NativeBank, PickTrack, Retrieval
from talkinghead.renderer.standard import LowerFaceModel
from talkinghead.renderer.tracking import Track
from talkinghead.renderer.video import write_image

PRESETS = ("quick", "standard", "retrieval")
DEFAULT_PRESET = "retrieval"  # benchmarks/RESULTS.md, "Mouths of real pixels": it meets the most bars


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
    motion_weights: dict | None = None  # audio2motion's checkpoint fine-tuned on this video; None: the shipped one
    bank: NativeBank | None = None  # the retrieval preset's lower faces at native resolution
    coverage: dict | None = None  # what the enrollment video showed of the mouth (renderer.coverage.Coverage)
    calibrated_on: str = "mel"  # the audio2motion (ears:digest) the calibration was fitted on; older bundles: mel

    @property
    def preset(self) -> str:
        if self.lower_face is not None:
            return "standard"
        return "quick" if self.bank is None else "retrieval"

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
        if self.motion_weights is not None:
            torch.save(self.motion_weights, directory / "a2m.pt")
            files["audio2motion"] = "a2m.pt"
        if self.bank is not None:
            np.savez_compressed(directory / "bank.npz", **self.bank.to_arrays())
            files["bank"] = "bank.npz"
        write_meta(directory, "video", {
            "preset": self.preset, "fps": [self.fps.numerator, self.fps.denominator],
            "image_size": [int(self.frames.shape[2]), int(self.frames.shape[1])],
            "av_offset_frames": self.av_offset, "av_offset_trusted": self.av_offset_trusted,
            "files": files, "coverage": self.coverage, "calibrated_on": self.calibrated_on,
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
            motion_weights = None
            if "audio2motion" in meta["files"]:
                motion_weights = torch.load(directory / meta["files"]["audio2motion"], map_location="cpu",
                                            weights_only=True)
            bank = None
            if "bank" in meta["files"]:
                with np.load(directory / meta["files"]["bank"]) as stored:
                    bank = NativeBank.from_arrays({k: stored[k] for k in stored.files})
            return cls(frames, arrays["landmarks"], arrays["blendshapes"], arrays["pose"], arrays["neutral"],
                       arrays["loop"].astype(int), fps, calibration, int(meta["av_offset_frames"]),
                       bool(meta["av_offset_trusted"]), MouthBank.from_arrays(arrays), arrays["region_views"],
                       lower_face, motion_weights, bank, meta.get("coverage"), str(meta.get("calibrated_on", "mel")))
        except (OSError, KeyError, ValueError, TypeError, RuntimeError, pickle.UnpicklingError) as error:
            raise ValueError(f"{directory}: broken avatar bundle ({error})") from None


def region_views(landmarks: np.ndarray, size: tuple[int, int], region: RegionConfig) -> list[CropView]:
    """Each frame's network region in its (width, height) frame, from stabilised face crops over the sequence."""
    return [region.view(CropView(t, size)) for t in crop_transforms(landmarks, CropConfig(size=region.crop))]


class VideoRenderer:
    """Draws a :class:`VideoAvatar`: each output frame on the next frame of its base loop."""

    idle_motion = False  # blinks and head motion come from the base frames

    def __init__(self, avatar: VideoAvatar, style: MouthStyle = MouthStyle()) -> None:
        self.avatar = avatar
        retrieval = None if avatar.bank is None else Retrieval(avatar.bank, avatar.neutral)
        self.redrawer = MouthRedrawer(FaceModel(avatar.neutral), avatar.mouths, avatar.lower_face, style, retrieval)
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

    @property
    def motion_weights(self) -> dict | None:
        return self.avatar.motion_weights

    @property
    def calibrated_on(self) -> str:
        return self.avatar.calibrated_on

    def sequence(self) -> PickTrack | None:
        """Retrieval's picks along a sequence (smoothed in time); the other presets draw each frame alone."""
        return None if self.redrawer.retrieval is None else PickTrack()

    def draw(self, coefficients: Coefficients, sequence: PickTrack | None = None, calibrate: bool = True) -> np.ndarray:
        """Frames ``start_frame ..`` of a sequence; the pose is ignored (the base frames' own).

        ``sequence``: continue one drawn in earlier calls (None: a new one).
        ``calibrate=False``: the weights are already in this avatar's tracked
        scale (e.g. tracked from its own video), not audio2motion's.
        """
        indices = range(coefficients.start_frame, coefficients.end_frame)
        track = self.sequence() if sequence is None else sequence
        return self._draw(coefficients.blendshapes, indices, [track] * len(indices), calibrate)

    def draw_frames(self, frames: Sequence[Frame]) -> np.ndarray:
        """One picture per frame, each at its own timeline index and continuing its own sequence: frames of
        several live sessions in one batch (a session's frames come in its order)."""
        return self._draw(np.stack([f.blendshapes for f in frames]), [f.index for f in frames],
                          [f.sequence for f in frames], True)

    def _draw(self, blendshapes: np.ndarray, indices: Sequence[int], tracks: Sequence[PickTrack | None],
              calibrate: bool) -> np.ndarray:
        a = self.avatar
        driven = a.calibration.apply(blendshapes) if calibrate else np.asarray(blendshapes, np.float32)
        bases = [int(a.loop[index % len(a.loop)]) for index in indices]
        frames = [self.base_frame(base) for base in bases]
        for base, frame in zip(bases, frames):
            if base not in self._prepared:
                self._prepared[base] = self.redrawer.prepare(frame)
        drawn = self.redrawer.draw(frames, driven, [self._prepared[base] for base in bases], tracks)
        return np.stack([patched.image for patched in drawn])
