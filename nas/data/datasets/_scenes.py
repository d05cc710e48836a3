"""Scenes: procedurally rendered images with NYUv2-style dense tasks.

Each image is a pinhole view of a ground plane under a sky, with one to five objects (spheres,
boxes, cones) standing on the ground at random places, sizes and colours. Objects occlude each
other through a z-buffer; everything is lit by a random directional light (Lambertian shading)
and the ground carries a checker texture. Tasks:

- ``segmentation``: sky, ground, sphere, box, cone (5 classes);
- ``depth``: distance along the view axis, 0 (unknown) for the sky;
- ``normals``: camera-space surface normals, 0 (unknown) for the sky;
- ``count``: how many objects are visible (1 to 5, as classes 0 to 4);
- ``edges``: object outlines, including where one object occludes another, and the horizon,
  one pixel wide on the nearer side (about 9% of the pixels at 32x32): related to segmentation
  (its class changes there) and to depth (it jumps across an occlusion).

Relations are mixed on purpose: depth and normals are two views of one geometry, segmentation
shares the object outlines, while ``count`` needs a global, position-invariant summary that
competes with the dense tasks for a shared trunk's capacity.
"""

from __future__ import annotations

import numpy as np

from nas.data._benchmark import Benchmark
from nas.data._tasks import Task
from nas.data.datasets._common import split_sizes, to_split
from nas.model.backbones._registry import BackboneSpec

__all__ = ["scenes"]

# Scoring is cheap next to training, so validation and test are larger than they were (300):
# on 300 samples the binomial sd of the count accuracy (about 0.55) alone is 2.9 points, 1.3
# points of Δ_MTL. Validation is scored every judged epoch of every trial, so it stops at 500
# (the main job stays near 20 minutes on 2 cores); test is scored once per confirm run.
SIZES = {"tiny": (96, 48, 48), "small": (600, 200, 200), "default": (1200, 500, 1000)}
RESOLUTION = {"tiny": 16, "small": 32, "default": 32}
MAX_OBJECTS = 5
SKY, GROUND, SPHERE, BOX, CONE = range(5)
PALETTE = np.array(
    [[0.9, 0.2, 0.2], [0.2, 0.7, 0.3], [0.2, 0.3, 0.9], [0.9, 0.8, 0.2], [0.8, 0.3, 0.8]],
    np.float32,
)


def _render(rng: np.random.Generator, size: int) -> tuple[np.ndarray, ...]:
    h = w = size
    f = 1.2 * size  # focal length in pixels
    horizon = rng.uniform(0.25, 0.4) * h
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5
    below = rows > horizon + 0.5
    # Ground plane one unit below the camera: depth falls with the row below the horizon.
    zbuf = np.where(below, f / np.maximum(rows - horizon, 0.5), np.inf).astype(np.float32)
    zbuf = np.minimum(zbuf, 20.0)
    seg = np.where(below, GROUND, SKY).astype(np.int64)
    normal = np.zeros((3, h, w), np.float32)
    normal[1][below] = 1.0
    ground_x = (cols - w / 2) * zbuf / f
    checker = ((np.floor(ground_x) + np.floor(zbuf)) % 2).astype(np.float32)
    albedo = np.where(below, 0.45 + 0.2 * checker, 0.0)[None].repeat(3, 0)
    owner = np.full((h, w), -1)

    n_obj = int(rng.integers(1, MAX_OBJECTS + 1))
    for k in range(n_obj):
        kind = int(rng.integers(SPHERE, CONE + 1))
        base_row = rng.uniform(horizon + 2, h + 2)
        z = f / max(base_row - horizon, 0.5)
        cx = rng.uniform(0, w)
        radius = rng.uniform(0.35, 0.7) * f / z  # world size 0.35..0.7, in pixels
        dx, dy = (cols - cx) / radius, (rows - (base_row - radius)) / radius
        if kind == SPHERE:
            inside = dx**2 + dy**2 < 1
            nz = np.sqrt(np.clip(1 - dx**2 - dy**2, 0, 1))
            n = np.stack([dx, -dy, nz])
            depth = z - nz * radius * z / f
        elif kind == BOX:
            inside = (np.abs(dx) < 0.9) & (np.abs(dy) < 1)
            n = np.broadcast_to(np.array([0, 0, 1], np.float32)[:, None, None], (3, h, w))
            depth = np.full((h, w), z - radius * z / f, np.float32)
        else:  # a cone: a triangle whose halves face left and right
            height = (1 - dy) / 2  # 0 at the base, 1 at the apex
            inside = (np.abs(dx) < 1 - height) & (dy > -1) & (dy < 1)
            side = np.sign(dx)[None]
            n = np.concatenate([0.6 * side, np.full_like(side, 0.35), np.full_like(side, 0.72)])
            depth = z - (1 - height - np.abs(dx)) * radius * z / f
        visible = inside & (depth < zbuf)
        zbuf[visible] = depth[visible]
        seg[visible] = kind
        normal[:, visible] = n[:, visible]
        albedo[:, visible] = PALETTE[rng.integers(len(PALETTE))][:, None]
        owner[visible] = k

    normal /= np.maximum(np.linalg.norm(normal, axis=0, keepdims=True), 1e-6)
    light = rng.normal(size=3).astype(np.float32) * [1, 0.5, 0.5] + [0, 1, 1]
    light /= np.linalg.norm(light)
    shade = 0.35 + 0.65 * np.clip(np.tensordot(light, normal, axes=1), 0, 1)
    sky = np.stack([0.5 + 0 * rows, 0.7 - 0.2 * rows / h, 0.95 + 0 * rows])
    image = np.where(below | (owner >= 0), albedo * shade, sky)
    image = image + rng.normal(0, 0.03, image.shape)
    depth_map = np.where(np.isfinite(zbuf) & (seg != SKY), zbuf, 0.0)[None]
    count = len(np.unique(owner[owner >= 0])) - 1  # visible objects, 1..5 -> class 0..4
    edges = _edges(np.where(owner >= 0, 10 + owner, seg), zbuf)
    return (
        image.astype(np.float32), seg, depth_map.astype(np.float32), normal, np.int64(count),
        edges,
    )  # fmt: skip


def _edges(region: np.ndarray, zbuf: np.ndarray) -> np.ndarray:
    """1 on the nearer pixel of each neighbouring pair in different regions (object or not).

    Computed from the render alone (no random draws), so adding it left the other tasks'
    data exactly as it was.
    """
    edge = np.zeros(region.shape, bool)
    for axis in (0, 1):
        a = tuple(slice(None, -1) if i == axis else slice(None) for i in range(2))
        b = tuple(slice(1, None) if i == axis else slice(None) for i in range(2))
        boundary = region[a] != region[b]
        nearer_a = zbuf[a] <= zbuf[b]  # the sky is at infinity: its neighbour is nearer
        edge[a] |= boundary & nearer_a
        edge[b] |= boundary & ~nearer_a
    return edge.astype(np.float32)[None]


def _split(rng: np.random.Generator, n: int, res: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    parts = [_render(rng, res) for _ in range(n)]
    x, seg, depth, normal, count, edges = (np.stack(p) for p in zip(*parts, strict=True))
    targets = {"segmentation": seg, "depth": depth, "normals": normal, "count": count}
    return x, {**targets, "edges": edges}


def scenes(size: str = "default", seed: int = 0) -> Benchmark:
    """Render the benchmark; ``size`` is ``tiny`` (16x16), ``small`` or ``default`` (32x32)."""
    counts = split_sizes("scenes", size, SIZES)
    res = RESOLUTION[size]
    # One generator per split, so changing a split's size never changes another split.
    seqs = np.random.SeedSequence([seed, 0x5CE]).spawn(3)
    splits = [
        to_split(*_split(np.random.default_rng(s), n, res))
        for s, n in zip(seqs, counts, strict=True)
    ]
    return Benchmark(
        name="scenes",
        input_shape=(3, res, res),
        tasks=(
            Task("segmentation", "segmentation", 5),
            Task("depth", "depth"),
            Task("normals", "normals"),
            Task("count", "classification", MAX_OBJECTS),
            Task("edges", "edges"),  # weighted BCE, positives 0.95 (nas.data._tasks)
        ),
        train=splits[0],
        val=splits[1],
        test=splits[2],
        backbone=BackboneSpec(
            "conv", {"widths": (16, 16, 32, 32, 64, 64), "strides": (1, 1, 2, 1, 2, 1)}
        ),
    )
