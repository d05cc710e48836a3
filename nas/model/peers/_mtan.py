"""MTAN (Liu et al. 2019): a shared trunk, and per task an attention mask over each block's output.

After shared block ``d`` (output ``s``), task ``t``'s features are ``a_t <- m * s`` with the mask
``m = attention[d][t](concat(s, shortcut(a_t)))``: the task's own features so far, brought to
``s``'s shape by the backbone's parameter-free shortcut, select what it takes of the shared ones.
The attention module is MTAN's: two 1x1 convolutions with batch norm, ReLU between and a sigmoid
after (two linear layers for vector features). Before block 0 every task starts from the shared
stem's output, as MTAN's first attention module reads the shared features alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from nas.model._network import feature_shapes
from nas.model.backbones._base import Backbone
from nas.model.peers._base import feature_rank

__all__ = ["MTAN", "MTANBody", "attention", "mtan"]


def attention(shape: tuple[int, ...]) -> nn.Module:
    """MTAN's attention module for features of ``shape``: 2C channels in, a C-channel mask out."""
    c = shape[0]
    if len(shape) == 3:
        return nn.Sequential(
            nn.Conv2d(2 * c, c, 1), nn.BatchNorm2d(c), nn.ReLU(),
            nn.Conv2d(c, c, 1), nn.BatchNorm2d(c), nn.Sigmoid(),
        )  # fmt: skip
    return nn.Sequential(nn.Linear(2 * c, c), nn.ReLU(), nn.Linear(c, c), nn.Sigmoid())


class MTANBody(nn.Module):
    """The shared blocks, and an attention module per depth and task."""

    def __init__(self, backbone: Backbone, tasks: int, input_shape: tuple[int, ...]) -> None:
        super().__init__()
        shapes = feature_shapes(backbone, input_shape)
        self.tasks = tasks
        self.blocks = nn.ModuleList(backbone.block(d) for d in range(backbone.depth))
        self.shortcuts = nn.ModuleList(
            backbone.skip(d) or nn.Identity() for d in range(backbone.depth)
        )
        self.attention = nn.ModuleList(
            nn.ModuleList(attention(shapes[d + 1]) for _ in range(tasks))
            for d in range(backbone.depth)
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The trunk once; each task's masks depth by depth; one feature map per task."""
        s = x
        feats = [s] * self.tasks
        for block, shortcut, masks in zip(self.blocks, self.shortcuts, self.attention, strict=True):
            s = block(s)
            feats = [
                m(torch.cat([s, shortcut(a)], 1)) * s
                for m, a in zip(masks, feats, strict=True)  # type: ignore[call-overload]
            ]
        return feats


@dataclass(frozen=True)
class MTAN:
    """The MTAN family: its Layout carries hard sharing's rows (the trunk)."""

    trunk: Literal["hard_sharing"] = "hard_sharing"

    def fits(self, backbone: Backbone, input_shape: tuple[int, ...]) -> str | None:
        """Any backbone whose features are vectors or images."""
        return feature_rank(backbone, input_shape)

    def body(self, backbone: Backbone, tasks: int, input_shape: tuple[int, ...]) -> nn.Module:
        """A fresh :class:`MTANBody`."""
        return MTANBody(backbone, tasks, input_shape)


def mtan() -> MTAN:
    """Peer factory ``mtan``."""
    return MTAN()
