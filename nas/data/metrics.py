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

from nas.data.tasks import BINARY_DENSE, IGNORE_INDEX, Task

__all__ = ["EDGE_TOLERANCE", "THRESHOLDS", "TaskMeter", "binary_scores", "delta_mtl", "task_deltas"]

_ANGLE_BINS = 18000  # 0.01-degree bins: the median angle is exact to 0.01 degrees
THRESHOLDS = torch.arange(1, 100, dtype=torch.float64) / 100  # on the predicted probability
# Edge matching tolerance, as in the BSDS benchmark: 0.75% of the image diagonal, in whole
# pixels (0 at 32x32, so a predicted edge pixel must lie on a labelled one; 6 at 480x640). A
# predicted pixel within it of a labelled edge is a hit, a labelled pixel within it of a
# prediction is found; BSDS matches one-to-one instead, so at large tolerances these scores
# are the more lenient.
EDGE_TOLERANCE = 0.0075
SALIENCY_BETA2 = 0.3


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
            known = target != IGNORE_INDEX
            self._add("correct", ((pred.argmax(1) == target) & known).sum())
            self._add("count", known.sum())
        elif kind == "multilabel":
            known = torch.isfinite(target)
            self._add("correct", (((pred > 0) == (target > 0.5)) & known).sum())
            self._add("count", known.sum())
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
        elif kind in BINARY_DENSE:
            self._binary(pred, target)
        else:  # regression, depth
            valid = target > 0 if kind == "depth" else torch.isfinite(target)
            diff = (pred - target)[valid]
            self._add("abs", diff.abs().sum())
            self._add("sq", diff.square().sum())
            self._add("count", valid.sum())
            if kind == "depth":
                self._add("rel", (diff.abs() / target[valid]).sum())

    def _binary(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        # Counts per threshold, summed over the split: one threshold for the whole split (ODS).
        valid = target >= 0
        gt = (target > 0.5) & valid
        prob = torch.sigmoid(pred)
        h, w = pred.shape[-2:]
        r = int(EDGE_TOLERANCE * math.hypot(h, w)) if self.task.kind == "edges" else 0
        if r == 0:
            # Exact matching: a histogram of the probabilities gives every threshold at once.
            bins = (prob * 100).floor().long().clamp(0, 99)
            above_gt = torch.bincount(bins[gt], minlength=100).flip(0).cumsum(0).flip(0)[1:]
            above = torch.bincount(bins[valid], minlength=100).flip(0).cumsum(0).flip(0)[1:]
            hit, pos, found = above_gt, above, above_gt
        else:
            near_gt = _dilate(gt.float(), r) > 0
            parts: list[list[torch.Tensor]] = [[], [], []]
            for chunk in torch.split(THRESHOLDS.to(pred.device), 11):
                p = (prob.unsqueeze(1) > chunk.view(1, -1, 1, 1, 1).float()) & valid.unsqueeze(1)
                near_p = _dilate(p.flatten(1, 2).float(), r).view(p.shape) > 0
                dims = (0, 2, 3, 4)
                parts[0].append((p & near_gt.unsqueeze(1)).sum(dims))
                parts[1].append(p.sum(dims))
                parts[2].append((gt.unsqueeze(1) & near_p).sum(dims))
            hit, pos, found = (torch.cat(x) for x in parts)
        self._add("hit", hit)
        self._add("pos", pos)
        self._add("found", found)
        self._add("gt", gt.sum())
        half = (prob > 0.5) & valid
        self._add("inter", (half & gt).sum())
        self._add("union", (half | gt).sum())

    def compute(self) -> dict[str, float]:
        """Every metric of the task's kind over what was added; NaN where nothing was."""
        s = {k: v.cpu() for k, v in self._sums.items()}
        kind = self.task.kind
        if kind in BINARY_DENSE:
            return self._binary_metrics(s)
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

    def _binary_metrics(self, s: Mapping[str, torch.Tensor]) -> dict[str, float]:
        names = ("odsf", "ap") if self.task.kind == "edges" else ("maxf", "iou")
        if "gt" not in s or int(s["gt"]) == 0:
            return dict.fromkeys(names, math.nan)
        hit, pos, found = (s[k].double() for k in ("hit", "pos", "found"))
        scores = binary_scores(hit, pos, found, float(s["gt"]))
        if self.task.kind == "edges":
            return {"odsf": scores["f1"], "ap": scores["ap"]}
        iou = float(s["inter"]) / max(1.0, float(s["union"]))
        return {"maxf": scores["f_beta"], "iou": iou}


def _dilate(x: torch.Tensor, r: int) -> torch.Tensor:
    """Max over a (2r+1)^2 neighbourhood of (batch, channels, H, W) maps; r = 0 is identity."""
    return x if r == 0 else F.max_pool2d(x, 2 * r + 1, stride=1, padding=r)


def binary_scores(
    hit: torch.Tensor, pos: torch.Tensor, found: torch.Tensor, gt: float
) -> dict[str, float]:
    """Best F over thresholds and the area under the precision-recall curve.

    Args:
        hit: per threshold, predicted positives that match a labelled positive.
        pos: per threshold, predicted positives.
        found: per threshold, labelled positives matched by a prediction.
        gt: labelled positives.

    Returns:
        ``f1`` (beta 1, the edges odsF), ``f_beta`` (beta^2 = 0.3, saliency's maxF), ``ap``.

    Example:
        >>> r = binary_scores(torch.tensor([2.0, 1.0]), torch.tensor([4.0, 1.0]),
        ...                   torch.tensor([2.0, 1.0]), 2.0)
        >>> round(r["f1"], 4), round(r["ap"], 4)
        (0.6667, 0.75)
    """
    precision = torch.where(pos > 0, hit / pos.clamp_min(1), torch.ones_like(hit))
    recall = found / gt
    f1 = 2 * precision * recall / (precision + recall).clamp_min(1e-12)
    b2 = SALIENCY_BETA2
    fb = (1 + b2) * precision * recall / (b2 * precision + recall).clamp_min(1e-12)
    # Thresholds rise along the tensor, so recall falls: walk it from the highest threshold.
    ap, last = 0.0, 0.0
    for p, r in zip(precision.flip(0).tolist(), recall.flip(0).tolist(), strict=True):
        ap += max(0.0, r - last) * p
        last = max(last, r)
    return {"f1": float(f1.max()), "f_beta": float(fb.max()), "ap": ap}


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
    return sum(task_deltas(metrics, baseline, higher_is_better).values()) / len(metrics)


def task_deltas(
    metrics: Mapping[str, float],
    baseline: Mapping[str, float],
    higher_is_better: Mapping[str, bool],
) -> dict[str, float]:
    """Each task's term of Δ_MTL: ``(-1)^{l_i} (M_i - B_i) / B_i`` (their mean is Δ_MTL).

    Example:
        >>> task_deltas({"seg": 0.55, "depth": 0.9}, {"seg": 0.5, "depth": 1.0},
        ...             {"seg": True, "depth": False})
        {'seg': 0.10000000000000009, 'depth': 0.09999999999999998}

    Raises:
        ValueError: a task is missing from an argument, or its baseline is zero or not finite.
    """
    out: dict[str, float] = {}
    for task, m in metrics.items():
        if task not in baseline or task not in higher_is_better:
            raise ValueError(f"task {task!r}: no baseline or direction for Δ_MTL")
        b = baseline[task]
        if not math.isfinite(b) or b == 0:
            raise ValueError(f"task {task!r}: baseline {b!r} cannot divide Δ_MTL")
        sign = 1.0 if higher_is_better[task] else -1.0
        out[task] = sign * (m - b) / b
    return out
