"""The standard preset's pieces that keep training honest: references from other times, spread references."""

import numpy as np

from talkinghead.renderer.calibration import DRIVEN
from talkinghead.renderer.mouth_bank import MouthBank
from talkinghead.renderer.standard import References
from talkinghead.renderer.training.standard import pick_references


def _weights(opening: float) -> np.ndarray:
    weights = np.zeros(52, np.float32)
    weights[list(DRIVEN)] = opening
    return weights


def test_a_reference_near_the_target_in_time_is_never_picked():
    keys = np.stack([_weights(o)[list(DRIVEN)] for o in (0.0, 0.5, 0.52, 1.0)])
    references = References(np.arange(4)[:, None, None, None] * np.ones((4, 2, 2, 3), np.uint8), keys,
                            np.array([0, 40, 100, 160]))
    target = _weights(0.5)
    assert references.nearest(target)[0, 0, 0] == 1  # the exact match, at frame 40
    assert references.nearest(target, away_from=45, gap=15)[0, 0, 0] == 2  # frame 40 is too close to 45


def test_the_mouth_bank_skips_frames_it_is_told_to():
    keys = np.stack([_weights(o)[list(DRIVEN)] for o in (0.0, 0.5, 0.6)])
    bank = MouthBank(np.zeros((3, 64, 64, 3), np.uint8), np.zeros((3, 20, 2), np.float32), keys)
    assert bank.nearest(_weights(0.5)) == 1
    assert bank.nearest(_weights(0.5), allowed=np.array([True, False, True])) == 2


def test_references_spread_over_the_mouth_shapes():
    rng = np.random.default_rng(0)
    keys = np.concatenate([np.zeros((200, len(DRIVEN))), rng.uniform(0, 1, (5, len(DRIVEN)))])  # mostly shut
    picks = pick_references(keys, 6)
    assert len(picks) == 6 and sum(p >= 200 for p in picks) == 5  # one shut mouth, then every distinct shape
