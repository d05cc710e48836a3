"""Shapes, parameters and FLOPs of any module, measured on the meta device.

Building a block on the meta device allocates no memory and runs no arithmetic, yet gives its
exact parameter count, its output shape, and (through ``torch.utils.flop_counter``) its FLOPs.
So the cost model needs no per-backbone formulas and agrees with the network by construction.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from nas.model.backbones._base import Backbone

__all__ = ["ModuleCost", "block_cost", "measure", "stem_cost"]

Shape = tuple[int, ...]


@dataclass(frozen=True)
class ModuleCost:
    """One call of a module on one sample.

    Attributes:
        out_shape: per-sample output shape.
        params: parameter count.
        flops: FLOPs per sample, 2 per multiply-add (``torch.utils.flop_counter``'s convention).
    """

    out_shape: Shape
    params: int
    flops: int


def measure(make: Callable[[], nn.Module], in_shape: Shape) -> ModuleCost:
    """Build ``make()`` on the meta device and run it on one sample of ``in_shape``.

    Raises:
        RuntimeError: the module does not accept inputs of that shape.
    """
    with torch.device("meta"):
        module = make().eval()  # one sample: batch norm in training mode may refuse a 1x1 map
        x = torch.empty(1, *in_shape)
        with FlopCounterMode(display=False) as counter:
            y = module(x)
    params = sum(p.numel() for p in module.parameters())
    return ModuleCost(tuple(int(n) for n in y.shape[1:]), params, int(counter.get_total_flops()))


def block_cost(backbone: Backbone, d: int, in_shape: Shape) -> ModuleCost:
    """The cost of one call of block ``d``; remembered for hashable (frozen) backbones."""
    try:
        return _cached_block_cost(backbone, d, tuple(in_shape))  # type: ignore[arg-type]
    except TypeError:  # an unhashable backbone: measure every time (cheap on meta)
        return measure(lambda: backbone.block(d), tuple(in_shape))


@functools.lru_cache(maxsize=4096)
def _cached_block_cost(backbone: Backbone, d: int, in_shape: Shape) -> ModuleCost:
    return measure(lambda: backbone.block(d), in_shape)


def stem_cost(backbone: Backbone, in_shape: Shape) -> ModuleCost | None:
    """The cost of the backbone's stem (None without one); remembered like :func:`block_cost`."""
    if not callable(getattr(backbone, "stem", None)):
        return None
    try:
        return _cached_stem_cost(backbone, tuple(in_shape))  # type: ignore[arg-type]
    except TypeError:
        return measure(backbone.stem, tuple(in_shape))  # type: ignore[attr-defined]


@functools.lru_cache(maxsize=256)
def _cached_stem_cost(backbone: Backbone, in_shape: Shape) -> ModuleCost:
    return measure(backbone.stem, in_shape)  # type: ignore[attr-defined]
