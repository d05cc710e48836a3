"""A search: the study's objective over its evaluator, run until the study's target."""

from __future__ import annotations

import logging

import optuna

from nas.explore._config import SearchConfig
from nas.explore.evaluators import Preparation, make_evaluator
from nas.explore.strategies import Strategy, StrategyError, make_strategy
from nas.explore.strategies._budget import WithinBudget, over_budget
from nas.model.combine import enqueued_choice, is_search
from nas.study._baseline import enqueue_baselines
from nas.study._compute import record_strategy
from nas.study._create import make_sampler
from nas.study._handle import StudyHandle
from nas.study._objective import Objective
from nas.study._runner import run_trials
from nas.study._store.evaluator_state import STRATEGY_STATE_KEY, WARM_STATE_KEY, StudyState
from nas.study._store.record import PROTOCOL_KEY, TRIVIAL_KEY, StudyRecord
from nas.training._problem import Problem
from search_spaces import SearchSpace

__all__ = ["queue_layouts", "run_search"]

_log = logging.getLogger(__name__)


def queue_layouts(
    study: optuna.Study,
    space: SearchSpace,
    config: SearchConfig,
    strategy: Strategy | None = None,
    name: str | None = None,
) -> int:
    """Queue the layouts the study's strategy computes; returns how many were new.

    A layout queued or tried before is skipped (Optuna compares the parameters), so every
    process that starts the search may call this; callers that race hold the study's gate.
    ``strategy``: the prepared strategy (default: made afresh from the configuration), called
    ``name`` in messages (default: the study's strategy).
    """
    if strategy is None:
        strategy = make_strategy(config.strategy, config.strategy_options)
    name = config.strategy if name is None else name
    layouts = strategy.layouts(space, config)
    before = len(study.get_trials(deepcopy=False))
    for layout in layouts:
        try:
            params = space.params(layout)
        except ValueError as err:
            raise StrategyError(
                f"strategy {name!r} gave a layout the space {space.name!r} cannot "
                f"reach ({err}): {layout.summary()}"
            ) from None
        if is_search(config.loss_weighting):
            params["loss_weighting"] = enqueued_choice(config.loss_weighting)
        study.enqueue_trial(params, skip_if_exists=True)
    total = len(study.get_trials(deepcopy=False))
    if total > before and config.n_trials < total:
        _log.info(
            f"note: with the layouts strategy {name!r} queued, the study holds "
            f"{total} trials; its target of {config.n_trials} runs only part of them: raise it "
            f"with --n-trials {total}"
        )
    return total - before


def run_search(
    handle: StudyHandle,
    problem: Problem,
    space: SearchSpace,
    progress: bool = True,
    retrain: bool = False,
) -> None:
    """Run trials until the study's target (``config.n_trials``) are finished.

    ``retrain``: state the evaluator keeps in the artifact store (a supernet) that is lost or
    damaged is trained again instead of refused.
    """
    study, config, store, storage_url = handle.study, handle.config, handle.store, handle.url
    record = StudyRecord(study)
    record.set_model(problem.describe())  # what export needs to rebuild a network
    if record.get(TRIVIAL_KEY) is None:
        record.set(TRIVIAL_KEY, problem.trivial)  # what show compares each trial with
    warning = problem.benchmark.protocol_warning()
    if warning is not None and record.get(PROTOCOL_KEY) is None:
        record.set(PROTOCOL_KEY, warning)  # show repeats it beside the confirmed table
    evaluator = make_evaluator(config)
    state = (
        None if store is None else StudyState(study, store, storage_url, retrain, config.evaluator)
    )
    context = Preparation(study.study_name, problem, space, state, progress)
    line = evaluator.prepare(context)  # e.g. a supernet trained (or loaded) once, before any trial
    if line:
        _log.info(line)
    strategy = make_strategy(config.strategy, config.strategy_options)
    own = None
    if store is not None:
        own = StudyState(study, store, storage_url, retrain, "strategy", STRATEGY_STATE_KEY,
                         purpose="strategy")  # fmt: skip
    line = strategy.prepare(Preparation(study.study_name, problem, space, own, progress, config))
    if line:  # e.g. a policy learned (or loaded) once, before its layouts are queued
        _log.info(line)
    # Queued before the strategy's own: a warm start's layouts run first, then its sampler.
    starts: list[tuple[str, str, Strategy]] = []  # (role, name, strategy)
    if config.warm_start is not None:
        warm = make_strategy(config.warm_start, config.warm_start_options)
        keeper = None
        if store is not None:
            keeper = StudyState(study, store, storage_url, retrain, "warm start", WARM_STATE_KEY,
                                purpose="warm-start")  # fmt: skip
        line = warm.prepare(Preparation(study.study_name, problem, space, keeper, progress,
                                        config))  # fmt: skip
        if line:
            _log.info(line)
        starts.append(("warm_start", config.warm_start, warm))
    starts.append(("strategy", config.strategy, strategy))
    for role, name, source in starts:
        if source.trainings > 0:
            record_strategy(study, role, name, source.trainings, source.seconds)
    objective = Objective(study, config, problem, space, evaluator, store, progress)

    def best(study: optuna.Study) -> str | None:
        if config.multi_objective:
            return None
        try:
            return f"best={100 * float(study.best_value):+.2f}%"
        except ValueError:  # nothing complete yet
            return None

    def repair(study: optuna.Study) -> None:
        lost = enqueue_baselines(study, space, config, lost_only=True)
        if lost:
            _log.info(f"queued again the baseline trials that were lost: {', '.join(lost)}")
        for _, name, source in starts:
            queued = queue_layouts(study, space, config, source, name)
            if queued:
                _log.info(f"strategy {name!r} queued {queued} layouts")

    over = over_budget(config.judged_on().max_cost, problem.cost)

    def sampler(draw: int) -> optuna.samplers.BaseSampler:
        made = make_sampler(config, draw, space)
        # In a budgeted study a strategy proposes layouts within the budget (never trained
        # for nothing); the redraws are seeded like the strategy's own draws.
        return made if over is None else WithinBudget(made, space, over, config.seed + draw)

    run_trials(
        study, objective, config.n_trials, storage_url, progress, postfix=best,
        sampler=sampler, repair=repair,
    )  # fmt: skip
