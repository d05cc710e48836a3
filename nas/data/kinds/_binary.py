"""``edges`` and ``saliency``: a 0/1 map per image, -1 ignored, scored over 99 thresholds.

Counts per threshold are summed over the split, so the thresholded scores are the split's (one
threshold for the whole split: the "optimal dataset scale" of edge detection).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

import torch
import torch.nn.functional as F  # noqa: N812

from nas.data.kinds._base import Add, Kind, Stats

if TYPE_CHECKING:
    from nas.data._tasks import Task

__all__ = ["EDGE_TOLERANCE", "SALIENCY_BETA2", "THRESHOLDS", "Edges", "Saliency", "binary_scores"]

THRESHOLDS = torch.arange(1, 100, dtype=torch.float64) / 100  # on the predicted probability
# Edge matching tolerance, as in the BSDS benchmark: 0.75% of the image diagonal, in whole
# pixels (0 at 32x32, so a predicted edge pixel must lie on a labelled one; 6 at 480x640). A
# predicted pixel within it of a labelled edge is a hit, a labelled pixel within it of a
# prediction is found; BSDS matches one-to-one instead, so at large tolerances these scores
# are the more lenient.
EDGE_TOLERANCE = 0.0075
SALIENCY_BETA2 = 0.3


class BinaryDense(Kind):
    """float 0/1 (1, H, W), -1 = ignore; one logit per pixel (1, H, W)."""

    dense = True
    fixed_out = 1
    weights = "positive"
    marker = -1.0
    tolerance = 0.0  # share of the image diagonal within which a prediction matches

    def example(self, out: int, n: int, hw: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
        """Random 0/1 maps."""
        return torch.randint(0, 2, (n, 1, *hw), generator=gen).float()

    def known(self, y: torch.Tensor) -> torch.Tensor:
        """Pixels labelled 0 or 1."""
        return y >= 0

    def value_problem(self, y: torch.Tensor, out: int) -> str | None:
        """Only 0, 1 and -1."""
        problem = super().value_problem(y, out)
        if problem is None and not ((y == 0) | (y == 1) | (y == -1)).all():
            return f"must be 0 or 1 (or -1 = unlabelled) for a {self.name} task"
        return problem

    def loss(self, task: Task, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """(Weighted) BCE over the labelled pixels."""
        weights = task.weights if isinstance(task.weights, tuple) else None
        w = weights[0] if weights else None
        valid = (target >= 0).float()
        y = target.clamp(0, 1)
        per_pixel = F.binary_cross_entropy_with_logits(pred.float(), y, reduction="none")
        if w is not None:  # positives weigh w, negatives 1 - w; x2 keeps w = 0.5 plain BCE
            per_pixel = per_pixel * 2 * (w * y + (1 - w) * (1 - y))
        loss: torch.Tensor = (per_pixel * valid).sum() / valid.sum().clamp_min(1)
        return loss

    def accumulate(self, task: Task, pred: torch.Tensor, target: torch.Tensor, add: Add) -> None:
        """Per threshold: matched predictions, predictions and found labels; IoU at 0.5."""
        valid = target >= 0
        gt = (target > 0.5) & valid
        prob = torch.sigmoid(pred)
        h, w = pred.shape[-2:]
        r = int(self.tolerance * math.hypot(h, w))
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
        add("hit", hit)
        add("pos", pos)
        add("found", found)
        add("gt", gt.sum())
        half = (prob > 0.5) & valid
        add("inter", (half & gt).sum())
        add("union", (half | gt).sum())

    def _scores(self, sums: Mapping[str, torch.Tensor]) -> dict[str, float] | None:
        if "gt" not in sums or int(sums["gt"]) == 0:
            return None
        hit, pos, found = (sums[k].double() for k in ("hit", "pos", "found"))
        return binary_scores(hit, pos, found, float(sums["gt"]))

    def label_stats(self, y: torch.Tensor, out: int) -> Stats:
        """Positive and labelled pixels."""
        valid = y >= 0
        return {"sum": (y[valid] > 0.5).double().sum(), "known": valid.sum()}

    def _rate(self, stats: Stats) -> float:
        known = float(stats["known"])
        return float(stats["sum"]) / known if known > 0 else 0.5

    def balanced(self, task: Task, stats: Stats) -> tuple[float, ...]:
        """The share of negative pixels, as the positive pixels' weight."""
        return (min(max(1.0 - self._rate(stats), 0.01), 0.99),)

    def trivial(self, task: Task, stats: Stats, shape: tuple[int, ...]) -> torch.Tensor:
        """The constant probability of the training positive rate."""
        rate = min(max(self._rate(stats), 1e-4), 1 - 1e-4)
        return torch.full(shape, math.log(rate / (1 - rate)))


class Edges(BinaryDense):
    """Edge maps: odsF and AP, matched within the BSDS tolerance."""

    name = "edges"
    metrics: ClassVar[dict[str, bool]] = {"odsf": True, "ap": True}
    losses = ("weighted_bce", "bce")
    # Positives weigh 0.95, negatives 0.05 (about 5% of pixels are edges), as MTI-Net trains.
    default_weights = (0.95,)
    tolerance = EDGE_TOLERANCE

    def scores(self, task: Task, sums: Mapping[str, torch.Tensor]) -> dict[str, float]:
        """OdsF (F1 at the split's best threshold) and average precision."""
        s = self._scores(sums)
        return {"odsf": math.nan, "ap": math.nan} if s is None else {"odsf": s["f1"], "ap": s["ap"]}

    def output_meaning(self, out: int) -> str:
        """A logit per pixel."""
        return "per-pixel edge logit, N1HW (sigmoid for the edge probability)"


class Saliency(BinaryDense):
    """Saliency maps: maxF (beta^2 = 0.3) and IoU at probability 0.5."""

    name = "saliency"
    metrics: ClassVar[dict[str, bool]] = {"maxf": True, "iou": True}
    losses = ("bce", "weighted_bce")

    def scores(self, task: Task, sums: Mapping[str, torch.Tensor]) -> dict[str, float]:
        """MaxF at the split's best threshold, and the foreground IoU at 0.5."""
        s = self._scores(sums)
        if s is None:
            return {"maxf": math.nan, "iou": math.nan}
        return {"maxf": s["f_beta"], "iou": float(sums["inter"]) / max(1.0, float(sums["union"]))}

    def output_meaning(self, out: int) -> str:
        """A logit per pixel."""
        return "per-pixel saliency logit, N1HW (sigmoid for the probability)"


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
