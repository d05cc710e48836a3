"""``segmentation``: a class per pixel, -1 ignored; scored by mIoU over the split's confusion."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

import torch

from nas.data.kinds._base import Add
from nas.data.kinds._classification import IGNORE_INDEX, ClassIndices

if TYPE_CHECKING:
    from nas.data._tasks import Task

__all__ = ["Segmentation"]


class Segmentation(ClassIndices):
    """int64 (H, W) class per pixel, -1 = ignore; logits (out, H, W)."""

    name = "segmentation"
    metrics: ClassVar[dict[str, bool]] = {"miou": True, "pix_acc": True}
    dense = True

    def target_shape(self, out: int, hw: tuple[int, ...]) -> tuple[int, ...]:
        """A class map (H, W)."""
        return tuple(hw)

    def accumulate(self, task: Task, pred: torch.Tensor, target: torch.Tensor, add: Add) -> None:
        """The confusion matrix of the labelled pixels."""
        n = task.out
        valid = target != IGNORE_INDEX
        idx = target[valid] * n + pred.argmax(1)[valid]
        add("confusion", torch.bincount(idx, minlength=n * n).reshape(n, n))

    def scores(self, task: Task, sums: Mapping[str, torch.Tensor]) -> dict[str, float]:
        """MIoU over the classes present in target or prediction, and pixel accuracy."""
        if "confusion" not in sums:
            return {"miou": math.nan, "pix_acc": math.nan}
        conf = sums["confusion"].double()
        inter = conf.diag()
        union = conf.sum(0) + conf.sum(1) - inter
        present = union > 0  # classes absent from both target and prediction are left out
        miou = (inter[present] / union[present]).mean().item() if present.any() else math.nan
        return {"miou": miou, "pix_acc": (inter.sum() / conf.sum().clamp_min(1)).item()}

    def output_meaning(self, out: int) -> str:
        """Per-pixel logits."""
        return f"per-pixel logits over {out} classes, NCHW"
