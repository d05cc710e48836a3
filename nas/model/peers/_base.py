"""The peer contract: a network of another family, built on the project's backbones and heads.

A peer is a multi-task network that is not a routing of blocks (a Layout's own network) but
shares between tasks some other way: cross-stitch units mixing one column per task, attention
masks over a shared trunk (MTAN), experts mixed by per-task gates (MMoE). It is a candidate of
the confirm stage like the baselines: its Layout names it (``Layout.peer``) over the rows it
starts from (``trunk``: one column per task, or one shared trunk), so it is costed, trained,
retrained, exported and served as any layout is, at any width the backbone can be scaled to.

A peer provides the body only: the blocks of the backbone (built by ``backbone.block``), wired
its way, from the output of the backbone's stem (shared by every task, as in every layout) to
one feature map per task of the backbone's last feature shape; the task heads are the
backbone's own. A user's peer is a function
``package.module:function`` returning an object with the three members of :class:`Peer`, checked
by :func:`nas.testing.check_peer`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Literal, Protocol, runtime_checkable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from nas.core._errors import UserError
from nas.core._layout import Layout
from nas.core._plugins import Catalog
from nas.model._heads import HeadSpec
from nas.model._network import Cost, TaskNetwork, feature_shapes
from nas.model.backbones._base import Backbone, at_width, head_of, stem_of

__all__ = [
    "PEER_CATALOG",
    "Peer",
    "PeerError",
    "PeerNetwork",
    "build_peer",
    "feature_rank",
    "make_peer",
    "peer_cost",
    "peer_layout",
    "peer_names",
]

Shape = tuple[int, ...]
Trunk = Literal["independent", "hard_sharing"]


class PeerError(UserError, ValueError):
    """An unknown peer, one that does not fit the backbone, or one that breaks the contract."""


@runtime_checkable
class Peer(Protocol):
    """A family of multi-task networks over a backbone's blocks.

    Attributes:
        trunk: the rows its Layout carries: ``independent`` (one column of blocks per task,
            as cross-stitch and one expert per task) or ``hard_sharing`` (one trunk, as MTAN).
    """

    trunk: Trunk

    def fits(self, backbone: Backbone, input_shape: Shape) -> str | None:
        """Why it cannot be built on ``backbone`` for inputs of ``input_shape``; None if it can."""
        ...

    def body(self, backbone: Backbone, tasks: int, input_shape: Shape) -> nn.Module:
        """A fresh body: ``forward(h)`` returns ``tasks`` feature maps of the last block's shape.

        ``h`` is the stem's output (the input, for a backbone without a stem).
        """
        ...


PEER_CATALOG: Catalog[Peer] = Catalog(
    "peer", Peer, PeerError,
    refusal="{what} returned {got}, which lacks trunk, fits() or body()",
)  # fmt: skip


def peer_names() -> list[str]:
    """Built-in and registered peer names."""
    return PEER_CATALOG.names()


@functools.lru_cache(maxsize=64)
def make_peer(spec: str) -> Peer:
    """The peer named ``spec`` (a built-in, registered or ``package.module:function`` name).

    Raises:
        PeerError: an unknown name, an import that fails, or not a peer.
    """
    peer = PEER_CATALOG.make(spec)
    if peer.trunk not in ("independent", "hard_sharing"):
        raise PeerError(
            f"peer {spec!r}: trunk must be 'independent' or 'hard_sharing', got {peer.trunk!r}"
        )
    return peer


def peer_layout(spec: str, tasks: Sequence[str], depth: int, width: float = 1.0) -> Layout:
    """The Layout of peer ``spec`` for ``tasks`` over a backbone of ``depth`` blocks."""
    make = Layout.independent if make_peer(spec).trunk == "independent" else Layout.hard_sharing
    base = make(tasks, depth)
    return Layout(base.tasks, base.rows, width, spec)


class PeerNetwork(TaskNetwork):
    """The backbone's stem, a peer's body, the task heads; ``forward(x)`` -> ``{task: output}``."""

    def __init__(
        self, layout: Layout, backbone: Backbone, heads: Mapping[str, HeadSpec], input_shape: Shape
    ) -> None:
        super().__init__()
        peer = make_peer(layout.peer)
        if layout != peer_layout(layout.peer, layout.tasks, layout.depth, layout.width):
            raise PeerError(f"peer {layout.peer!r} is built over {peer.trunk} rows, not these")
        backbone = at_width(backbone, layout.width)
        why = peer.fits(backbone, input_shape)
        if why is not None:
            raise PeerError(f"peer {layout.peer!r} does not fit this backbone: {why}")
        self.layout, self.tasks, self.input_shape = layout, layout.tasks, input_shape
        shapes = feature_shapes(backbone, input_shape)
        self.stem: nn.Module = stem_of(backbone) or nn.Identity()  # shared by every task
        self.body = peer.body(backbone, len(self.tasks), input_shape)
        self.heads = nn.ModuleList(
            head_of(backbone, heads[t], shapes[-1], input_shape) for t in self.tasks
        )

    def backbone_modules(self) -> list[nn.Module]:
        """The stem and the body (its blocks and its sharing modules), not the heads."""
        return [self.stem, self.body]

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The body's feature map of each task through that task's head."""
        feats = self.body(self.stem(x))
        return {t: head(f) for t, head, f in zip(self.tasks, self.heads, feats, strict=True)}


def build_peer(
    layout: Layout, backbone: Backbone, heads: Mapping[str, HeadSpec], input_shape: Shape
) -> PeerNetwork:
    """The network of a peer's layout (what :func:`nas.model.build` returns for one)."""
    return PeerNetwork(layout, backbone, heads, input_shape)


def peer_cost(
    layout: Layout, backbone: Backbone, heads: Mapping[str, HeadSpec], input_shape: Shape
) -> Cost:
    """A peer's cost, measured on the whole network on the meta device (exact by construction).

    Block executions count the backbone blocks its trunk runs (its mixing modules aside).
    """
    with torch.device("meta"):
        net = PeerNetwork(layout, backbone, heads, input_shape).eval()
        with FlopCounterMode(display=False) as counter:
            net(torch.empty(1, *input_shape))
    params = sum(p.numel() for p in net.parameters())
    return Cost(len(layout.executions()), params, int(counter.get_total_flops()))


def feature_rank(backbone: Backbone, input_shape: Shape) -> str | None:
    """Why the features are neither vectors (C,) nor images (C, H, W); None when they are."""
    shapes = feature_shapes(backbone, input_shape)
    ranks = {len(s) for s in shapes}
    if ranks <= {1} or ranks <= {3}:
        return None
    return f"its features have shapes {shapes}; this peer takes vectors (C,) or images (C, H, W)"
