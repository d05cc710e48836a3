"""The confirmed report says when a baseline beat every searched finalist on validation."""

from __future__ import annotations

from nas.app.views import confirmed_table
from nas.study.outcome.confirmed import ConfirmedResult, ConfirmedRow, TaskInfo
from nas.study.outcome.stats import summarize


def _row(finalist: int, role: str, val: list[float]) -> ConfirmedRow:
    tested = role != "candidate" or finalist == 2
    source = finalist if role == "candidate" else None
    return ConfirmedRow(
        finalist, role, f"layout {finalist}", {}, "equal", source,
        None, val, summarize(val), {0: finalist, 1: 4 + finalist},
        [0.0, 0.01] if tested else None, [{"a": 0.9}, {"a": 0.9}] if tested else None,
        params=100, flops=1000,
    )  # fmt: skip


def _result(hard: list[float], winner: list[float], other: list[float]) -> ConfirmedResult:
    rows = [
        _row(0, "independent", [0.0, 0.0]),
        _row(1, "hard_sharing", hard),
        _row(2, "candidate", winner),
        _row(3, "candidate", other),
    ]
    return ConfirmedResult([0, 1], 2, rows, [TaskInfo("a", "acc", True)])


def test_a_baseline_that_beat_every_finalist_on_validation_is_named() -> None:
    text = confirmed_table(_result(hard=[0.02, 0.04], winner=[-0.1, -0.2], other=[-0.3, -0.3]))
    notes = [line for line in text.splitlines() if line.startswith("note: on validation")]
    assert notes == [
        "note: on validation hard sharing (+3.00% ± 1.41) beat every searched finalist (the "
        "winner -15.00% ± 7.07): the search found no layout better than that baseline"
    ]


def test_the_independent_networks_are_named_when_the_winner_is_below_zero() -> None:
    text = confirmed_table(_result(hard=[-0.3, -0.2], winner=[-0.01, -0.03], other=[-0.1, -0.1]))
    assert "note: on validation the independent networks (+0.00% ± 0.00) beat" in text


def test_no_note_when_the_winner_beat_both_baselines() -> None:
    text = confirmed_table(_result(hard=[0.01, 0.01], winner=[0.05, 0.03], other=[0.0, 0.0]))
    assert "note: on validation" not in text
