"""Search strategies, chosen by name or ``package.module:function`` like backbones and evaluators.

A strategy factory takes the study's options (``--strategy-option KEY=JSON``) as keyword
arguments and returns a :class:`Strategy`. Built in: ``paths`` (the default for Δ_MTL alone,
:mod:`nas.explore.strategies._structure`), Optuna's samplers ``tpe`` (the default for a front;
``start=spread`` spreads its start-up along the level of sharing), ``random``, ``nsga2``
(multi-objective) and ``gp`` (Gaussian process, told the objective is noisy), ``grid``, which
queues every layout of the space, ``adashare``, which learns AdaShare's select-or-skip policy
and queues layouts sampled from it, and ``affinity``, which measures task affinity on
single-task networks and queues the trees it prefers.

    mtlnas search --strategy gp
    mtlnas search --strategy tpe --strategy-option n_startup_trials=5
    mtlnas search --strategy my_pkg.strategies:fixed --strategy-option k=3
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import optuna

from nas.core._errors import UserError
from nas.core._layout import Layout
from nas.core._plugins import Catalog
from nas.explore.strategies._base import Strategy, discrete_values, layouts_of

if TYPE_CHECKING:
    from nas.explore._config import SearchConfig
    from search_spaces import SearchSpace

__all__ = [
    "STRATEGY_CATALOG",
    "Grid",
    "SamplerStrategy",
    "Strategy",
    "StrategyError",
    "make_strategy",
    "register_strategy",
    "strategy_names",
]


class StrategyError(UserError, ValueError):
    """An unknown strategy, bad options for one, or a factory that returns no strategy."""


class SamplerStrategy(Strategy):
    """An Optuna sampler as a strategy: ``build(seed)`` makes the sampler for each trial.

    ``seed`` (the option of every sampler strategy) changes the sampler's draws and nothing
    else: the data and the weights stay the study's, so two studies that differ in it
    replicate one search, which is how a search's own luck is measured.
    """

    def __init__(self, build: Callable[[int], optuna.samplers.BaseSampler], seed: int = 0) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise StrategyError(f"strategy option seed must be an int >= 0, got {seed!r}")
        self._build = build
        self._shift = 1_000_003 * seed  # far from the study's seed + draw of its other trials

    def sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        """The sampler for the next trial, seeded with ``seed``."""
        return self._build(seed + self._shift)


class SpreadStrategy(SamplerStrategy):
    """A sampler strategy whose start-up layouts spread along the level of sharing."""

    def __init__(
        self,
        build: Callable[[int], optuna.samplers.BaseSampler],
        seed: int = 0,
        n_startup_trials: int = 10,
    ) -> None:
        super().__init__(build, seed)
        self.n_startup_trials = n_startup_trials

    def sampler_for(self, space: SearchSpace, seed: int) -> optuna.samplers.BaseSampler:
        """The sampler behind a :class:`~nas.explore.strategies._spread.SpreadStart` start-up."""
        from nas.explore.strategies._spread import SpreadStart

        return SpreadStart(space, self.sampler(seed), seed + self._shift, self.n_startup_trials)


STARTS = ("random", "spread")


def tpe(
    n_startup_trials: int = 10, multivariate: bool = True, seed: int = 0, start: str = "random"
) -> Strategy:
    """Optuna's TPE (the default for a front of Δ_MTL and a cost), single- or multi-objective.

    Ten start-up trials (the two queued baselines among them) before TPE models anything:
    per-trial Δ_MTL is noisy, and a model fitted to fewer points mostly follows the noise.
    ``start``: ``random`` (TPE's own start-up draws) or ``spread`` (start-up layouts spread
    along the level of sharing, :mod:`nas.explore.strategies._spread`). Random stays the default:
    at the affinity method's compute spread did better on ``scenes`` and worse on ``digits``,
    and tied random search on the ground-truth tables (docs/tables.md).
    """
    if start not in STARTS:
        raise StrategyError(f"strategy option start must be one of {list(STARTS)}, got {start!r}")

    def build(s: int) -> optuna.samplers.BaseSampler:
        return optuna.samplers.TPESampler(
            seed=s, n_startup_trials=n_startup_trials, multivariate=multivariate
        )

    if start == "spread":
        return SpreadStrategy(build, seed, n_startup_trials)
    return SamplerStrategy(build, seed)


def random(seed: int = 0) -> Strategy:
    """Uniform random draws: the baseline every other strategy must beat."""
    return SamplerStrategy(lambda s: optuna.samplers.RandomSampler(seed=s), seed)


def nsga2(population_size: int = 8, seed: int = 0) -> Strategy:
    """Optuna's NSGA-II, for a Pareto front of Δ_MTL against a cost."""
    return SamplerStrategy(
        lambda s: optuna.samplers.NSGAIISampler(seed=s, population_size=population_size), seed
    )


def gp(n_startup_trials: int = 10, seed: int = 0) -> Strategy:
    """Optuna's Gaussian-process sampler, told the objective is noisy (it learns the noise)."""
    return SamplerStrategy(
        lambda s: optuna.samplers.GPSampler(
            seed=s, n_startup_trials=n_startup_trials, deterministic_objective=False
        ),
        seed,
    )


class Grid(Strategy):
    """Every layout the space reaches, each queued once (in a seeded random order).

    Enumerated from the space's parameters (``distributions()``): each combination is mapped
    to its layout and duplicates dropped, so a space whose parameters repair to the same tree
    yields each tree once. Refused above ``max_combinations`` parameter combinations.
    """

    def __init__(self, max_combinations: int = 200_000, seed: int = 0) -> None:
        self.max_combinations, self.seed = max_combinations, seed

    def layouts(self, space: SearchSpace, config: SearchConfig) -> Sequence[Layout]:
        """Every distinct layout of ``space``; the baselines are queued by the study itself."""
        del config
        values: dict[str, list[Any]] = {}
        for name, dist in space.distributions().items():
            choices = discrete_values(dist)
            if choices is None:
                raise StrategyError(f"grid: parameter {name!r} of the space is not discrete")
            values[name] = choices
        total = math.prod(len(c) for c in values.values())
        if total > self.max_combinations:
            raise StrategyError(
                f"grid: the space has {total} parameter combinations, over max_combinations="
                f"{self.max_combinations}; narrow the space or raise the option"
            )
        order = list(layouts_of(space, values))
        import random as _random

        _random.Random(self.seed).shuffle(order)
        return order


def grid(max_combinations: int = 200_000, seed: int = 0) -> Strategy:
    """Every layout of the space, queued (for exhaustive studies and ground-truth tables)."""
    return Grid(max_combinations, seed)


STRATEGY_CATALOG: Catalog[Strategy] = Catalog(
    "strategy", Strategy, StrategyError,
    refusal="{what} returned {got}, not a nas.explore.strategies.Strategy",
)  # fmt: skip


def register_strategy(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: make a strategy factory ``fn(**options) -> Strategy`` available by ``name``."""
    return STRATEGY_CATALOG.register(name)


def strategy_names() -> list[str]:
    """Built-in and registered strategy names."""
    return STRATEGY_CATALOG.names()


def make_strategy(name: str, options: Mapping[str, Any] | None = None) -> Strategy:
    """The strategy ``name`` built with ``options``.

    Raises:
        StrategyError: unknown name, options it does not take, or no Strategy returned.
    """
    return STRATEGY_CATALOG.make(name, options)
