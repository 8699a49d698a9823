"""Phoneme labels of the real evaluation data (``../shared/data``) as ARPAbet arrays.

Layout read here: ``talking/<clip>/{audio.wav, video.mp4, phonemes_30fps.json}``,
``talking/phoneme_index.json`` (ARPAbet symbol -> id) and, for audio-only clips
named ``<folder>/<stem>``, ``<folder>/<stem>.wav`` with
``<folder>/<stem>.phonemes_30fps.json``. A label file is a JSON list of ids,
one per 30 fps frame.

Tune only on ``TUNING_CLIPS``; report only on ``REPORT_CLIPS`` and never tune on
them (thresholds, lags, smoothing, model choice), or the reported numbers are
optimistic.
"""

from __future__ import annotations

import json
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from talkinghead.evaluation.lipsync import LABEL_FPS

TUNING_CLIPS: tuple[str, ...] = ("Obama_clip1", "andrew_clip_1", "feifeili_clip1")
REPORT_CLIPS: tuple[str, ...] = (
    "Obama_clip2", "Obama_clip3", "andrew_clip_2", "feifeili_clip2_short", "speech/intro_en",
)
ALL_CLIPS: tuple[str, ...] = TUNING_CLIPS + REPORT_CLIPS
# Labels past the end of the audio are dropped only if they are silence/noise.
_PADDING = frozenset({"SIL", "NSN"})


@dataclass(frozen=True)
class LabelledClip:
    """One evaluation clip: its 30 fps ARPAbet labels and media files."""

    name: str
    labels: np.ndarray  # ARPAbet strings, one per 30 fps frame
    audio: Path
    video: Path | None  # None for audio-only clips


def load_phoneme_index(path: str | Path) -> tuple[str, ...]:
    """Read ``phoneme_index.json`` (symbol -> id) as a tuple indexed by id."""
    mapping = json.loads(Path(path).read_text())
    if not isinstance(mapping, dict) or sorted(mapping.values()) != list(range(len(mapping))):
        raise ValueError(f"{path}: expected a JSON object mapping symbols to ids 0..n-1")
    index = [""] * len(mapping)
    for symbol, i in mapping.items():
        index[i] = symbol
    return tuple(index)


def load_clip_labels(path: str | Path, index: Sequence[str]) -> np.ndarray:
    """Read a ``phonemes_30fps.json`` list of ids as an array of ARPAbet strings."""
    ids = json.loads(Path(path).read_text())
    if (not isinstance(ids, list) or not ids
            or not all(isinstance(i, int) and 0 <= i < len(index) for i in ids)):
        raise ValueError(f"{path}: expected a non-empty JSON list of ids in 0..{len(index) - 1}")
    return np.asarray(index, dtype=str)[np.asarray(ids, dtype=np.int64)]


def _wav_label_frames(path: Path) -> Fraction:
    """Duration of a WAV file in 30 fps label frames."""
    with wave.open(str(path), "rb") as w:
        return Fraction(w.getnframes(), w.getframerate()) * LABEL_FPS


def _trim_to_audio(labels: np.ndarray, audio: Path) -> np.ndarray:
    """Drop trailing silence labels that extend past the audio (intro_en has ~10)."""
    n = int(np.ceil(float(_wav_label_frames(audio))))
    if labels.size > n and set(labels[n:].tolist()) <= _PADDING:
        return labels[:n]
    return labels


def _clip_files(root: Path, name: str) -> tuple[Path, Path, Path | None]:
    if "/" in name:
        stem = root / name
        return stem.parent / f"{stem.name}.phonemes_30fps.json", stem.with_suffix(".wav"), None
    folder = root / "talking" / name
    return folder / "phonemes_30fps.json", folder / "audio.wav", folder / "video.mp4"


def available_clips(data_root: str | Path, names: Sequence[str] = ALL_CLIPS) -> list[LabelledClip]:
    """The clips of ``names`` present under ``data_root`` (empty if the folder is absent).

    Clips with a missing file are skipped. Label frames past the end of the
    audio are removed when they are all SIL/NSN padding, so signals computed
    from the audio meet the yardstick's length rule.
    """
    root = Path(data_root)
    index_path = root / "talking" / "phoneme_index.json"
    if not index_path.is_file():
        return []
    index = load_phoneme_index(index_path)
    clips = []
    for name in names:
        label_path, audio, video = _clip_files(root, name)
        if not (label_path.is_file() and audio.is_file()) or (video and not video.is_file()):
            continue
        labels = _trim_to_audio(load_clip_labels(label_path, index), audio)
        clips.append(LabelledClip(name, labels, audio, video))
    return clips
