"""Contract checks for plug-ins: the cases every built-in passes, for yours to pass too.

mtl-nas's own tests run them over every registered search space, strategy and evaluator; a
plug-in's tests call them the same way (as Optuna ships its sampler test cases)::

    from nas.testing import check_space, check_strategy
    from my_pkg.spaces import Mine

    def test_my_space():
        check_space(Mine(("seg", "depth"), 4))

Each check raises AssertionError naming what broke; none needs pytest.
"""

from __future__ import annotations

import math

import optuna

from nas.evaluators import Candidate, Evaluation, Evaluator
from nas.layout import Layout
from nas.problem import Problem
from nas.strategies import Strategy
from nas.study.config import SearchConfig
from search_spaces import SearchSpace

__all__ = ["check_evaluator", "check_space", "check_strategy"]


def _draws(space: SearchSpace, sampler: optuna.samplers.BaseSampler, n: int) -> list[Layout]:
    study = optuna.create_study(sampler=sampler)
    out = []
    for _ in range(n):
        trial = study.ask()
        out.append(space.suggest(trial))
        study.tell(trial, 0.0)
    return out


def check_space(space: SearchSpace, draws: int = 20) -> None:
    """A search space: valid layouts, parameters that round-trip, options that rebuild it.

    Checks: every drawn layout has the space's tasks and depth; ``params(layout)`` given back
    to ``suggest`` (a fixed trial) returns the same layout; its parameter names and choices do
    not depend on the draw (a resumed study keeps its space); ``options()`` is JSON-like; when
    the space lists ``distributions()``, every drawn parameter is among them.
    """
    name = type(space).__name__
    assert space.tasks and space.depth >= 1, f"{name}: needs tasks and a depth"
    seen: dict[str, object] = {}
    for layout in _draws(space, optuna.samplers.RandomSampler(seed=0), draws):
        assert layout.tasks == space.tasks, f"{name}: layout tasks {layout.tasks}"
        assert layout.depth == space.depth, f"{name}: layout depth {layout.depth}"
        params = space.params(layout)
        again = space.suggest(optuna.trial.FixedTrial(params))
        assert again == layout, f"{name}: params {params} suggest {again.summary()}"
        for key, value in params.items():
            seen.setdefault(key, type(value))
    assert isinstance(space.options(), dict), f"{name}: options() must return a dict"
    try:
        dists = space.distributions()
    except Exception:  # optional: only the supernet evaluator needs it
        return
    unknown = sorted(set(seen) - set(dists))
    assert not unknown, f"{name}: parameters {unknown} missing from distributions()"


def check_strategy(strategy: Strategy, space: SearchSpace, draws: int = 8) -> None:
    """A strategy: seeded samplers that repeat their draws, and reachable layouts of the space.

    Checks: ``sampler(seed)`` is an Optuna sampler, and two built with one seed draw the same
    layouts (one process stays reproducible); ``layouts(space, config)`` gives layouts with the
    space's tasks and depth that the space reaches (they are queued as its parameters).
    """
    name = type(strategy).__name__
    sampler = strategy.sampler(5)
    assert isinstance(sampler, optuna.samplers.BaseSampler), f"{name}: sampler() is no sampler"
    first = _draws(space, strategy.sampler(5), draws)
    assert first == _draws(space, strategy.sampler(5), draws), f"{name}: one seed drew twice"
    for layout in strategy.layouts(space, SearchConfig()):
        assert isinstance(layout, Layout), f"{name}: layouts() gave {type(layout).__name__}"
        assert (layout.tasks, layout.depth) == (space.tasks, space.depth), (
            f"{name}: layout {layout.summary()} is not of the space's tasks and depth"
        )
        assert space.reaches(layout), f"{name}: the space cannot reach {layout.summary()}"


def check_evaluator(evaluator: Evaluator, problem: Problem, layout: Layout | None = None) -> None:
    """An evaluator: finite metrics for every task, progress reported, and stopped on request.

    Checks: ``evaluate`` returns an :class:`~nas.evaluators.Evaluation` with each task's metrics
    (finite primary ones); every progress report is an Evaluation; an exception raised by the
    progress callback stops the evaluation and reaches the caller (that is how pruning works).
    An evaluator with ``prepare`` must be prepared before it is checked.
    """
    name = type(evaluator).__name__
    tasks = [t.name for t in problem.tasks]
    layout = layout or Layout.hard_sharing(tasks, problem.backbone.depth)
    reports: list[Evaluation] = []
    result = evaluator.evaluate(problem, Candidate(layout), reports.append)
    assert isinstance(result, Evaluation), f"{name}: evaluate() gave {type(result).__name__}"
    assert set(result.metrics) == set(tasks), f"{name}: metrics for {sorted(result.metrics)}"
    for task, value in problem.primary(result.metrics).items():
        assert math.isfinite(value), f"{name}: task {task!r} scored {value}"
    assert all(isinstance(r, Evaluation) for r in reports), f"{name}: progress got no Evaluation"

    class Stop(Exception):
        pass

    def stop(evaluation: Evaluation) -> None:
        raise Stop

    if reports:  # an evaluator that reports progress must stop when the callback raises
        try:
            evaluator.evaluate(problem, Candidate(layout), stop)
        except Stop:
            return
        raise AssertionError(f"{name}: a raising progress callback did not stop evaluate()")
