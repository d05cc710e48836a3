"""The confirmed report: a baseline as the answer, or ahead of it on validation, is said."""

from __future__ import annotations

from nas.app._views import confirmed_table
from nas.core import Layout
from nas.study import ConfirmedResult, ConfirmedRow
from nas.study._outcome.confirmed import TaskInfo
from nas.study._outcome.stats import summarize

_LAYOUT = Layout.independent(["a", "b"], 2)  # what the rows say they retrained


def _row(finalist: int, role: str, val: list[float], win: int = 2) -> ConfirmedRow:
    tested = role != "candidate" or finalist == win  # the baselines and the winner
    source = finalist if role == "candidate" else None
    return ConfirmedRow(
        finalist, role, f"layout {finalist}", _LAYOUT, "equal", source,
        None, val, summarize(val), {0: finalist, 1: 4 + finalist},
        [0.0, 0.01] if tested else None, [{"a": 0.9}, {"a": 0.9}] if tested else None,
        params=100, flops=1000,
    )  # fmt: skip


def _result(
    hard: list[float], winner: list[float], other: list[float], win: int = 2, version: int = 2
) -> ConfirmedResult:
    rows = [
        _row(0, "independent", [0.0, 0.0]),
        _row(1, "hard_sharing", hard),
        _row(2, "candidate", winner, win),
        _row(3, "candidate", other, win),
    ]
    return ConfirmedResult([0, 1], win, rows, [TaskInfo("a", "acc", True)], version)


def test_a_baseline_ahead_of_the_winner_on_validation_is_said_to_be_over_the_budget() -> None:
    # Every layout within the budget may win, so a baseline ahead of the winner was over it.
    text = confirmed_table(_result(hard=[0.02, 0.04], winner=[-0.1, -0.2], other=[-0.3, -0.3]))
    notes = [line for line in text.splitlines() if line.startswith("note: on validation")]
    assert notes == [
        "note: on validation hard sharing (+3.00% ± 1.41) beat every searched finalist (the "
        "winner -15.00% ± 7.07) but are over the study's budget"
    ]


def test_the_independent_networks_as_the_winner_are_said_and_not_paired_with_themselves() -> None:
    result = _result(hard=[-0.3, -0.2], winner=[-0.01, -0.03], other=[-0.1, -0.1], win=0)
    text = confirmed_table(result)
    assert "independent (baseline, winner)" in text
    assert (
        "winner: the independent networks, a baseline: on validation no searched finalist beat "
        "them (the best of them -2.00% ± 1.41); deploy them, or search further"
    ) in text
    assert "winner minus independent" not in text and "winner minus hard sharing" in text
    assert "note:" not in text and "winner (search trial" not in text


def test_no_note_when_the_winner_beat_both_baselines() -> None:
    text = confirmed_table(_result(hard=[0.01, 0.01], winner=[0.05, 0.03], other=[0.0, 0.0]))
    assert "note: on validation" not in text


def test_a_verdict_of_the_earlier_rule_says_how_to_choose_again() -> None:
    old = _result(hard=[-0.3, -0.2], winner=[-0.01, -0.03], other=[-0.1, -0.1], version=1)
    assert "chosen by an earlier rule" in confirmed_table(old)
    new = _result(hard=[-0.3, -0.2], winner=[-0.01, -0.03], other=[-0.1, -0.1], win=0)
    assert "chosen by an earlier rule" not in confirmed_table(new)


def _paired_result(diffs: list[float]) -> ConfirmedResult:
    # The winner's test Δ_MTL per seed equals its paired difference with the independent nets.
    rows = [
        ConfirmedRow(0, "independent", "ind", _LAYOUT, "equal", None, None, [0.0] * len(diffs),
                     summarize([0.0] * len(diffs)), dict(enumerate(range(len(diffs)))),
                     [0.0] * len(diffs), [{"a": 0.9}] * len(diffs), params=100, flops=1000),
        ConfirmedRow(1, "hard_sharing", "hard", _LAYOUT, "equal", None, None, [-0.1] * len(diffs),
                     summarize([-0.1] * len(diffs)), dict(enumerate(range(len(diffs)))),
                     [-0.5] * len(diffs), [{"a": 0.5}] * len(diffs), params=100, flops=1000),
        ConfirmedRow(2, "candidate", "win", _LAYOUT, "equal", 3, 0.1, [0.1] * len(diffs),
                     summarize([0.1] * len(diffs)), dict(enumerate(range(len(diffs)))),
                     diffs, [{"a": 0.95}] * len(diffs), params=100, flops=1000),
    ]  # fmt: skip
    return ConfirmedResult(list(range(len(diffs))), 2, rows, [TaskInfo("a", "acc", True)])


def test_the_verdict_is_the_printed_interval() -> None:
    # Two seeds 2 SE above zero, but their 95% t interval spans it: not shown better.
    text = confirmed_table(_paired_result([0.20, 0.40]))
    line = next(x for x in text.splitlines() if "winner minus independent" in x)
    assert "95% [-97.06, +157.06]: not shown better" in line
    five = confirmed_table(_paired_result([0.20, 0.22, 0.21, 0.19, 0.23]))
    assert "95% [+19.04, +22.96]: better (95% interval above zero)" in five


def test_no_verdict_when_no_task_beat_its_trivial_predictor() -> None:
    result = _paired_result([0.20, 0.22, 0.21, 0.19, 0.23])
    text = confirmed_table(result, flagged=["a"])
    assert "no verdict: no task beat its trivial predictor" in text
    assert "better" not in text
    assert "better (95% interval above zero)" in confirmed_table(result, flagged=[])
