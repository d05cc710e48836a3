"""Metrics over a whole split, and the Δ_MTL headline number.

Meters accumulate sufficient statistics batch by batch on the device (confusion matrices,
sums, an angle histogram) and compute each metric once over the whole split, so a metric such
as mIoU is the split's mIoU, not a mean of per-batch values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch

from nas.data._tasks import Task
from nas.data.kinds._binary import EDGE_TOLERANCE, THRESHOLDS, binary_scores

__all__ = ["EDGE_TOLERANCE", "THRESHOLDS", "TaskMeter", "binary_scores", "delta_mtl", "task_deltas"]


class TaskMeter:
    """Accumulates one task's predictions over a split; its kind says what and how to score.

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
        self.task.spec.accumulate(self.task, pred.float(), target, self._add)

    def compute(self) -> dict[str, float]:
        """Every metric of the task's kind over what was added; NaN where nothing was."""
        return self.task.spec.scores(self.task, {k: v.cpu() for k, v in self._sums.items()})


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
