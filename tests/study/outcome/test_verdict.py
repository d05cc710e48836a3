"""The verdict's choice: the best mean on validation among every layout within the budget."""

from __future__ import annotations

import optuna
import pytest

from nas.core import Layout
from nas.study._outcome.confirm import ConfirmError, ConfirmPlan, Finalist
from nas.study._outcome.verdict import answerable, choose

TASKS = ("a", "b")


def test_a_baseline_ahead_of_every_searched_finalist_is_the_answer() -> None:
    val = {0: [0.0, 0.0], 1: [-0.2, -0.1], 2: [-0.01, -0.02], 3: [-0.3, 0.1]}
    assert choose(val, range(4), {2, 3}) == 0
    assert choose(val, [1, 2, 3], {2, 3}) == 2  # the independent networks over the budget
    val[3] = [0.02, 0.0]
    assert choose(val, range(4), {2, 3}) == 3


def test_ties_go_to_the_searched_layout_then_the_earlier_finalist() -> None:
    val = {0: [0.0, 0.0], 1: [-0.5, -0.5], 2: [0.01, -0.01], 3: [0.0, 0.0]}
    assert choose(val, range(4), {2, 3}) == 2
    assert choose(val, [0, 1, 3], {2, 3}) == 3


def test_nothing_within_the_budget_is_one_line() -> None:
    with pytest.raises(ConfirmError, match="no confirmed layout is within the study's budget"):
        choose({0: [0.0]}, [], set())


def _plan(independent_source: int | None) -> ConfirmPlan:
    layout = Layout.hard_sharing(TASKS, 2)
    return ConfirmPlan(
        (
            Finalist("independent", Layout.independent(TASKS, 2), "equal", independent_source, 0.0),
            Finalist("hard_sharing", layout, "equal", 1, -0.1),
            Finalist("candidate", layout, "equal", 2, 0.1),
        ),
        (1000, 1001),
        1,
    )


def test_answerable_leaves_out_a_baseline_over_the_budget() -> None:
    study = optuna.create_study(direction="maximize")
    for over in (1.0, -1.0, -1.0):  # the independent networks cost more than the budget
        trial = study.ask()
        trial.set_constraint("max_params", over)
        study.tell(trial, 0.0)
    assert answerable(study, _plan(0), budgeted=True) == [1, 2]
    # A baseline the search never ran counts only where the study has no budget.
    assert answerable(study, _plan(None), budgeted=True) == [1, 2]
    assert answerable(study, _plan(None), budgeted=False) == [0, 1, 2]


def test_answerable_keeps_every_baseline_of_a_study_without_a_budget() -> None:
    study = optuna.create_study(direction="maximize")
    for _ in range(3):
        study.tell(study.ask(), 0.0)
    assert answerable(study, _plan(0), budgeted=False) == [0, 1, 2]


def test_the_equal_cost_baselines_may_be_the_answer_even_when_pruned_in_the_search() -> None:
    study = optuna.create_study(direction="maximize")
    for over in (1.0, -1.0, -1.0):
        trial = study.ask()
        trial.set_constraint("max_params", over)
        study.tell(trial, 0.0)
    base = _plan(0)
    thin = Layout.independent(TASKS, 2).scaled(0.5)
    plan = ConfirmPlan(
        (
            *base.finalists[:2],
            # pruned in the search (no source trial), within the budget by construction
            Finalist("independent_scaled", thin, "equal", None, None),
            *base.finalists[2:],
        ),
        base.seeds,
        1,
    )
    assert answerable(study, plan, budgeted=True) == [1, 2, 3]
    val = {0: [0.5, 0.5], 1: [-0.2, -0.1], 2: [0.1, 0.1], 3: [0.0, 0.0]}
    # the separate networks at full width are best on validation but over the budget
    assert choose(val, answerable(study, plan, budgeted=True), {3}) == 2
