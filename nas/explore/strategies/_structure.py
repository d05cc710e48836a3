"""The ``structure`` strategy: propose layouts by a model of Δ_MTL over their sharing structure.

Each trial, the sampler fits :mod:`.surrogate` (Bayesian linear regression over
"tasks a and b share block d" features) to every layout the study has trained and proposes the
untried layout of best posterior mean. The model is what is noise-aware: a layout that scored
well on one lucky seed lifts only the weights of the features it shares with others, by as much
as the evidence for a noise that large allows. The first ``n_startup_trials`` trained layouts
(the two queued baselines among them) are untried layouts drawn at random: a linear model fitted
to fewer points proposes the corners of the space. ``acquisition="thompson"`` proposes the best
layout under one posterior draw instead. ``model="per-task"`` models each task's term of Δ_MTL
from that task's path (:mod:`nas.explore.strategies._pertask`), from the terms each trial stores;
its start-up draws the space's parameters at random (as random search does), and with ``draws``
the model chooses among that many random parameter draws each trial (``--strategy paths``).

Candidates are every layout of the space when it enumerates (up to ``MAX_ENUMERATE`` parameter
combinations, cached per space), else ``pool`` random draws plus every one-parameter change of
the five best layouts so far. Works on any space that lists its parameters (branched and
select-or-skip alike); a layout queued by a warm start (``--warm-start affinity``) is data like
any other, which is how a cheap signal becomes a prior. How the design was chosen, and what it
scores on the ground-truth tables: docs/tables.md.

    mtlnas search --strategy structure
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import (
    BaseDistribution,
)
from optuna.trial import FrozenTrial, TrialState

from nas.core._layout import Layout
from nas.explore.strategies import StrategyError
from nas.explore.strategies._base import Strategy, discrete_values, layouts_of
from nas.explore.strategies._observed import layout_of, observations, task_observations
from nas.explore.strategies._pertask import PathModel
from nas.explore.strategies._surrogate import Design, fit
from search_spaces import SearchSpace

__all__ = [
    "StructureSampler",
    "StructureStrategy",
    "observations",
    "paths",
    "structure",
    "task_observations",
]

MAX_ENUMERATE = 20_000  # parameter combinations enumerated outright (scenes4: 4,096)
ACQUISITIONS = ("mean", "thompson")
MODELS = ("pooled", "per-task")
PENDING = (TrialState.RUNNING, TrialState.WAITING)


@functools.lru_cache(maxsize=8)
def _enumerate(space: SearchSpace, limit: int) -> tuple[tuple[Layout, dict[str, Any]], ...] | None:
    """Every distinct layout of ``space`` with parameters that give it, or None if too many."""
    values = {name: discrete_values(d) for name, d in space.distributions().items()}
    if any(v is None for v in values.values()):
        return None
    if math.prod(len(v or ()) for v in values.values()) > limit:
        return None
    return tuple(layouts_of(space, {k: v or [] for k, v in values.items()}).items())


class StructureSampler(optuna.samplers.BaseSampler):
    """Thompson sampling over a space's layouts with the structural surrogate.

    Parameters the space does not list (a searched loss weighting) are drawn at random.
    Single-objective: on a multi-objective study it models the first objective (Δ_MTL).
    """

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        n_startup_trials: int = 8,
        acquisition: str = "mean",
        pool: int = 2048,
        max_enumerate: int = MAX_ENUMERATE,
        model: str = "pooled",
        draws: int = 0,
    ) -> None:
        if model not in MODELS:
            raise ValueError(f"model must be one of {list(MODELS)}, got {model!r}")
        if acquisition not in ACQUISITIONS:
            raise ValueError(
                f"acquisition must be one of {list(ACQUISITIONS)}, got {acquisition!r}"
            )
        self.space, self.seed = space, seed
        self.n_startup_trials, self.acquisition = n_startup_trials, acquisition
        self.pool, self.max_enumerate, self.model, self.draws = pool, max_enumerate, model, draws
        self._paths: tuple[int, PathModel] | None = None  # built once per candidate set
        self._rng = np.random.default_rng(seed)
        self._random = optuna.samplers.RandomSampler(seed=seed)

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        """The space's own parameters."""
        del study, trial
        return dict(self.space.distributions())

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        """The parameters of the untried layout the model scores best (random at start-up)."""
        del trial
        if not search_space:
            return {}
        seen = observations(study, self.space)
        # Also leave out layouts pruned (the study would answer them from that trial) and those
        # queued or running now (another worker is training them).
        pending = study.get_trials(deepcopy=False, states=(TrialState.PRUNED, *PENDING))
        dists = self.space.distributions()
        busy = {lay for lay, _ in seen}
        busy |= {lay for t in pending if (lay := layout_of(t, self.space, dists)) is not None}
        candidates = self._candidates(seen)
        fresh = [(lay, p) for lay, p in candidates if lay not in busy]
        if not fresh:  # everything tried: a random draw (the study answers it for free)
            return {}
        terms = task_observations(study, self.space) if self.model == "per-task" else None
        if len(seen) < self.n_startup_trials and self.model == "per-task":
            layout, params = self._draw_params(busy, fresh)
        elif len(seen) < self.n_startup_trials:
            layout, params = fresh[int(self._rng.integers(len(fresh)))]
        elif terms:  # the per-task model; the acquisition is its posterior mean
            if self.draws:  # among random-parameter draws: the encoding's prior, then the model
                drawn = dict(self._draw_params(busy, fresh) for _ in range(self.draws))
                fresh = list(drawn.items())
            score = self._path_model(candidates).predict(terms, [lay for lay, _ in fresh])
            layout, params = fresh[int(np.argmax(score))]
        else:
            design = Design.of(lay for lay, _ in candidates)
            posterior = fit(design.matrix([lay for lay, _ in seen]), [v for _, v in seen])
            x = design.matrix([lay for lay, _ in fresh])
            if self.acquisition == "thompson":
                score = posterior.sample(x, self._rng)
            else:
                score = posterior.predict(x)[0]
            layout, params = fresh[int(np.argmax(score))]
        try:
            return self.space.params(layout)
        except ValueError:
            return params

    def _draw_params(
        self, busy: set[Layout], fresh: Sequence[tuple[Layout, dict[str, Any]]]
    ) -> tuple[Layout, dict[str, Any]]:
        # Uniform over the space's parameters, as random search draws (not uniform over
        # layouts): a space's encoding is a prior, e.g. a tree space's repair favours sharing.
        dists = self.space.distributions()
        for _ in range(100):
            params = {k: _draw(d, self._rng) for k, d in dists.items()}
            layout = self.space.suggest(optuna.trial.FixedTrial(params))
            if layout not in busy:
                return layout, params
        return fresh[int(self._rng.integers(len(fresh)))]

    def _path_model(self, candidates: Sequence[tuple[Layout, dict[str, Any]]]) -> PathModel:
        key = hash(tuple(lay for lay, _ in candidates))
        if self._paths is None or self._paths[0] != key:
            layouts = [lay for lay, _ in candidates]
            self._paths = (key, PathModel(layouts, layouts[0].tasks))
        return self._paths[1]

    def _candidates(
        self, seen: Sequence[tuple[Layout, float]]
    ) -> list[tuple[Layout, dict[str, Any]]]:
        every = _enumerate(self.space, self.max_enumerate)
        if every is not None:
            return list(every)
        dists = self.space.distributions()
        out: dict[Layout, dict[str, Any]] = {}
        for _ in range(self.pool):
            params = {k: _draw(d, self._rng) for k, d in dists.items()}
            out.setdefault(self.space.suggest(optuna.trial.FixedTrial(params)), params)
        best = sorted(seen, key=lambda lv: -lv[1])[:5]
        for layout, _ in best:  # local moves around the best so far
            try:
                base = self.space.params(layout)
            except ValueError:
                continue
            for k, d in dists.items():
                for value in discrete_values(d) or []:
                    if value != base.get(k):
                        params = {**base, k: value}
                        out.setdefault(self.space.suggest(optuna.trial.FixedTrial(params)), params)
        return list(out.items())

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        """Anything outside the space: uniformly at random."""
        return self._random.sample_independent(study, trial, param_name, param_distribution)


def _draw(dist: BaseDistribution, rng: np.random.Generator) -> Any:
    choices = discrete_values(dist)
    if choices is None:
        raise ValueError(f"the structure strategy needs discrete parameters, got {dist!r}")
    return choices[int(rng.integers(len(choices)))]


class StructureStrategy(Strategy):
    """Where the structural sampler comes from: it needs the study's search space."""

    def __init__(
        self, n_startup_trials: int, acquisition: str, pool: int, model: str, draws: int
    ) -> None:
        self.n_startup_trials, self.acquisition, self.pool = n_startup_trials, acquisition, pool
        self.model, self.draws = model, draws

    def sampler_for(self, space: SearchSpace, seed: int) -> optuna.samplers.BaseSampler:
        """A :class:`StructureSampler` over ``space``."""
        return StructureSampler(
            space,
            seed,
            self.n_startup_trials,
            self.acquisition,
            self.pool,
            model=self.model,
            draws=self.draws,
        )


def structure(
    n_startup_trials: int = 8,
    acquisition: str = "mean",
    pool: int = 2048,
    model: str = "pooled",
    draws: int = 0,
) -> Strategy:
    """A Bayesian model of Δ_MTL over which tasks share which blocks proposes the layouts.

    Args:
        n_startup_trials: trained layouts (the two baselines among them) before the model
            proposes; until then, untried layouts at random.
        acquisition: ``mean`` (the untried layout of best posterior mean) or ``thompson``
            (the best under one posterior draw).
        pool: random candidates per trial where the space is too large to enumerate.
        model: ``pooled`` (a linear model of Δ_MTL) or ``per-task`` (each task's term of Δ_MTL
            from its own path, :mod:`nas.explore.strategies._pertask`; its acquisition is the mean).
        draws: with ``per-task``, the model chooses among this many random-parameter draws
            (the space encoding's prior) instead of every untried layout; 0: every one.
    """
    if not isinstance(n_startup_trials, int) or n_startup_trials < 0:
        raise StrategyError(f"n_startup_trials must be an int >= 0, got {n_startup_trials!r}")
    if acquisition not in ACQUISITIONS:
        raise StrategyError(f"acquisition must be one of {list(ACQUISITIONS)}, got {acquisition!r}")
    if not isinstance(pool, int) or pool < 1:
        raise StrategyError(f"pool must be a positive int, got {pool!r}")
    if model not in MODELS:
        raise StrategyError(f"model must be one of {list(MODELS)}, got {model!r}")
    if not isinstance(draws, int) or draws < 0:
        raise StrategyError(f"draws must be an int >= 0, got {draws!r}")
    return StructureStrategy(n_startup_trials, acquisition, pool, model, draws)


def paths(n_startup_trials: int = 4, draws: int = 8, pool: int = 2048) -> Strategy:
    """Each task's term of Δ_MTL modelled from its own path (``_pertask.py``).

    After ``n_startup_trials`` trained layouts (the two queued baselines, then random draws of
    the space's parameters), each trial draws ``draws`` random parameter sets and trains the
    untried layout among them that the per-task model scores best: the space's encoding is the
    prior, the model chooses within it. Its design was chosen on the ground-truth tables
    (docs/tables.md). The same as ``structure`` with ``model="per-task"`` and these options.

    Args:
        n_startup_trials: trained layouts (the two baselines among them) before the model
            proposes.
        draws: random parameter draws the model chooses among each trial (0: every untried
            layout of the space).
        pool: as for ``structure`` (used only where a space is too large to enumerate).
    """
    return structure(n_startup_trials, "mean", pool, "per-task", draws)
