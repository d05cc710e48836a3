"""``classification``: one class per sample; and the class-index helpers segmentation shares."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

import torch
import torch.nn.functional as F  # noqa: N812

from nas.data.kinds._base import Add, Kind, Stats, ratio

if TYPE_CHECKING:
    from nas.data._tasks import Task

__all__ = ["IGNORE_INDEX", "Classification", "cross_entropy"]

IGNORE_INDEX = -1  # a class index that counts in no loss and no metric: unlabelled


def cross_entropy(pred: torch.Tensor, target: torch.Tensor, task: Task) -> torch.Tensor:
    """Cross-entropy over labelled targets (-1 = unlabelled), class-weighted as PyTorch's mean.

    PyTorch's own mean is NaN for a batch without one labelled target; this is 0.
    """
    pred = pred.float()
    valid = target != IGNORE_INDEX
    per = F.cross_entropy(pred, target, ignore_index=IGNORE_INDEX, reduction="none")
    weights = task.weights if isinstance(task.weights, tuple) else None
    if weights is None:
        return per.sum() / valid.sum().clamp_min(1)
    w = torch.tensor(weights, device=pred.device)[target.clamp_min(0)] * valid
    loss: torch.Tensor = (per * w).sum() / w.sum().clamp_min(1e-12)
    return loss


class ClassIndices(Kind):
    """Targets that are int64 class indices, -1 unlabelled."""

    losses = ("cross_entropy",)
    dtype = torch.int64
    min_out = 2
    weights = "per_output"
    marker = IGNORE_INDEX

    def example(self, out: int, n: int, hw: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
        """Random classes."""
        return torch.randint(0, out, (n, *self.target_shape(out, hw)), generator=gen)

    def known(self, y: torch.Tensor) -> torch.Tensor:
        """Entries other than -1."""
        return y != IGNORE_INDEX

    def loss(self, task: Task, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Cross-entropy (:func:`cross_entropy`)."""
        return cross_entropy(pred, target, task)

    def label_stats(self, y: torch.Tensor, out: int) -> Stats:
        """How often each class is labelled."""
        return {"counts": torch.bincount(y[y != IGNORE_INDEX].flatten(), minlength=out)}

    def balanced(self, task: Task, stats: Stats) -> tuple[float, ...]:
        """Inverse class frequency; a class absent from training gets 1 (it is never a target)."""
        counts = stats["counts"].double()
        total = float(counts.sum())
        return tuple(total / (task.out * c) if c > 0 else 1.0 for c in counts.tolist())

    def trivial(self, task: Task, stats: Stats, shape: tuple[int, ...]) -> torch.Tensor:
        """The majority class (per pixel for dense targets)."""
        logits = torch.zeros(task.out)
        logits[int(stats["counts"].argmax())] = 1.0
        return logits.view(-1, *[1] * (len(shape) - 1)).expand(shape)


class Classification(ClassIndices):
    """One class per sample: int64 index (), -1 unlabelled; logits (out,)."""

    name = "classification"
    metrics: ClassVar[dict[str, bool]] = {"accuracy": True}

    def target_shape(self, out: int, hw: tuple[int, ...]) -> tuple[int, ...]:
        """A scalar class index."""
        return ()

    def accumulate(self, task: Task, pred: torch.Tensor, target: torch.Tensor, add: Add) -> None:
        """Correct predictions and labelled samples."""
        known = target != IGNORE_INDEX
        add("correct", ((pred.argmax(1) == target) & known).sum())
        add("count", known.sum())

    def scores(self, task: Task, sums: Mapping[str, torch.Tensor]) -> dict[str, float]:
        """Accuracy over labelled samples."""
        return {"accuracy": ratio(sums, "correct", "count")}

    def output_meaning(self, out: int) -> str:
        """Logits."""
        return f"logits over {out} classes (softmax for probabilities)"
