"""Metrics over a whole split, and the Δ_MTL headline number.

Meters accumulate sufficient statistics batch by batch on the device (confusion matrices,
sums, an angle histogram) and compute each metric once over the whole split, so a metric such
as mIoU is the split's mIoU, not a mean of per-batch values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F  # noqa: N812

from nas.tasks import IGNORE_INDEX, Task

__all__ = ["TaskMeter", "delta_mtl"]

_ANGLE_BINS = 18000  # 0.01-degree bins: the median angle is exact to 0.01 degrees


class TaskMeter:
    """Accumulates one task's predictions over a split.

    Example:
        >>> m = TaskMeter(Task("c", "classification", 3))
        >>> m.update(torch.tensor([[2.0, 0, 0], [0, 2.0, 0]]), torch.tensor([0, 2]))
        >>> m.compute()
        {'accuracy': 0.5}
    """

    def __init__(self, task: Task) -> None:
        self.task = task
        self._sums: dict[str, torch.Tensor] = {}

    def _add(self, key: str, value: torch.Tensor) -> None:
        value = value.detach().double() if value.is_floating_point() else value.detach()
        self._sums[key] = self._sums[key] + value if key in self._sums else value

    @torch.no_grad()
    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        """Add one batch of network outputs and targets."""
        kind, pred = self.task.kind, pred.float()
        if kind == "classification":
            self._add("correct", (pred.argmax(1) == target).sum())
            self._add("count", torch.tensor(target.numel(), device=pred.device))
        elif kind == "multilabel":
            self._add("correct", ((pred > 0) == (target > 0.5)).sum())
            self._add("count", torch.tensor(target.numel(), device=pred.device))
        elif kind == "segmentation":
            n = self.task.out
            valid = target != IGNORE_INDEX
            idx = target[valid] * n + pred.argmax(1)[valid]
            self._add("confusion", torch.bincount(idx, minlength=n * n).reshape(n, n))
        elif kind == "normals":
            valid = target.norm(dim=1) > 0
            cos = F.cosine_similarity(pred, target, dim=1)[valid].clamp(-1, 1)
            angle = torch.rad2deg(torch.acos(cos))
            self._add("angle_sum", angle.sum())
            self._add("count", valid.sum())
            bins = (angle * (_ANGLE_BINS / 180)).long().clamp(0, _ANGLE_BINS - 1)
            self._add("hist", torch.bincount(bins, minlength=_ANGLE_BINS))
            for thr in (11.25, 22.5, 30.0):
                self._add(f"within_{thr:g}", (angle < thr).sum())
        else:  # regression, depth
            valid = target > 0 if kind == "depth" else torch.ones_like(target, dtype=torch.bool)
            diff = (pred - target)[valid]
            self._add("abs", diff.abs().sum())
            self._add("sq", diff.square().sum())
            self._add("count", valid.sum())
            if kind == "depth":
                self._add("rel", (diff.abs() / target[valid]).sum())

    def compute(self) -> dict[str, float]:
        """Every metric of the task's kind over what was added; NaN where nothing was."""
        s = {k: v.cpu() for k, v in self._sums.items()}
        kind = self.task.kind
        if kind in ("classification", "multilabel"):
            return {"accuracy": _ratio(s, "correct", "count")}
        if kind == "segmentation":
            if "confusion" not in s:
                return {"miou": math.nan, "pix_acc": math.nan}
            conf = s["confusion"].double()
            inter = conf.diag()
            union = conf.sum(0) + conf.sum(1) - inter
            present = union > 0  # classes absent from both target and prediction are left out
            miou = (inter[present] / union[present]).mean().item() if present.any() else math.nan
            return {"miou": miou, "pix_acc": (inter.sum() / conf.sum().clamp_min(1)).item()}
        if kind == "normals":
            out = {"mean_angle": _ratio(s, "angle_sum", "count"), "median_angle": math.nan}
            if "hist" in s and int(s["count"]) > 0:
                cum = s["hist"].cumsum(0)
                half = (int(s["count"]) + 1) // 2
                b = int(torch.searchsorted(cum, torch.tensor(half)).item())
                out["median_angle"] = (b + 0.5) * 180 / _ANGLE_BINS
            for thr in ("11.25", "22.5", "30"):
                out[f"within_{thr}"] = _ratio(s, f"within_{thr}", "count")
            return out
        out = {"abs_err": _ratio(s, "abs", "count")}
        if kind == "depth":
            out["rel_err"] = _ratio(s, "rel", "count")
        count = float(s["count"]) if "count" in s else 0.0
        out["rmse"] = math.sqrt(float(s["sq"]) / count) if count else math.nan
        return out


def _ratio(s: Mapping[str, torch.Tensor], num: str, den: str) -> float:
    if num not in s or float(s[den]) == 0:
        return math.nan
    return float(s[num]) / float(s[den])


def delta_mtl(
    metrics: Mapping[str, float],
    baseline: Mapping[str, float],
    higher_is_better: Mapping[str, bool],
) -> float:
    """Δ_MTL = (1/T) Σ_i (-1)^{l_i} (M_i - B_i) / B_i, as a fraction (x100 for percent).

    ``M_i`` is the multi-task network's primary metric on task i, ``B_i`` the single-task
    baseline's, and ``l_i = 1`` when lower is better. Positive means the multi-task network beats
    separate single-task networks on average (Maninis et al. 2019; Vandenhende et al. 2021, eq. 10).
    One primary metric per task, so no averaging within a task.

    Example:
        >>> round(delta_mtl({"seg": 0.55, "depth": 0.9}, {"seg": 0.5, "depth": 1.0},
        ...                 {"seg": True, "depth": False}), 6)
        0.1

    Raises:
        ValueError: a task is missing from an argument, or its baseline is zero or not finite.
    """
    if not metrics:
        raise ValueError("Δ_MTL needs at least one task")
    total = 0.0
    for task, m in metrics.items():
        if task not in baseline or task not in higher_is_better:
            raise ValueError(f"task {task!r}: no baseline or direction for Δ_MTL")
        b = baseline[task]
        if not math.isfinite(b) or b == 0:
            raise ValueError(f"task {task!r}: baseline {b!r} cannot divide Δ_MTL")
        sign = 1.0 if higher_is_better[task] else -1.0
        total += sign * (m - b) / b
    return total / len(metrics)
