"""Networks from a Layout: task heads, backbones, the executor, how task losses combine.

Imports :mod:`nas.core` only. A new backbone goes in ``backbones/``, a loss weighting or
gradient aggregator in ``combine/``.
"""

from nas.model._heads import ASPPHead, DenseHead, HeadSpec, PooledHead
from nas.model._network import Cost, MultiTaskNetwork, Rows, build, cost, feature_shapes, plan

__all__ = [
    "ASPPHead",
    "Cost",
    "DenseHead",
    "HeadSpec",
    "MultiTaskNetwork",
    "PooledHead",
    "Rows",
    "build",
    "cost",
    "feature_shapes",
    "plan",
]
