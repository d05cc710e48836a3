"""A split streamed from a map-style Dataset through a DataLoader (see :mod:`nas.data._source`).

Workers read items by key, check each item's shapes and types, and augment it from the
generator of (seed, epoch, index); the main process gets one batch ahead on the device. An item
that cannot be read or does not fit reaches the main process as one line naming the sample.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, default_collate

from nas.data._source import Augment, Batch, PlanItem, Source, Targets, sample_generator, sequential
from nas.data._split import BenchmarkError, Split, expected_targets, item_problem

__all__ = ["Streamed", "default_workers"]


@dataclass(frozen=True)
class _Bad:
    """An item that could not be read or does not fit, carried to the main process to raise.

    A worker's own exception would arrive wrapped in its traceback; this arrives as one line.
    """

    index: int
    problem: str


Item = tuple[int, torch.Tensor, Targets]


class _Keyed(Dataset[Item | _Bad]):
    """The user's Dataset read by key: an index, or (index, epoch, seed) to augment it.

    The key carries everything a worker needs, so persistent workers need no per-epoch state.
    Every item's shapes and types are checked here, in the worker, before it is batched.
    """

    def __init__(
        self,
        data: Dataset[Any],
        augment: Augment | None,
        shape: tuple[int, ...],
        tasks: tuple[Any, ...],
    ) -> None:
        self.data, self.augment, self.shape, self.tasks = data, augment, shape, tasks
        self.expected = expected_targets(shape, tasks)  # worked out once, checked per item

    def _one(self, key: int | tuple[int, int, int], read: Callable[[], Any]) -> Item | _Bad:
        i = key[0] if isinstance(key, tuple) else key
        try:
            item = read()
            if not (isinstance(item, tuple) and len(item) == 2):
                return _Bad(i, f"the item is a {type(item).__name__}, not (input, targets)")
            x, targets = item
            problem = item_problem(x, targets, self.shape, self.expected)
            if problem is not None:
                return _Bad(i, problem)
            if isinstance(key, tuple) and self.augment is not None:
                _, epoch, seed = key
                x, targets = self.augment(x, dict(targets), sample_generator(seed, epoch, i))
        except Exception as err:  # the user's loader: name the sample, keep its message
            first = str(err).strip().splitlines()[0] if str(err).strip() else ""
            return _Bad(i, f"{type(err).__name__}: {first}")
        return i, x, {name: targets[name] for name, _, _ in self.expected}

    def __getitem__(self, key: int | tuple[int, int, int]) -> Item | _Bad:
        i = key[0] if isinstance(key, tuple) else key
        return self._one(key, lambda: self.data[i])

    def __getitems__(self, keys: list[Any]) -> list[Item | _Bad]:
        many = getattr(self.data, "__getitems__", None)
        if many is None:
            return [self[k] for k in keys]
        # A data set that reads a batch at once (one file, one query) is asked for it at once.
        idx = [k[0] if isinstance(k, tuple) else k for k in keys]
        try:
            items = list(many(idx))
        except Exception as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else ""
            return [_Bad(idx[0], f"{type(err).__name__}: {first}")]
        return [self._one(k, _given(it)) for k, it in zip(keys, items, strict=True)]


def _given(item: Any) -> Callable[[], Any]:
    return lambda: item


def _collate(items: list[Item | _Bad]) -> Any:
    bad = next((it for it in items if isinstance(it, _Bad)), None)
    return bad if bad is not None else default_collate(items)


class _Plan:
    """The DataLoader's batch sampler: whatever plan the current pass set."""

    def __init__(self) -> None:
        self.keys: Iterable[list[Any]] = ()

    def __iter__(self) -> Iterator[list[Any]]:
        return iter(self.keys)


def default_workers() -> int:
    """Loader processes: ``MTLNAS_WORKERS``, else one per spare core up to 4 (0 on one core)."""
    given = os.environ.get("MTLNAS_WORKERS")
    if given is not None:
        try:
            return max(0, int(given))
        except ValueError:
            raise BenchmarkError(f"MTLNAS_WORKERS={given!r}: give a whole number") from None
    return min(4, max(0, (os.cpu_count() or 1) - 1))


class Streamed(Source):
    """A map-style Dataset read through a DataLoader, checked batch by batch.

    Args:
        data: items ``(input, {task: target})`` on the CPU, in a split's format without the
            batch axis.
        device: where batches go.
        where: the split in words, for errors ("benchmark 'x', split 'train'").
        input_shape: one input's shape; tasks: the tasks every item labels.
        workers: loader processes (None: :func:`default_workers`).
        augment: the training split's joint transform.
    """

    def __init__(
        self,
        data: Dataset[Any],
        device: torch.device,
        where: str,
        input_shape: tuple[int, ...],
        tasks: Iterable[Any],
        workers: int | None = None,
        augment: Augment | None = None,
    ) -> None:
        self.data, self.device, self.where = data, device, where
        self.plan_device = torch.device("cpu")
        self.input_shape, self.tasks = input_shape, tuple(tasks)
        self.workers = default_workers() if workers is None else workers
        self.augment = augment
        self._plan = _Plan()
        self._loader: DataLoader[Any] | None = None

    def __len__(self) -> int:
        return len(self.data)  # type: ignore[arg-type]

    def _make_loader(self) -> DataLoader[Any]:
        cuda = self.device.type == "cuda"
        return DataLoader(
            _Keyed(self.data, self.augment, self.input_shape, self.tasks),
            batch_sampler=self._plan,
            num_workers=self.workers,
            collate_fn=_collate,
            pin_memory=cuda,  # page-locked host memory: the copy to the GPU runs asynchronously
            persistent_workers=self.workers > 0,  # workers outlive a pass: no start-up per epoch
            prefetch_factor=4 if self.workers > 0 else None,
        )

    def batches(
        self, plan: Iterable[PlanItem], epoch: int | None = None, seed: int = 0
    ) -> Iterator[Batch]:
        """Stream ``plan``'s batches, one batch ahead on the device."""

        def keys(item: PlanItem) -> list[Any]:
            idx, ep = item if isinstance(item, tuple) else (item, epoch)
            if self.augment is None or ep is None:
                return list(idx.tolist())
            return [(i, ep, seed) for i in idx.tolist()]

        self._plan.keys = (keys(item) for item in plan)
        if self._loader is None:
            self._loader = self._make_loader()
        ready: Batch | None = None
        for got in self._loader:
            if isinstance(got, _Bad):
                raise BenchmarkError(f"{self.where}, sample {got.index}: {got.problem}")
            idx, x, targets = got
            batch = (idx, self._to_device(x), {k: self._to_device(v) for k, v in targets.items()})
            if ready is not None:
                yield ready
            ready = batch
        if ready is not None:
            yield ready

    def _to_device(self, t: torch.Tensor) -> torch.Tensor:
        return t.to(self.device, non_blocking=self.device.type == "cuda")

    def close(self) -> None:
        """Stop the loader's worker processes."""
        self._loader = None  # persistent workers exit when their iterator is collected

    def resident(self, batch_size: int = 256) -> Split:
        """The whole split read once into host tensors (for data that fits in memory)."""
        xs: list[torch.Tensor] = []
        ys: dict[str, list[torch.Tensor]] = {}
        device, self.device = self.device, torch.device("cpu")
        try:
            for _, x, targets in self.batches(sequential(len(self), batch_size)):  # on the CPU
                xs.append(x)
                for k, v in targets.items():
                    ys.setdefault(k, []).append(v)
        finally:
            self.device = device
        return Split(torch.cat(xs), {k: torch.cat(v) for k, v in ys.items()})
