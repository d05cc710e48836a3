"""CelebA's 40 face attributes as tasks, from torchvision's folder layout.

    ROOT/celeba/img_align_celeba/000001.jpg ...   aligned and cropped faces, 178x218 JPEG
    ROOT/celeba/list_attr_celeba.txt              a count, the 40 names, then per image
                                                  "000001.jpg -1  1 ..." (1 = has it)
    ROOT/celeba/list_eval_partition.txt           per image "000001.jpg 0": 0 train,
                                                  1 valid, 2 test

(``ROOT`` may also be the ``celeba`` folder itself.) The published partition is kept: its
``valid`` part is the search's validation split and ``test`` the test split. Each attribute is a
two-class task; ``attributes`` keeps a subset. Images stream from their files; by default each
is centre-cropped to 178x178 and resized to 64x64 (``image_size=0`` keeps 218x178).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from nas.data._benchmark import Benchmark, BenchmarkError
from nas.data._tasks import Task
from nas.model.backbones._registry import BackboneSpec

__all__ = ["CelebAImages", "celeba"]

ATTR_FILE = "list_attr_celeba.txt"
PARTITION_FILE = "list_eval_partition.txt"
IMAGES = "img_align_celeba"
CHECKED_ON_LOAD = 16  # images per split opened when the benchmark loads


def _folder(root: str) -> Path:
    base = Path(root)
    if not base.is_dir():
        raise BenchmarkError(f"celeba folder {base} does not exist")
    return base / "celeba" if (base / "celeba").is_dir() else base


def _lines(path: Path) -> list[list[str]]:
    if not path.is_file():
        raise BenchmarkError(f"celeba folder {path.parent}: {path.name} is missing")
    return [line.split() for line in path.read_text().splitlines() if line.strip()]


def _attributes(folder: Path) -> tuple[list[str], dict[str, np.ndarray]]:
    """The attribute names, and each image's 0/1 values."""
    path = folder / ATTR_FILE
    rows = _lines(path)
    if len(rows) < 3 or len(rows[0]) != 1 or not rows[0][0].isdigit():
        raise BenchmarkError(
            f"{path}: expected a count, a line of attribute names, then one line per image"
        )
    names, values = rows[1], {}
    for n, row in enumerate(rows[2:], start=3):
        if len(row) != len(names) + 1 or any(v not in ("-1", "1") for v in row[1:]):
            raise BenchmarkError(
                f"{path}, line {n}: expected an image name and {len(names)} values of -1 or 1"
            )
        values[row[0]] = (np.array(row[1:], dtype=np.int64) + 1) // 2
    if int(rows[0][0]) != len(values):
        raise BenchmarkError(
            f"{path}: the first line counts {rows[0][0]} images, {len(values)} follow"
        )
    return names, values


def _partition(folder: Path, labelled: dict[str, np.ndarray]) -> dict[int, list[str]]:
    path = folder / PARTITION_FILE
    parts: dict[int, list[str]] = {0: [], 1: [], 2: []}
    for n, row in enumerate(_lines(path), start=1):
        if len(row) != 2 or row[1] not in ("0", "1", "2"):
            raise BenchmarkError(f"{path}, line {n}: expected an image name and 0, 1 or 2")
        if row[0] not in labelled:
            raise BenchmarkError(f"{path}, line {n}: {row[0]} has no line in {ATTR_FILE}")
        parts[int(row[1])].append(row[0])
    for k, name in enumerate(("train", "valid", "test")):
        if not parts[k]:
            raise BenchmarkError(f"{path}: no image is in the {name} partition ({k})")
    return parts


class CelebAImages(Dataset[tuple[torch.Tensor, dict[str, torch.Tensor]]]):
    """Images ``files`` of ``folder`` with their attributes; each image read when asked for."""

    def __init__(
        self,
        folder: Path,
        files: Sequence[str],
        labels: np.ndarray,
        names: Sequence[str],
        image_size: int | None,
    ) -> None:
        self.folder, self.files, self.labels = folder, list(files), labels
        self.names, self.image_size = list(names), image_size

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        path = self.folder / IMAGES / self.files[i]
        try:
            with Image.open(path) as img:
                rgb = img.convert("RGB")
        except (OSError, UnidentifiedImageError) as err:
            raise BenchmarkError(f"celeba: cannot read {path}: {err}") from None
        if self.image_size is not None:
            w, h = rgb.size
            side = min(w, h)  # the centre square, as the aligned faces sit in the middle
            top, left = (h - side) // 2, (w - side) // 2
            rgb = rgb.crop((left, top, left + side, top + side))
            size = (self.image_size, self.image_size)
            rgb = rgb.resize(size, Image.Resampling.BILINEAR)
        x = torch.from_numpy(np.asarray(rgb, dtype=np.float32) / 255).permute(2, 0, 1)
        label = torch.from_numpy(self.labels[i])
        return x.contiguous(), {name: label[k] for k, name in enumerate(self.names)}


def celeba(
    root: str | None = None,
    attributes: Sequence[str] | str | None = None,
    image_size: int = 64,
    seed: int = 0,
) -> Benchmark:
    """Load CelebA from ``root`` (torchvision's layout).

    Args:
        root: the folder holding ``celeba/`` (or ``celeba/`` itself).
        attributes: the attributes kept as tasks, names or one comma-separated string
            (``--benchmark-option attributes='"Smiling,Male,Young"'``); all 40 by default.
        image_size: side of the square the centre crop is resized to; 0 keeps 218x178.
        seed: unused: the published partition fixes the splits.
    """
    del seed
    if root is None:
        raise BenchmarkError("benchmark 'celeba' needs the path of its folder: --data PATH")
    if isinstance(image_size, bool) or not isinstance(image_size, int) or 0 < image_size < 8:
        raise BenchmarkError(
            f"benchmark 'celeba': image_size is a side of at least 8 pixels (0: as stored), "
            f"got {image_size!r}"
        )
    folder = _folder(root)
    if not (folder / IMAGES).is_dir():
        raise BenchmarkError(f"celeba folder {folder}: the image folder {IMAGES}/ is missing")
    names, values = _attributes(folder)
    parts = _partition(folder, values)
    kept = _kept(attributes, names)
    have = {p.name for p in (folder / IMAGES).iterdir()}
    for files in parts.values():
        lacking = next((f for f in files if f not in have), None)
        if lacking is not None:
            raise BenchmarkError(f"celeba folder {folder}: {folder / IMAGES / lacking} is missing")
    cols = [names.index(a) for a in kept]
    size = image_size or None  # 0: as stored
    splits = [
        CelebAImages(folder, files, np.stack([values[f][cols] for f in files]), kept, size)
        for files in parts.values()
    ]
    for split in splits:  # catches unreadable files and mixed sizes before any training
        sizes = {tuple(split[i][0].shape) for i in range(min(CHECKED_ON_LOAD, len(split)))}
        if len(sizes) > 1:
            raise BenchmarkError(
                f"celeba folder {folder}: images of sizes {sorted(sizes)}; give image_size to "
                "resize them to one"
            )
    shape = tuple(splits[0][0][0].shape)
    return Benchmark(
        name="celeba",
        input_shape=shape,
        tasks=tuple(Task(a, "classification", 2) for a in kept),
        train=splits[0],
        val=splits[1],
        test=splits[2],
        backbone=BackboneSpec(
            "conv", {"widths": (32, 32, 64, 64, 128, 128), "strides": (2, 1, 2, 1, 2, 1)}
        ),
    )


def _kept(attributes: Sequence[str] | str | None, names: list[str]) -> list[str]:
    if attributes is None:
        return names
    if isinstance(attributes, str):
        wanted = [a.strip() for a in attributes.split(",")]
    else:
        wanted = list(attributes)
    unknown = [a for a in wanted if a not in names]
    if unknown or not wanted:
        raise BenchmarkError(
            f"benchmark 'celeba': unknown attributes {unknown}; choose from {names}"
        )
    return wanted
