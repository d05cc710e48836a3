"""A budgeted study's strategy proposes layouts within the budget."""

from __future__ import annotations

import optuna
import pytest

from nas.core import Layout
from nas.explore.strategies._budget import WithinBudget, over_budget
from nas.model import Cost
from search_spaces import BranchedSpace

SPACE = BranchedSpace(("a", "b", "c"), 4)


def _layouts(sampler: optuna.samplers.BaseSampler, n: int) -> list[Layout]:
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda t: float(len(set(SPACE.suggest(t).rows[-1]))), n_trials=n)
    return [SPACE.suggest(optuna.trial.FixedTrial(t.params)) for t in study.trials]


@pytest.mark.parametrize(
    "inner",
    [
        optuna.samplers.RandomSampler(seed=1),
        optuna.samplers.TPESampler(seed=1, n_startup_trials=3, multivariate=True),
    ],
)
def test_every_proposal_is_within_the_budget(inner: optuna.samplers.BaseSampler) -> None:
    # Within budget: at most 2 groups at the last block (plenty of layouts fit, not all).
    def over(layout: Layout) -> bool:
        return len(set(layout.rows[-1])) > 2

    plain = _layouts(type(inner)(seed=1), 30)  # type: ignore[call-arg]
    assert any(over(x) for x in plain)  # unfiltered, the strategy proposes some over it
    layouts = _layouts(WithinBudget(inner, SPACE, over, seed=0), 30)
    assert not any(over(x) for x in layouts)
    assert len(set(layouts)) > 3  # still a search, not one layout


def test_when_only_hard_sharing_fits_it_is_what_is_proposed() -> None:
    hard = Layout.hard_sharing(SPACE.tasks, SPACE.depth)
    layouts = _layouts(WithinBudget(optuna.samplers.RandomSampler(seed=0), SPACE,
                                    lambda x: x != hard, seed=0), 5)  # fmt: skip
    assert set(layouts) == {hard}


def test_over_budget_reads_params_and_flops_and_leaves_latency_to_the_trial() -> None:
    def cost(layout: Layout) -> Cost:
        return Cost(block_executions=1, params=100 * len(set(layout.rows[-1])), flops=10)

    hard, ind = Layout.hard_sharing(("a", "b"), 2), Layout.independent(("a", "b"), 2)
    over = over_budget({"params": 150.0, "latency": 0.5}, cost)
    assert over is not None and not over(hard) and over(ind)
    assert over_budget({"latency": 0.5}, cost) is None
