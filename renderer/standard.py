"""The ``standard`` preset at render time: :mod:`.lower_face`'s network trained per avatar, on a backend.

What the network reads for a target drawn on a base frame (:class:`BaseRegion`,
:class:`Drawn`), the reference regions it retrieves from, and the trained
network on torch or onnxruntime (:class:`LowerFaceModel`). Its training is
:mod:`talkinghead.renderer.training.standard`, run by enrollment only.
"""

from __future__ import annotations

import copy
import functools
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from talkinghead.contracts.face_model import FaceModel
from talkinghead.renderer.calibration import at_rest, driven_by
from talkinghead.renderer.crops import CropView
from talkinghead.renderer.face_frame import FaceFrame
from talkinghead.renderer.lower_face import (
    IN_CHANNELS,
    Geometry,
    LowerFaceNet,
    RegionConfig,
    blend_masks,
    geometry,
    mouth_weights,
    network_input,
    warped_geometry,
)
from talkinghead.renderer.mouth_bank import MouthBank, nearest_mouth


@dataclass(frozen=True)
class StandardConfig:
    region: RegionConfig = RegionConfig()
    width: int = 32  # channels of the network's first level
    steps: int = 1500
    batch: int = 8
    learning_rate: float = 1e-3
    clip_norm: float = 1.0  # gradient norm cap: one bad batch must not throw the network off
    base_gap: int = 15  # frames between a target and its base frame, interior and reference
    bases_per_target: int = 2
    max_examples: int = 1200
    references: int = 48  # enrollment regions kept for retrieval
    mouth_weight: float = 2.0
    ssim_weight: float = 0.5
    adversarial_weight: float = 0.0  # the patch critic's term (:mod:`.critic`); 0: no critic (see RESULTS)
    adversarial_start: float = 0.3  # fraction of the steps trained on the reconstruction loss alone first
    critic_learning_rate: float = 2e-4
    checkpoint_every: int = 100
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch < 1 or self.bases_per_target < 1 or self.references < 1:
            raise ValueError("steps, batch, bases_per_target and references must be positive")


@dataclass(frozen=True)
class Drawn:
    """Everything the network reads for a batch of targets drawn on one base frame."""

    drawn: torch.Tensor  # (B,S,S,3) uint8: the quick preset's drawing
    base: torch.Tensor  # (B,S,S,3) uint8
    hard: torch.Tensor  # (B,S,S) bool
    soft: torch.Tensor  # (B,S,S) float
    target: Geometry
    reference: torch.Tensor  # (B,S,S,3) uint8
    mouth: torch.Tensor  # (B,S,S) float: the target's lip box, for the loss

    def network_input(self) -> torch.Tensor:
        return network_input(self.drawn, self.base, self.hard, self.target, self.reference)


@dataclass(frozen=True)
class References:
    """Enrollment regions for retrieval by mouth channels, and the frames they came from."""

    regions: np.ndarray  # (K,S,S,3) uint8
    keys: np.ndarray  # (K, len(DRIVEN))
    frames: np.ndarray  # (K,) enrollment frame indices

    def nearest(self, weights: np.ndarray, away_from: int | None = None, gap: int = 0) -> np.ndarray:
        """The region whose key is nearest ``weights`` (52,), optionally ``gap`` frames from ``away_from``."""
        far = None if away_from is None else np.abs(self.frames - away_from) >= gap
        return self.regions[nearest_mouth(self.keys, weights, far if far is not None and far.any() else None)]


class BaseRegion:
    """One base frame's region, ready to draw targets on: the quick warp and the base geometry."""

    def __init__(self, region: np.ndarray, view: CropView, landmarks: np.ndarray, blendshapes: np.ndarray,
                 pose: np.ndarray, face: FaceModel, config: RegionConfig) -> None:
        self.config = config
        self.blendshapes = np.asarray(blendshapes, np.float32)
        self.frame = FaceFrame(region, landmarks, face, at_rest(blendshapes), pose, view=view)
        self.geometry = geometry(self.frame.source[None], face, config.size)
        ring = len(self.frame.warp.source_uv) - len(face.neutral)
        self._surface_canonical = torch.cat([face.neutral.float(), torch.zeros(ring, 3)])  # the ring: off the face
        self.image = torch.from_numpy(np.ascontiguousarray(region))[None]

    def draw(self, driving: np.ndarray, mouths: MouthBank, reference: np.ndarray,
             allowed: np.ndarray | None = None) -> Drawn:
        """The network's inputs for one target (``driving`` (52,), in the avatar's tracked scale)."""
        weights = driven_by(self.blendshapes, driving)
        interior = functools.partial(mouths.interior, weights, allowed=allowed)
        drawn, warped, screen = self.frame.redraw(weights[None], interior=interior)
        target = warped_geometry(warped, self.frame.warp.triangles, self._surface_canonical, self.frame.face,
                                 self.config.size)
        hard, soft = blend_masks(self.geometry, target, self.config)
        return Drawn(torch.from_numpy(drawn), self.image, hard, soft, target, torch.from_numpy(reference)[None],
                     mouth_weights(screen, self.config.size))


def require_device(device: str) -> None:
    """A clear error for ``cuda`` on a machine without it."""
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device cuda asked for, but torch sees no CUDA device here (use --device cpu)")


class LowerFaceModel:
    """A trained avatar network with what it reads at render time, on a backend.

    Backends: ``torch`` (CPU, or CUDA in fp16) and ``onnx`` (onnxruntime, CPU
    or CUDA provider); both run the same weights, the ONNX graph exported
    from the torch module.
    """

    def __init__(self, net: LowerFaceNet, region: RegionConfig, references: References,
                 backend: str = "torch", device: str = "cpu", graph: bytes | None = None) -> None:
        """``graph``: the network's ONNX export, when at hand (a bundle's); else exported here for ``onnx``."""
        if backend not in ("torch", "onnx") or device not in ("cpu", "cuda"):
            raise ValueError(f"backend must be torch or onnx and device cpu or cuda, got {backend!r}, {device!r}")
        require_device(device)
        self.net, self.region, self.references = net.eval(), region, references
        self.backend, self.device = backend, device
        self._session = None
        if backend == "onnx":
            import onnxruntime

            if graph is None:
                buffer = io.BytesIO()
                export_lower_face(net, buffer, region.size)
                graph = buffer.getvalue()
            providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if device == "cuda" else ["CPUExecutionProvider"]
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = torch.get_num_threads()  # one thread budget for both backends
            options.inter_op_num_threads = 1
            self._session = onnxruntime.InferenceSession(graph, options, providers=providers)
        elif device == "cuda":
            self.net = copy.deepcopy(self.net).to("cuda").half()  # the caller's network stays as it was

    def __call__(self, inputs: torch.Tensor) -> torch.Tensor:
        """Network input (B,14,S,S) -> the drawn region (B,S,S,3) in [0, 255], on the CPU."""
        if self._session is not None:
            (out,) = self._session.run(None, {"inputs": inputs.numpy().astype(np.float32)})
            return torch.from_numpy(out).permute(0, 2, 3, 1)
        with torch.inference_mode():
            if self.device == "cuda":
                return self.net(inputs.to("cuda").half()).float().cpu().permute(0, 2, 3, 1)
            return self.net(inputs).permute(0, 2, 3, 1)

    def save(self, directory: Path) -> dict[str, str]:
        """Write ``lower_face.pt``, ``lower_face.onnx`` and ``references.npz``; their names for avatar.json."""
        torch.save({"width": self.net.width, "region": vars(self.region), "state": self.net.state_dict()},
                   directory / "lower_face.pt")
        export_lower_face(self.net, directory / "lower_face.onnx", self.region.size)
        np.savez_compressed(directory / "references.npz", regions=self.references.regions,
                            keys=self.references.keys, frames=self.references.frames)
        return {"network": "lower_face.pt", "network_onnx": "lower_face.onnx", "references": "references.npz"}

    @classmethod
    def load(cls, directory: Path, files: dict[str, str], backend: str = "torch", device: str = "cpu") -> LowerFaceModel:
        saved = torch.load(directory / files["network"], weights_only=True)
        net = LowerFaceNet(int(saved["width"]))
        net.load_state_dict(saved["state"])
        with np.load(directory / files["references"]) as data:
            references = References(data["regions"], data["keys"], data["frames"])
        graph = (directory / files["network_onnx"]).read_bytes() if backend == "onnx" else None
        return cls(net, RegionConfig(**saved["region"]), references, backend, device, graph)


def export_lower_face(net: LowerFaceNet, path: Path | io.BytesIO, size: int = 128) -> None:
    """The network as ONNX (float32, dynamic batch), input ``inputs`` (B,14,S,S), output ``region``."""
    net = copy.deepcopy(net).float().cpu().eval()
    example = torch.zeros(1, IN_CHANNELS, size, size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (example,), path, input_names=["inputs"], output_names=["region"],
                          dynamic_axes={"inputs": {0: "batch"}, "region": {0: "batch"}}, opset_version=17,
                          dynamo=False)
