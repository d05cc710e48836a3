"""The backbone contract: a stack of residual blocks, and the shortcut a skipping task takes."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from nas.model._heads import HeadSpec

__all__ = ["Backbone", "Shortcut", "at_width", "head_of", "scale_channels", "stem_of"]


@runtime_checkable
class Backbone(Protocol):
    """A stack of ``depth`` blocks that a Layout routes tasks through.

    Three members are all a backbone needs: shapes, parameters and FLOPs are measured from the
    blocks themselves (:mod:`nas.model.backbones._measure`): a new backbone needs no cost formulas.
    Three more are optional: ``stem()``, a module every task shares before block 0 (a ResNet's
    conv-norm-pool), ``head(spec, feature_shape, input_shape)``, the head that suits the
    backbone (:func:`stem_of`, :func:`head_of`), and ``scaled(width)``, the same backbone with
    every channel count multiplied by ``width`` (:func:`at_width`; layouts at a width other
    than 1, such as the equal-cost baselines of a study with a budget, need it).
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


def stem_of(backbone: Backbone) -> nn.Module | None:
    """The backbone's shared stem, or None when it has none."""
    make = getattr(backbone, "stem", None)
    return make() if callable(make) else None


def head_of(
    backbone: Backbone, spec: HeadSpec, feature: tuple[int, ...], inp: tuple[int, ...]
) -> nn.Module:
    """The backbone's own head for ``spec`` if it defines one, else the spec's default head."""
    make = getattr(backbone, "head", None)
    if callable(make):
        spec.check(feature, inp)
        head: nn.Module = make(spec, feature, inp)
        return head
    return spec.build(feature, inp)


def scale_channels(channels: tuple[int, ...], width: float) -> tuple[int, ...]:
    """Each channel count times ``width``, rounded, at least 1 (how the built-ins scale)."""
    return tuple(max(1, round(c * width)) for c in channels)


def at_width(backbone: Backbone, width: float) -> Backbone:
    """``backbone`` with every channel count multiplied by ``width`` (itself at width 1).

    Raises:
        ValueError: the backbone has no ``scaled(width)`` method, or refuses the width.
    """
    if width == 1:
        return backbone
    make = getattr(backbone, "scaled", None)
    if not callable(make):
        raise ValueError(
            f"backbone {type(backbone).__name__} has no scaled(width) method, so it cannot be "
            f"built at width {width:g}; give it one (see nas.model.backbones.Backbone)"
        )
    scaled: Backbone = make(width)
    return scaled


def check_widths(widths: tuple[int, ...], strides: tuple[int, ...] | None = None) -> None:
    """Shared validation of a backbone's widths (and strides)."""
    if not widths or any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in widths):
        raise ValueError(f"widths must be a non-empty list of positive ints, got {widths!r}")
    if strides is not None and (
        len(strides) != len(widths) or any(s not in (1, 2) for s in strides)
    ):
        raise ValueError(f"strides must be 1 or 2, one per width ({len(widths)}), got {strides!r}")
