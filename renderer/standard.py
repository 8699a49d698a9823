"""The ``standard`` preset: per avatar, train :mod:`.lower_face`'s network on the enrollment video.

Training examples pair every enrollment frame (the target, its real lower
face the truth) with base frames from *other* times, at least ``base_gap``
frames away: the quick preset draws the base frame with the target's
tracked mouth, exactly as at render time, and the network learns what the
warp cannot (the jaw's shading, the lips' real texture, the teeth). The
mouth interiors and references it is given also come from at least
``base_gap`` frames away, so it never sees its own answer. The loss is
:func:`.lower_face.loss`; ``adversarial_weight > 0`` adds, after the first
30% of the steps, a patch critic's term (:mod:`.critic`). It is off by
default: at 0.1 it sharpened the tuning clip (frame-space sharpness ratio
0.69 -> 0.87, -0.65 dB) but lost on Obama_clip2 (0.79 -> 0.68, -0.18 dB).
Training is seeded, shows a progress bar, and resumes from its checkpoint.
"""

from __future__ import annotations

import copy
import functools
import io
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from talkinghead.renderer.calibration import at_rest, driven_by
from talkinghead.renderer.critic import PatchCritic, critic_loss, generator_loss
from talkinghead.renderer.crops import CropView
from talkinghead.renderer.face_frame import FaceFrame
from talkinghead.renderer.face_model import FaceModel
from talkinghead.renderer.lower_face import (
    IN_CHANNELS, Geometry, LowerFaceNet, RegionConfig, blend_masks, geometry, loss, mouth_weights, network_input,
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
class Enrollment:
    """The tracked enrollment frames, cut to the network's region."""

    regions: np.ndarray  # (T,S,S,3) uint8: each frame's region in its own (smoothed) crop
    views: list[CropView]  # each region's view of its video frame
    landmarks: np.ndarray  # (T,478,3) image pixels
    blendshapes: np.ndarray  # (T,52)
    pose: np.ndarray  # (T,6)
    face: FaceModel
    mouths: MouthBank


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


def pick_references(keys: np.ndarray, count: int) -> np.ndarray:
    """Frame indices spread over the mouth channels (farthest-point sampling from the most closed)."""
    keys = np.asarray(keys, np.float64)
    chosen = [int(np.argmin(keys.sum(1)))]
    distance = ((keys - keys[chosen[0]]) ** 2).sum(1)
    for _ in range(min(count, len(keys)) - 1):
        chosen.append(int(np.argmax(distance)))
        distance = np.minimum(distance, ((keys - keys[chosen[-1]]) ** 2).sum(1))
    return np.array(sorted(set(chosen)))


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


def build_examples(enrollment: Enrollment, references: References, config: StandardConfig,
                   progress: bool = True) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Training inputs (stacked :class:`Drawn` fields) and truths (N,S,S,3) uint8."""
    count = len(enrollment.regions)
    rng = np.random.default_rng(config.seed)
    targets = np.arange(count)
    if count * config.bases_per_target > config.max_examples:
        targets = np.sort(rng.choice(count, config.max_examples // config.bases_per_target, replace=False))
    frames = np.arange(count)
    fields: dict[str, list[torch.Tensor]] = {}
    truths = []
    bases: dict[int, BaseRegion] = {}
    bar = tqdm(total=len(targets) * config.bases_per_target, desc="standard: examples", unit="example",
               disable=not progress)
    for t in targets:
        far = np.abs(frames - t) >= config.base_gap
        candidates = frames[far] if far.any() else frames[frames != t]
        for b in rng.choice(candidates, config.bases_per_target):
            if b not in bases:
                e = enrollment
                bases[b] = BaseRegion(e.regions[b], e.views[b], e.landmarks[b], e.blendshapes[b], e.pose[b], e.face,
                                      config.region)
            reference = references.nearest(enrollment.blendshapes[t], t, config.base_gap)
            drawn = bases[b].draw(enrollment.blendshapes[t], enrollment.mouths, reference, far if far.any() else None)
            for name, value in _compact(drawn).items():
                fields.setdefault(name, []).append(value)
            truths.append(torch.from_numpy(enrollment.regions[t]))
            bar.update()
    bar.close()
    return {name: torch.cat(values) for name, values in fields.items()}, torch.stack(truths)


def _compact(drawn: Drawn) -> dict[str, torch.Tensor]:
    """A Drawn's tensors in small dtypes, for keeping a thousand of them in memory."""
    return {
        "drawn": drawn.drawn, "base": drawn.base, "hard": drawn.hard, "soft": drawn.soft.half(),
        "canonical": drawn.target.canonical.half(), "mouth_hole": drawn.target.mouth,
        "lower": drawn.target.lower, "reference": drawn.reference, "mouth": drawn.mouth.bool(),
    }


def _batch(fields: dict[str, torch.Tensor], index: torch.Tensor) -> Drawn:
    f = {name: value[index] for name, value in fields.items()}
    return Drawn(f["drawn"], f["base"], f["hard"], f["soft"].float(),
                 Geometry(f["canonical"].float(), f["mouth_hole"], f["lower"]), f["reference"], f["mouth"].float())


def train_network(fields: dict[str, torch.Tensor], truths: torch.Tensor, config: StandardConfig,
                  checkpoint: Path | None = None, device: str = "cpu", progress: bool = True) -> LowerFaceNet:
    """Train a :class:`LowerFaceNet` on built examples; resumes from ``checkpoint`` when it exists.

    Returns the network on the CPU, in eval mode.
    """
    require_device(device)
    torch.manual_seed(config.seed)
    net = LowerFaceNet(config.width).to(device)
    optimiser = torch.optim.Adam(net.parameters(), lr=config.learning_rate)
    critic = PatchCritic().to(device) if config.adversarial_weight > 0 else None
    critic_optimiser = None if critic is None else \
        torch.optim.Adam(critic.parameters(), lr=config.critic_learning_rate, betas=(0.5, 0.999))
    warmup = max(1, config.steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(  # linear warm-up, cosine decay
        optimiser, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, config.steps) / config.steps)))
    generator = torch.Generator().manual_seed(config.seed)
    step = 0
    if checkpoint is not None and checkpoint.is_file():
        state = torch.load(checkpoint, weights_only=False, map_location=device)
        net.load_state_dict(state["net"])
        optimiser.load_state_dict(state["optimiser"])
        schedule.load_state_dict(state["schedule"])
        generator.set_state(state["generator"])
        if critic is not None and "critic" in state:
            critic.load_state_dict(state["critic"])
            critic_optimiser.load_state_dict(state["critic_optimiser"])
        step = state["step"]
    adversarial_from = int(config.adversarial_start * config.steps)
    bar = tqdm(total=config.steps, initial=step, desc="standard: train", unit="step", disable=not progress)
    net.train()
    while step < config.steps:
        index = torch.randint(len(truths), (config.batch,), generator=generator)
        batch = _batch(fields, index)
        soft, truth = batch.soft.to(device), truths[index].permute(0, 3, 1, 2).float().to(device)
        output = net(batch.network_input().to(device))
        value = loss(output, truth, soft, batch.mouth.to(device), config.mouth_weight, config.ssim_weight)
        if critic is not None and step >= adversarial_from:
            critic_optimiser.zero_grad()
            critic_loss(critic, truth, output, soft).backward()
            critic_optimiser.step()
            value = value + config.adversarial_weight * generator_loss(critic, output, soft)
        optimiser.zero_grad()
        value.backward()
        norm = torch.nn.utils.clip_grad_norm_(net.parameters(), config.clip_norm)
        if torch.isfinite(norm):  # a non-finite batch is skipped, not learnt
            optimiser.step()
        schedule.step()
        step += 1
        bar.update()
        bar.set_postfix(loss=f"{value.item():.4f}")
        if checkpoint is not None and (step % config.checkpoint_every == 0 or step == config.steps):
            state = {"net": net.state_dict(), "optimiser": optimiser.state_dict(), "schedule": schedule.state_dict(),
                     "generator": generator.get_state(), "step": step}
            if critic is not None:
                state |= {"critic": critic.state_dict(), "critic_optimiser": critic_optimiser.state_dict()}
            torch.save(state, checkpoint)
    bar.close()
    return net.cpu().eval()


def training_errors(net: LowerFaceNet, fields: dict[str, torch.Tensor], truths: torch.Tensor,
                    count: int = 64) -> tuple[float, float]:
    """Masked mean absolute error (0-255) of the network and of the quick drawing on ``count`` examples.

    A trained network must beat the drawing it corrects; if it does not,
    training failed and the avatar should not be saved as ``standard``.
    """
    index = torch.linspace(0, len(truths) - 1, min(count, len(truths))).long()
    batch = _batch(fields, index)
    truth = truths[index].float()
    weight = batch.soft[..., None]
    with torch.inference_mode():
        output = net(batch.network_input()).permute(0, 2, 3, 1)

    def error(image: torch.Tensor) -> float:
        return float(((image.float() - truth).abs() * weight).sum() / (weight.sum() * 3).clamp(min=1))

    return error(output), error(batch.drawn)


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
