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


# Channels per file of a sample in this layout, after (H, W); None: no channel axis. Images
# are floats in [0, 1], channels last.
CHANNELS = {"image": 3, "label": None, "depth": 1, "normal": 3}


def _ids(folder: Path, where: str) -> list[str]:
    """Every sample id, checked to have its file in each sub-folder (nothing dropped)."""
    found = {sub: {p.stem for p in (folder / sub).glob("*.npy")} for sub in FOLDERS}
    every = set().union(*found.values())
    if not every:
        raise BenchmarkError(f"{where}: no .npy files in {folder / 'image'}")
    for i in sorted(every):
        lacking = [sub for sub in FOLDERS if i not in found[sub]]
        if lacking:
            have = next(sub for sub in FOLDERS if i in found[sub])
            raise BenchmarkError(
                f"{where}: {folder / lacking[0] / (i + '.npy')} is missing "
                f"({have}/{i}.npy exists); every sample needs {', '.join(FOLDERS)}"
            )
    # Numeric order where the names are numbers, as the layout names them (0.npy, 1.npy, ...).
    return sorted(every, key=lambda i: (not i.isdigit(), int(i) if i.isdigit() else 0, i))


def _load(path: Path, sub: str, hw: tuple[int, int] | None, where: str) -> np.ndarray:
    try:
        a: np.ndarray = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise BenchmarkError(f"{where}: cannot read {path}: {err}") from None
    if sub == "depth" and a.ndim == 2:
        a = a[..., None]  # (H, W) depth is read as (H, W, 1)
    if sub == "image" and a.ndim == 3 and a.shape[0] == 3 and a.shape[-1] != 3:
        raise BenchmarkError(
            f"{where}: {path} has shape {a.shape}, channels first; this layout stores images "
            "as (H, W, 3): transpose it with a.transpose(1, 2, 0)"
        )
    h, w = hw if hw is not None else (a.shape[:2] if a.ndim >= 2 else (0, 0))
    channels = CHANNELS[sub]
    want = (h, w) if channels is None else (h, w, channels)
    if a.shape != want:
        raise BenchmarkError(f"{where}: {path} has shape {a.shape}, expected {want}")
    if not np.issubdtype(a.dtype, np.number) or not np.isfinite(a).all():
        raise BenchmarkError(f"{where}: {path} holds NaN, infinite or non-numeric values")
    if sub == "image" and (a.min() < 0 or a.max() > 1):
        hint = "; it looks like 0-255: divide by 255" if a.max() > 1 else ""
        raise BenchmarkError(
            f"{where}: {path} has values in [{a.min():g}, {a.max():g}]; this layout stores "
            f"images as floats in [0, 1]{hint}"
        )
    if sub == "label" and (
        (a != np.round(a)).any() or ((a != -1) & ((a < 0) | (a >= CLASSES))).any()
    ):
        raise BenchmarkError(
            f"{where}: {path} holds labels other than the classes 0..{CLASSES - 1} and -1 (ignored)"
        )
    if sub == "depth" and (a < 0).any():
        raise BenchmarkError(f"{where}: {path} has negative depth (0 is unknown)")
    if sub == "normal" and (np.abs(a) > 1 + 1e-3).any():
        raise BenchmarkError(
            f"{where}: {path} has normal components outside [-1, 1]; this layout stores unit "
            "vectors (0 = unknown)"
        )
    return a


def _read(folder: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    where = f"nyuv2 folder {folder}"
    for sub in FOLDERS:
        if not (folder / sub).is_dir():
            raise BenchmarkError(f"{where}: missing sub-folder {sub!r} (expected {list(FOLDERS)})")
    ids = _ids(folder, where)
    arrays: dict[str, list[np.ndarray]] = {sub: [] for sub in FOLDERS}
    hw: tuple[int, int] | None = None
    for i in ids:
        for sub in FOLDERS:
            a = _load(folder / sub / f"{i}.npy", sub, hw, where)
            hw = hw or (int(a.shape[0]), int(a.shape[1]))  # the first image sets the size
            arrays[sub].append(a)
    normal = np.stack(arrays["normal"])
    if normal.min() >= 0 and normal.max() > 0:
        # Unit normals point both ways along x and y; none below zero means [0, 1] storage.
        raise BenchmarkError(
            f"{where}: every normal component in {folder / 'normal'} is >= 0, as when unit "
            "vectors are stored in [0, 1]; this layout stores them in [-1, 1]: convert with "
            "2 * n - 1 (keeping 0 for unknown pixels)"
        )
    targets = {
        "segmentation": np.stack(arrays["label"]).astype(np.int64),
        "depth": np.stack(arrays["depth"]).transpose(0, 3, 1, 2).astype(np.float32),
        "normals": normal.transpose(0, 3, 1, 2).astype(np.float32),
    }
    return np.stack(arrays["image"]).transpose(0, 3, 1, 2), targets


def nyuv2(root: str | None = None, seed: int = 0, val_fraction: float = 0.1) -> Benchmark:
    """Load NYUv2 (segmentation, depth, normals) from ``root``.

    ``val_fraction``: the seeded share of ``train/`` held out as the search's validation split
    (``--benchmark-option val_fraction=0.2``); ``val/`` is always the test split.
    """
    if (
        isinstance(val_fraction, bool)
        or not isinstance(val_fraction, (int, float))
        or not (0 < val_fraction < 1)
    ):
        raise BenchmarkError(
            f"benchmark 'nyuv2': val_fraction must be a share in (0, 1) of train/ held out "
            f"for validation, got {val_fraction!r}"
        )
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
