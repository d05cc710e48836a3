"""Where each part of a layout drawing goes: pure geometry, no plotting (so it can be tested).

A tree is drawn with its tasks ordered so that every group, at every depth, is a contiguous
block of rows (sorting tasks by their path does it: in a tree a group fixes its whole prefix),
and each group's node sits at the mean of its own block. Blocks of one depth are disjoint
intervals, so their means differ: no node can hide another. A select/skip layout is a grid, one
row per task and one cell per block; cells that run the same block instance are joined.
"""

from __future__ import annotations

from dataclasses import dataclass

from nas.core._layout import Layout

__all__ = ["Grid", "Tree", "grid_geometry", "task_order", "tree_geometry"]

Node = tuple[int, int]  # (depth, group label at that depth)


@dataclass(frozen=True)
class Tree:
    """A tree layout's drawing.

    Attributes:
        rows: each task's row (0 = top).
        nodes: each group's position ``(x, y)``, keyed by (depth, group label).
        sizes: how many tasks each group serves.
        parent: each group's parent group (None at depth 0: the shared input).
        leaf: each task's last group (its line then runs to its own row, labelled).
    """

    rows: dict[str, int]
    nodes: dict[Node, tuple[float, float]]
    sizes: dict[Node, int]
    parent: dict[Node, Node | None]
    leaf: dict[str, Node]


@dataclass(frozen=True)
class Grid:
    """A select/skip layout's drawing.

    Attributes:
        rows: each task's row (0 = top).
        cells: (task, depth) -> the block instance that task runs there, or None (skipped).
        sizes: (depth, instance) -> how many tasks run that block instance.
        joins: (depth, instance) -> the rows of the tasks sharing it (joined by a line).
    """

    rows: dict[str, int]
    cells: dict[tuple[str, int], int | None]
    sizes: dict[Node, int]
    joins: dict[Node, list[int]]


def task_order(layout: Layout) -> list[str]:
    """Tasks sorted by their paths: every group of a tree is then a contiguous run of tasks."""
    key = {t: tuple(-1 if c is None else c for c in layout.path(t)) for t in layout.tasks}
    return sorted(layout.tasks, key=lambda t: (key[t], layout.tasks.index(t)))


def tree_geometry(layout: Layout) -> Tree:
    """Positions for a tree layout's nodes, edges and labelled leaves.

    Raises:
        ValueError: the layout is not a tree (use :func:`grid_geometry`).
    """
    if not layout.is_tree():
        raise ValueError("not a tree layout: draw it as a grid")
    rows = {t: i for i, t in enumerate(task_order(layout))}
    nodes: dict[Node, tuple[float, float]] = {}
    sizes: dict[Node, int] = {}
    parent: dict[Node, Node | None] = {}
    for d in range(layout.depth):
        members: dict[int, list[str]] = {}
        for t in layout.tasks:
            choice = layout.path(t)[d]
            assert choice is not None  # a tree has no skips
            members.setdefault(choice, []).append(t)
        for g, tasks in members.items():
            nodes[(d, g)] = (float(d), sum(rows[t] for t in tasks) / len(tasks))
            sizes[(d, g)] = len(tasks)
            before = layout.path(tasks[0])[d - 1] if d else None
            parent[(d, g)] = None if before is None else (d - 1, before)
    leaf: dict[str, Node] = {}
    for t in layout.tasks:
        last = layout.path(t)[-1]
        assert last is not None
        leaf[t] = (layout.depth - 1, last)
    return Tree(rows, nodes, sizes, parent, leaf)


def grid_geometry(layout: Layout) -> Grid:
    """Cells for a select/skip layout: which instance each task runs at each block, or a skip."""
    rows = {t: i for i, t in enumerate(task_order(layout))}
    cells: dict[tuple[str, int], int | None] = {}
    joins: dict[Node, list[int]] = {}
    for t in layout.tasks:
        for d, choice in enumerate(layout.path(t)):
            cells[(t, d)] = choice
            if choice is not None:
                joins.setdefault((d, choice), []).append(rows[t])
    joins = {k: sorted(v) for k, v in joins.items()}
    sizes = {k: len(v) for k, v in joins.items()}
    return Grid(rows, cells, sizes, joins)
