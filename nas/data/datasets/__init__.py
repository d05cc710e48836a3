"""Built-in benchmarks (``digits``, ``scenes``, ``nyuv2``), found by name (nas.data._benchmark)."""

from nas.data.datasets._digits import digits
from nas.data.datasets._nyuv2 import nyuv2
from nas.data.datasets._scenes import scenes

__all__ = ["digits", "nyuv2", "scenes"]
