"""NYUv2 from the preprocessed folder layout used by MTAN and LibMTL.

    ROOT/train/image/0.npy   (H, W, 3) float    ROOT/val/...   same layout
    ROOT/train/label/0.npy   (H, W) class index, -1 = ignore (13 classes)
    ROOT/train/depth/0.npy   (H, W, 1) float, 0 = unknown
    ROOT/train/normal/0.npy  (H, W, 3) float, 0 = unknown

``val/`` is the test split (as in those codebases); the search's validation split is a seeded
``val_fraction`` of ``train/``, so model selection never sees the test images. Each split
streams from its files (:mod:`nas.data.datasets._npy_folders`).
"""

from __future__ import annotations

from nas.data._benchmark import Benchmark
from nas.data._tasks import Task
from nas.data.datasets._npy_folders import FolderSpec, folder_benchmark
from nas.model.backbones._registry import BackboneSpec

__all__ = ["nyuv2"]

CLASSES = 13
SPEC = FolderSpec("nyuv2", {"segmentation": "label", "depth": "depth", "normals": "normal"}, 13)


def nyuv2(
    root: str | None = None, seed: int = 0, val_fraction: float = 0.1, augment: bool = False
) -> Benchmark:
    """Load NYUv2 (segmentation, depth, normals) from ``root``.

    Args:
        root: the folder holding ``train/`` and ``val/``.
        seed: draws the validation hold-out.
        val_fraction: the seeded share of ``train/`` held out as the search's validation split
            (``--benchmark-option val_fraction=0.2``); ``val/`` is always the test split. 0 is
            MTAN's protocol: all of ``train/`` trains and ``val/`` validates as well as tests
            (every search then warns that its test numbers are not held out).
        augment: train with MTAN's random scale-crop and flip
            (:class:`nas.data._augment.ScaleCropFlip`), as MTAN and LibMTL do.
    """
    tasks = (
        Task("segmentation", "segmentation", CLASSES),
        Task("depth", "depth"),
        Task("normals", "normals"),
    )
    backbone = BackboneSpec(
        "conv", {"widths": (32, 32, 64, 64, 128, 128), "strides": (2, 1, 2, 1, 2, 1)}
    )
    return folder_benchmark(SPEC, tasks, root, seed, val_fraction, augment, backbone)
