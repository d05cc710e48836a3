"""A split of a benchmark, and the checks every split passes before a search relies on it.

A split is resident tensors (:class:`Split`) or a map-style ``torch.utils.data.Dataset`` whose
item is ``(input, {task: target})``; the target formats are :mod:`nas.data._tasks`'.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

import torch
from torch.utils.data import Dataset

from nas.core._errors import UserError
from nas.data._tasks import Task, labelled

__all__ = [
    "BenchmarkError",
    "Split",
    "SplitData",
    "check_dataset",
    "check_split",
    "expected_targets",
    "item_problem",
    "target_shape",
]


class BenchmarkError(UserError, ValueError):
    """A benchmark that does not fit: the message names the benchmark, split, task and field."""


@dataclass(frozen=True)
class Split:
    """Inputs ``x`` (N, *input_shape) and per-task targets (N, ...) in the task's format.

    ``sources`` optionally gives, per sample, the ids of the source records it was made from,
    so that anyone can check that no record feeds two splits.
    """

    x: torch.Tensor
    targets: Mapping[str, torch.Tensor]
    sources: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def to(self, device: torch.device | str) -> Split:
        """The split with every tensor on ``device``."""
        targets = {k: v.to(device) for k, v in self.targets.items()}
        return Split(self.x.to(device), targets, self.sources)


# A split: resident tensors, or a map-style Dataset of (input, {task: target}) items, streamed.
SplitData: TypeAlias = "Split | Dataset[Any]"


def target_shape(task: Task, input_shape: tuple[int, ...]) -> tuple[int, ...]:
    """One sample's target shape for ``task`` (see :mod:`nas.data._tasks`)."""
    return task.spec.target_shape(task.out, tuple(input_shape[1:]))


def _dtype(task: Task) -> torch.dtype:
    return task.spec.dtype


def check_dataset(
    where: str, data: Dataset[Any], shape: tuple[int, ...], tasks: tuple[Task, ...]
) -> None:
    """A Dataset split: its length, and its first item checked as a one-sample split.

    The other items are checked for shape and type as they are read (:func:`check_batch`);
    values are the data set's own responsibility (the built-in loaders check each file).
    """
    try:
        n = len(data)  # type: ignore[arg-type]
    except TypeError:
        raise BenchmarkError(
            f"{where}: a {type(data).__name__} has no len(); give a map-style Dataset"
        ) from None
    if n == 0:
        raise BenchmarkError(f"{where}: the split is empty")
    item = data[0]
    if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], Mapping)):
        raise BenchmarkError(
            f"{where}: item 0 is a {type(item).__name__}; an item must be (input, {{task: target}})"
        )
    x, targets = item
    if not isinstance(x, torch.Tensor):
        raise BenchmarkError(f"{where}: item 0's input is a {type(x).__name__}, not a tensor")
    if x.device.type != "cpu":  # loader workers must not touch the GPU; batches move later
        raise BenchmarkError(f"{where}: item 0 is on {x.device}; a Dataset gives CPU tensors")
    one = Split(x[None], {k: v[None] for k, v in targets.items() if isinstance(v, torch.Tensor)})
    missing = [t.name for t in tasks if t.name not in one.targets]
    if missing:
        raise BenchmarkError(f"{where}, task {missing[0]!r}: item 0 has no target tensor for it")
    check_split(f"{where}, item 0", one, shape, tasks, need_labels=False)


Expected = tuple[tuple[str, tuple[int, ...], torch.dtype], ...]


def expected_targets(shape: tuple[int, ...], tasks: tuple[Task, ...]) -> Expected:
    """Each task's name, target shape and type, for :func:`item_problem`."""
    return tuple((t.name, target_shape(t, shape), _dtype(t)) for t in tasks)


def item_problem(x: Any, targets: Any, shape: tuple[int, ...], expected: Expected) -> str | None:
    """What is wrong with one Dataset item's shapes and types, or None (values are not read).

    Called for every item a loader reads, so it does no more than compare shapes and types.
    """
    if not isinstance(x, torch.Tensor) or x.shape != shape or x.dtype != torch.float32:
        got = f"{x.dtype} of shape {tuple(x.shape)}" if isinstance(x, torch.Tensor) else x
        return f"the input is {got}, expected float32 of shape {shape}"
    if not isinstance(targets, Mapping):
        return f"the targets are a {type(targets).__name__}, expected {{task: target}}"
    for name, want, dtype in expected:
        y = targets.get(name)
        if not isinstance(y, torch.Tensor) or y.shape != want or y.dtype != dtype:
            got = f"{y.dtype} of shape {tuple(y.shape)}" if isinstance(y, torch.Tensor) else y
            return f"task {name!r}: the target is {got}, expected {dtype} of shape {want}"
    return None


def check_split(
    where: str,
    split: Split,
    shape: tuple[int, ...],
    tasks: tuple[Task, ...],
    need_labels: bool = True,
) -> None:
    """Every tensor of a resident split: shapes, types, values, and some labels per task."""
    if not isinstance(split, Split):
        raise BenchmarkError(
            f"{where}: expected a Split or a map-style torch Dataset, got {type(split).__name__}"
        )
    x = split.x
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise BenchmarkError(f"{where}: field 'x' must be a floating-point tensor")
    if x.dtype != torch.float32:  # the networks train in float32: another type fails every trial
        raise BenchmarkError(f"{where}: field 'x' is {x.dtype}; give float32 (x.float())")
    if len(x) == 0:
        raise BenchmarkError(f"{where}: the split is empty")
    if tuple(x.shape[1:]) != shape:
        raise BenchmarkError(
            f"{where}: field 'x' has samples of shape {tuple(x.shape[1:])}, "
            f"expected input_shape {shape}"
        )
    if not torch.isfinite(x).all():
        raise BenchmarkError(f"{where}: field 'x' holds NaN or infinite values")
    for task in tasks:
        if task.name not in split.targets:
            raise BenchmarkError(f"{where}, task {task.name!r}: no labels (field 'targets')")
        y = split.targets[task.name]
        check_target(f"{where}, task {task.name!r}", task, y, len(x), shape)
        if need_labels and not labelled(task, y).any():
            raise BenchmarkError(
                f"{where}, task {task.name!r}: no sample has a label; every split needs some "
                "labels for each task"
            )


def check_target(where: str, task: Task, y: torch.Tensor, n: int, shape: tuple[int, ...]) -> None:
    """One task's targets of a resident split: shape, type, then the kind's value checks."""
    want = target_shape(task, shape)
    if not isinstance(y, torch.Tensor) or tuple(y.shape) != (n, *want):
        got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise BenchmarkError(f"{where}: field 'targets' has shape {got}, expected {(n, *want)}")
    if y.dtype != task.spec.dtype:
        if task.spec.dtype == torch.int64:
            raise BenchmarkError(
                f"{where}: field 'targets' must be int64 class indices, not {y.dtype}"
            )
        raise BenchmarkError(f"{where}: field 'targets' is {y.dtype}; give float32 (y.float())")
    problem = task.spec.value_problem(y, task.out)
    if problem is not None:
        raise BenchmarkError(f"{where}: field 'targets' {problem}")
