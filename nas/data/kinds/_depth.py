"""``depth``: a depth map, 0 where unknown; divided by the zoom when the input is scale-cropped."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import torch

from nas.data.kinds._base import Stats, Window
from nas.data.kinds._regression import Regression

if TYPE_CHECKING:
    from nas.data._tasks import Task

__all__ = ["Depth"]


class Depth(Regression):
    """float (1, H, W), 0 = unknown; depth (1, H, W)."""

    name = "depth"
    metrics: ClassVar[dict[str, bool]] = {"abs_err": False, "rel_err": False, "rmse": False}
    dense = True
    fixed_out = 1
    marker = 0.0

    def example(self, out: int, n: int, hw: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
        """Random positive depths."""
        return torch.rand((n, 1, *hw), generator=gen) * 5 + 0.1

    def known(self, y: torch.Tensor) -> torch.Tensor:
        """Positive depth."""
        return y > 0

    def value_problem(self, y: torch.Tensor, out: int) -> str | None:
        """Finite and not negative."""
        problem = super().value_problem(y, out)
        if problem is None and (y < 0).any():
            return "has negative depth (0 = unknown)"
        return problem

    def label_stats(self, y: torch.Tensor, out: int) -> Stats:
        """The sum and count of the known depths."""
        valid = y > 0
        return {"sum": y[valid].double().sum(), "known": valid.sum()}

    def trivial(self, task: Task, stats: Stats, shape: tuple[int, ...]) -> torch.Tensor:
        """The mean known training depth everywhere (1 if none is known)."""
        known = float(stats["known"])
        return torch.full(shape, float(stats["sum"]) / known if known > 0 else 1.0)

    def output_meaning(self, out: int) -> str:
        """Depth."""
        return "per-pixel depth, N1HW"

    def transform(self, y: torch.Tensor, window: Window, scale: float, flip: bool) -> torch.Tensor:
        """Cropped and resized (nearest), divided by the zoom: the scene came closer."""
        z = window(y, "nearest") / scale  # 0 stays unknown
        return z.flip(-1) if flip else z
