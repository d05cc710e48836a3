"""start=spread: start-up layouts spread along the level of sharing, then TPE."""

from __future__ import annotations

import itertools

import optuna
import pytest

from nas.core import Layout
from nas.explore.strategies import StrategyError, make_strategy
from nas.explore.strategies._spread import SpreadStart, compute_share
from search_spaces import SearchSpace, make_space

TASKS = ("a", "b", "c", "d", "e")


def test_compute_share_of_hand_made_layouts() -> None:
    assert compute_share(Layout.independent(TASKS, 3)) == 1.0
    assert compute_share(Layout.hard_sharing(TASKS, 3)) == pytest.approx(1 / 5)
    # a and b share blocks 0-1 and split for block 2; c runs alone: 2 + 2 + 3 calls of 9
    tree = Layout(("a", "b", "c"), ((0, 0, 1), (0, 0, 1), (0, 1, 1)))
    assert compute_share(tree) == pytest.approx(7 / 9)
    # a select/skip layout: a skipped block is no call
    skip = Layout(("a", "b"), ((0, 0), (0, None)))
    assert compute_share(skip) == pytest.approx(2 / 4)


def _levels(space: SearchSpace, start: str, trials: int, seed: int) -> list[Layout]:
    # A study as mtlnas search runs it: both baselines queued first, then the strategy's trials.
    strategy = make_strategy("tpe", {"start": start})
    study = optuna.create_study(direction="maximize")
    for layout in (Layout.independent(TASKS, 3), Layout.hard_sharing(TASKS, 3)):
        study.enqueue_trial(space.params(layout))
    out = []
    for i in range(trials):
        study.sampler = strategy.sampler_for(space, seed + i)  # as the runner builds it per trial
        trial = study.ask()
        layout = space.suggest(trial)
        out.append(layout)
        study.tell(trial, float(i % 3))
    return out


def _widest_gap(layouts: list[Layout]) -> float:
    levels = sorted({compute_share(lay) for lay in layouts})
    return max(b - a for a, b in itertools.pairwise(levels))


def test_the_start_up_fills_the_sharing_axis_and_stays_in_the_space() -> None:
    space = make_space("branched", TASKS, 3)
    every = set()
    for seed in range(5):
        got = _levels(space, "spread", 6, 100 * seed)
        for layout in got:  # only layouts of the space, each once
            assert space.suggest(optuna.trial.FixedTrial(space.params(layout))) == layout
        assert len(set(got)) == len(got)
        # the baselines at 1/5 and 1, then the middle, then the middles of both halves
        assert compute_share(got[2]) == pytest.approx(9 / 15)
        assert _widest_gap(got) <= 3 / 15 + 1e-9
        every |= set(got[2:])
    assert len(every) > 12  # random within a level: other draws, other trees


def test_random_start_up_leaves_a_wider_gap() -> None:
    # What spread is for: the space's encoding favours sharing, so random draws cluster.
    space = make_space("branched", TASKS, 3)
    gaps = [_widest_gap(_levels(space, "random", 6, 100 * seed)) for seed in range(5)]
    assert max(gaps) > 3 / 15 + 1e-9


def test_after_the_start_up_the_inner_sampler_proposes() -> None:
    space = make_space("branched", TASKS, 3)
    history = optuna.create_study(direction="maximize")
    for i in range(6):
        history.sampler = SpreadStart(space, optuna.samplers.RandomSampler(i), i, 3)
        trial = history.ask()
        space.suggest(trial)
        history.tell(trial, float(i % 4))

    def next_params(sampler: optuna.samplers.BaseSampler) -> dict[str, object]:
        study = optuna.create_study(direction="maximize", sampler=sampler)
        study.add_trials(history.trials)
        trial = study.ask()
        space.suggest(trial)
        return trial.params

    tpe = optuna.samplers.TPESampler
    got = next_params(SpreadStart(space, tpe(seed=5, n_startup_trials=3), 0, 3))
    assert got == next_params(tpe(seed=5, n_startup_trials=3))


def test_spread_works_on_a_select_or_skip_space() -> None:
    space = make_space("adashare", TASKS, 3)
    study = optuna.create_study(direction="maximize")
    for i in range(5):
        study.sampler = make_strategy("tpe", {"start": "spread"}).sampler_for(space, i)
        trial = study.ask()
        layout = space.suggest(trial)
        assert layout.tasks == TASKS
        study.tell(trial, 0.0)


def test_a_bad_start_is_refused() -> None:
    with pytest.raises(StrategyError, match=r"start must be one of \['random', 'spread'\]"):
        make_strategy("tpe", {"start": "sobol"})
