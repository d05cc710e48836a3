from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nas.core import Layout, LayoutError

TASKS = ("seg", "depth", "normal")


@st.composite
def layouts(draw: st.DrawFn, max_tasks: int = 4, max_depth: int = 5) -> Layout:
    n = draw(st.integers(1, max_tasks))
    tasks = tuple(f"t{i}" for i in range(n))
    depth = draw(st.integers(1, max_depth))
    choice = st.one_of(st.none(), st.integers(0, 5))
    rows = draw(st.lists(st.lists(choice, min_size=n, max_size=n), min_size=depth, max_size=depth))
    return Layout(tasks, tuple(tuple(r) for r in rows))


@given(layouts())
def test_dict_and_json_round_trip(layout: Layout) -> None:
    assert Layout.from_dict(layout.to_dict()) == layout
    assert Layout.from_dict(json.loads(json.dumps(layout.to_dict()))) == layout
    assert Layout.from_json(layout.to_json()) == layout
    assert hash(Layout.from_json(layout.to_json())) == hash(layout)


@given(layouts(), st.permutations(range(6)))
def test_relabelling_instances_gives_an_equal_layout(layout: Layout, perm: list[int]) -> None:
    relabelled = tuple(tuple(None if c is None else perm[c] for c in row) for row in layout.rows)
    assert Layout(layout.tasks, relabelled) == layout


@given(layouts())
def test_canonical_form_is_a_fixed_point(layout: Layout) -> None:
    assert Layout(layout.tasks, layout.rows).rows == layout.rows
    for row in layout.rows:
        used = [c for c in row if c is not None]
        firsts = list(dict.fromkeys(used))
        assert firsts == list(range(len(firsts)))


def test_different_sharing_is_not_equal() -> None:
    a = Layout(("x", "y"), ((0, 0), (0, 0)))
    b = Layout(("x", "y"), ((0, 0), (0, 1)))
    assert a != b
    assert len({a, b, Layout(("x", "y"), ((5, 5), (2, 2)))}) == 2


@pytest.mark.parametrize(
    ("tasks", "rows", "message"),
    [
        (("a", "b"), ((0,),), "depth 0: 1 choices for 2 tasks"),
        (("a", "b"), ((0, 0), (0, -1)), "task 'b', depth 1"),
        (("a", "b"), ((0, 0), ("x", 0)), "task 'a', depth 1"),
        (("a", "b"), ((0, 1.5),), "task 'b', depth 0"),
        (("a", "b"), ((True, 0),), "task 'a', depth 0"),
        (("a", "a"), ((0, 0),), "task 'a': the task names must be unique"),
        (("a", ""), ((0, 0),), "task 1: name must be a non-empty string"),
        ((), ((),), "at least one task"),
        (("a",), (), "at least one depth"),
        (("a",), (0,), "depth 0: expected a list"),
    ],
)
def test_validation_names_task_and_depth(tasks: tuple, rows: tuple, message: str) -> None:
    with pytest.raises(LayoutError, match=message.replace("(", r"\(")):
        Layout(tasks, rows)


@settings(max_examples=200)
@given(
    st.recursive(
        st.none() | st.integers() | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
    )
)
def test_from_dict_rejects_junk_with_layout_error_only(junk: object) -> None:
    for data in (junk, {"format": "mtl-nas/layout", "version": 1, "tasks": ["a"], "rows": junk}):
        try:
            layout = Layout.from_dict(data)  # type: ignore[arg-type]
        except LayoutError:  # anything else (IndexError, TypeError, ...) fails the test
            continue
        # Accepted: then it really was a layout of one task, row by row.
        assert isinstance(data, dict)
        rows = data["rows"]
        assert isinstance(rows, list) and rows and layout.depth == len(rows)
        for row in rows:
            assert isinstance(row, list) and len(row) == 1
            assert row[0] is None or (type(row[0]) is int and row[0] >= 0)


def test_from_dict_names_version_and_missing_keys() -> None:
    good = Layout.hard_sharing(TASKS, 2).to_dict()
    with pytest.raises(LayoutError, match="version 9 is not supported"):
        Layout.from_dict({**good, "version": 9})
    with pytest.raises(LayoutError, match="needs the key 'rows'"):
        Layout.from_dict({k: v for k, v in good.items() if k != "rows"})
    with pytest.raises(LayoutError, match="must be JSON"):
        Layout.from_json("{nope")


def test_extremes_and_tree() -> None:
    hard = Layout.hard_sharing(TASKS, 3)
    ind = Layout.independent(TASKS, 3)
    assert hard.rows == ((0, 0, 0),) * 3 and ind.rows == ((0, 1, 2),) * 3
    assert hard.is_tree() and ind.is_tree()
    assert Layout(TASKS, ((0, 0, 0), (0, 0, 1), (0, 1, 2))).is_tree()
    assert not Layout(TASKS, ((0, 0, 1), (0, 0, 0))).is_tree()  # branches merge again
    assert not Layout(TASKS, ((0, 0, 0), (0, None, 0))).is_tree()  # a skip


def test_executions_count_each_prefix_once() -> None:
    hard = Layout.hard_sharing(TASKS, 4)
    assert len(hard.executions()) == 4
    assert len(Layout.independent(TASKS, 4).executions()) == 12
    # a and b share depth 0; b skips depth 1, so depth 2's instance 0 sees two prefixes.
    lay = Layout(TASKS, ((0, 0, 0), (0, None, 0), (0, 0, None)))
    assert len(lay.executions()) == 1 + 1 + 2
    assert lay.used_blocks() == ((0, 0), (1, 0), (2, 0))
    assert lay.summary() == "seg:0.0.0 | depth:0.-.0 | normal:0.0.-"


def test_a_width_is_part_of_the_candidate_and_stored_only_when_not_one() -> None:
    full = Layout.hard_sharing(TASKS, 2)
    thin = full.scaled(0.625)
    assert thin != full and thin.rows == full.rows and thin.width == 0.625
    assert Layout.from_json(thin.to_json()) == thin
    # Full width is written as version 1, which every release reads; a width needs version 2.
    assert full.to_dict()["version"] == 1 and "width" not in full.to_dict()
    assert thin.to_dict()["version"] == 2 and thin.to_dict()["width"] == 0.625
    assert thin.summary() == f"{full.summary()} @0.625x"
    for bad in (0, -1.0, 4.5, True, "1"):
        with pytest.raises(LayoutError, match="width must be"):
            Layout(TASKS, full.rows, bad)  # type: ignore[arg-type]
