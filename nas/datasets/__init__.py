"""Built-in benchmarks (``digits``, ``scenes``, ``nyuv2``), found by name through nas.benchmark."""

from nas.datasets.digits import digits
from nas.datasets.nyuv2 import nyuv2
from nas.datasets.scenes import scenes

__all__ = ["digits", "nyuv2", "scenes"]
