"""mtl-nas: neural architecture search for learned sharing in multi-task networks.

The Layout flows through everything: a search space suggests one per trial, :func:`build` turns
it into a network, the trainer fits it, and the study stores it with its metrics.
"""

from nas.backbones import Backbone, ConvBackbone, MLPBackbone, backbone_from_dict
from nas.benchmark import Benchmark, BenchmarkError, Split, load_benchmark, register_benchmark
from nas.config import SearchConfig
from nas.heads import HeadSpec
from nas.layout import Layout, LayoutError
from nas.metrics import TaskMeter, delta_mtl
from nas.network import Cost, MultiTaskNetwork, build, cost
from nas.tasks import Task
from nas.train import TrainConfig, TrainResult, evaluate, train

__version__ = "0.1.0"

__all__ = [
    "Backbone",
    "Benchmark",
    "BenchmarkError",
    "ConvBackbone",
    "Cost",
    "HeadSpec",
    "Layout",
    "LayoutError",
    "MLPBackbone",
    "MultiTaskNetwork",
    "SearchConfig",
    "Split",
    "Task",
    "TaskMeter",
    "TrainConfig",
    "TrainResult",
    "__version__",
    "backbone_from_dict",
    "build",
    "cost",
    "delta_mtl",
    "evaluate",
    "load_benchmark",
    "register_benchmark",
    "train",
]
