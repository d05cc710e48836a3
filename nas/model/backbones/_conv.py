"""Residual convolutional blocks for images (He et al. 2016), the default for (C, H, W) inputs."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from nas.model.backbones._base import Shortcut, check_widths, scale_channels

__all__ = ["ConvBackbone", "ConvBlock", "conv"]


class ConvBlock(nn.Module):
    """Basic residual block: two 3x3 convolutions with batch norm, projection when reshaping."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """relu(bn(conv(relu(bn(conv(x))))) + shortcut(x))."""
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(h)) + self.shortcut(x))


@dataclass(frozen=True)
class ConvBackbone:
    """Residual conv blocks for images of shape (in_channels, height, width).

    Example:
        >>> ConvBackbone(3, widths=(16, 32), strides=(1, 2)).depth
        2
    """

    in_channels: int = 3
    widths: tuple[int, ...] = (32, 32, 64, 64, 128, 128)  # channels after each block
    strides: tuple[int, ...] = (1, 1, 2, 1, 2, 1)  # 2 halves the resolution

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(self.widths))
        object.__setattr__(self, "strides", tuple(self.strides))
        check_widths(self.widths, self.strides)

    @property
    def depth(self) -> int:
        """Number of blocks."""
        return len(self.widths)

    def scaled(self, width: float) -> ConvBackbone:
        """The same blocks with every width times ``width`` (rounded, at least 1)."""
        return replace(self, widths=scale_channels(self.widths, width))

    def _cin(self, d: int) -> int:
        return self.in_channels if d == 0 else self.widths[d - 1]

    def block(self, d: int) -> nn.Module:
        """A new ConvBlock for depth ``d``."""
        return ConvBlock(self._cin(d), self.widths[d], self.strides[d])

    def skip(self, d: int) -> nn.Module | None:
        """Subsample/pad shortcut, or None where the block keeps the shape."""
        cin, cout, s = self._cin(d), self.widths[d], self.strides[d]
        return None if cin == cout and s == 1 else Shortcut(cin, cout, s, spatial=True)


def conv(
    input_shape: tuple[int, ...],
    widths: tuple[int, ...] = (16, 16, 32, 32),
    strides: tuple[int, ...] | None = None,
) -> ConvBackbone:
    """Backbone factory ``conv``: options ``widths`` and ``strides`` (default: halve at the middle).

    Raises:
        ValueError: the input is not an image (C, H, W), or bad widths/strides.
    """
    if len(input_shape) != 3:
        raise ValueError(f"backbone 'conv' needs image inputs (C, H, W), got {tuple(input_shape)}")
    widths = tuple(widths)
    if strides is None:  # one halving at the middle of the stack
        strides = tuple(2 if d == len(widths) // 2 else 1 for d in range(len(widths)))
    return ConvBackbone(int(input_shape[0]), widths, tuple(strides))
