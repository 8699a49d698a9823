"""The 52 ARKit blendshapes, authored as displacement fields on any identity's neutral.

ARKit's model is linear: ``v = neutral + sum_i w_i * D_i``, each ``D_i`` being
the displacement at weight 1. Each field here is built from the neutral's own
geometry, so a longer chin or a wider mouth gets a matching jaw hinge, lip
opening and falloff:

- regions come from the topology's index sets (lip loops, lid arcs, brows, jaw
  line, nose) and smooth distance falloffs measured in inter-ocular distances
  (IOD) on the neutral; nothing is a hard-coded coordinate;
- where a shape is defined on contours (lips, lids, brows), the contours get
  explicit displacements and the skin around them follows by harmonic
  interpolation on the mesh (graph Laplacian with inverse-edge-length weights,
  made exactly left/right symmetric), which keeps the upper and lower lips
  apart across the mouth hole and the lids apart across the eye hole;
- magnitudes (:class:`AuthoringConfig`) are for a face 1 IOD wide and are
  scaled by the neutral's IOD. They are plausible values chosen by hand
  (approximations, not measurements of real faces).

The neutral must be in the model frame's orientation (+x the subject's left,
+y up, +z forward; see :mod:`talkinghead.contracts.face_model`); its scale and
origin are free. "Left"/"Right" are the subject's sides, as in ARKit.
``tongueOut`` is all zeros: the mesh has no tongue.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve

from talkinghead.contracts import topology
from talkinghead.contracts.arkit import ARKIT_NAMES
from talkinghead.contracts.face_model import eye_centres, interocular

SIDES = (("Left", "LEFT", 1.0), ("Right", "RIGHT", -1.0))  # ARKit suffix, set prefix, sign of x


@dataclass(frozen=True)
class AuthoringConfig:
    """Magnitudes of the shapes at weight 1, in IOD (angles in degrees)."""

    jaw_angle: float = (
        24.0  # jawOpen rotation about the hinge (linearised); opens the lips ~0.55 IOD
    )
    jaw_shift: float = 0.12  # jawLeft / jawRight
    jaw_forward: float = 0.10
    close_meet: float = 0.3  # mouthClose: lips meet this fraction down the jaw's lower-lip travel
    funnel_open: float = 0.10  # half-height of the round inner opening
    funnel_narrow: float = 0.08  # each outer corner inward
    funnel_forward: float = 0.10
    pucker_narrow: float = 0.15
    pucker_forward: float = 0.15
    mouth_shift: float = 0.15  # mouthLeft / mouthRight
    smile: tuple[float, float, float] = (0.10, 0.13, -0.05)  # corner (outward, up, forward)
    frown: tuple[float, float, float] = (0.02, -0.10, 0.0)
    dimple: tuple[float, float, float] = (0.04, 0.01, -0.08)
    stretch: tuple[float, float, float] = (0.10, -0.07, -0.02)
    corner_radius: float = 0.40  # reach of the corner shapes
    roll: float = 0.7  # fraction of the visible lip height rolled in
    roll_back: float = 0.10
    shrug: float = 0.06
    press: float = 0.35  # fraction of the visible lip height pressed away
    lower_down: float = 0.12
    upper_up: float = 0.10
    blink_meet: float = 0.2  # closed lids meet this fraction up the aperture
    squint: float = 0.3  # fraction of the aperture the lower lid rises
    wide: float = 0.45  # fraction of the aperture the upper lid rises
    gaze_angle: float = 25.0
    eyeball_radius: float = 0.19  # ~12 mm for a 63 mm IOD
    brow_down: float = 0.10
    brow_up: float = 0.12
    cheek_puff: float = 0.10
    cheek_squint: float = 0.06
    sneer: float = 0.05


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _falloff(distance: np.ndarray, inner: float, outer: float) -> np.ndarray:
    """1 within ``inner``, 0 beyond ``outer``, smooth (C1) in between."""
    return _smoothstep((outer - distance) / (outer - inner))


def _rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rodrigues rotation matrix about a unit axis."""
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


class _Harmonic:
    """Harmonic extension on the mesh: given values on ``fixed`` vertices, fill the rest.

    Solves ``L_ff x_f = -L_fc x_c`` once per fixed set (Cholesky), then applies
    to any number of value columns.
    """

    def __init__(self, laplacian: np.ndarray, fixed: np.ndarray):
        n = laplacian.shape[0]
        self.fixed = np.unique(fixed)
        self.free = np.setdiff1d(np.arange(n), self.fixed)
        self.position = {int(v): i for i, v in enumerate(self.fixed)}
        try:
            self.factor = cho_factor(laplacian[np.ix_(self.free, self.free)])
        except LinAlgError:
            raise ValueError(
                "degenerate neutral: a mesh region is cut off from its anchors"
            ) from None
        self.coupling = laplacian[np.ix_(self.free, self.fixed)]
        self.size = n

    def __call__(self, values: dict[int, np.ndarray]) -> np.ndarray:
        """``values``: displacement (3,) per fixed vertex; fixed vertices not given stay at 0."""
        anchored = np.zeros((len(self.fixed), 3))
        for v, d in values.items():
            anchored[self.position[v]] = d
        out = np.zeros((self.size, 3))
        out[self.fixed] = anchored
        out[self.free] = cho_solve(self.factor, -self.coupling @ anchored)
        return out


class _Face:
    """The neutral in local units (origin between the eyes, IOD = 1) and derived regions."""

    def __init__(self, neutral: np.ndarray):
        self.iod = float(interocular(neutral))
        if not np.isfinite(self.iod) or self.iod <= 1e-9:
            raise ValueError("degenerate neutral: the eye centres coincide")
        self.p = (neutral - eye_centres(neutral).mean(0)) / self.iod
        topo = topology.load_topology()
        self.sets = topo.sets
        self.mirror = topo.mirror
        self.triangles = topo.triangles
        self.n = topology.NUM_MESH_VERTICES

    # -------------------------------------------------------------- basics
    def s(self, name: str) -> np.ndarray:
        return np.asarray(self.sets[name])

    @cached_property
    def laplacian(self) -> np.ndarray:
        """Graph Laplacian of the mesh (468 vertices), weights 1/edge length.

        The edge set is made closed under the mirror map (MediaPipe flips three
        quad diagonals on one side), so a symmetric neutral gets exactly
        symmetric fields.
        """
        t = self.triangles
        edges = np.concatenate([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]])
        edges = np.concatenate([edges, self.mirror[edges]])
        edges = np.unique(np.sort(edges, axis=1), axis=0)
        length = np.linalg.norm(self.p[edges[:, 0]] - self.p[edges[:, 1]], axis=1)
        weight = 1.0 / np.maximum(length, 1e-6)
        lap = np.zeros((self.n, self.n))
        lap[edges[:, 0], edges[:, 1]] = -weight
        lap[edges[:, 1], edges[:, 0]] = -weight
        lap[np.arange(self.n), np.arange(self.n)] = -lap.sum(1)
        return lap

    def distance_to(self, indices) -> np.ndarray:
        """Euclidean distance (IOD) from every mesh vertex to the nearest of ``indices``."""
        mesh = self.p[: self.n]
        return np.linalg.norm(mesh[:, None] - self.p[np.asarray(indices)][None], axis=-1).min(1)

    def nearest_vertex(self, x: float, y: float) -> np.ndarray:
        """The mesh vertex closest to (x, y) in the frontal view, as a 3D point."""
        mesh = self.p[: self.n]
        return mesh[np.argmin((mesh[:, 0] - x) ** 2 + (mesh[:, 1] - y) ** 2)]

    def full(self, mesh_field: np.ndarray) -> np.ndarray:
        """(468,3) mesh displacement -> (478,3), iris points unmoved."""
        out = np.zeros((topology.NUM_VERTICES, 3))
        out[: self.n] = mesh_field
        return out

    # -------------------------------------------------------------- mouth
    @cached_property
    def lip_loops(self) -> dict[str, np.ndarray]:
        return {
            k: self.s(k)
            for k in ("UPPER_LIP_OUTER", "LOWER_LIP_OUTER", "UPPER_LIP_INNER", "LOWER_LIP_INNER")
        }

    @cached_property
    def lips(self) -> np.ndarray:
        return np.unique(np.concatenate(list(self.lip_loops.values())))

    @cached_property
    def mouth_centre(self) -> np.ndarray:
        return 0.5 * (self.p[topology.UPPER_LIP_INNER_MID] + self.p[topology.LOWER_LIP_INNER_MID])

    def half_width(self, corners: tuple[int, int]) -> float:
        return 0.5 * abs(self.p[corners[1], 0] - self.p[corners[0], 0])

    @cached_property
    def lip_distance(self) -> np.ndarray:
        return self.distance_to(self.lips)

    @cached_property
    def mouth_harmonic(self) -> _Harmonic:
        """Lip contours anchored (values per shape), skin beyond 0.5 IOD of the lips fixed."""
        far = np.flatnonzero(self.lip_distance > 0.5)
        return _Harmonic(self.laplacian, np.concatenate([self.lips, far]))

    def profile(self, vertex: int, outer: bool) -> tuple[float, float]:
        """(t, q): position across the mouth in [-1, 1] and the elliptic lip profile sqrt(1 - t^2)."""
        corners = topology.MOUTH_CORNERS if outer else topology.INNER_MOUTH_CORNERS
        t = (self.p[vertex, 0] - self.mouth_centre[0]) / self.half_width(corners)
        t = float(np.clip(t, -1.0, 1.0))
        return t, float(np.sqrt(1.0 - t * t))

    def inner_height(self, x: float, upper: bool) -> float:
        arc = self.s("UPPER_LIP_INNER" if upper else "LOWER_LIP_INNER")
        order = np.argsort(self.p[arc, 0])
        return float(np.interp(x, self.p[arc[order], 0], self.p[arc[order], 1]))

    def side_weight(self, x: float, sign: float) -> float:
        """Smooth split of the mouth into halves: 1 on the ``sign`` side, 0.5 at the centre."""
        width = 0.5 * self.half_width(topology.MOUTH_CORNERS)
        return float(_smoothstep(sign * (x - self.mouth_centre[0]) / (2 * width) + 0.5))

    def lip_shape(self, rule) -> np.ndarray:
        """Displacements ``rule(vertex, loop_name, t, q) -> (3,)`` on the lip contours, extended."""
        values: dict[int, np.ndarray] = {}
        for name, arc in self.lip_loops.items():
            for v in arc:
                t, q = self.profile(int(v), "OUTER" in name)
                values[int(v)] = np.asarray(rule(int(v), name, t, q), dtype=np.float64)
        return self.full(self.mouth_harmonic(values))

    # -------------------------------------------------------------- jaw
    @cached_property
    def hinge(self) -> np.ndarray:
        """Effective jaw hinge: mid-face in x, at the depth of the jaw line's ends (the ears).

        Its height is halfway between the ears and the mouth line, not at the
        ears: a real jaw rotates and glides its condyles forward as it opens,
        which moves the chin more down and less back than a pure rotation about
        the ears would. (An approximation of that combined motion.)
        """
        ends = self.s("JAW_LINE")[[0, -1]]
        height = 0.5 * (self.p[ends, 1].mean() + self.mouth_centre[1])
        return np.array([self.mouth_centre[0], height, self.p[ends, 2].mean()])

    @cached_property
    def jaw_weight(self) -> np.ndarray:
        """How much each vertex follows the jaw (468,): harmonic between fixed rows.

        Lower inner lip 0.5 + 0.5 q, upper inner lip 0.5 - 0.5 q (q the lip
        profile, so the corners follow halfway and the opening is a lens); 0
        above halfway from the mouth to the nose tip, 1 below the lower lip
        by 0.15 IOD.
        """
        values: dict[int, np.ndarray] = {}
        for name, sign in (("UPPER_LIP_INNER", -1.0), ("LOWER_LIP_INNER", 1.0)):
            for v in self.s(name):
                _, q = self.profile(int(v), outer=False)
                values[int(v)] = np.full(3, 0.5 + 0.5 * sign * q)
        y = self.p[: self.n, 1]
        top = 0.5 * (self.mouth_centre[1] + self.p[topology.NOSE_TIP, 1])
        bottom = self.p[topology.LOWER_LIP_OUTER_MID, 1] - 0.15
        above, below = np.flatnonzero(y > top), np.flatnonzero(y < bottom)
        values.update({int(v): np.ones(3) for v in below})
        fixed = np.concatenate([np.array(list(values)), above])
        return _Harmonic(self.laplacian, fixed)(values)[:, 0]

    def jaw_open(self, angle_deg: float) -> np.ndarray:
        """Rotation about the hinge's x axis, linearised: ``angle * (x_hat cross (v - hinge))``."""
        relative = self.p[: self.n] - self.hinge
        tangent = np.cross(np.array([1.0, 0.0, 0.0]), relative)  # down and back below the hinge
        return self.full(self.jaw_weight[:, None] * np.radians(angle_deg) * tangent)

    def jaw_translate(self, vector) -> np.ndarray:
        return self.full(self.jaw_weight[:, None] * np.asarray(vector, dtype=np.float64))

    # -------------------------------------------------------------- eyes and brows
    @cached_property
    def eye_loops(self) -> np.ndarray:
        return np.concatenate([self.s("LEFT_EYE"), self.s("RIGHT_EYE")])

    @cached_property
    def brows(self) -> np.ndarray:
        return np.concatenate([self.s("BROW_LEFT"), self.s("BROW_RIGHT")])

    @cached_property
    def eye_harmonic(self) -> _Harmonic:
        """Lid margins anchored, brows and skin beyond 0.4 IOD of the lids fixed at 0."""
        far = np.flatnonzero(self.distance_to(self.eye_loops) > 0.4)
        return _Harmonic(self.laplacian, np.concatenate([self.eye_loops, self.brows, far]))

    @cached_property
    def brow_harmonic(self) -> _Harmonic:
        """Brows anchored, lid margins and skin beyond 0.5 IOD of the brows fixed at 0."""
        far = np.flatnonzero(self.distance_to(self.brows) > 0.5)
        return _Harmonic(self.laplacian, np.concatenate([self.brows, self.eye_loops, far]))

    def lids(self, side: str, upper_fraction: float, lower_fraction: float) -> np.ndarray:
        """Upper lid moves ``upper_fraction`` of the aperture up, lower lid ``lower_fraction`` up."""
        upper, lower = self.s(f"{side}_UPPER_LID"), self.s(f"{side}_LOWER_LID")
        aperture = self.p[upper] - self.p[lower]  # zero at the shared corners
        values = {int(v): upper_fraction * a for v, a in zip(upper, aperture)}
        values.update({int(v): lower_fraction * a for v, a in zip(lower[1:-1], aperture[1:-1])})
        return self.full(self.eye_harmonic(values))

    def gaze(self, side: str, direction: np.ndarray, angle_deg: float, radius: float) -> np.ndarray:
        """Iris points rotated about the eyeball centre (``radius`` behind the iris centre)."""
        iris = self.s(f"IRIS_{side}")
        centre = self.p[iris[0]] - np.array([0.0, 0.0, radius])
        forward = np.array([0.0, 0.0, 1.0])
        axis = np.cross(forward, direction)
        rotation = _rotation(axis / np.linalg.norm(axis), np.radians(angle_deg))
        relative = self.p[iris] - centre
        out = np.zeros((topology.NUM_VERTICES, 3))
        out[iris] = relative @ rotation.T - relative
        return out

    def brow_innerness(self, name: str) -> np.ndarray:
        """Per brow vertex, 1 at the inner (nasal) end to 0 at the outer end."""
        ax = np.abs(self.p[self.s(name), 0] - self.mouth_centre[0])
        return (ax.max() - ax) / (ax.max() - ax.min())

    def brow_shape(self, rule_left, rule_right) -> np.ndarray:
        """Brow displacements ``rule(innerness (10,)) -> (10,3)`` per brow (None: still), extended."""
        values: dict[int, np.ndarray] = {}
        for name, rule in (("BROW_LEFT", rule_left), ("BROW_RIGHT", rule_right)):
            if rule is not None:
                values.update(zip(map(int, self.s(name)), rule(self.brow_innerness(name))))
        return self.full(self.brow_harmonic(values))


def _eyes(face: _Face, c: AuthoringConfig) -> dict[str, np.ndarray]:
    shapes = {}
    for suffix, side, sign in SIDES:
        toward_nose = np.array([-sign, 0.0, 0.0])
        shapes[f"eyeBlink{suffix}"] = face.lids(side, -(1.0 - c.blink_meet), c.blink_meet)
        shapes[f"eyeSquint{suffix}"] = face.lids(side, -0.05, c.squint)
        shapes[f"eyeWide{suffix}"] = face.lids(side, c.wide, -0.05)
        for look, direction, upper, lower in (
            ("Up", np.array([0.0, 1.0, 0.0]), 0.12, 0.05),
            ("Down", np.array([0.0, -1.0, 0.0]), -0.3, -0.08),
            ("In", toward_nose, 0.0, 0.0),
            ("Out", -toward_nose, 0.0, 0.0),
        ):
            lids = face.lids(side, upper, lower) if upper or lower else 0.0
            iris = face.gaze(side, direction, c.gaze_angle, c.eyeball_radius)
            shapes[f"eyeLook{look}{suffix}"] = lids + iris
    return shapes


def _brows(face: _Face, c: AuthoringConfig) -> dict[str, np.ndarray]:
    def down(sign: float):
        return lambda t: np.stack(
            [
                -sign * 0.4 * c.brow_down * t,
                -c.brow_down * (0.5 + 0.5 * t),
                -0.2 * c.brow_down * np.ones_like(t),
            ],
            1,
        )

    def inner_up(sign: float):
        return lambda t: np.stack([-sign * 0.1 * c.brow_up * t, c.brow_up * t, np.zeros_like(t)], 1)

    def outer_up(t):
        return np.stack([np.zeros_like(t), 0.85 * c.brow_up * (1.0 - t), np.zeros_like(t)], 1)

    return {
        "browDownLeft": face.brow_shape(down(1.0), None),
        "browDownRight": face.brow_shape(None, down(-1.0)),
        "browInnerUp": face.brow_shape(inner_up(1.0), inner_up(-1.0)),
        "browOuterUpLeft": face.brow_shape(outer_up, None),
        "browOuterUpRight": face.brow_shape(None, outer_up),
    }


def _jaw_and_lips(face: _Face, c: AuthoringConfig) -> dict[str, np.ndarray]:
    jaw = face.jaw_open(c.jaw_angle)
    # mouthClose cancels the jaw on the lips and meets them a little below the rest line.
    meet = c.close_meet * jaw[topology.LOWER_LIP_INNER_MID]
    lip_weight = _falloff(face.lip_distance, 0.03, 0.3)
    close = face.full(lip_weight[:, None] * (meet - jaw[: face.n]))

    def funnel(v, loop, t, q):
        outer = "OUTER" in loop
        sign = 1.0 if "UPPER" in loop else -1.0
        narrow = c.funnel_narrow if outer else 1.25 * c.funnel_narrow
        rise = 0.5 * c.funnel_open if outer else c.funnel_open
        return (
            -narrow * t,
            sign * rise * q,
            c.funnel_forward * (0.6 + (0.6 if outer else 0.4) * q),
        )

    def pucker(v, loop, t, q):
        outer = "OUTER" in loop
        bunch = (0.15 if "UPPER" in loop else -0.15) * c.pucker_narrow * q if outer else 0.0
        return (
            -c.pucker_narrow * t,
            bunch,
            c.pucker_forward * (0.65 + (0.55 if outer else 0.4) * q),
        )

    def roll(upper: bool):
        def rule(v, loop, t, q):
            if ("UPPER" in loop) != upper:
                return (0.0, 0.0, 0.0)
            if "OUTER" in loop:
                toward = face.inner_height(face.p[v, 0], upper) - face.p[v, 1]
                return (0.0, c.roll * toward * q, -c.roll_back * q)
            return (0.0, (-0.1 if upper else 0.1) * c.roll_back * q, -0.8 * c.roll_back * q)

        return rule

    def shrug(upper: bool):
        def rule(v, loop, t, q):
            outer, is_upper = "OUTER" in loop, "UPPER" in loop
            if upper:
                lift = (1.0 if outer else 0.4) if is_upper else 0.0
                return (0.0, c.shrug * lift * q, 0.5 * c.shrug * lift * q)
            lift = {
                (False, True): 1.0,
                (False, False): 0.5,
                (True, False): 0.5,
                (True, True): 0.25,
            }[(is_upper, outer)]
            forward = 0.6 * c.shrug * q if not is_upper else 0.0
            return (0.0, c.shrug * lift * q, forward * (1.0 if outer else 0.5))

        return rule

    def press(sign: float):
        def rule(v, loop, t, q):
            if "INNER" in loop:
                return (0.0, 0.0, -0.02 * face.side_weight(face.p[v, 0], sign))
            toward = face.inner_height(face.p[v, 0], "UPPER" in loop) - face.p[v, 1]
            g = face.side_weight(face.p[v, 0], sign)
            return (sign * 0.02 * g * (1.0 - q), c.press * toward * q * g, -0.01 * g)

        return rule

    def lip_part(upper: bool, amount: float, sign: float):
        def rule(v, loop, t, q):
            if ("UPPER" in loop) != upper:
                return (0.0, 0.0, 0.0)
            g = face.side_weight(face.p[v, 0], sign)
            return (0.0, (1.0 if upper else -1.0) * amount * q * g, 0.1 * amount * q * g)

        return rule

    shapes = {
        "jawOpen": jaw,
        "jawForward": face.jaw_translate((0.0, 0.0, c.jaw_forward)),
        "mouthClose": close,
        "mouthFunnel": face.lip_shape(funnel),
        "mouthPucker": face.lip_shape(pucker),
        "mouthRollLower": face.lip_shape(roll(upper=False)),
        "mouthRollUpper": face.lip_shape(roll(upper=True)),
        "mouthShrugLower": face.lip_shape(shrug(upper=False)),
        "mouthShrugUpper": face.lip_shape(shrug(upper=True)),
    }
    mouth_region = _falloff(face.lip_distance, 0.03, 0.4)[:, None]
    for suffix, _, sign in SIDES:
        corner = face.p[topology.MOUTH_CORNERS[1] if sign > 0 else topology.MOUTH_CORNERS[0]]
        near = _falloff(np.linalg.norm(face.p[: face.n] - corner, axis=1), 0.05, c.corner_radius)[
            :, None
        ]
        out = np.array([sign, 1.0, 1.0])
        shapes[f"jaw{suffix}"] = face.jaw_translate((sign * c.jaw_shift, 0.0, 0.0))
        shapes[f"mouth{suffix}"] = face.full(
            mouth_region * np.array([sign * c.mouth_shift, 0.0, 0.0])
        )
        shapes[f"mouthSmile{suffix}"] = face.full(near * (out * c.smile))
        shapes[f"mouthFrown{suffix}"] = face.full(near * (out * c.frown))
        shapes[f"mouthDimple{suffix}"] = face.full(near * (out * c.dimple))
        shapes[f"mouthStretch{suffix}"] = face.full(near * (out * c.stretch))
        shapes[f"mouthPress{suffix}"] = face.lip_shape(press(sign))
        shapes[f"mouthLowerDown{suffix}"] = face.lip_shape(lip_part(False, c.lower_down, sign))
        shapes[f"mouthUpperUp{suffix}"] = face.lip_shape(lip_part(True, c.upper_up, sign))
    return shapes


def _cheeks_and_nose(face: _Face, c: AuthoringConfig) -> dict[str, np.ndarray]:
    p = face.p[: face.n]
    corner_x = face.half_width(topology.MOUTH_CORNERS)
    eye_x = (
        abs(face.p[topology.LEFT_EYE_CORNERS[1], 0] - face.p[topology.RIGHT_EYE_CORNERS[1], 0]) / 2
    )
    nose_y = face.p[topology.NOSE_TIP, 1]
    mouth = face.mouth_centre
    puff = np.zeros((face.n, 3))
    shapes = {}
    for suffix, _, sign in SIDES:
        puff_centre = face.nearest_vertex(
            mouth[0] + sign * (corner_x + 0.2), 0.5 * (mouth[1] + nose_y)
        )
        puff += _falloff(np.linalg.norm(p - puff_centre, axis=1), 0.0, 0.45)[:, None] * np.array(
            [sign * 0.6 * c.cheek_puff, 0.0, c.cheek_puff]
        )
        apex = face.nearest_vertex(mouth[0] + sign * 0.8 * eye_x, nose_y)
        near = _falloff(np.linalg.norm(p - apex, axis=1), 0.05, 0.35)[:, None]
        shapes[f"cheekSquint{suffix}"] = face.full(
            near * np.array([0.0, c.cheek_squint, 0.25 * c.cheek_squint])
        )
        nose = face.s("NOSE")
        ala = face.p[nose[np.argmax(sign * (face.p[nose, 0] - mouth[0]))]]
        near = _falloff(np.linalg.norm(p - ala, axis=1), 0.03, 0.28)[:, None]
        shapes[f"noseSneer{suffix}"] = face.full(
            near * np.array([sign * 0.2 * c.sneer, c.sneer, 0.2 * c.sneer])
        )
    shapes["cheekPuff"] = face.full(puff)
    return shapes


def author_blendshapes(
    neutral: np.ndarray, config: AuthoringConfig = AuthoringConfig()
) -> np.ndarray:
    """All 52 displacement fields (52, 478, 3) float32 for this neutral, in its own units."""
    neutral = np.asarray(neutral, dtype=np.float64)
    if neutral.shape != (topology.NUM_VERTICES, 3):
        raise ValueError(f"neutral must be ({topology.NUM_VERTICES}, 3), got {neutral.shape}")
    if not np.isfinite(neutral).all():
        raise ValueError("neutral has non-finite coordinates")
    face = _Face(neutral)
    shapes = {"tongueOut": np.zeros((topology.NUM_VERTICES, 3))}
    for part in (_eyes, _brows, _jaw_and_lips, _cheeks_and_nose):
        shapes.update(part(face, config))
    missing = set(ARKIT_NAMES) - set(shapes)
    if missing:
        raise AssertionError(f"shapes not authored: {sorted(missing)}")
    basis = np.stack([shapes[name] for name in ARKIT_NAMES]) * face.iod
    return basis.astype(np.float32)


def express(neutral: np.ndarray, basis: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Vertices (T,478,3) of the linear model ``neutral + Σ w_i D_i`` for weights (T,52)."""
    return neutral + np.einsum("tk,knc->tnc", weights, basis)
