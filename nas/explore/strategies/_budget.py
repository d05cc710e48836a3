"""Proposals within a study's budget: a sampler that redraws layouts over ``--max-cost``.

A layout over the budget is never the answer, so training one is compute spent for nothing.
:class:`WithinBudget` wraps a strategy's sampler: it draws the trial's parameters of the space
jointly, maps them to the layout they give (the space's own ``suggest``) and checks its cost.
Over the budget, it asks the strategy again (a model that proposes one best layout proposes it
again, so only a few times), then draws uniformly at random from the space until a layout fits.
Parameter and FLOP budgets are known from the layout alone; a latency budget needs a
measurement, so it is judged after the trial as before.

    over = over_budget({"flops": 2e6}, problem.cost)
    sampler = WithinBudget(TPESampler(seed=0), space, over, seed=0)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial

from nas.core._layout import Layout
from nas.explore.strategies._base import WrappedSampler
from search_spaces import SearchSpace

if TYPE_CHECKING:
    from nas.model._network import Cost

__all__ = ["WithinBudget", "over_budget"]

STRATEGY_TRIES = 4  # the strategy's own proposals before random ones
RANDOM_TRIES = 256  # uniform draws before the last one is taken, over the budget or not


def over_budget(
    max_cost: Mapping[str, float], cost_of: Callable[[Layout], Cost]
) -> Callable[[Layout], bool] | None:
    """Whether a layout is over the parameter or FLOP budgets of ``max_cost`` (None: none set).

    ``max_cost``: the study's absolute budgets by cost name (``Objectives.max_cost``); a
    latency budget is left to the trial, which measures it.
    """
    caps = {k: float(v) for k, v in max_cost.items() if k in ("params", "flops")}
    if not caps:
        return None

    def over(layout: Layout) -> bool:
        c = cost_of(layout)
        have = {"params": float(c.params), "flops": float(c.flops)}
        return any(have[k] > cap for k, cap in caps.items())

    return over


class WithinBudget(WrappedSampler):
    """``inner``'s proposals, redrawn while the layout they give is over the budget.

    Args:
        inner: the strategy's sampler.
        space: the study's search space (its parameters and how they map to a layout).
        over: whether a layout is over the budget.
        seed: seeds the random redraws.
    """

    def __init__(
        self,
        inner: optuna.samplers.BaseSampler,
        space: SearchSpace,
        over: Callable[[Layout], bool],
        seed: int | None = None,
    ) -> None:
        super().__init__(inner)
        self.space, self.over = space, over
        self._random = optuna.samplers.RandomSampler(seed=seed)

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        """The space's parameters: drawn together, so their layout is known before the trial."""
        del study, trial
        return dict(self.space.distributions())

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        """A joint draw of the space's parameters whose layout is within the budget."""
        if not search_space:
            return {}
        inner_space = self.inner.infer_relative_search_space(study, trial)
        params: dict[str, Any] = {}
        for attempt in range(STRATEGY_TRIES + RANDOM_TRIES):
            mine = attempt < STRATEGY_TRIES
            drawn = self.inner.sample_relative(study, trial, inner_space) if mine else {}
            sampler = self.inner if mine else self._random
            params = {
                name: drawn[name]
                if name in drawn
                else sampler.sample_independent(study, trial, name, dist)
                for name, dist in search_space.items()
            }
            if not self.over(self.space.suggest(optuna.trial.FixedTrial(params))):
                return params
        return params  # nothing fits after every try: trained, and judged over the budget

    def reseed_rng(self) -> None:
        """Reseed both."""
        self._random.reseed_rng()
        super().reseed_rng()
