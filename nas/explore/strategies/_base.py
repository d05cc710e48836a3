"""The strategy seam: where a study's candidates come from.

A strategy gives the sampler each trial draws from and may compute layouts itself and queue
them into the study before the trials (an exhaustive grid, a learned policy, a task-affinity
tree). Queued layouts are ordinary trials, so the confirm stage, export, resume and workers treat
them like any other. Only search spaces call ``trial.suggest_*``; a strategy proposes through a
sampler or through layouts.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, IntDistribution
from optuna.trial import FrozenTrial, TrialState

from nas.core._layout import Layout

if TYPE_CHECKING:
    from nas.explore._config import SearchConfig
    from nas.explore.evaluators._base import Preparation
    from search_spaces import SearchSpace

__all__ = ["Strategy", "WrappedSampler", "discrete_values", "layouts_of"]


class Strategy:
    """Where candidates come from. Override :meth:`sampler`, :meth:`layouts`, or both.

    The defaults draw uniformly at random and queue nothing, so a strategy that only computes
    layouts needs just :meth:`layouts`: its layouts run first, then random draws fill the
    study's target if it is larger.

    Example:
        >>> from nas.core._layout import Layout
        >>> class Fixed(Strategy):
        ...     def layouts(self, space, config):
        ...         return [Layout.hard_sharing(space.tasks, space.depth)]
        >>> Fixed().sampler(0).__class__.__name__
        'RandomSampler'
    """

    # What the strategy spent before its trials (its own learning), whichever process ran it:
    # in full-training equivalents (one training of a candidate at the study's epochs) and wall
    # seconds. Set by prepare(); a study records it beside its trials' compute.
    trainings: float = 0.0
    seconds: float = 0.0

    def sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        """The sampler for the next trial.

        Built once per trial with ``seed`` = the study's seed plus the trial count read under
        the study's lock: workers starting together draw differently, one process stays
        reproducible, and a resumed study does not replay its earlier random draws.
        """
        return optuna.samplers.RandomSampler(seed=seed)

    def sampler_for(self, space: SearchSpace, seed: int) -> optuna.samplers.BaseSampler:
        """The sampler for the next trial of a study over ``space``.

        For a sampler that models layouts and so must know the space; by default
        :meth:`sampler`, which does not.
        """
        del space
        return self.sampler(seed)

    def check(self, space: SearchSpace) -> None:
        """Refuse a space the strategy cannot search (a UserError naming the way out).

        Called with every option before the database is touched, so a mismatch never leaves a
        stored study behind. Every space is accepted by default.
        """
        del space

    def prepare(self, context: Preparation) -> str | None:
        """Learn what the strategy needs before its layouts (a policy), once per study.

        Called by each search process before its trials, with the study's problem, space and a
        state keeper of the strategy's own (checkpoints in the artifact store, under a lock:
        the first process trains, a killed one resumes from its last epoch, others load).
        Returns a line to print, or None. Nothing to learn by default.
        """
        del context
        return None

    def layouts(self, space: SearchSpace, config: SearchConfig) -> Sequence[Layout]:
        """Layouts to queue into the study before its trials (none by default).

        Called under the study's lock by every process that searches; a layout already queued
        or tried is not queued twice.
        """
        del space, config
        return ()


class WrappedSampler(optuna.samplers.BaseSampler):
    """A sampler around another (``inner``): every method is the inner one's until overridden.

    For samplers that change some draws of a strategy's sampler (a spread start-up, redraws
    within a budget) and leave the rest, its hooks included, to it.
    """

    def __init__(self, inner: optuna.samplers.BaseSampler) -> None:
        self.inner = inner

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        """The inner sampler's."""
        return self.inner.infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        """The inner sampler's."""
        return self.inner.sample_relative(study, trial, search_space)

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        """The inner sampler's (a parameter outside the space, e.g. a searched loss weighting)."""
        return self.inner.sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        """The inner sampler's hook."""
        self.inner.before_trial(study, trial)

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        """The inner sampler's hook."""
        self.inner.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        """The inner sampler's."""
        self.inner.reseed_rng()


def discrete_values(dist: BaseDistribution) -> list[Any] | None:
    """Every value of a categorical or linear integer distribution; None for any other."""
    if isinstance(dist, CategoricalDistribution):
        return list(dist.choices)
    if isinstance(dist, IntDistribution) and not dist.log:
        return list(range(dist.low, dist.high + 1, dist.step))
    return None


def layouts_of(
    space: SearchSpace, values: Mapping[str, Sequence[Any]]
) -> dict[Layout, dict[str, Any]]:
    """Every distinct layout the combinations of ``values`` give, with parameters that give it.

    Layouts come in the order of :func:`itertools.product`; each keeps its first parameters.
    """
    seen: dict[Layout, dict[str, Any]] = {}
    for combo in itertools.product(*values.values()):
        params = dict(zip(values, combo, strict=True))
        seen.setdefault(space.suggest(optuna.trial.FixedTrial(params)), params)
    return seen
