"""Benchmarks and their tasks: inputs, splits, labels, metrics and Δ_MTL.

Imports :mod:`nas.core` and :mod:`nas.model` (a task kind names its head; a benchmark its
default backbone). A new task kind goes in ``tasks.py``, a new benchmark in ``datasets/``. Every
reader of a split's data goes through ``source.py`` (resident tensors or a streamed Dataset).
"""

from nas.data._augment import ScaleCropFlip
from nas.data._benchmark import BENCHMARK_CATALOG, Benchmark, load_benchmark, register_benchmark
from nas.data._health import (
    MARGIN,
    balanced_weights,
    beats,
    label_stats,
    read_stats,
    resolve_weights,
    trivial_output,
    trivial_scores,
    trivial_scores_of,
    weights_from,
)
from nas.data._merge import keep_labels, keep_tasks, merge_benchmarks, merge_splits, unlabelled
from nas.data._metrics import (
    EDGE_TOLERANCE,
    THRESHOLDS,
    TaskMeter,
    binary_scores,
    delta_mtl,
    task_deltas,
)
from nas.data._source import (
    Augment,
    Batch,
    Resident,
    Source,
    SplitDataset,
    open_data,
    open_split,
    resident_budget,
    sample_generator,
    sequential,
)
from nas.data._split import (
    BenchmarkError,
    Split,
    SplitData,
    check_dataset,
    check_split,
    expected_targets,
    item_problem,
    target_shape,
)
from nas.data._streamed import Streamed, default_workers
from nas.data._tasks import IGNORE_INDEX, KINDS, METRICS, Task, TaskError, labelled

__all__ = [
    "Augment",
    "Batch",
    "Benchmark",
    "BenchmarkError",
    "BENCHMARK_CATALOG",
    "EDGE_TOLERANCE",
    "IGNORE_INDEX",
    "KINDS",
    "MARGIN",
    "METRICS",
    "Resident",
    "ScaleCropFlip",
    "Source",
    "Split",
    "SplitData",
    "SplitDataset",
    "Streamed",
    "THRESHOLDS",
    "Task",
    "TaskError",
    "TaskMeter",
    "balanced_weights",
    "beats",
    "binary_scores",
    "check_dataset",
    "check_split",
    "default_workers",
    "delta_mtl",
    "expected_targets",
    "item_problem",
    "keep_labels",
    "keep_tasks",
    "label_stats",
    "labelled",
    "load_benchmark",
    "merge_benchmarks",
    "merge_splits",
    "open_data",
    "open_split",
    "read_stats",
    "register_benchmark",
    "resident_budget",
    "resolve_weights",
    "sample_generator",
    "sequential",
    "target_shape",
    "task_deltas",
    "trivial_output",
    "trivial_scores",
    "trivial_scores_of",
    "unlabelled",
    "weights_from",
]
