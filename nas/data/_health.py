"""What a task's training labels say: balanced weights, and the score of a trivial predictor.

A task that never beats its trivial predictor (the majority class, the mean target, a constant
edge probability) learns nothing: it adds the same to every trial's Δ_MTL, and the search
silently optimises the other tasks. Knowing each task's trivial score on the validation split
lets every trial record whether it did better, and lets ``show`` say when a task did not.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

import torch

from nas.data._benchmark import Benchmark
from nas.data._metrics import TaskMeter
from nas.data._source import Source, open_data, open_split, sequential
from nas.data._split import SplitData
from nas.data._tasks import Task, labelled

__all__ = [
    "MARGIN",
    "balanced_weights",
    "beats",
    "label_stats",
    "read_stats",
    "resolve_weights",
    "trivial_output",
    "trivial_scores",
    "trivial_scores_of",
    "weights_from",
]

# A task "beats" its trivial predictor when its primary metric is better by more than 1% of the
# trivial score: a hair above it is still nothing learned.
MARGIN = 0.01


Stats = dict[str, torch.Tensor]


def label_stats(task: Task, y: torch.Tensor) -> Stats:
    """What the labels ``y`` (batch first) say, as sums: add two batches' to get both's."""
    y = y.cpu()
    stats = task.spec.label_stats(y, task.out)
    return {**stats, "labelled": labelled(task, y).sum(), "n": torch.tensor(len(y))}


def add_stats(a: Stats | None, b: Stats) -> Stats:
    """The statistics of two batches together."""
    return dict(b) if a is None else {k: a[k] + b[k] for k in b}


def read_stats(tasks: Sequence[Task], source: Source, batch_size: int = 256) -> dict[str, Stats]:
    """Every task's :func:`label_stats` over a whole split, in one pass."""
    out: dict[str, Stats | None] = {t.name: None for t in tasks}
    for _, _, targets in source.batches(sequential(len(source), batch_size, source.plan_device)):
        for t in tasks:
            out[t.name] = add_stats(out[t.name], label_stats(t, targets[t.name]))
    return {k: v for k, v in out.items() if v is not None}


def weights_from(task: Task, stats: Stats) -> tuple[float, ...]:
    """Balanced weights from a split's :func:`label_stats` (see :func:`balanced_weights`)."""
    return task.spec.balanced(task, stats)


def balanced_weights(task: Task, y: torch.Tensor) -> tuple[float, ...]:
    """Weights from training labels ``y`` (batch first).

    Inverse class frequency (classification, segmentation), negatives over positives per label
    (multilabel), or the share of negative pixels as the positive weight (edges, saliency).
    """
    return weights_from(task, label_stats(task, y))


def resolve_weights(bench: Benchmark, train: Mapping[str, Stats]) -> Benchmark:
    """``bench`` with each ``weights="balanced"`` replaced by numbers from ``train``'s stats."""
    tasks = tuple(
        dataclasses.replace(t, weights=weights_from(t, train[t.name]))
        if t.weights == "balanced"
        else t
        for t in bench.tasks
    )
    return dataclasses.replace(bench, tasks=tasks)


def trivial_output(task: Task, stats: Stats, shape: tuple[int, ...]) -> torch.Tensor:
    """One sample's constant prediction (of ``shape``), from training :func:`label_stats`."""
    return task.spec.trivial(task, stats, shape)


def _output_shape(task: Task, input_shape: tuple[int, ...]) -> tuple[int, ...]:
    return task.spec.output_shape(task.out, tuple(input_shape[1:]))


def trivial_scores_of(
    tasks: Sequence[Task],
    train: Mapping[str, Stats],
    val: Source,
    input_shape: tuple[int, ...],
) -> tuple[dict[str, float], dict[str, Stats]]:
    """Each task's primary metric on ``val`` for its trivial predictor, and ``val``'s stats."""
    meters = {t.name: TaskMeter(t) for t in tasks}
    ones = {t.name: trivial_output(t, train[t.name], _output_shape(t, input_shape)) for t in tasks}
    stats: dict[str, Stats | None] = {t.name: None for t in tasks}
    for _, _, targets in val.batches(sequential(len(val), 256, val.plan_device)):
        for t in tasks:
            y = targets[t.name].cpu()
            meters[t.name].update(ones[t.name].expand(len(y), *ones[t.name].shape), y)
            stats[t.name] = add_stats(stats[t.name], label_stats(t, y))
    scores = {name: m.compute()[m.task.primary] for name, m in meters.items()}
    return scores, {k: v for k, v in stats.items() if v is not None}


def trivial_scores(bench: Benchmark, split: SplitData | None = None) -> dict[str, float]:
    """Each task's primary metric on ``split`` (validation) for its trivial predictor."""
    cpu = torch.device("cpu")
    train = read_stats(bench.tasks, open_split(bench, "train", cpu, train=False))
    val = open_split(bench, "val", cpu) if split is None else open_data(split, bench, "val", cpu)
    return trivial_scores_of(bench.tasks, train, val, bench.input_shape)[0]


def beats(task: Task, score: float, trivial: float) -> bool:
    """True when ``score`` is better than the ``trivial`` one by more than :data:`MARGIN`."""
    if not (math.isfinite(score) and math.isfinite(trivial)):
        return not math.isfinite(trivial) and math.isfinite(score)
    if task.higher_is_better:
        return score > trivial + MARGIN * abs(trivial)
    return score < trivial - MARGIN * abs(trivial)
