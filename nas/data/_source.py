"""Reading a split in batches: tensors resident on the device, or a torch Dataset streamed.

Every part of mtl-nas that reads data (training, evaluation, the label statistics, batch-norm
recalibration, AdaShare's policy, affinity) asks a :class:`Source` for the batches of a *plan*,
an iterable of index tensors, and gets ``(indices, inputs, targets)`` on the device. So the same
loop serves a split held as one tensor per task (:class:`Resident`: indexing on the device, no
copies) and a map-style ``torch.utils.data.Dataset`` of any size (:class:`Streamed`: a
DataLoader with workers, pinned memory, persistent workers and one batch prefetched to the
device; in :mod:`nas.data._streamed`), and both give the same batches for the same plan.

Augmentation (training only) draws from a generator seeded by (seed, epoch, sample index), so a
sample's augmented copy is the same for any worker count, in either mode and after a resume.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch
from torch.utils.data import Dataset

from nas.data._split import BenchmarkError, Split, SplitData

__all__ = [
    "Augment",
    "Batch",
    "Resident",
    "Source",
    "SplitDataset",
    "open_data",
    "open_split",
    "resident_budget",
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
    from nas.data._streamed import Streamed  # it builds on Source: imported here, not above

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
