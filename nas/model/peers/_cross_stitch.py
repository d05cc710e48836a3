"""Cross-stitch networks (Misra et al. 2016): one column per task, mixed after every block.

After block ``d`` each task's feature map is a learned linear mixture of every column's output:
``x_i <- sum_j alpha[d, i, j] * x_j``, one scalar per pair of tasks and depth, started at 0.9 on
the diagonal and the rest of each row shared equally (the paper's 0.9 / 0.1 for two tasks).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from nas.model.backbones._base import Backbone
from nas.model.peers._base import feature_rank

__all__ = ["CrossStitch", "CrossStitchBody", "cross_stitch"]

SAME = 0.9  # a column's weight on itself at the start


class CrossStitchBody(nn.Module):
    """``tasks`` columns of the backbone's blocks and a cross-stitch unit after each depth."""

    def __init__(self, backbone: Backbone, tasks: int) -> None:
        super().__init__()
        self.columns = nn.ModuleList(
            nn.ModuleList(backbone.block(d) for d in range(backbone.depth)) for _ in range(tasks)
        )
        other = (1 - SAME) / (tasks - 1) if tasks > 1 else 0.0
        start = torch.eye(tasks) * ((SAME if tasks > 1 else 1.0) - other) + other
        self.alphas = nn.Parameter(start.repeat(backbone.depth, 1, 1))  # (depth, T, T)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Each column's block, then the mixture, depth by depth; one feature map per task."""
        feats = [x] * len(self.columns)
        for d in range(self.alphas.shape[0]):
            out = torch.stack(
                [column[d](f) for column, f in zip(self.columns, feats, strict=True)]  # type: ignore[index]
            )
            # One matrix product mixes every position of every sample at once.
            mixed = (self.alphas[d] @ out.flatten(1)).view_as(out)
            feats = list(mixed.unbind(0))
        return feats


@dataclass(frozen=True)
class CrossStitch:
    """The cross-stitch family: its Layout carries the independent networks' rows."""

    trunk: Literal["independent"] = "independent"

    def fits(self, backbone: Backbone, input_shape: tuple[int, ...]) -> str | None:
        """Any backbone whose features are vectors or images."""
        return feature_rank(backbone, input_shape)

    def body(self, backbone: Backbone, tasks: int, input_shape: tuple[int, ...]) -> nn.Module:
        """A fresh :class:`CrossStitchBody`."""
        return CrossStitchBody(backbone, tasks)


def cross_stitch() -> CrossStitch:
    """Peer factory ``cross_stitch``."""
    return CrossStitch()
