"""Helpers shared by the built-in benchmarks."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from nas.data._benchmark import BenchmarkError, Split

SIZE_NAMES = ("tiny", "small", "default")


def split_sizes(name: str, size: str, table: Mapping[str, tuple[int, int, int]]) -> tuple[int, ...]:
    """(train, val, test) sample counts for a size name."""
    if size not in table:
        raise BenchmarkError(
            f"benchmark {name!r}: unknown size {size!r}; choose one of {list(table)}"
        )
    return table[size]


def to_split(
    x: np.ndarray, targets: Mapping[str, np.ndarray], sources: np.ndarray | None = None
) -> Split:
    """A Split of float32 inputs and int64/float32 targets."""

    def convert(a: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(np.ascontiguousarray(a))
        return t.long() if np.issubdtype(a.dtype, np.integer) else t.float()

    return Split(
        convert(x.astype(np.float32)),
        {k: convert(v) for k, v in targets.items()},
        None if sources is None else convert(sources),
    )
