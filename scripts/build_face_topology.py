"""Build ``engine/contracts/assets/face_topology.npz`` from MediaPipe (run once by a maintainer).

Needs the ``track`` extra (mediapipe 0.10.21, which brings matplotlib). Steps:

1. Triangles from the tessellation's edge graph (MediaPipe ships edges, not
   faces): every 3-cycle of the graph is a candidate; 3-cycles that are not
   faces (separating triangles, whose three edges would each be shared by three
   candidates) are dropped; the rest are oriented consistently by walking the
   edge-adjacency graph, outward normals toward +z on the neutral. Checks: each
   interior edge in exactly two triangles, boundary edges in one, the boundary
   splits into loops (face oval, two eyes, mouth), Euler characteristic
   V - E + F = 2 - 2g - b with genus 0.
   The result has 852 triangles where MediaPipe's canonical model has 898: the
   canonical OBJ also fills the two eye holes (14 triangles each for a
   16-vertex loop) and the mouth hole (18 for the 20-vertex inner-lip loop),
   852 + 28 + 18 = 898; the tessellation edges describe the open surface.
   Iris landmarks 468-477 get a 4-triangle fan per eye, stored apart in
   ``iris_triangles``.
2. The default neutral: MediaPipe FaceMesh (static image, refined landmarks)
   on matplotlib's public-domain sample photo ``grace_hopper.jpg``, padded to a
   square; converted to the model frame, frontalised (rotation that makes the
   face symmetric about x = 0 and faces its oval plane toward +z), mirror map by
   optimal matching of the x-reflected points, then symmetrised.
3. Named index sets from MediaPipe's connection sets (plus geometric criteria
   for RIGID), written with the rest; and the NOTICE for MediaPipe's topology.

Usage: ``python scripts/build_face_topology.py [--out engine/contracts/assets]``
"""

from __future__ import annotations

import argparse
from collections import defaultdict, deque
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from talkinghead.contracts.face_model import (
    euler_from_matrix,
    eye_centres,
    mediapipe_to_model,
    normalise,
)
from talkinghead.contracts.topology import (
    CHIN,
    FOREHEAD,
    INNER_MOUTH_CORNERS,
    LEFT_EYE_CORNERS,
    LEFT_IRIS_CENTRE,
    MOUTH_CORNERS,
    NOSE_TIP,
    NUM_MESH_VERTICES,
    NUM_VERTICES,
    RIGHT_EYE_CORNERS,
    RIGHT_IRIS_CENTRE,
    SET_NAMES,
    UPPER_LIP_INNER_MID,
    UPPER_LIP_OUTER_MID,
)

ROOT = Path(__file__).resolve().parents[1]
FLIP = np.array([-1.0, 1.0, 1.0])

NOTICE = """\
Face-mesh topology from MediaPipe
=================================

The vertex numbering (468 face-mesh landmarks plus 10 iris landmarks) and the
tessellation in face_topology.npz (triangles rebuilt from the edge set
FACEMESH_TESSELATION, and the named index sets derived from FACEMESH_LIPS,
FACEMESH_LEFT_EYE, FACEMESH_RIGHT_EYE, FACEMESH_LEFT_EYEBROW,
FACEMESH_RIGHT_EYEBROW, FACEMESH_FACE_OVAL, FACEMESH_NOSE, FACEMESH_LEFT_IRIS
and FACEMESH_RIGHT_IRIS) come from the MediaPipe face mesh, as distributed in
the mediapipe 0.10.21 Python package
(mediapipe/python/solutions/face_mesh_connections.py).

Copyright 2021 The MediaPipe Authors (MediaPipe is developed by Google LLC),
as stated in the header of face_mesh_connections.py.
Licensed under the Apache License, Version 2.0 (the "License"); you may not
use these files except in compliance with the License. You may obtain a copy
of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
License for the specific language governing permissions and limitations under
the License.

The default neutral shape in the same file was computed by talkinghead's
scripts/build_face_topology.py: MediaPipe FaceMesh landmarks of the
public-domain photograph of Grace Hopper shipped with matplotlib
(grace_hopper.jpg), frontalised and made symmetric.
"""


# ---------------------------------------------------------------- triangles


def _undirected(edges) -> set[tuple[int, int]]:
    return {(min(a, b), max(a, b)) for a, b in edges}


def _edges_of(tri) -> list[tuple[int, int]]:
    a, b, c = tri
    return [(min(a, b), max(a, b)), (min(b, c), max(b, c)), (min(a, c), max(a, c))]


def faces_from_edges(edges) -> np.ndarray:
    """Unoriented faces: the graph's 3-cycles minus separating (non-face) triangles."""
    undirected = _undirected(edges)
    neighbours: dict[int, set[int]] = defaultdict(set)
    for a, b in undirected:
        neighbours[a].add(b)
        neighbours[b].add(a)
    cycles = {
        tuple(sorted((a, b, c))) for a, b in undirected for c in neighbours[a] & neighbours[b]
    }
    use: dict[tuple[int, int], int] = defaultdict(int)
    for tri in cycles:
        for e in _edges_of(tri):
            use[e] += 1
    # A separating triangle's edges each border two real faces plus itself.
    separating = {t for t in cycles if all(use[e] > 2 for e in _edges_of(t))}
    faces = sorted(cycles - separating)
    print(f"3-cycles {len(cycles)}, separating (dropped) {len(separating)}: {sorted(separating)}")
    return np.array(faces, dtype=np.int64)


def orient(faces: np.ndarray) -> np.ndarray:
    """Consistent orientation by breadth-first flips over shared edges."""
    by_edge: dict[tuple[int, int], list[int]] = defaultdict(list)
    for f, tri in enumerate(faces):
        for e in _edges_of(tri):
            by_edge[e].append(f)
    out = faces.copy()
    done = np.zeros(len(faces), bool)
    for seed in range(len(faces)):
        if done[seed]:
            continue
        done[seed] = True
        queue = deque([seed])
        while queue:
            f = queue.popleft()
            a, b, c = out[f]
            for u, v in ((a, b), (b, c), (c, a)):
                for g in by_edge[(min(u, v), max(u, v))]:
                    if g == f:
                        continue
                    directed = {(out[g][i], out[g][(i + 1) % 3]) for i in range(3)}
                    consistent = (v, u) in directed
                    if done[g]:
                        if not consistent:
                            raise RuntimeError("the surface is not orientable")
                        continue
                    if not consistent:
                        out[g] = out[g][::-1]
                    done[g] = True
                    queue.append(g)
    return out


def boundary_loops(faces: np.ndarray) -> list[list[int]]:
    """Boundary edges (used by one face) chained into loops, following face orientation."""
    directed = {(int(t[i]), int(t[(i + 1) % 3])) for t in faces for i in range(3)}
    nxt = {a: b for a, b in directed if (b, a) not in directed}
    if len(nxt) != sum(1 for a, b in directed if (b, a) not in directed):
        raise RuntimeError("a boundary vertex is pinched (two boundary edges leave it)")
    loops, seen = [], set()
    for start in sorted(nxt):
        if start in seen:
            continue
        loop, v = [], start
        while v not in seen:
            seen.add(v)
            loop.append(v)
            v = nxt[v]
        loops.append(loop)
    return loops


def check_surface(faces: np.ndarray, num_vertices: int) -> list[list[int]]:
    edges = [e for t in faces for e in _edges_of(t)]
    counts: dict[tuple[int, int], int] = defaultdict(int)
    for e in edges:
        counts[e] += 1
    histogram = defaultdict(int)
    for c in counts.values():
        histogram[c] += 1
    if set(histogram) - {1, 2}:
        raise RuntimeError(f"non-manifold edges: {dict(histogram)}")
    loops = boundary_loops(faces)
    used = np.unique(faces)
    v, e, f = len(used), len(counts), len(faces)
    chi = v - e + f
    genus = (2 - len(loops) - chi) / 2
    print(
        f"V={v} (of {num_vertices}) E={e} F={f}; interior edges {histogram[2]}, boundary edges "
        f"{histogram[1]}; boundary loops {len(loops)} of sizes {sorted(map(len, loops))}; "
        f"Euler characteristic {chi} = 2 - 2g - b with b={len(loops)} -> genus {genus:g}"
    )
    if genus != 0:
        raise RuntimeError("the face surface should be a sphere with holes")
    return loops


def iris_fans(centre: int, ring: list[int]) -> np.ndarray:
    return np.array([[centre, ring[i], ring[(i + 1) % len(ring)]] for i in range(len(ring))])


def face_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    a, b, c = (vertices[faces[:, i]] for i in range(3))
    return np.cross(b - a, c - a)


def orient_toward_viewer(faces: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """Flip the whole (consistently oriented) set so that normals point toward +z."""
    normals = face_normals(vertices, faces)
    front = normals[:, 2].sum()
    return faces if front > 0 else faces[:, ::-1].copy()


# ---------------------------------------------------------------- neutral


def detect(image: np.ndarray) -> np.ndarray:
    """MediaPipe landmarks of the one face in ``image``, in right-handed pixels."""
    from mediapipe.python.solutions import face_mesh

    height, width = image.shape[:2]
    side = max(height, width)
    square = np.zeros((side, side, 3), np.uint8)  # square input: no ROI aspect ambiguity
    square[:height, :width] = image
    with face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True, max_num_faces=1) as mesh:
        result = mesh.process(square)
    if not result.multi_face_landmarks:
        raise RuntimeError("no face found in the photo")
    points = np.array([[p.x, p.y, p.z] for p in result.multi_face_landmarks[0].landmark])
    if points.shape != (NUM_VERTICES, 3):
        raise RuntimeError(f"expected {NUM_VERTICES} landmarks, got {points.shape}")
    return mediapipe_to_model(points, side, side)


def _frame(x_axis: np.ndarray, z_hint: np.ndarray) -> np.ndarray:
    """Rows of a rotation with the given x and z as close to ``z_hint`` as orthogonality allows."""
    x = x_axis / np.linalg.norm(x_axis)
    z = z_hint - (z_hint @ x) * x
    z /= np.linalg.norm(z)
    return np.stack([x, np.cross(z, x), z])


def plane_normal(points: np.ndarray) -> np.ndarray:
    centred = points - points.mean(0)
    return np.linalg.svd(centred)[2][2]


def mirror_map(vertices: np.ndarray) -> np.ndarray:
    """Left/right counterpart of each vertex: optimal matching of the points to their x-mirror."""
    mirror = np.empty(NUM_VERTICES, dtype=np.int64)
    for group in (np.arange(NUM_MESH_VERTICES), np.arange(NUM_MESH_VERTICES, NUM_VERTICES)):
        points = vertices[group]
        cost = np.linalg.norm(points[:, None] - (points * FLIP)[None], axis=-1)
        rows, cols = linear_sum_assignment(cost)
        mirror[group[rows]] = group[cols]
    if not np.array_equal(mirror[mirror], np.arange(NUM_VERTICES)):
        raise RuntimeError("the mirror matching is not an involution")
    return mirror


def frontalise(vertices: np.ndarray, oval: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Rotate so the face is symmetric about x = 0 and its oval plane faces +z.

    Starts from the eye axis and the chin-to-forehead direction, then alternates
    mirror matching and the symmetry-plane estimate (the dominant direction of
    the differences between mirror pairs) a few times.
    """
    eyes = eye_centres(vertices)
    up = vertices[FOREHEAD] - vertices[CHIN]
    x_axis = eyes[1] - eyes[0]
    rotation = _frame(x_axis, np.cross(x_axis, up))
    current = normalise(vertices @ rotation.T)
    for _ in range(4):
        mirror = mirror_map(current)
        pairs = np.flatnonzero(mirror != np.arange(NUM_VERTICES))
        diffs = current[pairs] - current[mirror[pairs]]
        normal = np.linalg.eigh(diffs.T @ diffs)[1][:, -1]
        normal *= np.sign(normal[0])
        facing = plane_normal(current[oval])
        facing *= np.sign(facing[2])
        step = _frame(normal, facing)
        current = normalise(current @ step.T)
        rotation = step @ rotation
    head = np.degrees(euler_from_matrix(rotation.T))
    print(f"head pose in the photo (pitch, yaw, roll): {np.round(head, 1)} degrees")
    return current, mirror_map(current)


def uncross_lips(vertices: np.ndarray, upper: list[int], lower: list[int]) -> np.ndarray:
    """Closed lips: where a lower inner-lip point sits above its upper partner, meet halfway."""
    out = vertices.copy()
    for u, low in zip(upper, lower):
        if out[low, 1] > out[u, 1]:
            out[[u, low], 1] = out[[u, low], 1].mean()
    return out


def check_mirror_graph(edges, mirror: np.ndarray) -> None:
    """The mirror map must be a graph symmetry up to flipped quad diagonals.

    MediaPipe's tessellation is left/right symmetric except for a few quads
    whose diagonal is drawn the other way on one side; an edge whose mirror
    image is missing must be such a flip (its quad's other diagonal mirrors to
    an edge).
    """
    undirected = _undirected(edges)
    neighbours: dict[int, set[int]] = defaultdict(set)
    for a, b in undirected:
        neighbours[a].add(b)
        neighbours[b].add(a)

    def mirrored(a: int, b: int) -> tuple[int, int]:
        return min(mirror[a], mirror[b]), max(mirror[a], mirror[b])

    broken = [(a, b) for a, b in undirected if mirrored(a, b) not in undirected]
    for a, b in broken:
        opposite = sorted(neighbours[a] & neighbours[b])
        if len(opposite) != 2 or mirrored(*opposite) not in undirected:
            raise RuntimeError(f"edge {(a, b)} has no mirror image and is not a flipped diagonal")
    print(
        f"mirror map preserves {len(undirected) - len(broken)}/{len(undirected)} edges; "
        f"the other {len(broken)} are diagonals flipped on one side: {sorted(broken)}"
    )


def symmetrise(vertices: np.ndarray, mirror: np.ndarray) -> np.ndarray:
    sym = 0.5 * (vertices + vertices[mirror] * FLIP)
    return normalise(sym)


# ---------------------------------------------------------------- index sets


def _chains(edges) -> list[list[int]]:
    """Connected pieces of a set of undirected edges, each a path or a loop (loops closed once)."""
    neighbours: dict[int, list[int]] = defaultdict(list)
    for a, b in _undirected(edges):
        neighbours[a].append(b)
        neighbours[b].append(a)
    if any(len(n) > 2 for n in neighbours.values()):
        raise RuntimeError("connection set is not a union of paths and loops")
    seen: set[int] = set()
    chains = []
    starts = sorted(v for v, n in neighbours.items() if len(n) == 1) + sorted(neighbours)
    for start in starts:
        if start in seen:
            continue
        chain, prev, v = [start], None, start
        seen.add(start)
        while True:
            options = [n for n in neighbours[v] if n != prev and n not in seen]
            if not options:
                break
            prev, v = v, options[0]
            chain.append(v)
            seen.add(v)
        chains.append(chain)
    return chains


def _loop(edges) -> list[int]:
    (chain,) = _chains(edges)
    return chain


def _split_loop(
    loop: list[int], a: int, b: int, vertices: np.ndarray, upper_mid: int | None = None
) -> tuple[list[int], list[int]]:
    """The two arcs of ``loop`` between ``a`` and ``b`` (inclusive), upper first, each by increasing x.

    The upper arc is the one through ``upper_mid`` when given (closed lips
    touch, so their heights cannot tell), else the higher one on average.
    """
    i, j = loop.index(a), loop.index(b)
    n = len(loop)
    arc1 = [loop[(i + k) % n] for k in range((j - i) % n + 1)]
    arc2 = [loop[(j + k) % n] for k in range((i - j) % n + 1)]
    if upper_mid is None:
        arcs = sorted([arc1, arc2], key=lambda arc: -vertices[arc, 1].mean())
    else:
        arcs = [arc1, arc2] if upper_mid in arc1 else [arc2, arc1]
    return tuple(arc if vertices[arc[0], 0] < vertices[arc[-1], 0] else arc[::-1] for arc in arcs)


def _closed_from(arc_upper: list[int], arc_lower: list[int]) -> list[int]:
    return arc_upper + arc_lower[-2:0:-1]


def _brow(edges, vertices: np.ndarray) -> list[int]:
    lines = _chains(edges)
    lines = [
        line if abs(vertices[line[0], 0]) < abs(vertices[line[-1], 0]) else line[::-1]
        for line in lines
    ]
    lines.sort(key=lambda line: vertices[line, 1].mean())  # lower contour first
    return [v for line in lines for v in line]


def _pair_lids(upper: list[int], lower: list[int]) -> None:
    if len(upper) != len(lower) or upper[0] != lower[0] or upper[-1] != lower[-1]:
        raise RuntimeError(f"lid arcs do not pair up: {upper} / {lower}")


def index_sets(connections, vertices: np.ndarray, mirror: np.ndarray) -> dict[str, list[int]]:
    """All named sets of :mod:`talkinghead.contracts.topology` from the connection sets."""
    lips = _chains(connections.FACEMESH_LIPS)
    outer = next(loop for loop in lips if MOUTH_CORNERS[0] in loop)
    inner = next(loop for loop in lips if INNER_MOUTH_CORNERS[0] in loop)
    upper_outer, lower_outer = _split_loop(outer, *MOUTH_CORNERS, vertices, UPPER_LIP_OUTER_MID)
    upper_inner, lower_inner = _split_loop(
        inner, *INNER_MOUTH_CORNERS, vertices, UPPER_LIP_INNER_MID
    )
    sets: dict[str, list[int]] = {
        "LIPS_OUTER": _closed_from(upper_outer, lower_outer),
        "LIPS_INNER": _closed_from(upper_inner, lower_inner),
        "UPPER_LIP_OUTER": upper_outer,
        "LOWER_LIP_OUTER": lower_outer,
        "UPPER_LIP_INNER": upper_inner,
        "LOWER_LIP_INNER": lower_inner,
    }
    for side, edges, corners in (
        ("LEFT", connections.FACEMESH_LEFT_EYE, LEFT_EYE_CORNERS),
        ("RIGHT", connections.FACEMESH_RIGHT_EYE, RIGHT_EYE_CORNERS),
    ):
        loop = _loop(edges)
        extremes = sorted(loop, key=lambda v: vertices[v, 0])
        if {extremes[0], extremes[-1]} != set(corners):
            raise RuntimeError(
                f"{side} eye corners are {extremes[0]}, {extremes[-1]}, expected {corners}"
            )
        upper, lower = _split_loop(loop, *corners, vertices)
        _pair_lids(upper, lower)
        sets[f"{side}_EYE"] = _closed_from(upper, lower)
        sets[f"{side}_UPPER_LID"], sets[f"{side}_LOWER_LID"] = upper, lower
    sets["BROW_LEFT"] = _brow(connections.FACEMESH_LEFT_EYEBROW, vertices)
    sets["BROW_RIGHT"] = _brow(connections.FACEMESH_RIGHT_EYEBROW, vertices)

    oval = _loop(connections.FACEMESH_FACE_OVAL)
    top = oval.index(int(max(oval, key=lambda v: vertices[v, 1])))
    oval = oval[top:] + oval[:top]
    if vertices[oval[1], 0] < vertices[oval[-1], 0]:
        oval = oval[:1] + oval[1:][::-1]
    sets["FACE_OVAL"] = oval
    ear_level = 0.5 * vertices[NOSE_TIP, 1]  # halfway from the eye line down to the nose tip
    jaw = [v for v in oval if vertices[v, 1] < ear_level][::-1]  # oval runs top, subject left, chin
    if CHIN not in jaw or not np.all(np.diff(np.flatnonzero(np.isin(oval, jaw))) == 1):
        raise RuntimeError("jaw line is not one arc of the oval through the chin")
    sets["JAW_LINE"] = jaw

    nose = sorted({v for e in connections.FACEMESH_NOSE for v in e})
    sets["NOSE"] = nose
    for side, edges, centre in (
        ("LEFT", connections.FACEMESH_LEFT_IRIS, LEFT_IRIS_CENTRE),
        ("RIGHT", connections.FACEMESH_RIGHT_IRIS, RIGHT_IRIS_CENTRE),
    ):
        ring = _loop(edges)
        if np.linalg.norm(vertices[ring].mean(0) - vertices[centre]) > 0.05:
            raise RuntimeError(f"{side} iris centre {centre} is not at the middle of its ring")
        x, y = np.abs(vertices[ring, 0]), vertices[ring, 1]
        ordered = [ring[np.argmin(x)], ring[np.argmax(y)], ring[np.argmax(x)], ring[np.argmin(y)]]
        if len(set(ordered)) != 4:
            raise RuntimeError(f"{side} iris ring has no clear inner/top/outer/bottom points")
        sets[f"IRIS_{side}"] = [centre] + ordered

    sets["MIDLINE"] = [int(v) for v in np.flatnonzero(mirror == np.arange(NUM_VERTICES))]
    sets["RIGID"] = rigid_set(vertices, sets)
    return sets


def rigid_set(vertices: np.ndarray, sets: dict[str, list[int]]) -> list[int]:
    """Vertices that expressions barely move (criteria in IOD units on the frontal neutral).

    Upper face oval (above the eye line), forehead (above the brows' highest
    point by 0.1), nose ridge (midline nose points from the bridge down to the
    tip), temples (beyond the outer eye corners by 0.15, between 0.1 below the
    eye line and the brows). Eyes, lids, brows, cheeks and mouth are excluded.
    """
    y, x = vertices[:, 1], vertices[:, 0]
    mesh = np.arange(NUM_MESH_VERTICES)
    brow_top = y[sets["BROW_LEFT"] + sets["BROW_RIGHT"]].max()
    brows = set(sets["BROW_LEFT"] + sets["BROW_RIGHT"])
    outer_corner = np.abs(x[[LEFT_EYE_CORNERS[1], RIGHT_EYE_CORNERS[1]]]).max()
    chosen = {v for v in sets["FACE_OVAL"] if y[v] > 0}
    chosen |= {int(v) for v in mesh if y[v] > brow_top + 0.1}
    chosen |= {v for v in sets["NOSE"] if abs(x[v]) < 1e-6 and y[v] >= y[NOSE_TIP]}
    chosen |= {int(v) for v in mesh if abs(x[v]) > outer_corner + 0.15 and -0.1 < y[v] < brow_top}
    return sorted(chosen - brows)


# ---------------------------------------------------------------- main


def build(out_dir: Path) -> None:
    import matplotlib.cbook
    from matplotlib.image import imread
    from mediapipe.python.solutions import face_mesh_connections as connections

    faces = orient(faces_from_edges(connections.FACEMESH_TESSELATION))
    loops = check_surface(faces, NUM_MESH_VERTICES)

    photo = imread(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    raw = detect(np.asarray(photo)[..., :3])
    right_eye, left_eye = eye_centres(raw)
    print(
        f"photo: subject-left eye at image x {left_eye[0]:.1f} > subject-right eye {right_eye[0]:.1f}"
    )
    if left_eye[0] <= right_eye[0]:
        raise RuntimeError("MediaPipe's left eye is not at larger image x on a frontal face")
    oval = _loop(connections.FACEMESH_FACE_OVAL)
    frontal, mirror = frontalise(normalise(raw), oval)
    asymmetry = np.linalg.norm(frontal - frontal[mirror] * FLIP, axis=-1)
    print(
        f"mirror map: {int((mirror == np.arange(NUM_VERTICES)).sum())} self-mirrored vertices; "
        f"photo asymmetry before symmetrising: median {np.median(asymmetry):.4f}, max {asymmetry.max():.4f} IOD"
    )
    check_mirror_graph(connections.FACEMESH_TESSELATION, mirror)
    neutral = symmetrise(frontal, mirror)

    faces = orient_toward_viewer(faces, neutral)
    sets = index_sets(connections, neutral, mirror)
    neutral = uncross_lips(neutral, sets["UPPER_LIP_INNER"], sets["LOWER_LIP_INNER"])
    iris = np.concatenate(
        [
            iris_fans(sets["IRIS_RIGHT"][0], sets["IRIS_RIGHT"][1:]),
            iris_fans(sets["IRIS_LEFT"][0], sets["IRIS_LEFT"][1:]),
        ]
    )
    iris = np.array([t if face_normals(neutral, t[None])[0, 2] > 0 else t[::-1] for t in iris])
    front = (face_normals(neutral, faces)[:, 2] > 0).mean()
    print(f"{front:.1%} of triangles face +z on the neutral (the rest are on the sides)")
    hole_sets = {"LIPS_INNER", "LEFT_EYE", "RIGHT_EYE", "FACE_OVAL"}
    if sorted(sorted(loop) for loop in loops) != sorted(sorted(sets[n]) for n in hole_sets):
        raise RuntimeError("boundary loops are not the face oval, the eyes and the inner lips")
    gap = neutral[sets["UPPER_LIP_INNER"], 1] - neutral[sets["LOWER_LIP_INNER"], 1]
    print(
        f"neutral inner-lip gap (upper y - lower y) per pair: min {gap.min():.4f}, max {gap.max():.4f} IOD"
    )
    for name in SET_NAMES:
        print(f"  {name:16s} {len(sets[name]):3d}: {sets[name]}")

    out_dir.mkdir(parents=True, exist_ok=True)
    arrays = {
        "triangles": faces.astype(np.int32),
        "iris_triangles": iris.astype(np.int32),
        "neutral": neutral.astype(np.float32),
        "mirror": mirror.astype(np.int32),
    }
    arrays.update({f"set_{name}": np.array(sets[name], dtype=np.int32) for name in SET_NAMES})
    np.savez_compressed(out_dir / "face_topology.npz", **arrays)
    (out_dir / "NOTICE-mediapipe.txt").write_text(NOTICE)
    print(f"wrote {out_dir / 'face_topology.npz'} and NOTICE-mediapipe.txt")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "engine" / "contracts" / "assets")
    build(parser.parse_args().out)


if __name__ == "__main__":
    main()
