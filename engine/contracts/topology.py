"""The MediaPipe face-mesh topology: triangles, default neutral, mirror map, index sets.

Everything here comes from ``assets/face_topology.npz``, written once by
``scripts/build_face_topology.py`` from the ``mediapipe`` wheel's connection
sets (vertex numbering and tessellation are MediaPipe's, Apache-2.0: see
``assets/NOTICE-mediapipe.txt``), so this package needs no MediaPipe at run time.

"Left" and "right" are the *subject's* sides, as in ARKit. In the model frame
(see :mod:`talkinghead.contracts.face_model`) the subject's left is +x, which is
image right for a frontal face. Arcs of lips, lids and jaw are ordered by
increasing model x (image left to right, i.e. from the subject's right to the
subject's left) and include their end corners.

Named landmarks fixed by the project's contract are plain constants below.
The index sets derived from the connection sets are read lazily from the
asset as tuples of ints (``topology.LIPS_INNER``); their meanings:

``LIPS_OUTER``, ``LIPS_INNER``
    closed loops (20 vertices each) starting at the subject-right corner
    (61 / 78), along the upper lip, back along the lower lip. The inner loop
    bounds the mouth hole of the tessellation.
``UPPER_LIP_OUTER``, ``LOWER_LIP_OUTER``, ``UPPER_LIP_INNER``, ``LOWER_LIP_INNER``
    the halves of those loops from corner to corner (11 vertices each).
``LEFT_EYE``, ``RIGHT_EYE``
    the palpebral fissure loops (16 vertices; they bound the eye holes).
``LEFT_UPPER_LID``, ``LEFT_LOWER_LID``, ``RIGHT_UPPER_LID``, ``RIGHT_LOWER_LID``
    the lid margins from corner to corner (9 vertices each); entry ``i`` of an
    upper lid faces entry ``i`` of the same eye's lower lid.
``BROW_LEFT``, ``BROW_RIGHT``
    the lower then the upper brow contour (5 + 5), each from the inner (nasal)
    end outward.
``FACE_OVAL``
    the outer boundary loop (36), starting at the top of the forehead, going
    toward the subject's left.
``JAW_LINE``
    the part of the face oval below ear level (halfway from the eye line down
    to the nose tip): 234 on the subject's right, through the chin (152), to
    454 on the subject's left.
``NOSE``
    MediaPipe's nose contour set (sorted).
``IRIS_LEFT``, ``IRIS_RIGHT``
    iris centre (473 / 468), then its ring: inner (nasal), top, outer, bottom.
``RIGID``
    points that move little with expression (upper face oval, forehead above
    the brows, nose ridge, temples), for rigid alignment.
``MIDLINE``
    vertices that are their own mirror image (x = 0 on the symmetric neutral).
"""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

NUM_VERTICES = 478  # 468 face-mesh vertices + 10 iris landmarks (refine_landmarks=True)
NUM_MESH_VERTICES = 468

RIGHT_EYE_CORNERS: tuple[int, int] = (133, 33)  # inner, outer
LEFT_EYE_CORNERS: tuple[int, int] = (362, 263)  # inner, outer
MOUTH_CORNERS: tuple[int, int] = (61, 291)  # subject right, subject left (outer lip loop)
INNER_MOUTH_CORNERS: tuple[int, int] = (78, 308)  # subject right, subject left (inner lip loop)
UPPER_LIP_INNER_MID = 13
LOWER_LIP_INNER_MID = 14
UPPER_LIP_OUTER_MID = 0
LOWER_LIP_OUTER_MID = 17
NOSE_TIP = 1
CHIN = 152
FOREHEAD = 10
RIGHT_IRIS_CENTRE = 468
LEFT_IRIS_CENTRE = 473

SET_NAMES: tuple[str, ...] = (
    "LIPS_OUTER",
    "LIPS_INNER",
    "UPPER_LIP_OUTER",
    "LOWER_LIP_OUTER",
    "UPPER_LIP_INNER",
    "LOWER_LIP_INNER",
    "LEFT_EYE",
    "RIGHT_EYE",
    "LEFT_UPPER_LID",
    "LEFT_LOWER_LID",
    "RIGHT_UPPER_LID",
    "RIGHT_LOWER_LID",
    "BROW_LEFT",
    "BROW_RIGHT",
    "FACE_OVAL",
    "JAW_LINE",
    "NOSE",
    "IRIS_LEFT",
    "IRIS_RIGHT",
    "RIGID",
    "MIDLINE",
)

_ASSET = "face_topology.npz"


@dataclass(frozen=True)
class Topology:
    """The face mesh's fixed structure and the default identity (arrays are read-only).

    ``triangles`` (852,3): the tessellation, counter-clockwise seen from the
    front (normals toward +z); the eyes and the mouth are holes. ``iris_triangles``
    (8,3): a 4-triangle fan per iris, kept apart because the iris lies inside
    the eye hole and a renderer may draw it separately. ``neutral`` (478,3): the
    default identity in the model frame (IOD units, symmetric). ``mirror`` (478,):
    index of each vertex's left/right counterpart (an involution).
    """

    triangles: np.ndarray
    iris_triangles: np.ndarray
    neutral: np.ndarray
    mirror: np.ndarray
    sets: Mapping[str, tuple[int, ...]]  # the index sets above, by name


def _read_only(array: np.ndarray, dtype) -> np.ndarray:
    out = np.array(array, dtype=dtype)
    out.setflags(write=False)
    return out


@functools.lru_cache(maxsize=1)
def load_topology() -> Topology:
    """The package's topology asset (cached; read-only arrays)."""
    resource = importlib.resources.files("talkinghead.contracts").joinpath("assets").joinpath(_ASSET)
    with resource.open("rb") as handle, np.load(handle) as data:
        missing = [n for n in SET_NAMES if f"set_{n}" not in data]
        if missing:
            raise ValueError(
                f"{_ASSET} lacks index sets {missing}: rebuild it with scripts/build_face_topology.py"
            )
        sets = {name: tuple(int(i) for i in data[f"set_{name}"]) for name in SET_NAMES}
        return Topology(
            triangles=_read_only(data["triangles"], np.int32),
            iris_triangles=_read_only(data["iris_triangles"], np.int32),
            neutral=_read_only(data["neutral"], np.float32),
            mirror=_read_only(data["mirror"], np.int32),
            sets=MappingProxyType(sets),
        )


def __getattr__(name: str) -> tuple[int, ...]:
    """Module-level access to the index sets (``topology.LIPS_INNER``), read on first use."""
    if name in SET_NAMES:
        return load_topology().sets[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
