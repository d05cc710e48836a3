"""mtl-nas: neural architecture search for learned sharing in multi-task networks.

The Layout flows through everything: a search space suggests one per trial, :func:`build` turns
it into a network, an evaluator scores it, and the study records it with its metrics.

The three jobs from Python: :func:`search`, :func:`resume` and :func:`export` (``nas.app.api``).

Names are loaded on first use, so ``import nas.core._layout`` (or ``from nas import Layout``)
does not pull in torch. Type checkers read the same names from the ``TYPE_CHECKING`` imports
below, so ``from nas import Layout`` is the class to them, not ``Any``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nas.core._lazy import lazy_exports

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
    "Benchmark": "nas.data",
    "BenchmarkError": "nas.data",
    "Split": "nas.data",
    "load_benchmark": "nas.data",
    "register_benchmark": "nas.data",
    "Candidate": "nas.explore.evaluators",
    "Evaluation": "nas.explore.evaluators",
    "Evaluator": "nas.explore.evaluators",
    "FullTraining": "nas.explore.evaluators",
    "SupernetEvaluator": "nas.explore.evaluators",
    "Supernet": "nas.training",
    "HeadSpec": "nas.model",
    "Layout": "nas.core",
    "LayoutError": "nas.core",
    "TaskMeter": "nas.data",
    "delta_mtl": "nas.data",
    "Cost": "nas.model",
    "MultiTaskNetwork": "nas.model",
    "build": "nas.model",
    "cost": "nas.model",
    "Problem": "nas.training",
    "SearchConfig": "nas.explore",
    "Task": "nas.data",
    "TrainConfig": "nas.training",
    "TrainResult": "nas.training",
    "evaluate": "nas.training",
    "train": "nas.training",
    "UserError": "nas.core",
    "search": "nas.app.api",
    "resume": "nas.app.api",
    "export": "nas.app.api",
    "delete": "nas.app.api",
    "SearchResult": "nas.app.api",
    "Best": "nas.app.api",
    "ConfirmedResult": "nas.study",
}

if TYPE_CHECKING:  # what type checkers see: the same names, imported (a test keeps both equal)
    from nas.app.api import Best, SearchResult, delete, export, resume, search
    from nas.core import Layout, LayoutError, UserError
    from nas.data import (
        Benchmark,
        BenchmarkError,
        Split,
        Task,
        TaskMeter,
        delta_mtl,
        load_benchmark,
        register_benchmark,
    )
    from nas.explore import SearchConfig
    from nas.explore.evaluators import (
        Candidate,
        Evaluation,
        Evaluator,
        FullTraining,
        SupernetEvaluator,
    )
    from nas.model import Cost, HeadSpec, MultiTaskNetwork, build, cost
    from nas.model.backbones import (
        Backbone,
        BackboneSpec,
        ConvBackbone,
        MLPBackbone,
        ResNetBackbone,
        create_backbone,
        register_backbone,
    )
    from nas.study import ConfirmedResult
    from nas.training import Problem, Supernet, TrainConfig, TrainResult, evaluate, train

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

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
