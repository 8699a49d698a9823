"""The drawn mouth interior of photo avatars: anti-aliased, teeth rigid with the head and the jaw, photo colours."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from talkinghead.contracts import topology
from talkinghead.contracts.arkit import ARKIT_INDEX
from talkinghead.renderer.avatar import load_avatar
from talkinghead.renderer.mouth import MouthStyle, mouth_interior, mouth_rest, palette
from talkinghead.renderer.photo import PhotoRenderer


@pytest.fixture(scope="module")
def renderer() -> PhotoRenderer:
    return PhotoRenderer(load_avatar())


def _screen(renderer: PhotoRenderer, **named: float) -> torch.Tensor:
    row = np.zeros((1, 52), np.float32)
    for name, value in named.items():
        row[0, ARKIT_INDEX[name]] = value
    return renderer.targets(row)


def _draw(renderer: PhotoRenderer, screen: torch.Tensor, scale: int = 1,
          style: MouthStyle = MouthStyle()) -> tuple[np.ndarray, np.ndarray]:
    """The interior premultiplied by its coverage (h,w,3) and the coverage (h,w), drawn ``scale``× larger and
    box-filtered back (scale 4: the supersampled reference)."""
    height, width = renderer.size
    colours, coverage = mouth_interior(screen * torch.tensor([scale, scale, 1.0]), (height * scale, width * scale),
                                       renderer.rest_mouth, renderer.colours, style)
    premultiplied = (colours * coverage[..., None]).permute(0, 3, 1, 2)
    return (F.avg_pool2d(premultiplied, scale)[0].permute(1, 2, 0).numpy(),
            F.avg_pool2d(coverage[:, None], scale)[0, 0].numpy())


def _midline_column(renderer: PhotoRenderer, screen: torch.Tensor) -> int:
    return int(round(float(screen[0, [topology.UPPER_LIP_INNER_MID, topology.LOWER_LIP_INNER_MID], 0].mean())))


def test_the_interior_matches_its_supersampled_reference_at_every_opening(renderer):
    """Edges are drawn with their coverage: the shipped picture is within a few grey levels of the same
    interior drawn at 4x and box-filtered, where a one-sample-per-pixel drawing is not."""
    for jaw in (0.15, 0.4, 0.8):
        screen = _screen(renderer, jawOpen=jaw, mouthSmileLeft=0.3, mouthSmileRight=0.3)
        shipped, coverage = _draw(renderer, screen)
        reference, _ = _draw(renderer, screen, scale=4)
        aliased, _ = _draw(renderer, screen, style=MouthStyle(supersample=1))
        edges = (coverage > 0.02) & (coverage < 0.98)
        assert edges.sum() > 20  # the hole's rim is partly covered pixels, not a hard mask
        near = F.max_pool2d(torch.from_numpy((np.abs(reference - np.roll(reference, 1, 1)).max(-1) > 12)
                                             .astype(np.float32))[None], 5, 1, 2)[0].numpy() > 0
        shipped_error = np.abs(shipped - reference).max(-1)[near].mean()
        assert shipped_error < 4.0, (jaw, shipped_error)
        rim_error = np.abs(shipped - reference).max(-1)[edges].mean()
        assert rim_error < 4.0 and np.abs(aliased - reference).max(-1)[edges].mean() > 2 * rim_error


def test_upper_teeth_stay_with_the_head_when_the_upper_lip_lifts(renderer):
    """Teeth never slide against the lips: lifting the upper lip shows more of the same teeth, whose
    incisal edge stays where it was."""
    def edge_row(screen: torch.Tensor) -> float:
        drawn, coverage = _draw(renderer, screen)
        column = drawn[:, _midline_column(renderer, screen)].mean(-1)
        teeth = np.nonzero((column > 120) & (coverage[:, _midline_column(renderer, screen)] > 0.99))[0]
        return float(teeth.max())

    resting = _screen(renderer, jawOpen=0.45)
    lifted = _screen(renderer, jawOpen=0.45, mouthUpperUpLeft=0.8, mouthUpperUpRight=0.8)
    assert float(resting[0, topology.UPPER_LIP_INNER_MID, 1] - lifted[0, topology.UPPER_LIP_INNER_MID, 1]) > 2  # the upper lip really moved up
    assert abs(edge_row(resting) - edge_row(lifted)) <= 1


def test_lower_teeth_follow_the_jaw(renderer):
    def lower_teeth_top(screen: torch.Tensor) -> float:
        drawn, coverage = _draw(renderer, screen)
        column = drawn[:, _midline_column(renderer, screen)].mean(-1)
        bright = np.nonzero(column > 90)[0]
        return float(bright[bright > np.median(np.nonzero(coverage[:, _midline_column(renderer, screen)] > 0.5)[0])]
                     .min())

    half, wide = _screen(renderer, jawOpen=0.4), _screen(renderer, jawOpen=0.8)
    chin_moved = float(wide[0, topology.CHIN, 1] - half[0, topology.CHIN, 1])
    assert chin_moved > 3
    assert abs((lower_teeth_top(wide) - lower_teeth_top(half)) - chin_moved) <= 1.5


def test_the_teeth_take_the_photo_white_balance(renderer):
    image, landmarks = renderer.avatar.image, renderer.avatar.landmarks
    neutral = palette(image, landmarks)
    bluish = palette(np.clip(image * np.array([0.7, 0.9, 1.3]), 0, 255).astype(np.uint8), landmarks)
    assert bluish.teeth[2] / bluish.teeth[0] > neutral.teeth[2] / neutral.teeth[0] + 0.01  # within the saturation cap
    darker = palette((image * 0.6).astype(np.uint8), landmarks)
    assert sum(darker.teeth) < 0.8 * sum(neutral.teeth)  # exposure follows the skin around the mouth


def test_the_rest_of_the_mouth_is_measured_in_the_head_frame(renderer):
    rest = mouth_rest(renderer.source.numpy())
    assert 1.0 < rest.meeting[1] < rest.chin[1] < 2.5  # below the eyes, in IOD
    assert abs(rest.meeting[0]) < 0.15  # about the face's midline
