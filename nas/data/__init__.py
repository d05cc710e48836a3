"""Benchmarks and their tasks: inputs, splits, labels, metrics and Δ_MTL.

Imports :mod:`nas.core` and :mod:`nas.model` (a task kind names its head; a benchmark its
default backbone). A new task kind goes in ``tasks.py``, a new benchmark in ``datasets/``.
"""

__all__ = ["benchmark", "datasets", "health", "merge", "metrics", "tasks"]
