"""NYUD-MT: NYUv2 with four tasks in the layout of MTI-Net and Multi-Task-Learning-PyTorch.

    ROOT/gt_sets/train.txt, val.txt   one image id per line (795 and 654)
    ROOT/images/ID.jpg                RGB, 480x640
    ROOT/segmentation/ID.png          uint8 class 1..40, 0 = unlabelled (ignored, as those do)
    ROOT/depth/ID.npy                 (H, W) or (H, W, 1) float depth, 0 = unknown
    ROOT/normals/ID.npy               (H, W, 3) float unit normals in [-1, 1], 0 = unknown
    ROOT/edge/ID.npy                  (H, W) float 0/1 edge map

``val.txt`` is the test split, as in those codebases; the search's validation split is a seeded
``val_fraction`` of ``train.txt`` (0: their protocol, validating on ``val.txt`` too, which every
search then says). Samples stream from their files; ``downsample=2`` halves each side (labels by
nearest neighbour). When the benchmark loads, every listed file must exist and each ``.npy``
header fit; the first 16 samples of each split are read whole and their values checked, and
every other file is checked when it is read. Each bad file stops the run in one line naming it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from nas.data._augment import ScaleCropFlip
from nas.data._benchmark import Benchmark, BenchmarkError
from nas.data._tasks import Task
from nas.data.datasets._npy_folders import hold_out
from nas.model.backbones._registry import BackboneSpec

__all__ = ["NyudImages", "nyud"]

CLASSES = 40
FILES = {
    "images": ".jpg",
    "segmentation": ".png",
    "depth": ".npy",
    "normals": ".npy",
    "edge": ".npy",
}
CHECKED_ON_LOAD = 16


def _image(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as img:
            return np.asarray(img)
    except (OSError, UnidentifiedImageError) as err:
        raise BenchmarkError(f"nyud: cannot read {path}: {err}") from None


def _npy(path: Path, mmap: bool = False) -> np.ndarray:
    try:
        a: np.ndarray = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise BenchmarkError(f"nyud: cannot read {path}: {err}") from None
    return a


def _shape_problem(sub: str, shape: tuple[int, ...], hw: tuple[int, int]) -> str | None:
    wanted: dict[str, list[tuple[int, ...]]] = {
        "depth": [hw, (*hw, 1)],
        "normals": [(*hw, 3)],
        "edge": [hw],
    }
    want = wanted[sub]
    return None if shape in want else f"has shape {shape}, expected {' or '.join(map(str, want))}"


class NyudImages(Dataset[tuple[torch.Tensor, dict[str, torch.Tensor]]]):
    """The samples ``ids`` of a NYUD-MT folder; each read (and checked) when asked for."""

    def __init__(self, root: Path, ids: Sequence[str], hw: tuple[int, int], downsample: int):
        self.root, self.ids, self.hw, self.downsample = root, list(ids), hw, downsample

    def __len__(self) -> int:
        return len(self.ids)

    def _path(self, sub: str, i: int) -> Path:
        return self.root / sub / (self.ids[i] + FILES[sub])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        rgb = _image(self._path("images", i))
        if rgb.shape != (*self.hw, 3):
            raise BenchmarkError(
                f"nyud: {self._path('images', i)} is {rgb.shape}, expected {(*self.hw, 3)} RGB"
            )
        label = _image(self._path("segmentation", i))
        if label.shape != self.hw or label.max() > CLASSES:
            raise BenchmarkError(
                f"nyud: {self._path('segmentation', i)} must be {self.hw} with classes 0..40 "
                f"(0 unlabelled), got {label.shape} up to {label.max()}"
            )
        arrays = {}
        for sub in ("depth", "normals", "edge"):
            a = _npy(self._path(sub, i))
            problem = _shape_problem(sub, a.shape, self.hw)
            if problem is None and not np.isfinite(a).all():
                problem = "holds NaN or infinite values"
            if problem is None and sub == "depth" and (a < 0).any():
                problem = "has negative depth (0 is unknown)"
            if problem is None and sub == "normals" and (np.abs(a) > 1 + 1e-3).any():
                problem = "has normal components outside [-1, 1]"
            if problem is None and sub == "edge" and not np.isin(a, (0, 1)).all():
                problem = "holds values other than 0 and 1"
            if problem is not None:
                raise BenchmarkError(f"nyud: {self._path(sub, i)} {problem}")
            arrays[sub] = torch.from_numpy(a.astype(np.float32)).reshape(*self.hw, -1)
        x = torch.from_numpy(rgb.astype(np.float32) / 255).permute(2, 0, 1)
        targets = {
            "segmentation": torch.from_numpy(label.astype(np.int64) - 1),  # 0 -> -1: ignored
            "depth": arrays["depth"].permute(2, 0, 1),
            "normals": arrays["normals"].permute(2, 0, 1),
            "edges": arrays["edge"].permute(2, 0, 1),
        }
        return self._smaller(x, targets)

    def _smaller(
        self, x: torch.Tensor, targets: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        k = self.downsample
        if k == 1:
            return x.contiguous(), {n: t.contiguous() for n, t in targets.items()}
        x = F.avg_pool2d(x[None], k)[0]  # the image averaged, each label picked (nearest)
        return x, {n: t[..., k // 2 :: k, k // 2 :: k].contiguous() for n, t in targets.items()}


def _ids(root: Path, name: str) -> list[str]:
    path = root / "gt_sets" / f"{name}.txt"
    if not path.is_file():
        raise BenchmarkError(f"nyud folder {root}: {path.relative_to(root)} is missing")
    ids = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not ids:
        raise BenchmarkError(f"nyud folder {root}: {path} lists no image")
    for i in ids:
        for sub, ext in FILES.items():
            if not (root / sub / (i + ext)).is_file():
                raise BenchmarkError(
                    f"nyud folder {root}: {root / sub / (i + ext)} is missing ({path.name} "
                    f"lists {i}; every image needs {', '.join(FILES)})"
                )
    return ids


def nyud(
    root: str | None = None,
    seed: int = 0,
    val_fraction: float = 0.1,
    downsample: int = 1,
    augment: bool = False,
) -> Benchmark:
    """Load NYUD-MT (segmentation of 40 classes, depth, normals, edges) from ``root``.

    Args:
        root: the folder holding ``gt_sets/``, ``images/`` and the label folders.
        seed: draws the validation hold-out.
        val_fraction: the seeded share of ``train.txt`` held out for validation, in [0, 1).
        downsample: keep every k-th pixel of each side (1: the published 480x640).
        augment: train with the scale-crop and flip of :class:`~nas.data._augment.ScaleCropFlip`.
    """
    if root is None:
        raise BenchmarkError("benchmark 'nyud' needs the path of its folder: --data PATH")
    if isinstance(downsample, bool) or not isinstance(downsample, int) or downsample < 1:
        raise BenchmarkError(
            f"benchmark 'nyud': downsample is a whole number >= 1, got {downsample!r}"
        )
    hold_out("nyud", ["a", "b"], val_fraction, seed, "train.txt")  # checked before any read
    base = Path(root)
    if not base.is_dir():
        raise BenchmarkError(f"nyud folder {base} does not exist")
    train_ids, test_ids = _ids(base, "train"), _ids(base, "val")
    first = _image(base / "images" / (train_ids[0] + ".jpg"))
    hw = (int(first.shape[0]), int(first.shape[1]))
    if hw[0] % downsample or hw[1] % downsample:
        raise BenchmarkError(f"benchmark 'nyud': downsample {downsample} does not divide {hw}")
    for i in train_ids + test_ids:  # headers only: memory maps read no data
        for sub in ("depth", "normals", "edge"):
            path = base / sub / (i + ".npy")
            problem = _shape_problem(sub, _npy(path, mmap=True).shape, hw)
            if problem is not None:
                raise BenchmarkError(f"nyud: {path} {problem}")
    test = NyudImages(base, test_ids, hw, downsample)
    train_part, val_part = hold_out("nyud", train_ids, val_fraction, seed, "train.txt")
    train = NyudImages(base, train_part, hw, downsample)
    val = test if val_part is None else NyudImages(base, val_part, hw, downsample)
    for split in (train, val, test):  # values of the first samples: storage mistakes show here
        for k in range(min(CHECKED_ON_LOAD, len(split))):
            split[k]
    tasks = (
        Task("segmentation", "segmentation", CLASSES),
        Task("depth", "depth"),
        Task("normals", "normals"),
        Task("edges", "edges"),
    )
    return Benchmark(
        name="nyud",
        input_shape=(3, hw[0] // downsample, hw[1] // downsample),
        tasks=tasks,
        train=train,
        val=val,
        test=test,
        backbone=BackboneSpec(
            "conv", {"widths": (32, 32, 64, 64, 128, 128), "strides": (2, 1, 2, 1, 2, 1)}
        ),
        augment=ScaleCropFlip(tasks) if augment else None,
        val_is_test=val_fraction == 0,
    )
