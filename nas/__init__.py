"""mtl-nas: neural architecture search for learned sharing in multi-task networks.

The Layout flows through everything: a search space suggests one per trial, :func:`build` turns
it into a network, an evaluator scores it, and the study records it with its metrics.

The three jobs from Python: :func:`search`, :func:`resume` and :func:`export` (``nas.app.api``).

Names are loaded on first use, so ``import nas.core.layout`` (or ``from nas import Layout``)
does not pull in torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

# public name -> module that defines it
_EXPORTS = {
    "Backbone": "nas.model.backbones",
    "BackboneSpec": "nas.model.backbones",
    "ConvBackbone": "nas.model.backbones",
    "MLPBackbone": "nas.model.backbones",
    "ResNetBackbone": "nas.model.backbones",
    "create_backbone": "nas.model.backbones",
    "register_backbone": "nas.model.backbones",
    "Benchmark": "nas.data.benchmark",
    "BenchmarkError": "nas.data.benchmark",
    "Split": "nas.data.benchmark",
    "load_benchmark": "nas.data.benchmark",
    "register_benchmark": "nas.data.benchmark",
    "Candidate": "nas.explore.evaluators",
    "Evaluation": "nas.explore.evaluators",
    "Evaluator": "nas.explore.evaluators",
    "FullTraining": "nas.explore.evaluators",
    "SupernetEvaluator": "nas.explore.evaluators.supernet",
    "Supernet": "nas.training.supernet",
    "HeadSpec": "nas.model.heads",
    "Layout": "nas.core.layout",
    "LayoutError": "nas.core.layout",
    "TaskMeter": "nas.data.metrics",
    "delta_mtl": "nas.data.metrics",
    "Cost": "nas.model.network",
    "MultiTaskNetwork": "nas.model.network",
    "build": "nas.model.network",
    "cost": "nas.model.network",
    "Problem": "nas.training.problem",
    "SearchConfig": "nas.explore.config",
    "Task": "nas.data.tasks",
    "TrainConfig": "nas.training.train",
    "TrainResult": "nas.training.train",
    "evaluate": "nas.training.train",
    "train": "nas.training.train",
    "UserError": "nas.core.errors",
    "search": "nas.app.api",
    "resume": "nas.app.api",
    "export": "nas.app.api",
    "delete": "nas.app.api",
    "SearchResult": "nas.app.jobs",
    "Best": "nas.app.jobs",
    "ConfirmedResult": "nas.study.outcome.confirmed",
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
