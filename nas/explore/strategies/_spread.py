"""Start-up layouts spread along the sharing axis, then another sampler (``start=spread``).

How much a layout shares moves Δ_MTL a lot: on ``scenes`` the best trees share least, on
``digits`` they share heavily. Random start-up draws cover that axis unevenly, because a tree
space's encoding repairs most parameter draws into heavily shared trees.
So each start-up trial takes the level of sharing farthest from every layout the study has
tried, queued or is running (the two baselines mark the ends), and a random layout of that
level, drawn from a pool whose parameters lean together towards one end of their choices by a
random amount: a one-dimensional space-filling design, random in everything else. It is read
from the study each time, so workers and a resumed study continue one design. After
``n_startup_trials`` the wrapped sampler (TPE) proposes, with these trials as its history.
Measured (docs/tables.md): it ties random search on the ground-truth tables, and at six
trainings it helps on ``scenes`` and hurts on ``digits``, so it is an option, not the default.

The level of sharing is :func:`compute_share`: the block calls of one forward pass as a
fraction of separate networks' (1 for separate networks, 1/T for hard sharing of T tasks).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial, TrialState

from nas.core._layout import Layout
from nas.explore.strategies._base import WrappedSampler, discrete_values
from nas.explore.strategies._observed import layout_of
from search_spaces import SearchSpace

__all__ = ["SpreadStart", "compute_share"]

COUNTED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)


def compute_share(layout: Layout) -> float:
    """Block calls of one forward pass over those of separate networks (one per task and depth).

    Example:
        >>> compute_share(Layout.hard_sharing(("a", "b"), 3))
        0.5
    """
    return len(layout.executions()) / (layout.num_tasks * layout.depth)


class SpreadStart(WrappedSampler):
    """Space-filling start-up along :func:`compute_share`, then ``inner``.

    Args:
        space: the study's search space (discrete parameters).
        inner: the sampler after start-up; it also draws anything the space does not list.
        seed: seeds the start-up draws.
        n_startup_trials: trials (the queued baselines among them) before ``inner`` proposes.
        pool: parameter draws each start-up trial chooses among.
    """

    def __init__(
        self,
        space: SearchSpace,
        inner: optuna.samplers.BaseSampler,
        seed: int,
        n_startup_trials: int = 10,
        pool: int = 512,
    ) -> None:
        super().__init__(inner)
        self.space = space
        self.n_startup_trials, self.pool = n_startup_trials, pool
        self._rng = np.random.default_rng(seed)

    def _starting(self, study: optuna.Study, trial: FrozenTrial) -> list[FrozenTrial] | None:
        # The other trials, while the study is still in its start-up; None after it.
        others = [
            t for t in study.get_trials(deepcopy=False, states=COUNTED) if t.number != trial.number
        ]
        return others if len(others) < self.n_startup_trials else None

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        """The space's parameters at start-up; the inner sampler's after."""
        if self._starting(study, trial) is None:
            return self.inner.infer_relative_search_space(study, trial)
        return dict(self.space.distributions())

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        """At start-up, a random layout at the least covered level of sharing."""
        others = self._starting(study, trial)
        if others is None:
            return self.inner.sample_relative(study, trial, search_space)
        if not search_space:
            return {}
        dists = self.space.distributions()
        busy = {lay for t in others if (lay := layout_of(t, self.space, dists)) is not None}
        levels = np.array([compute_share(lay) for lay in busy])
        pool: dict[Layout, dict[str, Any]] = {}
        for _ in range(self.pool):
            tilt = float(self._rng.uniform())
            params = {k: _draw(d, tilt, self._rng) for k, d in dists.items()}
            layout = self.space.suggest(optuna.trial.FixedTrial(params))
            if layout not in busy:
                pool.setdefault(layout, params)
        if not pool:
            return {}  # the draws found nothing new: the inner sampler's own draw
        layouts = list(pool)
        share = np.array([compute_share(lay) for lay in layouts])
        gap = (
            np.abs(share[:, None] - levels[None, :]).min(axis=1)
            if len(levels)
            else np.zeros(len(layouts))
        )
        widest = np.flatnonzero(gap >= gap.max() - 1e-9)
        layout = layouts[int(self._rng.choice(widest))]
        try:
            return self.space.params(layout)
        except ValueError:
            return pool[layout]

    def reseed_rng(self) -> None:
        """Reseed both."""
        self._rng = np.random.default_rng()
        super().reseed_rng()


def _draw(dist: BaseDistribution, tilt: float, rng: np.random.Generator) -> Any:
    # Binomial around ``tilt`` of the way along the choices: a pool with tilts from 0 to 1
    # reaches every level of sharing, where uniform draws of a tree space's parameters reach
    # the least shared levels almost never (5 tasks, 3 blocks: levels >= 11/15 in 10 of
    # 5,000 draws, 13/15 and 14/15 in none).
    choices = discrete_values(dist)
    if choices is None:
        raise ValueError(f"start=spread needs discrete parameters, got {dist!r}")
    return choices[int(rng.binomial(len(choices) - 1, tilt))]
