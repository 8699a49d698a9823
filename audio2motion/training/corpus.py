"""The teacher corpus on disk: shards of utterances on the network's step grid.

A shard ``shard-NNNNN.npz`` holds utterances back to back:
- ``mel`` float16 (frames, 80): log-mel of the (augmented) speech, an even
  number of frames per utterance (whole 50 Hz steps);
- ``weights`` uint8 (steps, 52): articulation targets in 1/255 steps, step
  ``s`` sampled at ``0.01 + 0.02 s`` seconds (the model's grid);
- ``phones`` int8 (steps,): index into ``phones.PHONES`` at the same instants;
- ``steps`` int32 (utterances,): steps per utterance;
- ``meta``: one JSON line per utterance (text, engine, voice, augmentation);
- ``audio`` int16 and ``samples`` int32 (utterances,), when kept: the
  augmented 16 kHz speech the mel was computed from, so other ears (the
  Whisper encoder's features, :mod:`.whisper_corpus`) can be computed later.

Shards are written whole to a temporary name and renamed, so a stopped build
resumes by skipping the shards that exist.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from talkinghead.audio2motion.model import MELS_PER_STEP


@dataclass(frozen=True)
class Example:
    """One utterance on the step grid."""

    mel: np.ndarray  # (2S, 80) float32
    weights: np.ndarray  # (S, 52) float32 in [0, 1]
    phones: np.ndarray  # (S,) int
    meta: dict
    audio: np.ndarray | None = None  # (samples,) float32 at 16 kHz, when the corpus keeps it

    def __post_init__(self) -> None:
        steps = len(self.weights)
        if len(self.mel) != MELS_PER_STEP * steps or len(self.phones) != steps:
            raise ValueError(f"example lengths disagree: mel {len(self.mel)}, weights {steps}, phones {len(self.phones)}")


def shard_path(directory: Path, index: int) -> Path:
    return Path(directory) / f"shard-{index:05d}.npz"


def write_shard(path: Path, examples: Sequence[Example]) -> None:
    path = Path(path)
    tmp = path.with_name(path.stem + ".tmp.npz")
    audio = {}
    if examples and all(e.audio is not None for e in examples):
        pcm = np.concatenate([e.audio for e in examples])
        audio = {"audio": np.round(np.clip(pcm, -1.0, 1.0) * 32767).astype(np.int16),
                 "samples": np.array([len(e.audio) for e in examples], np.int32)}
    np.savez(
        tmp,
        **audio,
        mel=np.concatenate([e.mel for e in examples]).astype(np.float16),
        weights=np.round(np.concatenate([e.weights for e in examples]) * 255).astype(np.uint8),
        phones=np.concatenate([e.phones for e in examples]).astype(np.int8),
        steps=np.array([len(e.weights) for e in examples], np.int32),
        meta=np.array("\n".join(json.dumps(e.meta) for e in examples)),
    )
    os.replace(tmp, path)


def read_shard(path: Path, with_audio: bool = False) -> list[Example]:
    """A shard's utterances; ``with_audio`` also decodes the kept speech (``ValueError`` if it has none)."""
    with np.load(path) as data:
        steps = data["steps"]
        bounds = np.concatenate([[0], np.cumsum(steps)])
        metas = str(data["meta"]).split("\n")
        mel, weights, phones = data["mel"], data["weights"], data["phones"]
        audio = [None] * len(steps)
        if with_audio:
            if "audio" not in data:
                raise ValueError(f"{path}: this corpus kept no audio (rebuild it with scripts/build_teacher_corpus.py)")
            edges = np.concatenate([[0], np.cumsum(data["samples"])])
            pcm = data["audio"].astype(np.float32) / 32767
            audio = [pcm[a:b] for a, b in zip(edges[:-1], edges[1:])]
        return [
            Example(
                mel[MELS_PER_STEP * a:MELS_PER_STEP * b].astype(np.float32),
                weights[a:b].astype(np.float32) / 255.0,
                phones[a:b].astype(np.int64),
                json.loads(meta),
                speech,
            )
            for a, b, meta, speech in zip(bounds[:-1], bounds[1:], metas, audio)
        ]


def read_shard_meta(path: Path) -> list[dict]:
    """The utterances' metadata alone (no arrays decoded)."""
    with np.load(path) as data:
        return [json.loads(meta) for meta in str(data["meta"]).split("\n")]


def shard_indices(directory: Path) -> list[int]:
    return sorted(int(p.stem.split("-")[1]) for p in Path(directory).glob("shard-[0-9][0-9][0-9][0-9][0-9].npz"))


def read_corpus(directory: Path, indices: Iterable[int] | None = None) -> list[Example]:
    directory = Path(directory)
    chosen = shard_indices(directory) if indices is None else list(indices)
    if not chosen:
        raise ValueError(f"{directory}: no corpus shards (build one with scripts/build_teacher_corpus.py)")
    return [example for i in chosen for example in read_shard(shard_path(directory, i))]
