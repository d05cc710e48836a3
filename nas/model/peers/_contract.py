"""The peer contract on the model side (:func:`nas.testing.check_peer` adds the export)."""

from __future__ import annotations

import torch

from nas.model._heads import HeadSpec
from nas.model._network import build, cost, feature_shapes
from nas.model.backbones._base import Backbone, stem_of
from nas.model.peers._base import Peer, make_peer, peer_layout

__all__ = ["check_peer_network"]


def check_peer_network(
    spec: str, backbone: Backbone, input_shape: tuple[int, ...], tasks: int = 3
) -> None:
    """A peer's networks: one feature map per task, fresh weights, exact costs (no export).

    ``spec``: the peer's name or ``package.module:function`` (what its Layout stores), for a
    backbone and input shape it fits. Checks: the factory makes a :class:`Peer` whose ``trunk``
    is ``independent`` or ``hard_sharing`` and whose ``fits`` accepts ``backbone``; two calls of
    ``body`` share no parameter; the body maps a batch of stem outputs to ``tasks`` feature maps
    of the last block's shape, and every one of its parameters gets a gradient; the cost model
    counts exactly the built network's parameters; at half width (a backbone with ``scaled``)
    it builds and runs. :func:`nas.testing.check_peer` adds the export.
    """
    peer = make_peer(spec)
    assert isinstance(peer, Peer), f"{spec}: needs trunk, fits() and body()"
    assert peer.trunk in ("independent", "hard_sharing"), f"{spec}: trunk {peer.trunk!r}"
    why = peer.fits(backbone, input_shape)
    assert why is None, f"{spec}: does not fit the backbone given to the check: {why}"
    a, b = peer.body(backbone, tasks, input_shape), peer.body(backbone, tasks, input_shape)
    shared = {id(p) for p in a.parameters()} & {id(p) for p in b.parameters()}
    assert not shared, f"{spec}: two bodies share {len(shared)} parameters"
    shapes = feature_shapes(backbone, input_shape)
    torch.manual_seed(0)
    stem = stem_of(backbone) or torch.nn.Identity()
    h = stem(torch.randn(2, *input_shape))
    feats = list(a(h.detach()))
    assert len(feats) == tasks, f"{spec}: {len(feats)} feature maps for {tasks} tasks"
    for t, f in enumerate(feats):
        assert tuple(f.shape) == (2, *shapes[-1]), (
            f"{spec}: task {t}'s features have shape {tuple(f.shape)}, not (2, *{shapes[-1]})"
        )
    sum(f.square().mean() for f in feats).backward()
    idle = [n for n, p in a.named_parameters() if p.grad is None]
    assert not idle, f"{spec}: parameters {idle[:3]} get no gradient"
    names = [f"t{i}" for i in range(tasks)]
    heads = {n: HeadSpec("pooled", 2) for n in names}
    for width in (1.0, 0.5) if callable(getattr(backbone, "scaled", None)) else (1.0,):
        layout = peer_layout(spec, names, backbone.depth, width)
        net = build(layout, backbone, heads, input_shape).eval()
        held = sum(p.numel() for p in net.parameters())
        costed = cost(layout, backbone, heads, input_shape)
        assert costed.params == held, f"{spec} @{width}: cost {costed.params} params, net {held}"
        with torch.no_grad():
            out = net(torch.randn(2, *input_shape))
        assert list(out) == names, f"{spec} @{width}: outputs {list(out)}, tasks {names}"
