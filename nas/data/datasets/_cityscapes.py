"""Cityscapes from the preprocessed folder layout of MTAN (and LibMTL, which reuses it).

    ROOT/train/image/0.npy     (128, 256, 3) float in [0, 1]   ROOT/val/...   same layout
    ROOT/train/label_7/0.npy   (H, W) class index of 7 classes, -1 = ignore
    ROOT/train/label_19/0.npy  (H, W) class index of 19 classes, -1 = ignore
    ROOT/train/depth/0.npy     (H, W, 1) float, 0 = unknown

MTAN's release holds ``label_7`` and ``label_19``; LibMTL's copy holds one ``label`` folder of
the 7 classes, read when ``label_7`` is absent. ``val/`` (500 images) is the test split, as in
those codebases; the search's validation split is a seeded ``val_fraction`` of ``train/``
(2975 images). Each split streams from its files (:mod:`nas.data.datasets._npy_folders`).
"""

from __future__ import annotations

from pathlib import Path

from nas.data._benchmark import Benchmark, BenchmarkError
from nas.data._tasks import Task
from nas.data.datasets._npy_folders import FolderSpec, folder_benchmark
from nas.model.backbones._registry import BackboneSpec

__all__ = ["cityscapes"]


def cityscapes(
    root: str | None = None,
    seed: int = 0,
    val_fraction: float = 0.1,
    classes: int = 7,
    augment: bool = False,
) -> Benchmark:
    """Load Cityscapes (segmentation, depth) from ``root``.

    Args:
        root: the folder holding ``train/`` and ``val/``.
        seed: draws the validation hold-out.
        val_fraction: the seeded share of ``train/`` held out for validation; 0 is MTAN's
            protocol (``val/`` validates as well as tests, and every search says so).
        classes: 7 (MTAN's and LibMTL's default) or 19 (``--benchmark-option classes=19``).
        augment: train with MTAN's random scale-crop and flip.
    """
    if classes not in (7, 19):
        raise BenchmarkError(f"benchmark 'cityscapes': classes is 7 or 19, got {classes!r}")
    label = f"label_{classes}"
    if classes == 7 and root is not None and not (Path(root) / "train" / label).is_dir():
        label = "label"  # LibMTL's copy: one folder of the 7 classes
    spec = FolderSpec("cityscapes", {"segmentation": label, "depth": "depth"}, classes)
    tasks = (Task("segmentation", "segmentation", classes), Task("depth", "depth"))
    backbone = BackboneSpec(
        "conv", {"widths": (32, 32, 64, 64, 128, 128), "strides": (2, 1, 2, 1, 2, 1)}
    )
    return folder_benchmark(spec, tasks, root, seed, val_fraction, augment, backbone)
