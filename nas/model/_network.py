"""Build a multi-task network from a Layout: pay only for the blocks that are used.

Routing is decided here, at build time, into a flat list of steps. Each step runs one module on
one earlier feature map, and tasks whose paths agree share the step, so each distinct path prefix
is computed once per batch. Skipped blocks never run and blocks no task uses are never built.
``forward`` is a plain loop over that fixed list, with no data-dependent branching, so the network
traces and exports to ONNX as it is.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from nas.core._layout import Layout
from nas.model._heads import HeadSpec
from nas.model.backbones._base import Backbone, at_width, head_of, stem_of
from nas.model.backbones._measure import block_cost, measure, stem_cost

__all__ = [
    "Cost",
    "MultiTaskNetwork",
    "Rows",
    "TaskNetwork",
    "build",
    "cost",
    "feature_shapes",
    "plan",
]

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Cost:
    """What one forward pass of a Layout's network costs, per sample.

    Attributes:
        block_executions: block calls per forward pass (each distinct path prefix once).
        params: parameters of the used blocks plus the heads.
        flops: FLOPs per sample (2 per multiply-add of convolutions and matrix products).
    """

    block_executions: int
    params: int
    flops: int


def feature_shapes(backbone: Backbone, input_shape: Shape) -> list[Shape]:
    """Per-sample feature shape entering each depth, then the output of the last block.

    The first is the input's, or the stem's output for a backbone with a stem.

    Raises:
        ValueError: a block (or the stem) does not accept the features it would receive.
    """
    try:
        stem = stem_cost(backbone, tuple(input_shape))
    except RuntimeError as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(
            f"input shape {tuple(input_shape)} does not fit the backbone's stem ({reason})"
        ) from None
    shapes = [tuple(input_shape) if stem is None else stem.out_shape]
    for d in range(backbone.depth):
        try:
            shapes.append(block_cost(backbone, d, shapes[-1]).out_shape)
        except RuntimeError as err:
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ValueError(
                f"input shape {tuple(input_shape)} does not fit the backbone: block {d} "
                f"cannot take features of shape {shapes[-1]} ({reason})"
            ) from None
    return shapes


def _check(layout: Layout, backbone: Backbone, heads: Mapping[str, HeadSpec]) -> None:
    if layout.depth != backbone.depth:
        raise ValueError(
            f"the layout has {layout.depth} depths but the backbone has {backbone.depth} blocks"
        )
    missing = [t for t in layout.tasks if t not in heads]
    extra = [t for t in heads if t not in layout.tasks]
    if missing or extra:
        raise ValueError(f"heads do not match the layout's tasks: missing {missing}, extra {extra}")


Rows = Sequence[Sequence[int | None]]


def plan(layout: Layout | Rows, backbone: Backbone) -> tuple[list[tuple[str, int]], list[int]]:
    """Compile a Layout (or raw rows of instance ids) into steps and each task's head slot.

    Slot 0 is the stem's output (the input, without a stem); step ``i`` writes slot ``i + 1``
    by running module ``name`` on slot ``src``. Block modules are named ``b{depth}_{instance}``,
    skip shortcuts ``s{depth}``. Raw rows keep instance ids as given (a supernet's copies).

    Returns:
        ``(steps, head_slots)`` with steps as ``(name, src)`` pairs.
    """
    rows = layout.rows if isinstance(layout, Layout) else layout
    steps: list[tuple[str, int]] = []
    made: dict[tuple[int, str], int] = {}  # (input slot, module) -> output slot
    cur = [0] * len(rows[0])
    for d, row in enumerate(rows):
        for t, choice in enumerate(row):
            if choice is None:
                if backbone.skip(d) is None:
                    continue  # identity: the task keeps its feature map
                name = f"s{d}"
            else:
                name = f"b{d}_{choice}"
            key = (cur[t], name)
            if key not in made:
                steps.append((name, cur[t]))
                made[key] = len(steps)
            cur[t] = made[key]
    return steps, cur


class TaskNetwork(nn.Module):
    """What training, export and serving need of a network: ``forward(x)`` -> ``{task: output}``.

    Attributes:
        layout: the candidate it was built from.
        tasks: the task names, in the order of its outputs.
        input_shape: one sample's shape.
        stem: the backbone's stem, shared by every task (an identity without one).
    """

    layout: Layout
    tasks: tuple[str, ...]
    input_shape: tuple[int, ...]
    stem: nn.Module

    def backbone_modules(self) -> list[nn.Module]:
        """The shared feature extractor, as opposed to the heads (for a backbone learning rate)."""
        return []


class MultiTaskNetwork(TaskNetwork):
    """The network of one Layout; ``forward(x)`` returns ``{task: output}`` in task order."""

    def __init__(
        self,
        layout: Layout,
        backbone: Backbone,
        heads: Mapping[str, HeadSpec],
        input_shape: Sequence[int],
    ) -> None:
        super().__init__()
        _check(layout, backbone, heads)
        if layout.peer:
            raise ValueError(f"layout of peer {layout.peer!r}: build it with nas.model.build")
        backbone = at_width(backbone, layout.width)
        shapes = feature_shapes(backbone, tuple(input_shape))
        self.layout, self.input_shape = layout, tuple(input_shape)
        self.tasks = layout.tasks
        self.stem: nn.Module = stem_of(backbone) or nn.Identity()  # shared by every task
        self.blocks = nn.ModuleDict()
        for d, inst in layout.used_blocks():
            self.blocks[f"b{d}_{inst}"] = backbone.block(d)
        for d in range(layout.depth):
            skip = backbone.skip(d)
            if skip is not None and any(c is None for c in layout.rows[d]):
                self.blocks[f"s{d}"] = skip
        # Task names may hold characters a ModuleDict key may not, so heads go by position.
        self.heads = nn.ModuleList(
            head_of(backbone, heads[t], shapes[-1], self.input_shape) for t in self.tasks
        )
        steps, self._head_slots = plan(layout, backbone)
        self._steps = [(self.blocks[name], src) for name, src in steps]

    @property
    def num_steps(self) -> int:
        """Module calls per forward pass (block calls plus parameter-free skip shortcuts)."""
        return len(self._steps)

    def backbone_modules(self) -> list[nn.Module]:
        """The stem and the blocks, as opposed to the heads (for a backbone learning rate)."""
        return [self.stem, self.blocks]

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Run the stem, every step once, then each task's head on its own feature map."""
        feats = [self.stem(x)]
        for module, src in self._steps:
            feats.append(module(feats[src]))
        return {
            task: head(feats[slot])
            for task, head, slot in zip(self.tasks, self.heads, self._head_slots, strict=True)
        }


def build(
    layout: Layout,
    backbone: Backbone,
    heads: Mapping[str, HeadSpec],
    input_shape: Sequence[int],
) -> TaskNetwork:
    """Build the network of ``layout`` for one sample shape ``input_shape`` (no batch axis).

    At a ``layout.width`` other than 1 the blocks come from ``backbone.scaled(width)``. A
    layout with a ``peer`` is that family's network (:mod:`nas.model.peers`).

    Example:
        >>> from nas.model.backbones import MLPBackbone
        >>> net = build(Layout.hard_sharing(["a", "b"], 2), MLPBackbone(8, (16, 16)),
        ...             {"a": HeadSpec("pooled", 3), "b": HeadSpec("pooled", 1)}, (8,))
        >>> {k: tuple(v.shape) for k, v in net(torch.zeros(4, 8)).items()}
        {'a': (4, 3), 'b': (4, 1)}
    """
    if layout.peer:
        from nas.model.peers._base import build_peer  # peers build on this module

        _check(layout, backbone, heads)
        return build_peer(layout, backbone, heads, tuple(input_shape))
    return MultiTaskNetwork(layout, backbone, heads, input_shape)


def cost(
    layout: Layout,
    backbone: Backbone,
    heads: Mapping[str, HeadSpec],
    input_shape: Sequence[int],
) -> Cost:
    """The cost model: exactly what :func:`build`'s network computes and holds."""
    _check(layout, backbone, heads)
    if layout.peer:
        from nas.model.peers._base import peer_cost

        return peer_cost(layout, backbone, heads, tuple(input_shape))
    backbone = at_width(backbone, layout.width)
    inp = tuple(input_shape)
    shapes = feature_shapes(backbone, inp)
    executions = layout.executions()
    blocks = [block_cost(backbone, d, shapes[d]) for d in range(layout.depth)]
    head_costs = [
        measure(functools.partial(head_of, backbone, heads[t], shapes[-1], inp), shapes[-1])
        for t in layout.tasks
    ]
    stem = stem_cost(backbone, inp)
    flops = sum(blocks[d].flops for d, _, _ in executions) + sum(h.flops for h in head_costs)
    params = sum(blocks[d].params for d, _ in layout.used_blocks())
    params += sum(h.params for h in head_costs)
    if stem is not None:  # run once, whatever the layout
        flops, params = flops + stem.flops, params + stem.params
    return Cost(block_executions=len(executions), params=params, flops=flops)
