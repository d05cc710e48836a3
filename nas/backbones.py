"""Backbone families: the blocks a Layout routes tasks through, with their exact cost.

Every block is residual, so a skipped block can fall back to its shortcut. Used blocks own a
projection shortcut when the shape changes; a skipping task gets a parameter-free shortcut
(strided subsampling plus zero-padding or truncation of channels), so skipping shares no weights
and costs no FLOPs. FLOPs count multiply-adds of convolutions and matrix products as 2 each, the
same convention as ``torch.utils.flop_counter``; norms, activations and additions are not counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

__all__ = ["Backbone", "ConvBackbone", "MLPBackbone", "backbone_from_dict"]

Shape = tuple[int, ...]


@runtime_checkable
class Backbone(Protocol):
    """A stack of ``depth`` residual blocks with known shapes and cost."""

    @property
    def depth(self) -> int:
        """Number of blocks."""
        ...

    def check_input(self, shape: Shape) -> None:
        """Raise ValueError if one sample of this shape cannot enter the backbone."""
        ...

    def out_shape(self, d: int, shape: Shape) -> Shape:
        """Feature shape after block ``d`` (run or skipped) for an input of ``shape``."""
        ...

    def block(self, d: int) -> nn.Module:
        """A freshly initialised instance of block ``d``."""
        ...

    def skip(self, d: int) -> nn.Module | None:
        """The parameter-free shortcut for a task skipping block ``d``; None for identity."""
        ...

    def block_params(self, d: int) -> int:
        """Parameter count of one instance of block ``d``."""
        ...

    def block_flops(self, d: int, shape: Shape) -> int:
        """FLOPs of one call of block ``d`` on one sample of ``shape``."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description, read back by :func:`backbone_from_dict`."""
        ...


class _Shortcut(nn.Module):
    """Parameter-free shortcut: subsample by ``stride`` and pad or cut channels to ``cout``."""

    def __init__(self, cin: int, cout: int, stride: int, spatial: bool) -> None:
        super().__init__()
        self.cin, self.cout, self.stride, self.spatial = cin, cout, stride, spatial

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.spatial and self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.cout < self.cin:
            return x[:, : self.cout]
        if self.cout > self.cin:
            pad = [0, 0] * (x.dim() - 2) + [0, self.cout - self.cin]
            return F.pad(x, pad)
        return x


class ConvBlock(nn.Module):
    """Basic residual block: two 3x3 convolutions with batch norm (He et al. 2016)."""

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
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(h)) + self.shortcut(x))


class MLPBlock(nn.Module):
    """Pre-norm residual MLP block: LayerNorm, Linear, GELU, Linear."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(cin)
        self.fc1 = nn.Linear(cin, cout)
        self.fc2 = nn.Linear(cout, cout)
        self.shortcut: nn.Module = nn.Identity() if cin == cout else nn.Linear(cin, cout, False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.shortcut(x) + self.fc2(F.gelu(self.fc1(self.norm(x))))
        return out


def _check_widths(widths: tuple[int, ...], strides: tuple[int, ...] | None = None) -> None:
    if not widths or any(not isinstance(w, int) or w < 1 for w in widths):
        raise ValueError(f"widths must be a non-empty list of positive ints, got {widths!r}")
    if strides is not None and (
        len(strides) != len(widths) or any(s not in (1, 2) for s in strides)
    ):
        raise ValueError(f"strides must be 1 or 2, one per width ({len(widths)}), got {strides!r}")


@dataclass(frozen=True)
class ConvBackbone:
    """Residual conv blocks for images of shape (channels, height, width).

    Example:
        >>> ConvBackbone(3, widths=(16, 32), strides=(1, 2)).out_shape(1, (16, 16, 16))
        (32, 8, 8)
    """

    in_channels: int = 3
    widths: tuple[int, ...] = (32, 32, 64, 64, 128, 128)  # channels after each block
    strides: tuple[int, ...] = (1, 1, 2, 1, 2, 1)  # 2 halves the resolution

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(self.widths))
        object.__setattr__(self, "strides", tuple(self.strides))
        _check_widths(self.widths, self.strides)

    @property
    def depth(self) -> int:
        """Number of blocks."""
        return len(self.widths)

    def _cin(self, d: int) -> int:
        return self.in_channels if d == 0 else self.widths[d - 1]

    def check_input(self, shape: Shape) -> None:
        """Raise ValueError unless ``shape`` is (in_channels, H, W)."""
        if len(shape) != 3 or shape[0] != self.in_channels or min(shape) < 1:
            raise ValueError(
                f"input shape {tuple(shape)} does not fit a conv backbone: expected"
                f" ({self.in_channels}, height, width)"
            )

    def out_shape(self, d: int, shape: Shape) -> Shape:
        """Shape after block ``d``."""
        s = self.strides[d]
        return (self.widths[d], (shape[1] - 1) // s + 1, (shape[2] - 1) // s + 1)

    def block(self, d: int) -> nn.Module:
        """A new ConvBlock for depth ``d``."""
        return ConvBlock(self._cin(d), self.widths[d], self.strides[d])

    def skip(self, d: int) -> nn.Module | None:
        """Subsample/pad shortcut, or None where the block keeps the shape."""
        cin, cout, s = self._cin(d), self.widths[d], self.strides[d]
        return None if cin == cout and s == 1 else _Shortcut(cin, cout, s, spatial=True)

    def block_params(self, d: int) -> int:
        """Weights of both convolutions, batch norms, and the projection if any."""
        cin, cout = self._cin(d), self.widths[d]
        n = cin * cout * 9 + cout * cout * 9 + 4 * cout
        if cin != cout or self.strides[d] != 1:
            n += cin * cout + 2 * cout
        return n

    def block_flops(self, d: int, shape: Shape) -> int:
        """2 x multiply-adds of the convolutions."""
        cin, cout = self._cin(d), self.widths[d]
        _, h, w = self.out_shape(d, shape)
        macs = (cin * 9 + cout * 9) * cout * h * w
        if cin != cout or self.strides[d] != 1:
            macs += cin * cout * h * w
        return 2 * macs

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {
            "kind": "conv",
            "in_channels": self.in_channels,
            "widths": list(self.widths),
            "strides": list(self.strides),
        }


@dataclass(frozen=True)
class MLPBackbone:
    """Residual MLP blocks for vectors of shape (features,)."""

    in_features: int = 16
    widths: tuple[int, ...] = (64, 64, 64, 64)  # features after each block

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(self.widths))
        _check_widths(self.widths)

    @property
    def depth(self) -> int:
        """Number of blocks."""
        return len(self.widths)

    def _cin(self, d: int) -> int:
        return self.in_features if d == 0 else self.widths[d - 1]

    def check_input(self, shape: Shape) -> None:
        """Raise ValueError unless ``shape`` is (in_features,)."""
        if len(shape) != 1 or shape[0] != self.in_features:
            raise ValueError(
                f"input shape {tuple(shape)} does not fit an MLP backbone: expected"
                f" ({self.in_features},)"
            )

    def out_shape(self, d: int, shape: Shape) -> Shape:
        """Shape after block ``d``."""
        return (self.widths[d],)

    def block(self, d: int) -> nn.Module:
        """A new MLPBlock for depth ``d``."""
        return MLPBlock(self._cin(d), self.widths[d])

    def skip(self, d: int) -> nn.Module | None:
        """Pad/cut shortcut, or None where the width does not change."""
        cin, cout = self._cin(d), self.widths[d]
        return None if cin == cout else _Shortcut(cin, cout, 1, spatial=False)

    def block_params(self, d: int) -> int:
        """LayerNorm, both linear layers, and the projection if any."""
        cin, cout = self._cin(d), self.widths[d]
        return 2 * cin + cin * cout + cout + cout * cout + cout + (cin * cout if cin != cout else 0)

    def block_flops(self, d: int, shape: Shape) -> int:
        """2 x multiply-adds of the linear layers."""
        cin, cout = self._cin(d), self.widths[d]
        return 2 * (cin * cout + cout * cout + (cin * cout if cin != cout else 0))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {"kind": "mlp", "in_features": self.in_features, "widths": list(self.widths)}


def backbone_from_dict(data: Mapping[str, Any]) -> Backbone:
    """Rebuild a backbone from :meth:`to_dict` output; ValueError names what is wrong."""
    kinds: dict[str, type[ConvBackbone] | type[MLPBackbone]] = {
        "conv": ConvBackbone,
        "mlp": MLPBackbone,
    }
    kind = data.get("kind")
    if kind not in kinds:
        raise ValueError(f"unknown backbone kind {kind!r}; choose one of {sorted(kinds)}")
    fields: dict[str, Any] = {
        k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k != "kind"
    }
    try:
        return kinds[kind](**fields)
    except TypeError as err:
        raise ValueError(f"bad {kind} backbone description {dict(data)}: {err}") from None
