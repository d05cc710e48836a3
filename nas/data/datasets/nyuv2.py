"""NYUv2 from the preprocessed folder layout used by MTAN and LibMTL.

    ROOT/train/image/0.npy   (H, W, 3) float    ROOT/val/...   same layout
    ROOT/train/label/0.npy   (H, W) class index, -1 = ignore (13 classes)
    ROOT/train/depth/0.npy   (H, W, 1) float, 0 = unknown
    ROOT/train/normal/0.npy  (H, W, 3) float, 0 = unknown

``val/`` is the test split (as in those codebases); the search's validation split is a seeded
``val_fraction`` of ``train/``, so model selection never sees the test images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nas.data.benchmark import Benchmark, BenchmarkError
from nas.data.datasets._common import to_split
from nas.data.tasks import Task
from nas.model.backbones.registry import BackboneSpec

__all__ = ["nyuv2"]

FOLDERS = ("image", "label", "depth", "normal")
CLASSES = 13


def _read(folder: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    where = f"nyuv2 folder {folder}"
    for sub in FOLDERS:
        if not (folder / sub).is_dir():
            raise BenchmarkError(f"{where}: missing sub-folder {sub!r} (expected {list(FOLDERS)})")
    ids = sorted(p.stem for p in (folder / "image").glob("*.npy"))
    if not ids:
        raise BenchmarkError(f"{where}: no .npy files in {folder / 'image'}")
    arrays: dict[str, list[np.ndarray]] = {sub: [] for sub in FOLDERS}
    for i in ids:
        for sub in FOLDERS:
            path = folder / sub / f"{i}.npy"
            try:
                arrays[sub].append(np.load(path, allow_pickle=False))
            except (OSError, ValueError) as err:
                raise BenchmarkError(f"{where}: cannot read {path}: {err}") from None
    try:
        image = np.stack(arrays["image"]).transpose(0, 3, 1, 2)
        label = np.stack(arrays["label"]).astype(np.int64)
        depth = np.stack(arrays["depth"]).reshape(len(ids), *label.shape[1:], 1)
        normal = np.stack(arrays["normal"]).transpose(0, 3, 1, 2)
    except ValueError as err:
        raise BenchmarkError(f"{where}: arrays of mismatched shapes ({err})") from None
    targets = {
        "segmentation": label,
        "depth": depth.transpose(0, 3, 1, 2).astype(np.float32),
        "normals": normal.astype(np.float32),
    }
    return image, targets


def nyuv2(root: str | None = None, seed: int = 0, val_fraction: float = 0.1) -> Benchmark:
    """Load NYUv2 (segmentation, depth, normals) from ``root``."""
    if root is None:
        raise BenchmarkError("benchmark 'nyuv2' needs the path of its folder: --data PATH")
    base = Path(root)
    if not base.is_dir():
        raise BenchmarkError(f"nyuv2 folder {base} does not exist")
    x, y = _read(base / "train")
    test_x, test_y = _read(base / "val")
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(x))
    n_val = max(1, round(val_fraction * len(x)))
    if n_val >= len(x):
        raise BenchmarkError(f"nyuv2 folder {base}: too few training images ({len(x)}) to split")
    val, train = perm[:n_val], perm[n_val:]
    return Benchmark(
        name="nyuv2",
        input_shape=tuple(int(n) for n in x.shape[1:]),
        tasks=(
            Task("segmentation", "segmentation", CLASSES),
            Task("depth", "depth"),
            Task("normals", "normals"),
        ),
        train=to_split(x[train], {k: v[train] for k, v in y.items()}),
        val=to_split(x[val], {k: v[val] for k, v in y.items()}),
        test=to_split(test_x, test_y),
        backbone=BackboneSpec(
            "conv", {"widths": (32, 32, 64, 64, 128, 128), "strides": (2, 1, 2, 1, 2, 1)}
        ),
    )
