"""What a task's training labels say: balanced weights, and the score of a trivial predictor.

A task that never beats its trivial predictor (the majority class, the mean target, a constant
edge probability) learns nothing: it adds the same to every trial's Δ_MTL, and the search
silently optimises the other tasks. Knowing each task's trivial score on the validation split
lets every trial record whether it did better, and lets ``show`` say when a task did not.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from nas.data.benchmark import Benchmark, Split
from nas.data.metrics import TaskMeter
from nas.data.tasks import BINARY_DENSE, IGNORE_INDEX, Task

__all__ = ["MARGIN", "balanced_weights", "beats", "resolve_weights", "trivial_scores"]

# A task "beats" its trivial predictor when its primary metric is better by more than 1% of the
# trivial score: a hair above it is still nothing learned.
MARGIN = 0.01


def balanced_weights(task: Task, y: torch.Tensor) -> tuple[float, ...]:
    """Weights from training labels ``y`` (batch first).

    Inverse class frequency (classification, segmentation), negatives over positives per label
    (multilabel), or the share of negative pixels as the positive weight (edges, saliency).
    """
    if task.kind in ("classification", "segmentation"):
        labels = y[y != IGNORE_INDEX]
        counts = torch.bincount(labels.flatten(), minlength=task.out).double()
        total = float(counts.sum())
        # Classes absent from training never appear as a target: their weight is moot (1).
        return tuple(total / (task.out * c) if c > 0 else 1.0 for c in counts.tolist())
    if task.kind == "multilabel":
        known = torch.isfinite(y)
        pos = torch.nan_to_num(y).double().sum(0)
        neg = known.double().sum(0) - pos
        return tuple(
            n / p if p > 0 else 1.0 for n, p in zip(neg.tolist(), pos.tolist(), strict=True)
        )
    if task.kind in BINARY_DENSE:
        valid = y >= 0
        rate = float((y[valid] > 0.5).double().mean()) if valid.any() else 0.5
        return (min(max(1.0 - rate, 0.01), 0.99),)
    raise ValueError(f"a {task.kind} task takes no weights")


def resolve_weights(bench: Benchmark) -> Benchmark:
    """``bench`` with each ``weights="balanced"`` replaced by numbers from its training split."""
    if not any(t.weights == "balanced" for t in bench.tasks):
        return bench
    tasks = tuple(
        dataclasses.replace(t, weights=balanced_weights(t, bench.train.targets[t.name]))
        if t.weights == "balanced"
        else t
        for t in bench.tasks
    )
    return dataclasses.replace(bench, tasks=tasks)


def _trivial_output(task: Task, y: torch.Tensor) -> torch.Tensor:
    """One sample's constant prediction, from training labels ``y`` (batch first)."""
    if task.kind in ("classification", "segmentation"):
        labels = y[y != IGNORE_INDEX]
        majority = int(torch.bincount(labels.flatten(), minlength=task.out).argmax())
        logits = torch.zeros(task.out)
        logits[majority] = 1.0
        return (
            logits
            if task.kind == "classification"
            else logits.view(-1, 1, 1).expand(-1, *y.shape[1:])
        )
    if task.kind == "multilabel":
        return torch.where(y.double().nanmean(0) > 0.5, 1.0, -1.0).float()
    if task.kind == "regression":
        return torch.nan_to_num(y.double().nanmean(0)).float()
    if task.kind == "depth":
        valid = y > 0
        mean = float(y[valid].double().mean()) if valid.any() else 1.0
        return torch.full(tuple(y.shape[1:]), mean)
    if task.kind == "normals":
        direction = y.double().mean(dim=(0, 2, 3))
        direction = direction / direction.norm().clamp_min(1e-12)
        out: torch.Tensor = direction.float().view(3, 1, 1).expand(3, *y.shape[2:])
        return out
    valid = y >= 0  # binary dense: the constant probability of the training positive rate
    rate = float((y[valid] > 0.5).double().mean()) if valid.any() else 0.5
    rate = min(max(rate, 1e-4), 1 - 1e-4)
    return torch.full(tuple(y.shape[1:]), math.log(rate / (1 - rate)))


def trivial_scores(bench: Benchmark, split: Split | None = None) -> dict[str, float]:
    """Each task's primary metric on ``split`` (validation) for its trivial predictor."""
    split = split or bench.val
    scores = {}
    for task in bench.tasks:
        one = _trivial_output(task, bench.train.targets[task.name])
        meter = TaskMeter(task)
        target = split.targets[task.name]
        for start in range(0, len(target), 256):
            y = target[start : start + 256]
            meter.update(one.expand(len(y), *one.shape), y)
        scores[task.name] = meter.compute()[task.primary]
    return scores


def beats(task: Task, score: float, trivial: float) -> bool:
    """True when ``score`` is better than the ``trivial`` one by more than :data:`MARGIN`."""
    if not (math.isfinite(score) and math.isfinite(trivial)):
        return not math.isfinite(trivial) and math.isfinite(score)
    if task.higher_is_better:
        return score > trivial + MARGIN * abs(trivial)
    return score < trivial - MARGIN * abs(trivial)
