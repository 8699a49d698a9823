"""Whisper encoder features of a teacher corpus, beside its shards (``NAME-NNNNN.npz``).

A shard's utterances are heard the way a long recording is: their kept audio
(each padded to whole 20 ms steps) is joined end to end and cut into the
windows the features will meet at inference, so a frame's window holds the
neighbouring utterances as real speech would: the offline windows
(``whisper-*``) or a live windowing (``whisper-live-W-H-*``, W and H in
20 ms frames: what a live session computes). Each sidecar holds ``features``
float16 (steps, 384), the shard's utterances back to back on the network's
step grid, and ``window``; it is written whole under a temporary name and
renamed, so a stopped run resumes.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from talkinghead.audio2motion.training.corpus import read_shard, shard_indices
from talkinghead.audio2motion.whisper import (
    FRAME_SAMPLES,
    LiveWindowing,
    WhisperEncoder,
    Windowing,
    live_step_features,
    step_features,
)


def sidecar_path(directory: Path, index: int, name: str = "whisper") -> Path:
    return Path(directory) / f"{name}-{index:05d}.npz"


def sidecar_name(windowing: Windowing | LiveWindowing | None) -> str:
    """``whisper`` for the offline windows, ``whisper-live-W-H`` for a live windowing."""
    if isinstance(windowing, LiveWindowing):
        return f"whisper-live-{windowing.length}-{windowing.hop}"
    return "whisper"


def shard_features(audio: list[np.ndarray], steps: list[int], encoder: WhisperEncoder,
                   windowing: Windowing | LiveWindowing) -> np.ndarray:
    """Utterances' 16 kHz audio and step counts -> (sum(steps), 384) step features."""
    joined = np.concatenate([np.pad(a, (0, n * FRAME_SAMPLES - len(a))) for a, n in zip(audio, steps)])
    if isinstance(windowing, LiveWindowing):
        return live_step_features(joined, windowing, encoder, sum(steps))
    return step_features(encoder.frames(joined, windowing))


def write_features(directory: Path, encoder: WhisperEncoder, windowing: Windowing | LiveWindowing,
                   progress: bool = True) -> None:
    """Sidecars for every shard of ``directory`` that has none yet (resumable)."""
    directory = Path(directory)
    name = sidecar_name(windowing)
    todo = [i for i in shard_indices(directory) if not sidecar_path(directory, i, name).exists()]
    for index in tqdm(todo, desc=f"whisper features {directory.name}", unit="shard", disable=not progress):
        examples = read_shard(directory / f"shard-{index:05d}.npz", with_audio=True)
        features = shard_features([e.audio for e in examples], [len(e.weights) for e in examples], encoder, windowing)
        path = sidecar_path(directory, index, name)
        tmp = path.with_name(path.stem + ".tmp.npz")
        np.savez(tmp, features=features.astype(np.float16), window=np.array([windowing.length, windowing.hop]))
        os.replace(tmp, path)


def read_features(directory: Path, steps: list[int], indices: Iterable[int] | None = None,
                  name: str = "whisper") -> list[np.ndarray]:
    """Per-utterance features (float32) for the shards ``indices`` (default: all), in corpus order."""
    directory = Path(directory)
    chosen = shard_indices(directory) if indices is None else list(indices)
    out = []
    for index in chosen:
        path = sidecar_path(directory, index, name)
        if not path.exists():
            raise ValueError(f"{path}: no Whisper features (compute them with scripts/whisper_corpus.py)")
        with np.load(path) as data:
            out.append(data["features"])
    features = np.concatenate(out) if out else np.zeros((0, 384), np.float16)
    if len(features) != sum(steps):
        raise ValueError(f"{directory}: Whisper features cover {len(features)} steps, the shards {sum(steps)}")
    bounds = np.concatenate([[0], np.cumsum(steps)])
    return [features[a:b].astype(np.float32) for a, b in itertools.pairwise(bounds)]
