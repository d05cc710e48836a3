"""Benchmarks from partly labelled data: merged labelled sets, and the few-labels regime.

Real multi-task data is rarely labelled for every task on every sample. Each task kind marks an
unlabelled target inside the target (:mod:`nas.data._tasks`), so merging sets labelled for different
tasks, or hiding labels to study the few-labels regime, is only a matter of filling markers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch.utils.data import Dataset

from nas.data._benchmark import SPLITS, Benchmark, BenchmarkError, Split
from nas.data._split import SplitData
from nas.data._tasks import Task, labelled
from nas.model.backbones._registry import BackboneSpec

__all__ = ["keep_labels", "keep_tasks", "merge_benchmarks", "merge_splits", "unlabelled"]


def unlabelled(task: Task, n: int, input_shape: Sequence[int]) -> torch.Tensor:
    """Targets for ``n`` samples that carry no label for ``task`` (its kind's marker)."""
    return task.spec.unlabelled(task.out, n, tuple(input_shape[1:]))


def merge_splits(tasks: Sequence[Task], input_shape: Sequence[int], *parts: Split) -> Split:
    """One split holding every part's samples; a task a part has no labels for is unlabelled."""
    targets = {
        t.name: torch.cat(
            [p.targets[t.name] if t.name in p.targets else unlabelled(t, len(p), input_shape)
             for p in parts]
        )
        for t in tasks
    }  # fmt: skip
    return Split(torch.cat([p.x for p in parts]), targets)


def merge_benchmarks(
    name: str,
    input_shape: Sequence[int],
    tasks: Sequence[Task],
    parts: Sequence[Mapping[str, Split]],
    backbone: BackboneSpec | None = None,
) -> Benchmark:
    """A benchmark from labelled sets with the same inputs, each labelled for some tasks.

    Args:
        name: the benchmark's name.
        input_shape: every part's sample shape.
        tasks: the union of the parts' tasks.
        parts: one ``{"train": Split, "val": Split, "test": Split}`` per labelled set; a split
            holds targets for the tasks that set is labelled for.
        backbone: the suggested backbone, or None for the default.
    """
    train, val, test = (merge_splits(tasks, input_shape, *(p[s] for p in parts)) for s in SPLITS)
    return Benchmark(name, tuple(input_shape), tuple(tasks), train, val, test, backbone=backbone)


def keep_labels(bench: Benchmark, shares: Mapping[str, float], seed: int) -> Benchmark:
    """``bench`` with only ``shares[task]`` of each named task's training labels kept.

    The kept samples are drawn per task with a generator seeded from ``seed`` and the task's
    position, so a study's labels are the same on every resume. Validation and test keep every
    label: scores stay comparable with the fully labelled benchmark.

    Raises:
        BenchmarkError: a task name the benchmark does not have.
    """
    names = [t.name for t in bench.tasks]
    unknown = sorted(set(shares) - set(names))
    if unknown:
        raise BenchmarkError(
            f"--labels names tasks {unknown}; benchmark {bench.name!r} has {names}"
        )
    train = bench.train
    if not isinstance(train, Split):
        raise BenchmarkError(
            f"--labels needs a training split held as tensors; benchmark {bench.name!r} "
            "streams a Dataset (hide its labels in the Dataset itself)"
        )
    targets = dict(train.targets)
    for i, task in enumerate(bench.tasks):
        if task.name not in shares:
            continue
        g = torch.Generator().manual_seed(seed * 1_000 + i)
        have = labelled(task, targets[task.name]).nonzero().flatten()
        keep = max(1, round(shares[task.name] * len(have)))
        dropped = have[torch.randperm(len(have), generator=g)[keep:]]
        y = targets[task.name].clone()
        y[dropped] = unlabelled(task, len(dropped), bench.input_shape)
        targets[task.name] = y
    return dataclasses.replace(bench, train=dataclasses.replace(train, targets=targets))


class TaskView(Dataset[tuple[torch.Tensor, dict[str, torch.Tensor]]]):
    """A Dataset whose items keep only the targets of ``names``."""

    def __init__(self, data: Dataset[Any], names: Sequence[str]) -> None:
        self.data, self.names = data, list(names)

    def __len__(self) -> int:
        return len(self.data)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        x, targets = self.data[i]
        return x, {n: targets[n] for n in self.names}


def keep_tasks(bench: Benchmark, names: Sequence[str]) -> Benchmark:
    """``bench`` with only the tasks ``names``, in the benchmark's own order.

    Raises:
        BenchmarkError: a task name the benchmark does not have.
    """
    have = [t.name for t in bench.tasks]
    unknown = [n for n in names if n not in have]
    if unknown:
        raise BenchmarkError(f"--tasks names tasks {unknown}; benchmark {bench.name!r} has {have}")
    tasks = tuple(t for t in bench.tasks if t.name in names)

    def only(split: SplitData) -> SplitData:
        if not isinstance(split, Split):
            return TaskView(split, [t.name for t in tasks])
        kept = {t.name: split.targets[t.name] for t in tasks}
        return dataclasses.replace(split, targets=kept)

    return dataclasses.replace(
        bench, tasks=tasks, train=only(bench.train), val=only(bench.val), test=only(bench.test)
    )
