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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from nas.core._plugins import Catalog
from nas.data._split import BenchmarkError, Split, SplitData, check_dataset, check_split
from nas.data._tasks import Task, labelled
from nas.model.backbones._registry import BackboneSpec

__all__ = [
    "BENCHMARK_CATALOG",
    "Benchmark",
    "BenchmarkError",
    "Split",
    "SplitData",
    "load_benchmark",
    "register_benchmark",
]

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Benchmark:
    """A multi-task benchmark.

    Attributes:
        name: a short name, stored with every study.
        input_shape: one sample's shape, (C, H, W) for images or (F,) for vectors.
        tasks: the tasks, in output order.
        train, val, test: the splits; the search selects on ``val``. Each is a
            :class:`Split` (tensors, held on the device) or a map-style
            ``torch.utils.data.Dataset`` whose item is ``(input, {task: target})`` in a
            split's format without the batch axis (streamed through a DataLoader, or read into
            memory when it is small: see :mod:`nas.data._source`).
        backbone: the backbone this benchmark suggests (a study's ``--backbone`` overrides
            it); a small conv or MLP one fitted to the input when omitted.
        augment: a joint transform of one training sample, ``(input, targets, generator) ->
            (input, targets)`` (see :mod:`nas.data._augment`); never applied to val or test.
        val_is_test: validation is the test split (a published protocol without a held-out
            validation set, e.g. MTAN's): every search and confirm stage then warns that its
            test numbers are not held out.
    """

    name: str
    input_shape: tuple[int, ...]
    tasks: tuple[Task, ...]
    train: SplitData
    val: SplitData
    test: SplitData
    backbone: BackboneSpec | None = field(default=None)
    augment: Callable[..., Any] | None = field(default=None, compare=False)
    val_is_test: bool = False

    def protocol_warning(self) -> str | None:
        """The warning a search on this benchmark prints, or None."""
        if not self.val_is_test:
            return None
        return (
            f"warning: benchmark {self.name!r} validates on its test split (a protocol without "
            "a held-out validation set): the search chooses on the images the confirm stage "
            "tests, so its test numbers are not held out and compare only with numbers "
            "published under that protocol"
        )

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
        """Per task, the share of each resident split's samples that carry its label.

        A streamed split is left out (counting would read it whole); the search counts the
        training and validation labels as it reads them (``Problem.label_shares``).
        """
        return {
            t.name: {
                name: float(labelled(t, getattr(self, name).targets[t.name]).float().mean())
                for name in SPLITS
                if isinstance(getattr(self, name), Split)
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
        if self.augment is not None and not callable(self.augment):
            raise BenchmarkError(f"{where}: field 'augment' must be callable (or None)")
        for split_name in SPLITS:
            split = getattr(self, split_name)
            if isinstance(split, Dataset) and not isinstance(split, Split):
                check_dataset(f"{where}, split {split_name!r}", split, shape, self.tasks)
            else:
                check_split(f"{where}, split {split_name!r}", split, shape, self.tasks)
        return self


BENCHMARK_CATALOG: Catalog[Benchmark] = Catalog(
    "benchmark", Benchmark, BenchmarkError, refusal="{what} returned {got}, not a Benchmark"
)


def register_benchmark(name: str) -> Callable[[Callable[..., Benchmark]], Callable[..., Benchmark]]:
    """Decorator: make a benchmark factory ``fn(size=..., seed=..., ...)`` available by ``name``."""
    return BENCHMARK_CATALOG.register(name)


def benchmark_names() -> list[str]:
    """Names of the built-in and registered benchmarks."""
    return BENCHMARK_CATALOG.names()


def load_benchmark(spec: str, **options: Any) -> Benchmark:
    """Load and validate a benchmark by built-in name or ``package.module:function``.

    ``options`` (``size``, ``seed``, ``root``, ...) are passed on to the factory where its
    signature accepts them; None means the factory's default, and an option it does not take
    is an error.
    """
    try:
        bench = BENCHMARK_CATALOG.make(spec, options)
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
    return bench.validate()
