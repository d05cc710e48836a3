"""The Layout: which block instance each task runs at each depth, or that it skips it.

A Layout is the one type that flows through mtl-nas: search spaces produce it, the builder turns
it into a network, the study stores it as JSON and the exporter writes it into the ONNX metadata.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["LAYOUT_FORMAT", "LAYOUT_VERSION", "Layout", "LayoutError"]

LAYOUT_FORMAT = "mtl-nas/layout"
# 2: an optional width; 3: an optional peer family. Each is written only when it is used, so a
# full-width searched layout is still version 1, which every release reads.
LAYOUT_VERSION = 3
MAX_WIDTH = 4.0  # a channel multiplier beyond this is surely a mistake (a count, a percent)

Choice = int | None  # a block instance index, or None for "skip this block"


class LayoutError(ValueError):
    """A malformed Layout: the message names the task and depth at fault."""


def _canonical(rows: tuple[tuple[Choice, ...], ...]) -> tuple[tuple[Choice, ...], ...]:
    # Instance numbers are only labels for distinct weights at one depth, so renumber each
    # depth in order of first use; two layouts differing only in labels then compare equal.
    out = []
    for row in rows:
        relabel: dict[int, int] = {}
        out.append(tuple(None if c is None else relabel.setdefault(c, len(relabel)) for c in row))
    return tuple(out)


@dataclass(frozen=True)
class Layout:
    """Per depth and per task, the block instance the task runs there, or None to skip it.

    ``rows[d][t]`` is the choice of task ``tasks[t]`` at depth ``d``. Layouts are immutable,
    hashable and always stored in canonical form, so instance labels never matter for equality.
    ``width`` multiplies every channel count of the backbone the network is built from (1: the
    backbone as given); two layouts that differ only in width are different candidates.
    ``peer`` names a network of another family (``cross_stitch``, ``mtan``, ``mmoe``, or a
    user's ``package.module:function``, see :mod:`nas.model.peers`) built over these rows (its
    columns or its trunk) instead of the rows' own routing; empty for a searched layout.

    Example:
        >>> a = Layout(("seg", "depth"), ((0, 0), (3, None)))
        >>> a == Layout(("seg", "depth"), ((1, 1), (0, None)))
        True
        >>> a.is_tree()
        False
    """

    tasks: tuple[str, ...]
    rows: tuple[tuple[Choice, ...], ...]
    width: float = 1.0
    peer: str = ""

    def __post_init__(self) -> None:
        tasks, rows = self.tasks, self.rows
        width = self.width
        if not isinstance(self.peer, str):
            raise LayoutError(f"peer must be a family name (a string), got {self.peer!r}")
        if isinstance(width, bool) or not isinstance(width, (int, float)):
            raise LayoutError(f"width must be a number, got {width!r}")
        if not 0 < width <= MAX_WIDTH:
            raise LayoutError(
                f"width must be a channel multiplier in (0, {MAX_WIDTH:g}], got {width!r}"
            )
        object.__setattr__(self, "width", float(width))
        if isinstance(tasks, list):
            tasks = tuple(tasks)
        if not isinstance(tasks, tuple) or not tasks:
            raise LayoutError("a Layout needs at least one task name")
        for i, name in enumerate(tasks):
            if not isinstance(name, str) or not name:
                raise LayoutError(f"task {i}: name must be a non-empty string, got {name!r}")
        dupes = sorted({n for n in tasks if tasks.count(n) > 1})
        if dupes:
            raise LayoutError(f"task {dupes[0]!r}: the task names must be unique")
        if isinstance(rows, (str, bytes)) or not isinstance(rows, Sequence) or not rows:
            raise LayoutError("a Layout needs at least one depth (a list of rows)")
        clean: list[tuple[Choice, ...]] = []
        for d, row in enumerate(rows):
            if isinstance(row, (str, bytes)) or not isinstance(row, Sequence):
                raise LayoutError(f"depth {d}: expected a list of choices, got {row!r}")
            if len(row) != len(tasks):
                raise LayoutError(
                    f"depth {d}: {len(row)} choices for {len(tasks)} tasks {list(tasks)}"
                )
            for t, c in enumerate(row):
                if c is not None and (isinstance(c, bool) or not isinstance(c, int) or c < 0):
                    raise LayoutError(
                        f"task {tasks[t]!r}, depth {d}: choice must be an instance index >= 0"
                        f" or null (skip), got {c!r}"
                    )
            clean.append(tuple(row))
        object.__setattr__(self, "tasks", tasks)
        object.__setattr__(self, "rows", _canonical(tuple(clean)))

    # ----------------------------------------------------------------- constructors
    @classmethod
    def hard_sharing(cls, tasks: Sequence[str], depth: int) -> Layout:
        """All tasks run the same instance of every block: one trunk, T heads."""
        return cls(tuple(tasks), tuple((0,) * len(tasks) for _ in range(depth)))

    @classmethod
    def independent(cls, tasks: Sequence[str], depth: int) -> Layout:
        """Every task runs its own copy of every block: T separate networks."""
        return cls(tuple(tasks), tuple(tuple(range(len(tasks))) for _ in range(depth)))

    def scaled(self, width: float) -> Layout:
        """The same sharing at channel multiplier ``width`` (of the backbone as given)."""
        return Layout(self.tasks, self.rows, width, self.peer)

    @classmethod
    def from_groups(cls, tasks: Sequence[str], groups: Sequence[Sequence[int]]) -> Layout:
        """A layout from per-depth group labels (a branched network's partition per depth)."""
        return cls(tuple(tasks), tuple(tuple(row) for row in groups))

    # ----------------------------------------------------------------- queries
    @property
    def depth(self) -> int:
        """Number of block depths."""
        return len(self.rows)

    @property
    def num_tasks(self) -> int:
        """Number of tasks."""
        return len(self.tasks)

    def path(self, task: str) -> tuple[Choice, ...]:
        """The choices of one task, depth by depth."""
        t = self._index(task)
        return tuple(row[t] for row in self.rows)

    def is_tree(self) -> bool:
        """True for a branched layout: no skips, and groups only split further with depth."""
        for d, row in enumerate(self.rows):
            if any(c is None for c in row):
                return False
            if d == 0:
                continue
            prev = self.rows[d - 1]
            for i in range(self.num_tasks):
                for j in range(i + 1, self.num_tasks):
                    if row[i] == row[j] and prev[i] != prev[j]:
                        return False
        return True

    def used_blocks(self) -> tuple[tuple[int, int], ...]:
        """The (depth, instance) pairs some task runs, in depth order: the blocks to build."""
        return tuple(
            (d, inst)
            for d, row in enumerate(self.rows)
            for inst in sorted({c for c in row if c is not None})
        )

    def executions(self) -> tuple[tuple[int, int, tuple[Choice, ...]], ...]:
        """The block calls of one forward pass: (depth, instance, input prefix), each once.

        Tasks whose paths agree up to depth ``d`` feed the same tensor to depth ``d``, so a
        block call is identified by the depth, the instance and the path prefix before it.
        """
        seen: dict[tuple[int, int, tuple[Choice, ...]], None] = {}
        for d, row in enumerate(self.rows):
            for t, c in enumerate(row):
                if c is not None:
                    prefix = tuple(r[t] for r in self.rows[:d])
                    seen.setdefault((d, c, prefix), None)
        return tuple(seen)

    def summary(self) -> str:
        """One line, e.g. ``seg:0.0.0 | depth:0.1.-`` (``... @0.62x`` at width 0.62)."""
        paths = " | ".join(
            f"{name}:" + ".".join("-" if c is None else str(c) for c in self.path(name))
            for name in self.tasks
        )
        paths = paths if self.width == 1 else f"{paths} @{self.width:.3g}x"
        return f"{self.peer} over {paths}" if self.peer else paths

    # ----------------------------------------------------------------- serialisation
    def to_dict(self) -> dict[str, Any]:
        """The versioned JSON-ready form (version 1 at full width, which every release reads)."""
        out: dict[str, Any] = {
            "format": LAYOUT_FORMAT,
            "version": 3 if self.peer else 1 if self.width == 1 else 2,
            "tasks": list(self.tasks),
            "rows": [list(row) for row in self.rows],
        }
        if self.width != 1:
            out["width"] = self.width
        if self.peer:
            out["peer"] = self.peer
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Layout:
        """Read the form written by :meth:`to_dict`; raises LayoutError on anything else."""
        if not isinstance(data, Mapping):
            raise LayoutError(f"a Layout must be a JSON object, got {type(data).__name__}")
        if data.get("format") != LAYOUT_FORMAT:
            raise LayoutError(f"not a Layout: 'format' must be {LAYOUT_FORMAT!r}")
        if data.get("version") not in range(1, LAYOUT_VERSION + 1):
            raise LayoutError(
                f"Layout version {data.get('version')!r} is not supported (this mtl-nas reads"
                f" versions 1 to {LAYOUT_VERSION}); upgrade mtl-nas"
            )
        for key in ("tasks", "rows"):
            if key not in data:
                raise LayoutError(f"a Layout needs the key {key!r}")
        tasks, rows = data["tasks"], data["rows"]
        if not isinstance(tasks, list) or not isinstance(rows, list):
            raise LayoutError("'tasks' and 'rows' must be lists")
        width, peer = data.get("width", 1.0), data.get("peer", "")
        rows = tuple(tuple(r) if isinstance(r, list) else r for r in rows)
        return cls(tuple(tasks), rows, width, peer)

    def to_json(self) -> str:
        """Compact JSON text of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Layout:
        """Parse :meth:`to_json` output."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise LayoutError(f"a Layout must be JSON: {err}") from None
        return cls.from_dict(data)

    def _index(self, task: str) -> int:
        try:
            return self.tasks.index(task)
        except ValueError:
            raise LayoutError(f"task {task!r} is not in this layout {list(self.tasks)}") from None
