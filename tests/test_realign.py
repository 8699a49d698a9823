"""Re-timing teacher utterances: Viterbi finds known boundaries, the mel moves by whole frames."""

import numpy as np
import pytest
import torch

from talkinghead.audio2motion.model import SILENT_MEL, Audio2Motion, ModelConfig
from talkinghead.audio2motion.training.corpus import Example
from talkinghead.audio2motion.training.realign import realign, runs, shift_mel, viterbi_starts


def posteriors_for(true_ids: np.ndarray, n_phones: int, confidence: float, rng) -> np.ndarray:
    """Noisy log posteriors peaking on the true phone of each step."""
    logits = rng.normal(0.0, 1.0, (len(true_ids), n_phones))
    logits[np.arange(len(true_ids)), true_ids] += confidence
    return logits - np.log(np.exp(logits).sum(1, keepdims=True))


def test_runs_splits_steps_into_phones():
    phones, starts = runs(np.array([0, 0, 5, 5, 5, 2, 0, 0]))
    assert phones.tolist() == [0, 5, 2, 0] and starts.tolist() == [0, 2, 5, 6]


@pytest.mark.parametrize("seed", range(5))
def test_viterbi_recovers_boundaries_of_confident_posteriors(seed):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 8, 30)
    sequence = np.cumsum(rng.integers(1, 40, 30)) % 40  # no phone follows itself
    truth = np.repeat(sequence, lengths)
    starts = viterbi_starts(posteriors_for(truth, 40, 6.0, rng), sequence)
    assert starts.tolist() == np.r_[0, np.cumsum(lengths)[:-1]].tolist()


def test_viterbi_gives_every_phone_a_step_even_against_the_posteriors():
    log_post = np.log(np.full((5, 4), 0.25))
    log_post[:, 0] = 0.0  # everything says phone 0
    starts = viterbi_starts(log_post, np.array([0, 1, 2]))
    assert starts[0] == 0 and np.all(np.diff(starts) >= 1) and starts[-1] <= 4


def test_viterbi_refuses_more_phones_than_steps():
    with pytest.raises(ValueError, match="cannot fit"):
        viterbi_starts(np.zeros((2, 4)), np.array([0, 1, 2]))


def test_shift_mel_moves_by_whole_frames_and_keeps_length():
    mel = np.arange(10, dtype=np.float32)[:, None].repeat(3, 1)
    early = shift_mel(mel, 0.02)
    assert early.shape == mel.shape and early[0, 0] == 2 and np.all(early[-2:] == SILENT_MEL)
    late = shift_mel(mel, -0.01)
    assert late.shape == mel.shape and np.all(late[0] == SILENT_MEL) and late[1, 0] == 0
    assert shift_mel(mel, 0.004) is mel


def test_realign_records_the_offset_and_keeps_the_targets():
    torch.manual_seed(0)
    model = Audio2Motion(ModelConfig(dim=32, layers=2, heads=2, context_steps=16, norm_window=40)).eval()
    rng = np.random.default_rng(0)
    steps = 60
    ids = np.repeat(np.array([0, 3, 7, 3, 0]), 12)
    example = Example(rng.normal(-5, 2, (2 * steps, 80)).astype(np.float32),
                      rng.uniform(0, 1, (steps, 52)).astype(np.float32), ids, {"engine": "festival"})
    moved = realign(model, example)
    offset = moved.meta["realign_offset_s"]
    assert np.array_equal(moved.weights, example.weights) and np.array_equal(moved.phones, example.phones)
    assert np.array_equal(moved.mel, shift_mel(example.mel, offset))
    assert abs(offset) <= steps * 0.02
