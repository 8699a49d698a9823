"""The rasteriser: coverage, z-buffer, barycentrics, the face's maps, batching and devices."""

import pytest
import torch

from talkinghead.contracts.arkit import ARKIT_INDEX
from talkinghead.contracts.face_model import FaceModel
from talkinghead.renderer import raster

SQUARE = torch.tensor([[0, 1, 2], [0, 2, 3]])


def square(x0: float, y0: float, x1: float, y1: float, depth: float = 1.0) -> torch.Tensor:
    return torch.tensor([[[x0, y0, depth], [x1, y0, depth], [x1, y1, depth], [x0, y1, depth]]])


def test_square_covers_exactly_the_pixel_centres_inside():
    out = raster.rasterize(square(2, 3, 6, 8), SQUARE, (10, 12))
    expected = torch.zeros(10, 12, dtype=torch.bool)
    expected[3:8, 2:6] = True  # centres x+0.5 in [2, 6], y+0.5 in [3, 8]
    assert torch.equal(out.covered[0], expected)
    assert torch.isinf(out.depth[0][~expected]).all()


def test_shapes_past_the_crop_edge_are_clipped():
    out = raster.rasterize(square(-5, -5, 3, 100), SQUARE, (6, 6))
    assert out.covered[0, :, :3].all() and not out.covered[0, :, 3:].any()


def test_nearest_surface_wins_whatever_the_order():
    near, far = square(0, 0, 8, 8, depth=1.0), square(4, 0, 12, 8, depth=2.0)
    triangles = torch.cat([SQUARE, SQUARE + 4])
    for vertices in (torch.cat([near, far], 1), torch.cat([far, near], 1)):
        out = raster.rasterize(vertices, triangles, (8, 12))
        first_is_near = bool(vertices[0, 0, 2] == 1.0)
        near_ids = {0, 1} if first_is_near else {2, 3}
        overlap = out.triangle[0, :, 4:8].unique().tolist()
        assert set(overlap) <= near_ids
        assert torch.allclose(out.depth[0, :, 4:8], torch.ones(8, 4))
        assert torch.allclose(out.depth[0, :, 8:], torch.full((8, 4), 2.0))


def test_barycentrics_reproduce_linear_attributes():
    vertices = torch.tensor([[[1.3, 0.7, 2.0], [30.2, 4.1, 3.0], [9.6, 27.9, 5.0]]])
    triangles = torch.tensor([[0, 1, 2]])
    out = raster.rasterize(vertices, triangles, (32, 32))
    uv = out.interpolate(vertices[0, :, :2], triangles)
    ys, xs = torch.nonzero(out.covered[0], as_tuple=True)
    assert len(ys) > 200
    assert torch.allclose(uv[0, ys, xs, 0], xs.float() + 0.5, atol=1e-3)
    assert torch.allclose(uv[0, ys, xs, 1], ys.float() + 0.5, atol=1e-3)
    # depth is the same affine interpolation
    assert torch.allclose(out.depth[0, ys, xs], out.interpolate(vertices[0, :, 2:], triangles)[0, ys, xs, 0], atol=1e-4)
    assert torch.allclose(out.barycentric[out.covered].sum(-1), torch.ones(len(ys)), atol=1e-5)


def test_random_triangles_cover_what_a_per_pixel_test_covers():
    """Thin, tiny, large, off-crop and either winding: each pixel centre is tested directly as the oracle."""
    generator = torch.Generator().manual_seed(3)
    height, width = 24, 40
    ys, xs = torch.meshgrid(torch.arange(height) + 0.5, torch.arange(width) + 0.5, indexing="ij")
    for scale in (2.0, 8.0, 60.0):
        for _ in range(40):
            centre = torch.rand(2, generator=generator) * torch.tensor([width, height])
            corners = centre + (torch.rand(3, 2, generator=generator) - 0.5) * scale
            vertices = torch.cat([corners, torch.ones(3, 1)], -1)[None]
            out = raster.rasterize(vertices, torch.tensor([[0, 1, 2]]), (height, width))
            (x0, y0), (x1, y1), (x2, y2) = corners.double().tolist()
            area = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0)
            sides = [((bx - ax) * (ys.double() - ay) - (by - ay) * (xs.double() - ax)) * (1 if area > 0 else -1)
                     for (ax, ay), (bx, by) in (((x1, y1), (x2, y2)), ((x2, y2), (x0, y0)), ((x0, y0), (x1, y1)))]
            inside = (sides[0] >= 0) & (sides[1] >= 0) & (sides[2] >= 0)
            on_an_edge = torch.stack(sides).abs().amin(0) < 1e-3 * abs(area) ** 0.5
            differ = (out.covered[0] != inside) & ~on_an_edge
            assert not bool(differ.any()), (scale, corners.tolist())


@pytest.fixture(scope="module")
def face():
    return FaceModel()


def face_screen(face: FaceModel, weights: torch.Tensor, size: int = 256) -> torch.Tensor:
    """Frontal weak-perspective screen vertices of the face model in a ``size`` crop."""
    vertices = face(weights)
    scale = size / 3.2
    return torch.stack([size / 2 + scale * vertices[..., 0], 0.43 * size - scale * vertices[..., 1],
                        10 - vertices[..., 2]], -1)


def triangle_area(screen: torch.Tensor, triangles: torch.Tensor) -> torch.Tensor:
    t = screen[:, triangles][..., :2]
    cross = ((t[..., 1, 0] - t[..., 0, 0]) * (t[..., 2, 1] - t[..., 0, 1])
             - (t[..., 1, 1] - t[..., 0, 1]) * (t[..., 2, 0] - t[..., 0, 0]))
    return 0.5 * cross.abs().sum(-1)


def test_face_maps_cover_the_mesh_and_open_a_mouth_with_the_jaw(face):
    weights = torch.zeros(3, 52)
    weights[1, ARKIT_INDEX["jawOpen"]] = 0.6
    weights[2, ARKIT_INDEX["jawOpen"]] = 0.3
    screen = face_screen(face, weights)
    maps = raster.face_maps(screen, (256, 256), face.neutral, face.triangles)
    neutral_area = triangle_area(screen[:1], face.triangles)
    assert abs(maps.face[0].sum() - neutral_area[0]) < 0.01 * neutral_area[0]
    mouth = maps.mouth.sum((1, 2))
    assert mouth[0] < 20 and mouth[1] > mouth[2] > 200
    assert not (maps.mouth & maps.face).any()
    # The mouth hole lies between the lip corners, below the nose.
    ys, xs = torch.nonzero(maps.mouth[1], as_tuple=True)
    corners = screen[1, [61, 291], 0]
    assert corners.min() < xs.float().min() and xs.float().max() < corners.max()
    assert ys.float().min() > screen[1, 1, 1]  # below the nose tip


def test_canonical_map_is_pose_free(face):
    """The same skin point reads the same canonical address wherever the face is drawn."""
    weights = torch.zeros(1, 52)
    screen = face_screen(face, weights)
    shifted = screen + torch.tensor([17.0, -9.0, 0.0])
    a = raster.face_maps(screen, (256, 256), face.neutral, face.triangles).canonical
    b = raster.face_maps(shifted, (256, 256), face.neutral, face.triangles).canonical
    assert torch.allclose(a[0, 40:200, 40:200], b[0, 31:191, 57:217], atol=1e-4)
    lo, hi = face.neutral.amin(0), face.neutral.amax(0)
    drawn = a[0][a[0].abs().sum(-1) > 0]
    assert (drawn >= lo - 1e-4).all() and (drawn <= hi + 1e-4).all()


def test_batch_equals_one_at_a_time(face):
    weights = torch.rand(3, 52, generator=torch.Generator().manual_seed(0)) * 0.5
    screen = face_screen(face, weights, size=128)
    batched = raster.face_maps(screen, (128, 128), face.neutral, face.triangles)
    for i in range(3):
        alone = raster.face_maps(screen[i:i + 1], (128, 128), face.neutral, face.triangles)
        assert torch.equal(alone.face[0], batched.face[i])
        assert torch.equal(alone.mouth[0], batched.mouth[i])
        assert torch.allclose(alone.canonical[0], batched.canonical[i], atol=1e-6)


def test_the_cpu_kernel_gives_the_tensor_paths_maps_bit_for_bit(face):
    """The compiled CPU kernel and the tensor path (the GPU's) agree exactly: coverage, ties, barycentrics, depth."""
    generator = torch.Generator().manual_seed(5)
    meshes = []
    for trial in range(60):
        vertices = torch.rand(2, 30, 3, generator=generator) * torch.tensor([70.0, 50.0, 4.0]) - 8
        if trial % 2:
            vertices[..., :2] = vertices[..., :2].round()  # shared edges through pixel centres, equal depths
            vertices[..., 2] = vertices[..., 2].round()
        meshes.append((vertices, torch.randint(0, 30, (50, 3), generator=generator), (40, 56)))
    weights = torch.zeros(2, 52)
    weights[1, ARKIT_INDEX["jawOpen"]] = 0.5
    meshes.append((face_screen(face, weights), face.triangles, (256, 256)))
    for vertices, triangles, size in meshes:
        kernel = raster.rasterize(vertices, triangles, size)
        tensors = raster.rasterize_tensors(vertices[:, triangles], size)
        assert torch.equal(kernel.triangle, tensors.triangle)
        assert torch.equal(kernel.barycentric, tensors.barycentric) and torch.equal(kernel.depth, tensors.depth)
        attributes = vertices[0, :, :2]
        expected = (attributes[triangles[tensors.triangle.clamp(min=0)]] * tensors.barycentric[..., None]).sum(-2)
        assert torch.equal(kernel.interpolate(attributes, triangles), expected)
    assert int(kernel.covered.sum()) > 20000  # the face was drawn


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu(face):
    weights = torch.zeros(2, 52)
    weights[1, ARKIT_INDEX["jawOpen"]] = 0.5
    screen = face_screen(face, weights)
    cpu = raster.face_maps(screen, (256, 256), face.neutral, face.triangles)
    gpu = raster.face_maps(screen.cuda(), (256, 256), face.neutral, face.triangles)
    assert (cpu.face != gpu.face.cpu()).float().mean() < 1e-3
    assert torch.equal(cpu.mouth, gpu.mouth.cpu())


@pytest.mark.parametrize("bad, message", [
    (torch.zeros(1, 478, 2), r"\(B, N, 3\)"),
    (torch.full((1, 478, 3), float("nan")), "finite"),
    (torch.zeros(1, 10, 3), "expected 478 vertices"),
])
def test_bad_vertices_are_refused(face, bad, message):
    with pytest.raises(ValueError, match=message):
        raster.face_maps(bad, (64, 64), face.neutral, face.triangles)


def test_bad_crop_size_is_refused():
    with pytest.raises(ValueError, match="crop size"):
        raster.rasterize(square(0, 0, 4, 4), SQUARE, (0, 8))
