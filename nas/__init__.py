"""mtl-nas: neural architecture search for learned sharing in multi-task networks.

The Layout flows through everything: a search space suggests one per trial, :func:`build` turns
it into a network, an evaluator scores it, and the study records it with its metrics.

The three jobs from Python: :func:`search`, :func:`resume` and :func:`export` (``nas.api``).

Names are loaded on first use, so ``import nas.layout`` (or ``from nas import Layout``) does not
pull in torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

# public name -> module that defines it
_EXPORTS = {
    "Backbone": "nas.backbones",
    "BackboneSpec": "nas.backbones",
    "ConvBackbone": "nas.backbones",
    "MLPBackbone": "nas.backbones",
    "ResNetBackbone": "nas.backbones",
    "create_backbone": "nas.backbones",
    "register_backbone": "nas.backbones",
    "Benchmark": "nas.benchmark",
    "BenchmarkError": "nas.benchmark",
    "Split": "nas.benchmark",
    "load_benchmark": "nas.benchmark",
    "register_benchmark": "nas.benchmark",
    "Candidate": "nas.evaluators",
    "Evaluation": "nas.evaluators",
    "Evaluator": "nas.evaluators",
    "FullTraining": "nas.evaluators",
    "SupernetEvaluator": "nas.evaluators.supernet",
    "Supernet": "nas.supernet",
    "HeadSpec": "nas.heads",
    "Layout": "nas.layout",
    "LayoutError": "nas.layout",
    "TaskMeter": "nas.metrics",
    "delta_mtl": "nas.metrics",
    "Cost": "nas.network",
    "MultiTaskNetwork": "nas.network",
    "build": "nas.network",
    "cost": "nas.network",
    "Problem": "nas.problem",
    "SearchConfig": "nas.study.config",
    "Task": "nas.tasks",
    "TrainConfig": "nas.train",
    "TrainResult": "nas.train",
    "evaluate": "nas.train",
    "train": "nas.train",
    "UserError": "nas.errors",
    "search": "nas.api",
    "resume": "nas.api",
    "export": "nas.api",
    "SearchResult": "nas.jobs",
    "Best": "nas.jobs",
    "ConfirmedResult": "nas.study.confirmed",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'nas' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
