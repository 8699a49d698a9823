"""A photo that shows its teeth: they are kept, rigid with the upper jaw, and the lips shut over them at rest."""

import numpy as np
import pytest
import torch

from talkinghead.contracts import topology
from talkinghead.contracts.arkit import ARKIT_INDEX
from talkinghead.renderer.avatar import load_avatar
from talkinghead.renderer.mouth import mouth_interior
from talkinghead.renderer.photo import PhotoAvatar, PhotoRenderer
from talkinghead.renderer.photo_teeth import find_teeth


def _weights(**named: float) -> np.ndarray:
    row = np.zeros((1, 52), np.float32)
    for name, value in named.items():
        row[0, ARKIT_INDEX[name]] = value
    return row


@pytest.fixture(scope="module")
def smiling() -> PhotoAvatar:
    """The built-in avatar photographed with its mouth open on (drawn) teeth: a photo showing teeth."""
    still = load_avatar()
    renderer = PhotoRenderer(still)
    weights = _weights(jawOpen=0.45, mouthSmileLeft=0.4, mouthSmileRight=0.4, mouthUpperUpLeft=0.5,
                       mouthUpperUpRight=0.5)
    image = renderer.render(weights)[0]
    landmarks = renderer.targets(weights)[0].numpy()
    return PhotoAvatar(image, landmarks, still.neutral, still.blendshapes, still.pose)


def test_teeth_are_found_only_where_a_photo_shows_them(smiling):
    assert find_teeth(load_avatar().image, load_avatar().landmarks) is None  # a shut mouth
    teeth = find_teeth(smiling.image, smiling.landmarks)
    assert teeth is not None
    assert min(teeth.colour) > 150  # the lit teeth's colour, not the cavity's


def test_a_photo_showing_teeth_is_shut_at_rest(smiling):
    renderer = PhotoRenderer(smiling)
    target = renderer.targets(smiling.blendshapes[None])
    assert int(renderer.warp(target).mouth.sum()) == 0
    frame = renderer.render(smiling.blendshapes[None])[0].astype(np.float64)
    lips = smiling.landmarks[list(topology.LIPS_OUTER), :2]
    (x0, y0), (x1, y1) = np.floor(lips.min(0)).astype(int), np.ceil(lips.max(0)).astype(int)
    region = frame[y0:y1, x0:x1]
    whiteness = region.min(-1) / np.maximum(region.max(-1), 1)  # teeth are nearly colourless, lips are not
    assert float(((region.mean(-1) > 170) & (whiteness > 0.8)).mean()) < 0.01


def test_the_photos_own_teeth_come_back_in_place_when_it_opens(smiling):
    renderer = PhotoRenderer(smiling)
    weights = smiling.blendshapes[None].copy()
    weights[0, ARKIT_INDEX["jawOpen"]] += 0.4
    frame = renderer.render(weights)[0].astype(np.float64)
    local = renderer.targets(weights)
    _, coverage = mouth_interior(local, renderer.size, renderer.rest_mouth, renderer.colours, renderer.style,
                                 renderer.teeth)
    upper = renderer.teeth.pixels[..., 3].numpy()
    x0, y0 = (int(v) for v in renderer.teeth.corner)
    kept = np.zeros(renderer.size, bool)
    kept[y0:y0 + upper.shape[0], x0:x0 + upper.shape[1]] = upper > 0.99
    shown = kept & (coverage[0].numpy() > 0.99)
    assert shown.sum() > 20
    ratio = frame[shown].sum(-1) / np.maximum(smiling.image.astype(np.float64)[shown].sum(-1), 1)
    assert 0.75 < float(np.median(ratio)) <= 1.02  # the photo's pixels, darkened only by the cavity's occlusion


def test_the_photos_teeth_move_rigidly_with_the_head(smiling):
    renderer = PhotoRenderer(smiling)
    screen = renderer.targets(_weights(jawOpen=0.4))
    shift = torch.tensor([3.0, 2.0, 0.0])
    colours, coverage = mouth_interior(screen, renderer.size, renderer.rest_mouth, renderer.colours, renderer.style,
                                       renderer.teeth)
    moved, moved_coverage = mouth_interior(screen + shift, renderer.size, renderer.rest_mouth, renderer.colours,
                                           renderer.style, renderer.teeth)
    assert torch.allclose(moved_coverage[0, 2:, 3:], coverage[0, :-2, :-3], atol=1e-4)
    inside = coverage[0, :-2, :-3] > 0.5
    assert float((moved[0, 2:, 3:][inside] - colours[0, :-2, :-3][inside]).abs().max()) < 1.0
