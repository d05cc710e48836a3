"""Pre-norm residual MLP blocks for vectors, the default for (features,) inputs."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from nas.model.backbones._base import Shortcut, check_widths, scale_channels

__all__ = ["MLPBackbone", "MLPBlock", "mlp"]


class MLPBlock(nn.Module):
    """Pre-norm residual MLP block: LayerNorm, Linear, GELU, Linear."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(cin)
        self.fc1 = nn.Linear(cin, cout)
        self.fc2 = nn.Linear(cout, cout)
        self.shortcut: nn.Module = nn.Identity() if cin == cout else nn.Linear(cin, cout, False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """shortcut(x) + fc2(gelu(fc1(norm(x))))."""
        out: torch.Tensor = self.shortcut(x) + self.fc2(F.gelu(self.fc1(self.norm(x))))
        return out


@dataclass(frozen=True)
class MLPBackbone:
    """Residual MLP blocks for vectors of shape (in_features,)."""

    in_features: int = 16
    widths: tuple[int, ...] = (64, 64, 64, 64)  # features after each block

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(self.widths))
        check_widths(self.widths)

    @property
    def depth(self) -> int:
        """Number of blocks."""
        return len(self.widths)

    def scaled(self, width: float) -> MLPBackbone:
        """The same blocks with every width times ``width`` (rounded, at least 1)."""
        return replace(self, widths=scale_channels(self.widths, width))

    def _cin(self, d: int) -> int:
        return self.in_features if d == 0 else self.widths[d - 1]

    def block(self, d: int) -> nn.Module:
        """A new MLPBlock for depth ``d``."""
        return MLPBlock(self._cin(d), self.widths[d])

    def skip(self, d: int) -> nn.Module | None:
        """Pad/cut shortcut, or None where the width does not change."""
        cin, cout = self._cin(d), self.widths[d]
        return None if cin == cout else Shortcut(cin, cout, 1, spatial=False)


def mlp(input_shape: tuple[int, ...], widths: tuple[int, ...] = (64, 64, 64, 64)) -> MLPBackbone:
    """Backbone factory ``mlp``: option ``widths``.

    Raises:
        ValueError: the input is not a vector (features,), or bad widths.
    """
    if len(input_shape) != 1:
        raise ValueError(f"backbone 'mlp' needs vector inputs (F,), got {tuple(input_shape)}")
    return MLPBackbone(int(input_shape[0]), tuple(widths))
