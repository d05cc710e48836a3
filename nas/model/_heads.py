"""Task heads: pooled (one vector per sample) or dense (one vector per input pixel)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

__all__ = ["ASPPHead", "DenseHead", "HeadSpec", "PooledHead"]

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


def _conv_bn_relu(cin: int, cout: int, k: int, dilation: int = 1) -> nn.Sequential:
    pad = dilation * (k // 2)
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, padding=pad, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(),
    )


class ASPPHead(nn.Module):
    """DeepLab v3's atrous spatial pyramid pooling head, upsampled to the input resolution.

    Branches: a 1x1 conv, one dilated 3x3 conv per rate, and image-level pooling; concatenated,
    projected by a 1x1 conv, refined by a 3x3 conv, classified by a 1x1 conv. A rate as large as
    the feature map would see only zero padding around its centre tap (a 1x1 conv at 9x the
    cost), so callers keep rates below the map's smaller side. The pooling branch has no batch norm:
    its map is one pixel, whose batch statistics are meaningless at small batches.
    """

    def __init__(
        self, cin: int, out: int, size: tuple[int, int], rates: tuple[int, ...], width: int
    ) -> None:
        super().__init__()
        self.size = size
        self.branches = nn.ModuleList(
            [_conv_bn_relu(cin, width, 1), *(_conv_bn_relu(cin, width, 3, r) for r in rates)]
        )
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(cin, width, 1), nn.ReLU())
        self.project = _conv_bn_relu(width * (len(rates) + 2), width, 1)
        self.refine = _conv_bn_relu(width, width, 3)
        self.classify = nn.Conv2d(width, out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, out, H, W) at the input resolution."""
        pooled = self.pool(x).expand(-1, -1, x.shape[2], x.shape[3])
        y = torch.cat([*(b(x) for b in self.branches), pooled], dim=1)
        y = self.classify(self.refine(self.project(y)))
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

    def check(self, feature: Shape, inp: Shape) -> None:
        """Refuse a dense head on features that are not images (ValueError)."""
        if self.kind == "dense" and (len(feature) != 3 or len(inp) != 3):
            raise ValueError("a dense head needs an image backbone (inputs of shape (C, H, W))")

    def build(self, feature: Shape, inp: Shape) -> nn.Module:
        """A head for features of shape ``feature`` from inputs of shape ``inp``."""
        self.check(feature, inp)
        if self.kind == "dense":
            return DenseHead(feature[0], self.out, (inp[1], inp[2]))
        return PooledHead(feature[0], self.out)
