"""The backbone contract: a stack of residual blocks, and the shortcut a skipping task takes."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

__all__ = ["Backbone", "Shortcut"]


@runtime_checkable
class Backbone(Protocol):
    """A stack of ``depth`` blocks that a Layout routes tasks through.

    Three members are all a backbone needs: shapes, parameters and FLOPs are measured from the
    blocks themselves (:mod:`nas.backbones.measure`), so a new backbone needs no cost formulas.
    """

    @property
    def depth(self) -> int:
        """Number of blocks."""
        ...

    def block(self, d: int) -> nn.Module:
        """A freshly initialised instance of block ``d``."""
        ...

    def skip(self, d: int) -> nn.Module | None:
        """The parameter-free module a task skipping block ``d`` runs; None for identity."""
        ...


class Shortcut(nn.Module):
    """Parameter-free shortcut: subsample by ``stride`` and pad or cut channels to ``cout``.

    A skipping task keeps only this, so skipping shares no weights and costs no FLOPs.
    """

    def __init__(self, cin: int, cout: int, stride: int, spatial: bool) -> None:
        super().__init__()
        self.cin, self.cout, self.stride, self.spatial = cin, cout, stride, spatial

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The subsampled, padded or cut input."""
        if self.spatial and self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.cout < self.cin:
            return x[:, : self.cout]
        if self.cout > self.cin:
            pad = [0, 0] * (x.dim() - 2) + [0, self.cout - self.cin]
            return F.pad(x, pad)
        return x


def check_widths(widths: tuple[int, ...], strides: tuple[int, ...] | None = None) -> None:
    """Shared validation of a backbone's widths (and strides)."""
    if not widths or any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in widths):
        raise ValueError(f"widths must be a non-empty list of positive ints, got {widths!r}")
    if strides is not None and (
        len(strides) != len(widths) or any(s not in (1, 2) for s in strides)
    ):
        raise ValueError(f"strides must be 1 or 2, one per width ({len(widths)}), got {strides!r}")
