"""``regression``: real values per sample, NaN where unknown."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

import torch

from nas.data.kinds._base import Add, Kind, Stats, ratio

if TYPE_CHECKING:
    from nas.data._tasks import Task

__all__ = ["Regression"]


class Regression(Kind):
    """float (out,), NaN = unlabelled; values (out,)."""

    name = "regression"
    metrics: ClassVar[dict[str, bool]] = {"abs_err": False, "rmse": False}
    losses = ("l1", "mse")

    def loss(self, task: Task, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Masked L1 or MSE over the known entries; no host sync, 0 for none."""
        valid = self.known(target).float()
        diff = pred.float() - torch.nan_to_num(target)
        err = diff.abs() if task.loss == "l1" else diff.square()
        loss: torch.Tensor = (err * valid).sum() / valid.sum().clamp_min(1)
        return loss

    def accumulate(self, task: Task, pred: torch.Tensor, target: torch.Tensor, add: Add) -> None:
        """Absolute and squared errors over the known entries."""
        valid = self.known(target)
        diff = (pred - target)[valid]
        add("abs", diff.abs().sum())
        add("sq", diff.square().sum())
        add("count", valid.sum())
        if "rel_err" in self.metrics:
            add("rel", (diff.abs() / target[valid]).sum())

    def scores(self, task: Task, sums: Mapping[str, torch.Tensor]) -> dict[str, float]:
        """Mean absolute error and RMSE (and relative error where the kind has it)."""
        out = {"abs_err": ratio(sums, "abs", "count")}
        if "rel_err" in self.metrics:
            out["rel_err"] = ratio(sums, "rel", "count")
        count = float(sums["count"]) if "count" in sums else 0.0
        out["rmse"] = math.sqrt(float(sums["sq"]) / count) if count else math.nan
        return out

    def trivial(self, task: Task, stats: Stats, shape: tuple[int, ...]) -> torch.Tensor:
        """The mean training target (0 where none is known)."""
        known = stats["known"]
        return torch.where(known > 0, stats["sum"] / known.clamp_min(1), 0.0).float()

    def output_meaning(self, out: int) -> str:
        """Values."""
        return f"{out} regression values"
