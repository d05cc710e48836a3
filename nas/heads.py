"""Task heads: pooled (one vector per sample) or dense (one vector per input pixel)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

__all__ = ["HeadSpec", "DenseHead", "PooledHead"]

Shape = tuple[int, ...]


class PooledHead(nn.Module):
    """Global average pool (images) then a linear layer: logits or values per sample."""

    def __init__(self, channels: int, out: int) -> None:
        super().__init__()
        self.fc = nn.Linear(channels, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, out) from (batch, C) or (batch, C, H, W) features."""
        if x.dim() == 4:
            x = x.mean(dim=(2, 3))
        out: torch.Tensor = self.fc(x)
        return out


class DenseHead(nn.Module):
    """3x3 conv, ReLU, 1x1 conv, then bilinear upsampling to the input resolution."""

    def __init__(self, channels: int, out: int, size: tuple[int, int]) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.proj = nn.Conv2d(channels, out, 1)
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, out, H, W) at the input resolution."""
        y: torch.Tensor = self.proj(F.relu(self.conv(x)))
        if tuple(y.shape[-2:]) != self.size:
            y = F.interpolate(y, size=self.size, mode="bilinear", align_corners=False)
        return y


@dataclass(frozen=True)
class HeadSpec:
    """What a task's head outputs.

    Attributes:
        kind: ``"pooled"`` gives (batch, out); ``"dense"`` gives (batch, out, H, W) at the
            input resolution and needs an image backbone.
        out: output channels (classes, or regression targets).
    """

    kind: Literal["pooled", "dense"]
    out: int

    def __post_init__(self) -> None:
        if self.kind not in ("pooled", "dense"):
            raise ValueError(f"head kind must be 'pooled' or 'dense', got {self.kind!r}")
        if not isinstance(self.out, int) or self.out < 1:
            raise ValueError(f"head output size must be a positive int, got {self.out!r}")

    def _check(self, feature: Shape, inp: Shape) -> None:
        if self.kind == "dense" and (len(feature) != 3 or len(inp) != 3):
            raise ValueError("a dense head needs an image backbone (inputs of shape (C, H, W))")

    def build(self, feature: Shape, inp: Shape) -> nn.Module:
        """A head for features of shape ``feature`` from inputs of shape ``inp``."""
        self._check(feature, inp)
        if self.kind == "dense":
            return DenseHead(feature[0], self.out, (inp[1], inp[2]))
        return PooledHead(feature[0], self.out)
