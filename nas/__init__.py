"""mtl-nas: neural architecture search for learned sharing in multi-task networks.

The Layout flows through everything: a search space suggests one per trial, :func:`build` turns
it into a network, an evaluator scores it, and the study records it with its metrics.

The three jobs from Python: :func:`search`, :func:`resume` and :func:`export` (``nas.app.api``).

Names are loaded on first use, so ``import nas.core.layout`` (or ``from nas import Layout``)
does not pull in torch. Type checkers read the same names from the ``TYPE_CHECKING`` imports
below, so ``from nas import Layout`` is the class to them, not ``Any``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:  # what type checkers see: the same names, imported (a test keeps both equal)
    from nas.app.api import delete, export, resume, search
    from nas.app.jobs import Best, SearchResult
    from nas.core.errors import UserError
    from nas.core.layout import Layout, LayoutError
    from nas.data.benchmark import (
        Benchmark,
        BenchmarkError,
        Split,
        load_benchmark,
        register_benchmark,
    )
    from nas.data.metrics import TaskMeter, delta_mtl
    from nas.data.tasks import Task
    from nas.explore.config import SearchConfig
    from nas.explore.evaluators import Candidate, Evaluation, Evaluator, FullTraining
    from nas.explore.evaluators.supernet import SupernetEvaluator
    from nas.model.backbones import (
        Backbone,
        BackboneSpec,
        ConvBackbone,
        MLPBackbone,
        ResNetBackbone,
        create_backbone,
        register_backbone,
    )
    from nas.model.heads import HeadSpec
    from nas.model.network import Cost, MultiTaskNetwork, build, cost
    from nas.study.outcome.confirmed import ConfirmedResult
    from nas.training.problem import Problem
    from nas.training.supernet import Supernet
    from nas.training.train import TrainConfig, TrainResult, evaluate, train

__all__ = [  # the lazy names below, listed out so tools read them (a test keeps them equal)
    "__version__",
    "Backbone",
    "BackboneSpec",
    "Benchmark",
    "BenchmarkError",
    "Best",
    "Candidate",
    "ConfirmedResult",
    "ConvBackbone",
    "Cost",
    "Evaluation",
    "Evaluator",
    "FullTraining",
    "HeadSpec",
    "Layout",
    "LayoutError",
    "MLPBackbone",
    "MultiTaskNetwork",
    "Problem",
    "ResNetBackbone",
    "SearchConfig",
    "SearchResult",
    "Split",
    "Supernet",
    "SupernetEvaluator",
    "Task",
    "TaskMeter",
    "TrainConfig",
    "TrainResult",
    "UserError",
    "build",
    "cost",
    "create_backbone",
    "delete",
    "delta_mtl",
    "evaluate",
    "export",
    "load_benchmark",
    "register_backbone",
    "register_benchmark",
    "resume",
    "search",
    "train",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'nas' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
