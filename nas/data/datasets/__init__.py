"""Built-in benchmarks (``digits``, ``scenes``, ``nyuv2``), found by name (nas.data.benchmark)."""

from nas.data.datasets.digits import digits
from nas.data.datasets.nyuv2 import nyuv2
from nas.data.datasets.scenes import scenes

__all__ = ["digits", "nyuv2", "scenes"]
