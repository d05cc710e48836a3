"""Benchmarks: inputs, tasks and train/val/test splits, checked when they are loaded.

A benchmark is a plain object; anyone can make one. Built-ins are registered by name, and a
user's own is named by import path, ``package.module:function``, with no change to mtl-nas::

    # my_bench.py
    def make(size="default", seed=0):
        return Benchmark(name="mine", input_shape=(8,), tasks=(...), train=..., val=..., test=...)

    mtlnas search --benchmark my_bench:make
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from nas.core.errors import UserError
from nas.core.plugins import Registry, call_with_options
from nas.data.tasks import IGNORE_INDEX, Task, labelled
from nas.model.backbones.registry import BackboneSpec

__all__ = ["Benchmark", "BenchmarkError", "Split", "load_benchmark", "register_benchmark"]

SPLITS = ("train", "val", "test")


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


@dataclass(frozen=True)
class Benchmark:
    """A multi-task benchmark.

    Attributes:
        name: a short name, stored with every study.
        input_shape: one sample's shape, (C, H, W) for images or (F,) for vectors.
        tasks: the tasks, in output order.
        train, val, test: the splits; the search selects on ``val``.
        backbone: the backbone this benchmark suggests (a study's ``--backbone`` overrides
            it); a small conv or MLP one fitted to the input when omitted.
    """

    name: str
    input_shape: tuple[int, ...]
    tasks: tuple[Task, ...]
    train: Split
    val: Split
    test: Split
    backbone: BackboneSpec | None = field(default=None)

    def task(self, name: str) -> Task:
        """The task called ``name``."""
        for t in self.tasks:
            if t.name == name:
                return t
        raise KeyError(name)

    @property
    def task_names(self) -> tuple[str, ...]:
        """Task names in output order."""
        return tuple(t.name for t in self.tasks)

    def backbone_spec(self) -> BackboneSpec:
        """The backbone this benchmark suggests, or ``auto`` (one that fits its inputs)."""
        return self.backbone if self.backbone is not None else BackboneSpec()

    def label_shares(self) -> dict[str, dict[str, float]]:
        """Per task, the share of each split's samples that carry its label."""
        return {
            t.name: {
                name: float(labelled(t, getattr(self, name).targets[t.name]).float().mean())
                for name in SPLITS
            }
            for t in self.tasks
        }

    def validate(self) -> Benchmark:
        """Check everything a search relies on; return self or raise BenchmarkError."""
        where = f"benchmark {self.name!r}"
        if not self.tasks:
            raise BenchmarkError(f"{where}: field 'tasks' is empty")
        names = [t.name for t in self.tasks]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise BenchmarkError(f"{where}, task {dupes[0]!r}: duplicate task name")
        shape = tuple(self.input_shape)
        if len(shape) not in (1, 3) or any(not isinstance(n, int) or n < 1 for n in shape):
            raise BenchmarkError(f"{where}: field 'input_shape' must be (C, H, W) or (F,)")
        if any(t.dense for t in self.tasks) and len(shape) != 3:
            raise BenchmarkError(f"{where}: dense tasks need image inputs (C, H, W)")
        for split_name in SPLITS:
            split = getattr(self, split_name)
            _check_split(f"{where}, split {split_name!r}", split, shape, self.tasks)
        return self


def _check_split(where: str, split: Split, shape: tuple[int, ...], tasks: tuple[Task, ...]) -> None:
    if not isinstance(split, Split):
        raise BenchmarkError(f"{where}: expected a Split, got {type(split).__name__}")
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
        _check_target(f"{where}, task {task.name!r}", task, y, len(x), shape)
        if not labelled(task, y).any():
            raise BenchmarkError(
                f"{where}, task {task.name!r}: no sample has a label; every split needs some "
                "labels for each task"
            )


def _check_target(where: str, task: Task, y: torch.Tensor, n: int, shape: tuple[int, ...]) -> None:
    hw = tuple(shape[1:])
    want = {
        "classification": (),
        "multilabel": (task.out,),
        "regression": (task.out,),
        "segmentation": hw,
        "depth": (1, *hw),
        "normals": (3, *hw),
        "edges": (1, *hw),
        "saliency": (1, *hw),
    }[task.kind]
    if not isinstance(y, torch.Tensor) or tuple(y.shape) != (n, *want):
        got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise BenchmarkError(f"{where}: field 'targets' has shape {got}, expected {(n, *want)}")
    integer = task.kind in ("classification", "segmentation")
    if integer and y.dtype != torch.int64:
        raise BenchmarkError(f"{where}: field 'targets' must be int64 class indices, not {y.dtype}")
    if not integer:
        if y.dtype != torch.float32:
            raise BenchmarkError(f"{where}: field 'targets' is {y.dtype}; give float32 (y.float())")
        if torch.isinf(y).any():
            raise BenchmarkError(f"{where}: field 'targets' holds infinite values")
        if task.kind not in ("multilabel", "regression") and torch.isnan(y).any():
            raise BenchmarkError(
                f"{where}: field 'targets' holds NaN (the unlabelled marker of a {task.kind} task "
                "is " + ("0" if task.kind in ("depth", "normals") else "-1") + ")"
            )
    if integer:
        ok = ((y >= 0) & (y < task.out)) | (y == IGNORE_INDEX)
        if not ok.all():
            raise BenchmarkError(
                f"{where}: field 'targets' has class indices outside "
                f"[0, {task.out}) (or -1 = unlabelled)"
            )
    if task.kind == "multilabel" and not ((y == 0) | (y == 1) | torch.isnan(y)).all():
        raise BenchmarkError(
            f"{where}: field 'targets' must be 0 or 1 (NaN = unlabelled) for a multilabel task"
        )
    if task.kind in ("edges", "saliency") and not ((y == 0) | (y == 1) | (y == -1)).all():
        raise BenchmarkError(
            f"{where}: field 'targets' must be 0 or 1 (or -1 = unlabelled) for a {task.kind} task"
        )
    if task.kind == "depth" and (y < 0).any():
        raise BenchmarkError(f"{where}: field 'targets' has negative depth (0 = unknown)")


_REGISTRY = Registry(
    "benchmark",
    {
        "digits": "nas.data.datasets.digits:digits",
        "nyuv2": "nas.data.datasets.nyuv2:nyuv2",
        "scenes": "nas.data.datasets.scenes:scenes",
    },
    BenchmarkError,
)


def register_benchmark(name: str) -> Callable[[Callable[..., Benchmark]], Callable[..., Benchmark]]:
    """Decorator: make a benchmark factory ``fn(size=..., seed=..., ...)`` available by ``name``."""
    return _REGISTRY.register(name)


def benchmark_names() -> list[str]:
    """Names of the built-in and registered benchmarks."""
    return _REGISTRY.names()


def load_benchmark(spec: str, **options: Any) -> Benchmark:
    """Load and validate a benchmark by built-in name or ``package.module:function``.

    ``options`` (``size``, ``seed``, ``root``, ...) are passed on to the factory where its
    signature accepts them; None means the factory's default, and an option it does not take
    is an error.
    """
    fn = _REGISTRY.resolve(spec)
    try:
        bench = call_with_options(f"benchmark {spec!r}", fn, options, BenchmarkError)
    except BenchmarkError:
        raise
    except Exception as err:
        if ":" not in spec:
            raise  # a built-in benchmark failing is our bug: keep the traceback
        # The user's own code: one line naming it, the error and where it was raised.
        frame = traceback.extract_tb(err.__traceback__)[-1]
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise BenchmarkError(
            f"benchmark {spec!r} failed: {type(err).__name__}: {first} "
            f"({Path(frame.filename).name}, line {frame.lineno})"
        ) from None
    if not isinstance(bench, Benchmark):
        raise BenchmarkError(f"benchmark {spec!r} returned {type(bench).__name__}, not a Benchmark")
    return bench.validate()
