"""One timing convention for every teacher voice: each utterance is re-timed by one aligner.

TTS engines place phone boundaries by their own conventions (espeak-ng's
phoneme events come about 15 ms after festival's Segment times, and diphone
voices end vowels late), so a network trained on the mix learns a blur of
them. Here a trained network's phone posteriors (its longest look-ahead head,
which has heard 200 ms past each step) are force-aligned by Viterbi to the
utterance's own phone sequence, and the utterance's offset is the trimmed
mean of (aligned - labelled) boundary time. The mel is then moved by that
offset, rounded to whole mel frames, so the labels keep their exact shapes and
the sound moves under them: after this every voice's phones sit where one
acoustic model hears them, and the network's output delay is one number.
"""

from __future__ import annotations

import numpy as np
import torch

from talkinghead.audio2motion.model import (
    MELS_PER_STEP,
    SILENT_MEL,
    Audio2Motion,
    head_rows,
    split_heads,
)
from talkinghead.audio2motion.training.corpus import Example

MEL_FRAME_S = 0.01


def runs(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Phone ids per step -> (phone of each run, first step of each run)."""
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    return ids[starts], starts


def viterbi_starts(log_posteriors: np.ndarray, sequence: np.ndarray) -> np.ndarray:
    """First step of each phone of ``sequence`` in the best monotonic alignment (every phone >= 1 step)."""
    steps, n = len(log_posteriors), len(sequence)
    if n > steps:
        raise ValueError(f"{n} phones cannot fit in {steps} steps")
    emit = log_posteriors[:, sequence]
    score = np.full(n, -np.inf)
    score[0] = emit[0, 0]
    advanced = np.zeros((steps, n), bool)
    for s in range(1, steps):
        move = np.r_[-np.inf, score[:-1]]
        advanced[s] = move > score
        score = np.maximum(score, move) + emit[s]
    starts = np.zeros(n, int)
    segment = n - 1
    for s in range(steps - 1, 0, -1):
        if segment == 0:
            break
        if advanced[s, segment]:
            starts[segment] = s
            segment -= 1
    return starts


def step_log_posteriors(model: Audio2Motion, mel: np.ndarray) -> np.ndarray:
    """Log phone posteriors (S, n_phones) of each step from the longest look-ahead head."""
    _, _, logits = split_heads(head_rows(model, mel, model.config.max_lookahead_steps))
    return torch.log_softmax(logits, -1).numpy()


def utterance_offset(model: Audio2Motion, example: Example, trim: float = 0.25) -> float:
    """Seconds by which the aligner hears the phones later than they are labelled (trimmed mean)."""
    sequence, starts = runs(example.phones)
    if len(sequence) < 3:
        return 0.0
    aligned = viterbi_starts(step_log_posteriors(model, example.mel), sequence)
    shifts = np.sort(aligned[1:] - starts[1:]).astype(np.float64)
    cut = int(len(shifts) * trim)
    kept = shifts[cut:len(shifts) - cut] if len(shifts) > 2 * cut else shifts
    return float(kept.mean() * MELS_PER_STEP * MEL_FRAME_S)


def shift_mel(mel: np.ndarray, offset_s: float) -> np.ndarray:
    """The mel moved earlier by ``offset_s`` (later if negative), length kept, silence filling the gap."""
    frames = int(round(offset_s / MEL_FRAME_S))
    if frames == 0:
        return mel
    fill = np.full((abs(frames), mel.shape[1]), SILENT_MEL, mel.dtype)
    return np.concatenate([mel[frames:], fill]) if frames > 0 else np.concatenate([fill, mel[:frames]])


def realign(model: Audio2Motion, example: Example) -> Example:
    """The example with its sound moved under its labels by the aligner's offset (recorded in meta)."""
    offset = utterance_offset(model, example)
    return Example(shift_mel(example.mel, offset), example.weights, example.phones,
                   {**example.meta, "realign_offset_s": round(offset, 4)})
