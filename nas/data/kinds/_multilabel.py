"""``multilabel``: several 0/1 labels per sample, each NaN where unknown."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

import torch
import torch.nn.functional as F  # noqa: N812

from nas.data.kinds._base import Add, Kind, Stats, ratio

if TYPE_CHECKING:
    from nas.data._tasks import Task

__all__ = ["Multilabel"]


class Multilabel(Kind):
    """float 0/1 (out,), NaN = unlabelled; logits (out,)."""

    name = "multilabel"
    metrics: ClassVar[dict[str, bool]] = {"accuracy": True}
    losses = ("bce",)
    weights = "per_output"

    def example(self, out: int, n: int, hw: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
        """Random 0/1 labels."""
        return torch.randint(0, 2, (n, out), generator=gen).float()

    def value_problem(self, y: torch.Tensor, out: int) -> str | None:
        """Only 0, 1 and NaN."""
        problem = super().value_problem(y, out)
        if problem is None and not ((y == 0) | (y == 1) | torch.isnan(y)).all():
            return "must be 0 or 1 (NaN = unlabelled) for a multilabel task"
        return problem

    def loss(self, task: Task, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """BCE over the known labels; ``Task.weights`` are PyTorch's ``pos_weight``."""
        pred = pred.float()
        weights = task.weights if isinstance(task.weights, tuple) else None
        w = None if weights is None else torch.tensor(weights, device=pred.device)
        known = torch.isfinite(target)
        per = F.binary_cross_entropy_with_logits(
            pred, torch.nan_to_num(target), pos_weight=w, reduction="none"
        )
        loss: torch.Tensor = (per * known).sum() / known.sum().clamp_min(1)
        return loss

    def accumulate(self, task: Task, pred: torch.Tensor, target: torch.Tensor, add: Add) -> None:
        """Correct known labels (logit > 0 against label > 0.5)."""
        known = torch.isfinite(target)
        add("correct", (((pred > 0) == (target > 0.5)) & known).sum())
        add("count", known.sum())

    def scores(self, task: Task, sums: Mapping[str, torch.Tensor]) -> dict[str, float]:
        """Accuracy over every known label."""
        return {"accuracy": ratio(sums, "correct", "count")}

    def balanced(self, task: Task, stats: Stats) -> tuple[float, ...]:
        """Negatives over positives per label (1 for a label never positive)."""
        pos, neg = stats["sum"], stats["known"] - stats["sum"]
        return tuple(
            n / p if p > 0 else 1.0 for n, p in zip(neg.tolist(), pos.tolist(), strict=True)
        )

    def trivial(self, task: Task, stats: Stats, shape: tuple[int, ...]) -> torch.Tensor:
        """Each label's majority (a logit of +1 or -1)."""
        known = stats["known"]
        mean = torch.where(known > 0, stats["sum"] / known.clamp_min(1), 0.0)
        return torch.where(mean > 0.5, 1.0, -1.0).float()

    def output_meaning(self, out: int) -> str:
        """Logits."""
        return f"logits for {out} labels (sigmoid for probabilities)"
