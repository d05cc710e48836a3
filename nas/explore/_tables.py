"""Sharing-layout tables: every layout of a space trained with several seeds, stored in one file.

A table is the ground truth a search strategy is measured against (as NAS-Bench-201 is for
cell search): each layout's runs keep the per-epoch validation scores, the final validation and
test metrics, Δ_MTL against the independent networks trained with the same seed, the layout's
cost and its training time. ``mtlnas tabulate`` builds one; ``--evaluator table:FILE`` answers a
search's trials from it, one stored seed per query.

The file is JSON: ``{"format": "mtlnas-table", "version": 1, "meta": {...}, "layouts": [...]}``;
the fields are documented in ``docs/tables.md``.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nas.core._errors import UserError
from nas.core._layout import Layout
from nas.data._metrics import delta_mtl

__all__ = ["TABLE_FORMAT", "TABLE_VERSION", "Entry", "Run", "Table", "TableError", "load_table"]

TABLE_FORMAT = "mtlnas-table"
TABLE_VERSION = 1

Metrics = dict[str, dict[str, float]]


class TableError(UserError, ValueError):
    """A table file that is missing, not a table, or written by a newer mtl-nas."""


@dataclass(frozen=True)
class Run:
    """One training of one layout with one seed.

    Attributes:
        seed: the training seed (initial weights and batch order).
        curve: validation metrics after each epoch (epoch 1 first).
        val: final validation metrics.
        test: test metrics of the same weights.
        train_seconds: training time (scoring excluded), on the machine that built the table.
        val_delta: validation Δ_MTL against the same-seed independent networks (a fraction).
        test_delta: the same on the test split.
    """

    seed: int
    curve: tuple[Metrics, ...]
    val: Metrics
    test: Metrics
    train_seconds: float
    val_delta: float
    test_delta: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "seed": self.seed,
            "curve": list(self.curve),
            "val": self.val,
            "test": self.test,
            "train_seconds": round(self.train_seconds, 3),
            "val_delta": self.val_delta,
            "test_delta": self.test_delta,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Run:
        """Read :meth:`to_dict` output."""
        return cls(
            int(d["seed"]),
            tuple(d["curve"]),
            d["val"],
            d["test"],
            float(d["train_seconds"]),
            _float(d["val_delta"]),
            _float(d["test_delta"]),
        )


@dataclass(frozen=True)
class Entry:
    """One layout of the table, its cost per sample and its runs (one per seed)."""

    layout: Layout
    params: int
    flops: int
    runs: tuple[Run, ...]

    @property
    def val_delta(self) -> float:
        """Mean validation Δ_MTL over the seeds."""
        return statistics.fmean(r.val_delta for r in self.runs)

    @property
    def test_delta(self) -> float:
        """Mean test Δ_MTL over the seeds: the truth a strategy's answer is scored by."""
        return statistics.fmean(r.test_delta for r in self.runs)

    @property
    def test_sd(self) -> float:
        """Sample standard deviation of the test Δ_MTL over the seeds (0 with one seed)."""
        values = [r.test_delta for r in self.runs]
        return statistics.stdev(values) if len(values) > 1 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "layout": self.layout.to_dict(),
            "summary": self.layout.summary(),
            "params": self.params,
            "flops": self.flops,
            "runs": [r.to_dict() for r in self.runs],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Entry:
        """Read :meth:`to_dict` output."""
        runs = tuple(Run.from_dict(r) for r in d["runs"])
        return cls(Layout.from_dict(d["layout"]), int(d["params"]), int(d["flops"]), runs)


@dataclass(frozen=True)
class Table:
    """Every layout of a space with its runs; ``meta`` says how it was made.

    ``meta`` holds ``config`` (the study configuration it was trained with), ``space`` and
    ``space_options``, ``tasks`` (name, primary metric, higher is better), ``seeds``,
    ``independent`` and ``hard_sharing`` (entry indices), ``device`` and ``made_with``.
    """

    meta: Mapping[str, Any]
    entries: tuple[Entry, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {e.layout: i for i, e in enumerate(self.entries)})

    def find(self, layout: Layout) -> Entry | None:
        """The entry of ``layout`` (layouts compare canonically), or None."""
        index: dict[Layout, int] = self._index  # type: ignore[attr-defined]
        i = index.get(layout)
        return None if i is None else self.entries[i]

    @property
    def independent(self) -> Entry:
        """The independent networks' entry."""
        return self.entries[int(self.meta["independent"])]

    @property
    def hard_sharing(self) -> Entry:
        """The hard-sharing entry."""
        return self.entries[int(self.meta["hard_sharing"])]

    def ranked(self) -> list[Entry]:
        """Entries by mean test Δ_MTL, best first (the truth)."""
        return sorted(self.entries, key=lambda e: -e.test_delta)

    def rank_of(self, layout: Layout) -> int:
        """1-based rank of ``layout`` by mean test Δ_MTL (1 = the best)."""
        entry = self.find(layout)
        if entry is None:
            raise TableError(f"layout {layout.summary()} is not in the table")
        return 1 + sum(e.test_delta > entry.test_delta for e in self.entries)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, with the format and version first."""
        return {
            "format": TABLE_FORMAT,
            "version": TABLE_VERSION,
            "meta": dict(self.meta),
            "layouts": [e.to_dict() for e in self.entries],
        }

    def save(self, path: str | Path) -> None:
        """Write the table (JSON) through a temporary file, so a reader never sees half of it."""
        path = Path(path)
        tmp = path.with_name(path.name + ".part")
        tmp.write_text(json.dumps(_rounded(self.to_dict()), separators=(",", ":")) + "\n")
        tmp.replace(path)


def build_entries(
    layouts: Sequence[Layout],
    costs: Sequence[tuple[int, int]],
    raw: Mapping[tuple[int, int], Mapping[str, Any]],
    seeds: Sequence[int],
    independent: int,
    primary: Mapping[str, str],
    higher_is_better: Mapping[str, bool],
) -> tuple[Entry, ...]:
    """Entries from raw runs ``(layout index, seed) -> {curve, val, test, train_seconds}``.

    Δ_MTL of each run is against the independent networks' run with the same seed; a seed the
    independent networks lack is left out of every layout (no Δ without its baseline).
    """

    def prim(m: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
        return {t: float(m[t][k]) for t, k in primary.items()}

    entries = []
    for i, layout in enumerate(layouts):
        runs = []
        for seed in seeds:
            got, base = raw.get((i, seed)), raw.get((independent, seed))
            if got is None or base is None:
                continue
            runs.append(
                Run(
                    seed,
                    tuple(got["curve"]),
                    got["val"],
                    got["test"],
                    float(got["train_seconds"]),
                    delta_mtl(prim(got["val"]), prim(base["val"]), higher_is_better),
                    delta_mtl(prim(got["test"]), prim(base["test"]), higher_is_better),
                )
            )
        entries.append(Entry(layout, costs[i][0], costs[i][1], tuple(runs)))
    return tuple(entries)


def load_table(path: str | Path) -> Table:
    """Read a table file.

    Raises:
        TableError: no such file, not a table, a newer version, or a layout without runs.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise TableError(f"no table file {str(path)!r}; build one with: mtlnas tabulate") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise TableError(f"{str(path)!r} is not a table file (not JSON: {err})") from None
    if not isinstance(data, dict) or data.get("format") != TABLE_FORMAT:
        raise TableError(f"{str(path)!r} is not a table file (no format {TABLE_FORMAT!r})")
    if int(data.get("version", 0)) > TABLE_VERSION:
        raise TableError(
            f"{str(path)!r} is table version {data['version']}; this mtl-nas reads up to "
            f"{TABLE_VERSION}: upgrade mtl-nas"
        )
    entries = tuple(Entry.from_dict(e) for e in data["layouts"])
    empty = [e.layout.summary() for e in entries if not e.runs]
    if empty:
        raise TableError(f"{str(path)!r}: {len(empty)} layouts have no run, e.g. {empty[0]}")
    return Table(data["meta"], entries)


def _rounded(value: Any) -> Any:
    # Six significant digits: far below the seed noise, and a third of the file's size.
    if isinstance(value, float):
        return float(f"{value:.6g}") if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(v) for v in value]
    return value


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)  # a non-finite value is stored as null
