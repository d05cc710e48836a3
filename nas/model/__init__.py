"""Networks from a Layout: task heads, backbones, the executor, how task losses combine.

Imports :mod:`nas.core` only. A new backbone goes in ``backbones/``, a loss weighting or
gradient aggregator in ``combine/``.
"""

__all__ = ["backbones", "combine", "heads", "network"]
