"""``normals``: a unit surface normal per pixel, 0 where unknown; x negated by a mirror."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

import torch
import torch.nn.functional as F  # noqa: N812

from nas.data.kinds._base import Add, Kind, Stats, Window, ratio

if TYPE_CHECKING:
    from nas.data._tasks import Task

__all__ = ["Normals"]

ANGLE_BINS = 18000  # 0.01-degree bins: the median angle is exact to 0.01 degrees


class Normals(Kind):
    """float (3, H, W), 0 = unknown; unnormalised xyz (3, H, W)."""

    name = "normals"
    metrics: ClassVar[dict[str, bool]] = {
        "mean_angle": False,
        "median_angle": False,
        "within_11.25": True,
        "within_22.5": True,
        "within_30": True,
    }
    losses = ("cosine",)
    dense = True
    fixed_out = 3
    marker = 0.0

    def example(self, out: int, n: int, hw: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
        """Random unit vectors."""
        return F.normalize(torch.randn((n, 3, *hw), generator=gen), dim=1)

    def known(self, y: torch.Tensor) -> torch.Tensor:
        """Pixels whose normal is not the zero vector (one entry per pixel)."""
        return y.abs().sum(dim=1) > 0

    def loss(self, task: Task, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """1 - cosine similarity over the known pixels."""
        valid = (target.norm(dim=1) > 0).float()
        err = 1 - F.cosine_similarity(pred.float(), target, dim=1)
        loss: torch.Tensor = (err * valid).sum() / valid.sum().clamp_min(1)
        return loss

    def accumulate(self, task: Task, pred: torch.Tensor, target: torch.Tensor, add: Add) -> None:
        """Angle sums, a 0.01-degree histogram and the counts within each threshold."""
        valid = target.norm(dim=1) > 0
        cos = F.cosine_similarity(pred, target, dim=1)[valid].clamp(-1, 1)
        angle = torch.rad2deg(torch.acos(cos))
        add("angle_sum", angle.sum())
        add("count", valid.sum())
        bins = (angle * (ANGLE_BINS / 180)).long().clamp(0, ANGLE_BINS - 1)
        add("hist", torch.bincount(bins, minlength=ANGLE_BINS))
        for thr in (11.25, 22.5, 30.0):
            add(f"within_{thr:g}", (angle < thr).sum())

    def scores(self, task: Task, sums: Mapping[str, torch.Tensor]) -> dict[str, float]:
        """Mean and median angle in degrees, and the shares within 11.25, 22.5 and 30."""
        out = {"mean_angle": ratio(sums, "angle_sum", "count"), "median_angle": math.nan}
        if "hist" in sums and int(sums["count"]) > 0:
            cum = sums["hist"].cumsum(0)
            half = (int(sums["count"]) + 1) // 2
            b = int(torch.searchsorted(cum, torch.tensor(half)).item())
            out["median_angle"] = (b + 0.5) * 180 / ANGLE_BINS
        for thr in ("11.25", "22.5", "30"):
            out[f"within_{thr}"] = ratio(sums, f"within_{thr}", "count")
        return out

    def label_stats(self, y: torch.Tensor, out: int) -> Stats:
        """The sum of the training normals (their mean direction)."""
        return {"sum": y.double().sum(dim=(0, 2, 3))}

    def trivial(self, task: Task, stats: Stats, shape: tuple[int, ...]) -> torch.Tensor:
        """The mean training direction everywhere."""
        direction: torch.Tensor = stats["sum"] / stats["sum"].norm().clamp_min(1e-12)
        return direction.float().view(3, 1, 1).expand(shape)

    def output_meaning(self, out: int) -> str:
        """Normals."""
        return "per-pixel surface normal xyz (normalise to unit length), N3HW"

    def transform(self, y: torch.Tensor, window: Window, scale: float, flip: bool) -> torch.Tensor:
        """Cropped and resized (nearest); a mirror negates x, as the surface turned with it."""
        z = window(y, "nearest")
        if flip:
            z = z.flip(-1) * torch.tensor([-1.0, 1.0, 1.0], device=z.device).view(3, 1, 1)
        return z
