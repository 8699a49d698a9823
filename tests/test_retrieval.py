"""The retrieval preset: mouths made of the person's own pixels, never painted."""

import dataclasses
import itertools
from fractions import Fraction

import numpy as np
import pytest
import torch

from talkinghead.contracts.arkit import ARKIT_INDEX
from talkinghead.contracts.coefficients import Coefficients
from talkinghead.contracts.frame import Frame
from talkinghead.renderer.retrieval import (
    NativeBank,
    PickTrack,
    Retrieval,
    RetrievalConfig,
    build_native_bank,
    candidate_weights,
    mouth_shape,
    pyramid_blend,
    with_centre,
)


def _highpass(image: np.ndarray) -> np.ndarray:
    """Grey minus its 3x3 box blur: the detail a painting network would have to invent."""
    grey = image.astype(np.float64).mean(-1)
    padded = np.pad(grey, 1, mode="edge")
    blur = sum(padded[dy:dy + grey.shape[0], dx:dx + grey.shape[1]] for dy in range(3) for dx in range(3)) / 9
    return grey - blur


def test_pyramid_blend_takes_all_where_the_mask_is_one_and_nothing_where_it_is_zero():
    difference = torch.randn(1, 3, 40, 52) * 20
    assert torch.allclose(pyramid_blend(difference, torch.ones(1, 1, 40, 52), 4), difference, atol=1e-3)
    assert torch.count_nonzero(pyramid_blend(difference, torch.zeros(1, 1, 40, 52), 4)) == 0


def test_a_candidate_enters_the_set_with_no_weight():
    rows, weights = candidate_weights(np.array([0.0, 1.0, 2.0, 3.0, 4.0]), 3)
    assert rows.tolist() == [0, 1, 2] and abs(weights.sum() - 1) < 1e-6
    assert weights[0] > weights[1] > weights[2] > 0
    _, at_the_edge = candidate_weights(np.array([0.0, 1.0, 2.999, 3.0, 4.0]), 3)
    assert at_the_edge[2] < 1e-4  # about to be swapped for the next one out: it cannot pop


@pytest.fixture(scope="module")
def tracked(talking_video):
    pytest.importorskip("mediapipe")
    from talkinghead.renderer.tracking import track_video
    from talkinghead.renderer.video import iter_frames

    track = track_video(talking_video, progress=False)
    return track, np.stack(list(iter_frames(talking_video)))


def test_a_one_frame_bank_gives_back_its_own_texture(tracked):
    """With one candidate, the redrawn mouth's fine detail is the bank frame's, exactly."""
    track, frames = tracked
    k = int(np.argmax(track.blendshapes[:, ARKIT_INDEX["jawOpen"]]))  # an open mouth: teeth and lips
    rng = np.random.default_rng(0)
    source = np.clip(frames[k].astype(int) + rng.integers(-40, 41, frames[k].shape), 0, 255).astype(np.uint8)
    bank = build_native_bank([source if i == k else frames[i] for i in range(k + 1)], track.landmarks[: k + 1],
                             track.blendshapes[: k + 1], np.arange(k + 1) == k, track.neutral)
    assert len(bank.frames) == 1 and bank.frames[0] == k
    retrieval = Retrieval(bank, track.neutral, RetrievalConfig(candidates=1))
    target = torch.from_numpy(track.landmarks[k]).float()
    picks = retrieval.pick(track.blendshapes[k])
    window, (y, x), changed = retrieval.draw(frames[k], target, picks)  # drawn on the clean frame
    assert changed.sum() > 500
    deep = changed.copy()
    for _ in range(2 ** retrieval.config.levels + 4):  # well inside the blend: every band is the candidate's
        deep[1:-1, 1:-1] = deep[1:-1, 1:-1] & deep[:-2, 1:-1] & deep[2:, 1:-1] & deep[1:-1, :-2] & deep[1:-1, 2:]
    assert deep.sum() > 100
    mine = _highpass(window)[deep]
    theirs = _highpass(source[y:y + window.shape[0], x:x + window.shape[1]])[deep]
    assert np.abs(mine - theirs).mean() < 1.0  # the noise added to the bank frame comes through, unpainted
    assert np.abs(theirs).mean() > 10


def test_retrieval_avatar_round_trips_and_changes_only_the_face(talking_video, tmp_path):
    pytest.importorskip("mediapipe")
    from talkinghead.jobs.enroll import enroll_video
    from talkinghead.renderer.avatar import avatar_renderer, load_avatar

    enroll_video(talking_video, preset="retrieval", progress=False).save(tmp_path)
    avatar = load_avatar(tmp_path)
    assert avatar.preset == "retrieval" and isinstance(avatar.bank, NativeBank)
    assert avatar.bank.boxes.shape[1] == avatar.bank.boxes.shape[2] > 40  # native pixels, not a 64² thumbnail
    assert np.allclose(with_centre(avatar.bank.vertices[:, :478])[:, -1], avatar.bank.vertices[:, -1], atol=1e-4)
    assert avatar.coverage is not None and avatar.coverage["frames"] > 0
    renderer = avatar_renderer(avatar)
    weights = np.zeros((6, 52), np.float32)
    weights[1::2, ARKIT_INDEX["jawOpen"]] = 0.6
    frames = renderer.draw(Coefficients(weights, np.zeros((6, 6), np.float32), 30))
    for k, frame in enumerate(frames):
        base = avatar.frames[avatar.loop[k]]
        face = avatar.landmarks[avatar.loop[k], :, :2]
        margin = 0.25 * (face.max(0) - face.min(0))
        x0, y0 = np.floor(face.min(0) - margin).astype(int).clip(0)
        x1, y1 = np.ceil(face.max(0) + margin).astype(int)
        outside = np.ones(base.shape[:2], bool)
        outside[y0:y1, x0:x1] = False
        assert np.array_equal(frame[outside], base[outside])
    opened = np.abs(frames[1].astype(int) - frames[0]).sum(-1) > 30
    assert opened.sum() > 200  # the jaw opens: the mouth region really changes
    # two live sessions drawn in interleaved batches: each gets what drawing its whole sequence offline gets
    sessions = [renderer.sequence(), renderer.sequence()]
    live = [Frame(k, Fraction(k, 30), weights[k], np.zeros(6, np.float32), None, sequence=sequence)
            for k in range(6) for sequence in sessions]
    drawn = np.concatenate([renderer.draw_frames(live[first:first + 5]) for first in range(0, len(live), 5)])
    for frame, image in zip(live, drawn):
        assert np.array_equal(image, frames[frame.index])
    alone = renderer.draw_frames([dataclasses.replace(live[2], sequence=None)])[0]
    assert not np.array_equal(alone, frames[1])  # the open mouth after a shut one: the picks were smoothed


def test_picks_drift_along_a_sequence(tracked):
    """Smoothing: along a sequence the bank rows' weights change less from frame to frame than each frame's
    own picks would have them, and a sudden change of mouth is reached over a few frames."""
    track, frames = tracked
    even = np.arange(len(frames)) % 2 == 0
    bank = build_native_bank(frames, track.landmarks, track.blendshapes, track.valid & even, track.neutral)
    retrieval = Retrieval(bank, track.neutral, RetrievalConfig(smoothing=0.5))

    def dense(picks) -> np.ndarray:
        out = np.zeros(len(bank.frames))
        out[picks.rows] = picks.weights
        return out

    def change(weights: list[np.ndarray]) -> float:
        return float(np.mean([np.abs(a - b).sum() for a, b in itertools.pairwise(weights)]))

    drive = track.blendshapes[1::2][:80]  # frames the bank does not hold
    sequence = PickTrack()
    smoothed = [dense(retrieval.pick(weights, sequence)) for weights in drive]
    alone = [dense(retrieval.pick(weights)) for weights in drive]
    assert change(smoothed) < 0.7 * change(alone)

    jaw = track.blendshapes[:, ARKIT_INDEX["jawOpen"]]
    shut, wide = track.blendshapes[np.argmin(jaw)], track.blendshapes[np.argmax(jaw)]
    sequence = PickTrack()
    for _ in range(5):
        before = dense(retrieval.pick(shut, sequence))
    after = dense(retrieval.pick(wide, sequence))
    fresh = dense(retrieval.pick(wide))
    carried = after[before > 0].sum()
    assert fresh[before > 0].sum() < 0.05 and 0.25 < carried < 0.75  # half the way there in one frame
    for _ in range(8):
        after = dense(retrieval.pick(wide, sequence))
    assert after[before > 0].sum() < 0.05


def test_the_lip_shape_follows_the_drive_past_the_neighbours_mean(tracked):
    """On frames the bank does not hold, the picks' lip shape (neighbours' mean plus the lip map of the key's
    offset) is nearer the frames' real lips than the neighbours' mean alone, which regresses to the bank's
    average mouth."""
    track, frames = tracked
    even = np.arange(len(frames)) % 2 == 0
    bank = build_native_bank(frames, track.landmarks, track.blendshapes, track.valid & even, track.neutral)
    retrieval = Retrieval(bank, track.neutral)
    held = np.nonzero(track.valid & ~even)[0]
    real = mouth_shape(track.landmarks[held])
    picks = [retrieval.pick(track.blendshapes[k]) for k in held]
    shaped = np.stack([p.shape for p in picks])
    neighbours = np.stack([p.weights @ bank.shapes[p.rows] for p in picks])
    def error(shapes: np.ndarray) -> float:
        return float(np.sqrt(((shapes - real) ** 2).sum(1)).mean())

    assert error(shaped) < 0.9 * error(neighbours)


def test_a_dub_bank_leaves_out_the_frames_it_passes_through(tracked, talking_video):
    """Frames a dub passes through (a hand over the mouth, a cut) never lend their mouths to others."""
    from talkinghead.jobs.enroll import fit_mouth

    track, _ = tracked
    usable = np.ones(track.num_frames, bool)
    usable[40:90] = False
    fit = fit_mouth(talking_video, track, preset="retrieval", usable=usable, progress=False)
    kept = set(fit.bank.frames.tolist())
    assert kept and not kept & set(range(40, 90))
