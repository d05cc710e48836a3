"""Peers: multi-task networks of the other families, confirmed beside the searched answer.

Cross-stitch networks, MTAN and MMoE, built on any backbone whose features are vectors or
images, with the backbone's own heads (:mod:`nas.model.peers._base` has the contract). A user's
peer is named ``package.module:function`` wherever a built-in's name is taken.
"""

from nas.model.peers._base import (
    PEER_CATALOG,
    Peer,
    PeerError,
    PeerNetwork,
    build_peer,
    make_peer,
    peer_cost,
    peer_layout,
    peer_names,
)
from nas.model.peers._cross_stitch import CrossStitch
from nas.model.peers._mmoe import MMoE
from nas.model.peers._mtan import MTAN

__all__ = [
    "MMoE",
    "MTAN",
    "PEER_CATALOG",
    "CrossStitch",
    "Peer",
    "PeerError",
    "PeerNetwork",
    "build_peer",
    "make_peer",
    "peer_cost",
    "peer_layout",
    "peer_names",
]
