"""The face model: topology asset, frame helpers, pose, and the meaning of every blendshape.

Each shape's meaning is checked geometrically on the shipped default neutral
and on perturbed neutrals (smooth random scaling, shear and warp, arbitrary
scale and offset) to show the authoring adapts to the identity.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from talkinghead.contracts import topology
from talkinghead.contracts.arkit import ARKIT_INDEX, ARKIT_NAMES
from talkinghead.contracts.blendshapes import author_blendshapes
from talkinghead.contracts.face_model import (
    FaceModel,
    euler_from_matrix,
    eye_centres,
    interocular,
    mediapipe_to_model,
    normalise,
    project,
    rotation_matrix,
    rotation_matrix_np,
)

FLIP = np.array([-1.0, 1.0, 1.0])
TOPO = topology.load_topology()


def perturbed_neutral(seed: int) -> np.ndarray:
    """The default neutral under a random smooth affine + nonlinear warp, rescaled and moved."""
    rng = np.random.default_rng(seed)
    v = TOPO.neutral.astype(np.float64)
    affine = np.eye(3) + rng.uniform(-1, 1, (3, 3)) * np.array(
        [[0.15, 0.06, 0.04], [0.06, 0.15, 0.04], [0.04, 0.04, 0.15]]
    )
    x, y = v[:, 0], v[:, 1]
    a, b, c = rng.uniform(-1, 1, 3)
    warp = np.stack(
        [0.05 * a * np.sin(1.5 * y), 0.06 * b * (x**2 - 0.3), 0.05 * c * np.cos(1.2 * y)], 1
    )
    return (v @ affine.T + warp) * rng.uniform(2.0, 50.0) + rng.uniform(-100, 100, 3)


NEUTRALS = {
    "default": TOPO.neutral.astype(np.float64),
    "warped1": perturbed_neutral(1),
    "warped2": perturbed_neutral(2),
}


@pytest.fixture(scope="module", params=list(NEUTRALS))
def face(request):
    """(neutral normalised to IOD units, basis in the same units)."""
    neutral = normalise(NEUTRALS[request.param])
    return neutral, author_blendshapes(neutral).astype(np.float64)


@pytest.fixture(scope="module")
def default_basis():
    return author_blendshapes(TOPO.neutral).astype(np.float64)


def pose_shape(neutral, basis, **weights) -> np.ndarray:
    out = neutral.copy()
    for name, w in weights.items():
        out = out + w * basis[ARKIT_INDEX[name]]
    return out


def dist(v, a: int, b: int) -> float:
    return float(np.linalg.norm(v[a] - v[b]))


# ------------------------------------------------------------------ topology asset


def test_topology_is_a_sphere_with_four_holes():
    tri = TOPO.triangles
    assert tri.shape == (852, 3) and tri.dtype == np.int32
    assert set(np.unique(tri)) == set(range(468))
    edges = np.sort(np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]]), axis=1)
    unique, counts = np.unique(edges, axis=0, return_counts=True)
    assert set(counts) == {1, 2}
    boundary = unique[counts == 1]
    assert len(boundary) == 36 + 16 + 16 + 20  # face oval, two eyes, inner lips
    assert 468 - len(unique) + len(tri) == 2 - 4  # Euler characteristic, genus 0, 4 holes
    # Consistent orientation: every interior edge is traversed once each way.
    directed = {(a, b) for t in tri for a, b in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0]))}
    assert all((b, a) in directed for a, b in unique[counts == 2])
    n = TOPO.neutral
    normals = np.cross(n[tri[:, 1]] - n[tri[:, 0]], n[tri[:, 2]] - n[tri[:, 0]])
    assert (normals[:, 2] > 0).mean() > 0.95
    iris = TOPO.iris_triangles
    assert iris.shape == (8, 3) and set(np.unique(iris)) == set(range(468, 478))


def test_neutral_is_in_the_model_frame_and_symmetric():
    n = TOPO.neutral.astype(np.float64)
    m = TOPO.mirror
    assert (
        TOPO.neutral.shape == (478, 3) and TOPO.neutral.dtype == np.float32 and m.dtype == np.int32
    )
    assert np.array_equal(m[m], np.arange(478))
    assert interocular(n) == pytest.approx(1.0, abs=1e-5)
    assert np.allclose(eye_centres(n).mean(0), 0.0, atol=1e-5)
    assert np.allclose(n[m] * FLIP, n, atol=1e-5)
    # Subject's left is +x; up is +y; the nose points toward +z.
    assert n[263, 0] > 0.5 and n[33, 0] < -0.5 and n[291, 0] > 0 > n[61, 0]
    assert n[topology.FOREHEAD, 1] > 0 > n[topology.NOSE_TIP, 1] > n[13, 1] > n[topology.CHIN, 1]
    assert n[topology.NOSE_TIP, 2] > n[33, 2] and n[topology.NOSE_TIP, 2] > n[234, 2]
    assert m[33] == 263 and m[61] == 291 and m[468] == 473 and m[1] == 1
    assert n[14, 1] <= n[13, 1]  # closed lips do not cross


def test_index_sets_follow_the_conventions():
    s = TOPO.sets
    n = TOPO.neutral
    assert set(topology.SET_NAMES) == set(s)
    assert topology.LIPS_INNER == s["LIPS_INNER"]  # module-level access
    assert s["UPPER_LIP_INNER"][5] == 13 and s["LOWER_LIP_INNER"][5] == 14
    assert s["UPPER_LIP_OUTER"][5] == 0 and s["LOWER_LIP_OUTER"][5] == 17
    for name in (
        "UPPER_LIP_OUTER",
        "LOWER_LIP_OUTER",
        "UPPER_LIP_INNER",
        "LOWER_LIP_INNER",
        "LEFT_UPPER_LID",
        "LEFT_LOWER_LID",
        "RIGHT_UPPER_LID",
        "RIGHT_LOWER_LID",
        "JAW_LINE",
    ):
        assert np.all(np.diff(n[list(s[name]), 0]) > 0), name
    assert s["UPPER_LIP_OUTER"][0] == 61 and s["UPPER_LIP_OUTER"][-1] == 291
    assert (s["LEFT_UPPER_LID"][0], s["LEFT_UPPER_LID"][-1]) == topology.LEFT_EYE_CORNERS
    assert (s["RIGHT_UPPER_LID"][-1], s["RIGHT_UPPER_LID"][0]) == topology.RIGHT_EYE_CORNERS
    assert 386 in s["LEFT_UPPER_LID"] and 374 in s["LEFT_LOWER_LID"] and 159 in s["RIGHT_UPPER_LID"]
    assert all(n[v, 0] > 0 for v in s["BROW_LEFT"] + s["IRIS_LEFT"] + s["LEFT_EYE"])
    assert all(n[v, 0] < 0 for v in s["BROW_RIGHT"] + s["IRIS_RIGHT"] + s["RIGHT_EYE"])
    assert s["IRIS_LEFT"][0] == 473 and s["IRIS_RIGHT"][0] == 468
    assert topology.CHIN in s["JAW_LINE"] and topology.NOSE_TIP in s["NOSE"]
    rigid = set(s["RIGID"])
    assert len(rigid) >= 20 and not rigid & set(
        s["LIPS_OUTER"] + s["LEFT_EYE"] + s["JAW_LINE"] + s["BROW_LEFT"]
    )
    assert set(s["MIDLINE"]) == set(np.flatnonzero(TOPO.mirror == np.arange(478)))
    with pytest.raises(AttributeError):
        topology.NOT_A_SET  # noqa: B018


def test_mediapipe_conversion_and_normalise():
    raw = np.zeros((478, 3))
    raw[[33, 133]] = [0.3, 0.5, 0.0]
    raw[[362, 263]] = [0.5, 0.5, -0.1]
    model = mediapipe_to_model(raw, 200, 100)
    assert model[263].tolist() == [100.0, -50.0, 20.0]
    assert interocular(model) == pytest.approx(np.hypot(40, 20))
    assert interocular(normalise(model)) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        normalise(np.zeros((478, 3)))
    with pytest.raises(ValueError):
        mediapipe_to_model(raw, 0, 100)
    t = torch.tensor(model)
    assert torch.allclose(eye_centres(t), torch.tensor(eye_centres(model)))


# ------------------------------------------------------------------ blendshape meanings


def test_basis_shape_and_tongue(face):
    _, basis = face
    assert basis.shape == (52, 478, 3)
    assert not basis[ARKIT_INDEX["tongueOut"]].any()  # the mesh has no tongue
    moving = [name for name in ARKIT_NAMES if np.abs(basis[ARKIT_INDEX[name]]).max() > 0.02]
    assert len(moving) == 51


def test_jaw_open_opens_the_lips_and_drops_the_chin(face):
    neutral, basis = face
    v = pose_shape(neutral, basis, jawOpen=1.0)
    opening = dist(v, 13, 14) - dist(neutral, 13, 14)
    assert 0.4 < opening < 0.7
    assert v[topology.CHIN, 1] < neutral[topology.CHIN, 1] - 0.2
    assert np.linalg.norm(v[13] - neutral[13]) < 0.03  # the upper lip stays
    assert np.abs(v[[1, 33, 263, 10]] - neutral[[1, 33, 263, 10]]).max() < 1e-9  # upper face still


def test_mouth_close_seals_lips_with_the_jaw_open(face):
    neutral, basis = face
    open_gap = dist(pose_shape(neutral, basis, jawOpen=1.0), 13, 14)
    sealed = pose_shape(neutral, basis, jawOpen=1.0, mouthClose=1.0)
    assert dist(sealed, 13, 14) < 0.2 * open_gap
    assert sealed[topology.CHIN, 1] < neutral[topology.CHIN, 1] - 0.2  # the jaw is still open
    alone = pose_shape(neutral, basis, mouthClose=1.0) - neutral
    assert alone[13, 1] < 0 < alone[14, 1]  # upper lip down, lower lip up


def test_blink_closes_only_that_eye(face):
    neutral, basis = face
    v = pose_shape(neutral, basis, eyeBlinkLeft=1.0)
    assert dist(neutral, 386, 374) > 0.05
    assert dist(v, 386, 374) < 0.02
    right = list(TOPO.sets["RIGHT_EYE"]) + list(TOPO.sets["IRIS_RIGHT"])
    assert np.abs(v[right] - neutral[right]).max() < 1e-9
    w = pose_shape(neutral, basis, eyeBlinkRight=1.0)
    assert dist(w, 159, 145) < 0.02 and dist(w, 386, 374) == pytest.approx(dist(neutral, 386, 374))


def test_smile_left_raises_and_widens_the_left_corner_only(face):
    _, basis = face
    d = basis[ARKIT_INDEX["mouthSmileLeft"]]
    assert d[291, 1] > 0.05 and d[291, 0] > 0.05
    assert np.abs(d[61]).max() < 1e-9


def test_pucker_narrows_more_than_funnel_and_funnel_opens(face):
    neutral, basis = face
    width = dist(neutral, 61, 291)
    funnel = pose_shape(neutral, basis, mouthFunnel=1.0)
    pucker = pose_shape(neutral, basis, mouthPucker=1.0)
    assert width - dist(pucker, 61, 291) > width - dist(funnel, 61, 291) + 0.05
    assert dist(funnel, 61, 291) < width
    for lip in (0, 17, 13, 14):
        assert pucker[lip, 2] > neutral[lip, 2] + 0.1
    assert dist(funnel, 13, 14) > dist(neutral, 13, 14) + 0.12
    assert dist(pucker, 13, 14) < dist(neutral, 13, 14) + 0.01  # lips stay together


@pytest.mark.parametrize(
    "shape, outer, inner", [("mouthRollLower", 17, 14), ("mouthRollUpper", 0, 13)]
)
def test_rolls_hide_the_lip(face, shape, outer, inner):
    neutral, basis = face
    v = pose_shape(neutral, basis, **{shape: 1.0})
    before = abs(neutral[outer, 1] - neutral[inner, 1])
    after = abs(v[outer, 1] - v[inner, 1])
    assert after < 0.5 * before
    assert v[outer, 2] < neutral[outer, 2] - 0.05  # rolls back over the teeth


def _left(v: int) -> int:
    return v if TOPO.neutral[v, 0] > 0 else int(TOPO.mirror[v])


# (shape, vertex, displacement component, sign): one line per ARKit meaning.
# Vertices: 291/61 mouth corners, 17/0 outer lip mids, 14/13 inner lip mids,
# 152 chin, 386/374 left lid mids, 473/476 left iris centre/inner point,
# 285/300 left brow inner/outer, 317/312 left inner lower/upper lip.
MEANINGS = [
    ("jawLeft", 152, 0, +1),
    ("jawRight", 152, 0, -1),
    ("jawForward", 152, 2, +1),
    ("mouthLeft", 13, 0, +1),
    ("mouthRight", 14, 0, -1),
    ("mouthFrownLeft", 291, 1, -1),
    ("mouthDimpleLeft", 291, 2, -1),
    ("mouthStretchLeft", 291, 0, +1),
    ("mouthStretchLeft", 291, 1, -1),
    ("mouthShrugLower", 17, 1, +1),
    ("mouthShrugUpper", 0, 1, +1),
    ("mouthLowerDownLeft", 317, 1, -1),
    ("mouthUpperUpLeft", 312, 1, +1),
    ("eyeSquintLeft", 374, 1, +1),
    ("eyeWideLeft", 386, 1, +1),
    ("eyeLookUpLeft", 473, 1, +1),
    ("eyeLookDownLeft", 473, 1, -1),
    ("eyeLookInLeft", 473, 0, -1),
    ("eyeLookOutLeft", 473, 0, +1),
    ("eyeLookInRight", 468, 0, +1),
    ("eyeLookDownLeft", 386, 1, -1),
    ("browDownLeft", 285, 1, -1),
    ("browInnerUp", 285, 1, +1),
    ("browInnerUp", 55, 1, +1),
    ("browOuterUpLeft", 300, 1, +1),
]


@pytest.mark.parametrize("shape, vertex, axis, sign", MEANINGS)
def test_shape_moves_its_landmark(face, shape, vertex, axis, sign):
    _, basis = face
    assert sign * basis[ARKIT_INDEX[shape]][vertex, axis] > 0.02


def test_per_side_shapes_stay_on_their_side(face):
    neutral, basis = face
    s = TOPO.sets
    d = basis
    # The left press thins the left lip halves more than the right ones.
    press = pose_shape(neutral, basis, mouthPressLeft=1.0)

    def lip_height(v, outer, inner):
        return abs(v[outer, 1] - v[inner, 1])

    assert lip_height(press, 314, 317) < 0.8 * lip_height(neutral, 314, 317)
    assert lip_height(press, 84, 87) > 0.9 * lip_height(neutral, 84, 87)
    assert (
        d[ARKIT_INDEX["mouthLowerDownLeft"]][317, 1]
        < 3 * d[ARKIT_INDEX["mouthLowerDownLeft"]][87, 1]
    )
    brow_down = d[ARKIT_INDEX["browDownLeft"]]
    assert brow_down[list(s["BROW_LEFT"]), 1].mean() < -0.05
    assert np.abs(brow_down[list(s["BROW_RIGHT"])]).max() < 1e-9
    outer_up = d[ARKIT_INDEX["browOuterUpLeft"]]
    assert outer_up[300, 1] > 2 * outer_up[285, 1]
    inner_up = d[ARKIT_INDEX["browInnerUp"]]
    assert inner_up[285, 1] > 2 * inner_up[300, 1]
    for shape in ("cheekSquintLeft", "noseSneerLeft"):
        field = d[ARKIT_INDEX[shape]]
        lifted = field[:468, 1] > 0.03
        assert lifted.any() and (neutral[:468][lifted, 0] > neutral[1, 0]).all(), shape
    puff = d[ARKIT_INDEX["cheekPuff"]]
    top = np.argsort(-puff[:468, 2])[:10]
    assert puff[top, 2].min() > 0.05
    assert (np.sign(puff[top, 0]) == np.sign(neutral[top, 0] - neutral[1, 0])).all()  # outward


def test_left_shapes_mirror_to_right_shapes(default_basis):
    m = TOPO.mirror
    lefts = [n for n in ARKIT_NAMES if n.endswith("Left")]
    assert len(lefts) == 20
    for name in lefts:
        left = default_basis[ARKIT_INDEX[name]]
        right = default_basis[ARKIT_INDEX[name[:-4] + "Right"]]
        assert np.abs(left[m] * FLIP - right).max() < 1e-5, name
    for name in ARKIT_NAMES:
        if not name.endswith(("Left", "Right")):
            field = default_basis[ARKIT_INDEX[name]]
            assert np.abs(field[m] * FLIP - field).max() < 1e-5, name


def test_authoring_rejects_bad_neutrals():
    with pytest.raises(ValueError):
        author_blendshapes(np.zeros((468, 3)))
    bad = TOPO.neutral.copy()
    bad[5, 0] = np.nan
    with pytest.raises(ValueError):
        author_blendshapes(bad)
    with pytest.raises(ValueError):
        author_blendshapes(np.zeros((478, 3)))


# ------------------------------------------------------------------ FaceModel and pose


@pytest.fixture(scope="module")
def model():
    return FaceModel()


def test_zero_weights_give_the_neutral(model):
    zeros = torch.zeros(3, 52)
    assert torch.equal(model(zeros), model.neutral.expand(3, -1, -1))
    assert torch.equal(model(zeros, torch.zeros(3, 6)), model.neutral.expand(3, -1, -1))
    assert model.neutral.dtype == torch.float32 and model.basis.shape == (52, 478, 3)
    assert model.triangles.shape == (852, 3)
    assert model.basis_numpy().shape == (52, 478 * 3)


def test_face_model_normalises_its_neutral():
    raw = TOPO.neutral.astype(np.float64) * 37.0 + np.array([5.0, -3.0, 100.0])
    scaled = FaceModel(torch.tensor(raw))
    assert torch.allclose(scaled.neutral, torch.tensor(TOPO.neutral), atol=1e-5)
    with pytest.raises(ValueError):
        FaceModel(np.zeros((10, 3)))


def test_pose_rotations_move_the_nose_as_documented(model):
    zeros = torch.zeros(1, 52)
    rest = model(zeros)[0, topology.NOSE_TIP]

    def nose(pitch=0.0, yaw=0.0, roll=0.0):
        return model(zeros, torch.tensor([[pitch, yaw, roll, 0.0, 0.0, 0.0]]))[0, topology.NOSE_TIP]

    assert nose(yaw=0.3)[0] > rest[0] + 0.1  # positive yaw turns the nose toward +x
    assert nose(pitch=0.3)[1] < rest[1] - 0.1  # positive pitch tips it down
    eye = model(zeros, torch.tensor([[0.0, 0.0, 0.3, 0, 0, 0]]))[0, 263]
    assert eye[1] > model.neutral[263, 1] + 0.1  # positive roll lifts +x
    shift = torch.tensor([[0.0, 0.0, 0.0, 0.5, -0.25, -10.0]])
    assert torch.allclose(model(zeros, shift)[0], model.neutral + shift[0, 3:], atol=1e-6)


def test_rotation_round_trip():
    rng = np.random.default_rng(0)
    angles = rng.uniform(-1, 1, (200, 3)) * np.array([np.pi, 1.5, np.pi])
    r = rotation_matrix_np(*angles.T)
    assert np.allclose(r @ np.swapaxes(r, -1, -2), np.eye(3), atol=1e-12)
    assert np.allclose(np.linalg.det(r), 1.0)
    assert np.allclose(np.stack(euler_from_matrix(r), 1), angles, atol=1e-9)
    rt = rotation_matrix(*torch.tensor(angles).T)
    assert torch.allclose(rt, torch.tensor(r), atol=1e-12)
    back = torch.stack(euler_from_matrix(rt), 1)
    assert torch.allclose(back, torch.tensor(angles), atol=1e-9)
    single = rotation_matrix_np(0.1, 0.0, 0.0)
    assert np.allclose(
        single, [[1, 0, 0], [0, np.cos(0.1), -np.sin(0.1)], [0, np.sin(0.1), np.cos(0.1)]]
    )
    with pytest.raises(ValueError):
        euler_from_matrix(np.eye(4))


def test_batch_matches_single_and_is_differentiable(model):
    torch.manual_seed(0)
    weights = torch.rand(4, 52, requires_grad=True)
    pose = torch.randn(4, 6) * 0.2
    batch = model(weights, pose)
    for i in range(4):
        assert torch.allclose(batch[i], model(weights[i : i + 1], pose[i : i + 1])[0], atol=1e-6)
    batch.sum().backward()
    assert (
        weights.grad is not None
        and torch.isfinite(weights.grad).all()
        and weights.grad.abs().sum() > 0
    )
    assert batch.dtype == torch.float32
    with pytest.raises(ValueError):
        model(torch.zeros(2, 51))
    with pytest.raises(ValueError):
        model(torch.zeros(2, 52), torch.zeros(3, 6))


def test_project_pinhole():
    points = torch.tensor([[1.0, 1.0, -10.0], [0.0, 0.0, -2.0]])
    pixels = project(points, 100.0, (50.0, 60.0))
    assert torch.allclose(pixels, torch.tensor([[60.0, 50.0], [50.0, 60.0]]))
    with pytest.raises(ValueError):
        project(torch.tensor([[0.0, 0.0, 1.0]]), 100.0, (0.0, 0.0))
