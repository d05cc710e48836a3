"""The layout drawing's geometry: no group hides another, every task's path is its own."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from nas.app._plots.drawing import Tree, grid_geometry, tree_geometry
from nas.app._plots.figures import draw_layout
from nas.core import Layout

TASKS = ["segmentation", "depth", "normals", "count", "edges", "parts"]


@st.composite
def trees(draw: st.DrawFn) -> Layout:
    """Random branched layouts: each depth splits some groups of the depth before."""
    n = draw(st.integers(1, 6))
    depth = draw(st.integers(1, 7))
    start = st.lists(st.integers(0, 2), min_size=n, max_size=n)
    groups = [0] * n if draw(st.booleans()) else draw(start)
    rows = []
    for _ in range(depth):
        # A group splits by a fresh label per (old group, coin): groups only ever split.
        coins = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
        groups = [g * 2 + c for g, c in zip(groups, coins, strict=True)]
        rows.append(tuple(groups))
    return Layout.from_groups(TASKS[:n], rows)


@st.composite
def select_skip(draw: st.DrawFn) -> Layout:
    """Random AdaShare-style layouts: each task runs one of K copies of a block, or skips it."""
    n = draw(st.integers(1, 6))
    depth = draw(st.integers(1, 7))
    k = draw(st.integers(1, 3))
    choice = st.one_of(st.none(), st.integers(0, k - 1))
    rows = [tuple(draw(st.lists(choice, min_size=n, max_size=n))) for _ in range(depth)]
    return Layout(tuple(TASKS[:n]), tuple(rows))


def path_in_drawing(geo: Tree, task: str) -> list[tuple[int, int]]:
    """Follow the drawn edges from the task's labelled leaf back to the input."""
    node: tuple[int, int] | None = geo.leaf[task]
    seen = []
    while node is not None:
        seen.append(node)
        node = geo.parent[node]
    return seen[::-1]


@given(trees())
@settings(max_examples=300, deadline=None)
def test_distinct_groups_at_one_depth_never_share_a_position(layout: Layout) -> None:
    geo = tree_geometry(layout)
    for d in range(layout.depth):
        ys = [y for (dd, _), (_, y) in geo.nodes.items() if dd == d]
        assert len(ys) == len(set(ys))
    # Each group is a contiguous block of task rows, and its node lies within that block.
    for (d, g), (_, y) in geo.nodes.items():
        rows = sorted(geo.rows[t] for t in layout.tasks if layout.path(t)[d] == g)
        assert rows == list(range(rows[0], rows[-1] + 1))
        assert rows[0] <= y <= rows[-1]


@given(trees())
@settings(max_examples=300, deadline=None)
def test_every_task_path_visits_exactly_its_layout_row(layout: Layout) -> None:
    geo = tree_geometry(layout)
    assert sorted(geo.rows.values()) == list(range(layout.num_tasks))  # one row per task
    for task in layout.tasks:
        wanted = [(d, c) for d, c in enumerate(layout.path(task))]
        assert path_in_drawing(geo, task) == wanted


@given(select_skip())
@settings(max_examples=300, deadline=None)
def test_the_grid_shows_each_choice_and_who_shares_it(layout: Layout) -> None:
    geo = grid_geometry(layout)
    assert sorted(geo.rows.values()) == list(range(layout.num_tasks))
    for task in layout.tasks:
        assert [geo.cells[(task, d)] for d in range(layout.depth)] == list(layout.path(task))
    for (d, inst), rows in geo.joins.items():
        sharing = [t for t in layout.tasks if layout.path(t)[d] == inst]
        assert rows == sorted(geo.rows[t] for t in sharing)
        assert geo.sizes[(d, inst)] == len(sharing)


def test_the_drawing_that_once_hid_a_branch() -> None:
    # segmentation and normals share all six blocks, depth leaves after block 2, count after
    # block 1: drawn in task order, the {segmentation, normals} node sat on depth's own node.
    layout = Layout.from_groups(
        ["segmentation", "depth", "normals", "count"],
        [(0, 0, 0, 0), (0, 0, 0, 0), (0, 0, 0, 1), (0, 1, 0, 2), (0, 1, 0, 2), (0, 1, 0, 2)],
    )
    geo = tree_geometry(layout)
    for d in (3, 4, 5):
        shared = geo.nodes[(d, layout.path("segmentation")[d])]  # type: ignore[index]
        own = geo.nodes[(d, layout.path("depth")[d])]  # type: ignore[index]
        assert shared != own


@given(st.one_of(trees(), select_skip()))
@settings(max_examples=8, deadline=None)
def test_the_png_carries_the_full_summary(layout: Layout) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = draw_layout(layout, Path(folder) / "l.png", "a title " * 30)
        with Image.open(path) as image:
            assert image.info["Description"] == layout.summary()
            assert image.width < 2000  # a long title wraps instead of widening the figure
