"""Benchmarks and their tasks: inputs, splits, labels, metrics and Δ_MTL.

Imports :mod:`nas.core` and :mod:`nas.model` (a task kind names its head; a benchmark its
default backbone). A new task kind goes in ``tasks.py``, a new benchmark in ``datasets/``. Every
reader of a split's data goes through ``source.py`` (resident tensors or a streamed Dataset).
"""

__all__ = [
    "augment",
    "benchmark",
    "datasets",
    "health",
    "kinds",
    "merge",
    "metrics",
    "source",
    "split",
    "streamed",
    "tasks",
]
