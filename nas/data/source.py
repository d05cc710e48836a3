"""Reading a split in batches: tensors resident on the device, or a torch Dataset streamed.

Every part of mtl-nas that reads data (training, evaluation, the label statistics, batch-norm
recalibration, AdaShare's policy, affinity) asks a :class:`Source` for the batches of a *plan*,
an iterable of index tensors, and gets ``(indices, inputs, targets)`` on the device. So the same
loop serves a split held as one tensor per task (:class:`Resident`: indexing on the device, no
copies) and a map-style ``torch.utils.data.Dataset`` of any size (:class:`Streamed`: a
DataLoader with workers, pinned memory, persistent workers and one batch prefetched to the
device), and both give the same batches for the same plan.

Augmentation (training only) draws from a generator seeded by (seed, epoch, sample index), so a
sample's augmented copy is the same for any worker count, in either mode and after a resume.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, default_collate

from nas.data.split import BenchmarkError, Split, SplitData, item_problem

__all__ = [
    "Augment",
    "Batch",
    "Resident",
    "Source",
    "SplitDataset",
    "Streamed",
    "sample_generator",
    "sequential",
]

Targets = dict[str, torch.Tensor]
Batch = tuple[torch.Tensor, torch.Tensor, Targets]  # (sample indices, inputs, targets)
# A plan's item: the indices of one batch, or (indices, the epoch that augments them).
PlanItem = torch.Tensor | tuple[torch.Tensor, int]
# One sample's joint transform: (input, targets, generator) -> (input, targets), same shapes.
Augment = Callable[[torch.Tensor, Targets, torch.Generator], tuple[torch.Tensor, Targets]]


def sample_generator(seed: int, epoch: int, index: int) -> torch.Generator:
    """The generator of one sample's augmentation in one epoch: a function of the three only."""
    key = ((seed * 1_000_003 + epoch) * 1_000_000_007 + index) % (2**63 - 1)
    return torch.Generator().manual_seed(key)


def sequential(
    n: int, batch_size: int, device: torch.device | str = "cpu"
) -> Iterator[torch.Tensor]:
    """The plan that reads samples 0..n-1 in order (index tensors on ``device``)."""
    for start in range(0, n, batch_size):
        yield torch.arange(start, min(start + batch_size, n), device=device)


class SplitDataset(Dataset[tuple[torch.Tensor, Targets]]):
    """A resident :class:`Split` read as a map-style Dataset (to stream it, e.g. to compare)."""

    def __init__(self, split: Split) -> None:
        self.split = split

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, Targets]:
        return self.split.x[i], {k: v[i] for k, v in self.split.targets.items()}


class Source:
    """One split, read batch by batch on ``device``.

    Attributes:
        device: where batches arrive.
        plan_device: where a plan's index tensors are best made: the device for resident data
            (indexing there needs no copy, and a copy from host memory would stall the GPU's
            queue), the CPU for streamed data (the loader reads them on the host).
        input_shape: one input's shape.
    """

    device: torch.device
    plan_device: torch.device
    input_shape: tuple[int, ...]

    def __len__(self) -> int:
        raise NotImplementedError

    def batches(
        self, plan: Iterable[PlanItem], epoch: int | None = None, seed: int = 0
    ) -> Iterator[Batch]:
        """The batches of ``plan`` on the device, in order.

        Augmented (where the source augments) when ``epoch`` is given, or per batch when a plan
        item is ``(indices, epoch)``: sample ``i`` of epoch ``e`` from the generator of
        ``(seed, e, i)``.
        """
        raise NotImplementedError

    def close(self) -> None:
        """Release worker processes (a no-op for resident data)."""


class Resident(Source):
    """A split held on the device; a batch is an index into its tensors."""

    def __init__(self, split: Split, device: torch.device, augment: Augment | None = None) -> None:
        self.split = split.to(device)
        self.device = self.plan_device = device
        self.input_shape = tuple(split.x.shape[1:])
        self.augment = augment

    def __len__(self) -> int:
        return len(self.split)

    def batches(
        self, plan: Iterable[PlanItem], epoch: int | None = None, seed: int = 0
    ) -> Iterator[Batch]:
        """Index the resident tensors; augment sample by sample on the device."""
        for item in plan:
            idx, ep = item if isinstance(item, tuple) else (item, epoch)
            idx = idx.to(self.device)  # a no-op for a plan made on plan_device
            x = self.split.x[idx]
            targets = {k: v[idx] for k, v in self.split.targets.items()}
            if self.augment is not None and ep is not None:
                x, targets = _augment_batch(self.augment, idx, x, targets, seed, ep)
            yield idx, x, targets


def _augment_batch(
    augment: Augment, idx: torch.Tensor, x: torch.Tensor, targets: Targets, seed: int, epoch: int
) -> tuple[torch.Tensor, Targets]:
    xs, ts = [], []
    for j, i in enumerate(idx.tolist()):
        one = {k: v[j] for k, v in targets.items()}
        xj, tj = augment(x[j], one, sample_generator(seed, epoch, i))
        xs.append(xj)
        ts.append(tj)
    return torch.stack(xs), {k: torch.stack([t[k] for t in ts]) for k in targets}


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

    def _one(self, key: int | tuple[int, int, int], read: Callable[[], Any]) -> Item | _Bad:
        i = key[0] if isinstance(key, tuple) else key
        try:
            item = read()
            if not (isinstance(item, tuple) and len(item) == 2):
                return _Bad(i, f"the item is a {type(item).__name__}, not (input, targets)")
            x, targets = item
            problem = item_problem(x, targets, self.shape, self.tasks)
            if problem is not None:
                return _Bad(i, problem)
            if isinstance(key, tuple) and self.augment is not None:
                _, epoch, seed = key
                x, targets = self.augment(x, dict(targets), sample_generator(seed, epoch, i))
        except Exception as err:  # the user's loader: name the sample, keep its message
            first = str(err).strip().splitlines()[0] if str(err).strip() else ""
            return _Bad(i, f"{type(err).__name__}: {first}")
        return i, x, {t.name: targets[t.name] for t in self.tasks}

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


def item_bytes(data: SplitData) -> int:
    """Bytes one sample takes as tensors (input and every target)."""
    if isinstance(data, Split):
        return sum(t[0].numel() * t.element_size() for t in (data.x, *data.targets.values()))
    x, targets = data[0]
    return int(sum(t.numel() * t.element_size() for t in (x, *dict(targets).values())))


def _mode() -> str:
    mode = os.environ.get("MTLNAS_DATA", "auto")
    if mode not in ("auto", "resident", "streamed"):
        raise BenchmarkError(f"MTLNAS_DATA={mode!r}: choose auto, resident or streamed")
    return mode


def resident_budget(device: torch.device) -> int:
    """Bytes a Dataset split may take to be read into memory (``auto``): 2 GiB by default.

    ``MTLNAS_RESIDENT_GB`` sets it; on CUDA it is at most a quarter of the free device memory,
    leaving the rest to the networks.
    """
    given = os.environ.get("MTLNAS_RESIDENT_GB", "2")
    try:
        budget = int(float(given) * 2**30)
    except ValueError:
        raise BenchmarkError(f"MTLNAS_RESIDENT_GB={given!r}: give a number of GiB") from None
    if device.type == "cuda":
        budget = min(budget, torch.cuda.mem_get_info(device)[0] // 4)
    return budget


def open_data(
    data: SplitData,
    bench: Any,
    name: str,
    device: torch.device,
    augment: Augment | None = None,
    mode: str | None = None,
) -> Source:
    """A :class:`Source` for ``data``, split ``name`` of benchmark ``bench``.

    A :class:`Split` stays resident unless ``mode`` (default ``MTLNAS_DATA``, else ``auto``) is
    ``streamed``; a Dataset is streamed unless ``mode`` is ``resident``, or ``auto`` and the
    split fits :func:`resident_budget`, when it is read into memory once.
    """
    mode = mode or _mode()
    where = f"benchmark {bench.name!r}, split {name!r}"
    if isinstance(data, Split):
        if mode != "streamed":
            return Resident(data, device, augment)
        data = SplitDataset(data)
    stream = Streamed(data, device, where, tuple(bench.input_shape), bench.tasks, augment=augment)
    if mode == "streamed":
        return stream
    if mode == "auto" and len(stream) * item_bytes(data) > resident_budget(device):
        return stream
    split = stream.resident()
    stream.close()
    return Resident(split, device, augment)


def open_split(
    bench: Any, name: str, device: torch.device, train: bool = True, mode: str | None = None
) -> Source:
    """Split ``name`` of ``bench`` as a :class:`Source`; the training split augments."""
    augment = bench.augment if name == "train" and train else None
    return open_data(getattr(bench, name), bench, name, device, augment, mode)
