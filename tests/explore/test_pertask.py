"""The per-task path model of the structure strategy: features, proposals, a planted landscape."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from nas.app.cli import main
from nas.core import Layout
from nas.explore.strategies import StrategyError, make_strategy
from nas.explore.strategies._pertask import PathModel, task_features
from nas.explore.strategies._structure import StructureSampler, task_observations
from nas.study import TrialRecord
from search_spaces import SearchSpace, make_space
from tests.explore.test_structure import _layouts

TABLE = Path(__file__).parents[2] / "tables" / "digits-branched.table.json"
PER_TASK = {"model": "per-task", "n_startup_trials": 6}


def test_task_features_of_a_hand_made_layout() -> None:
    # a and b share blocks 0-1; c splits after block 0, skips block 1 and runs a's copy of 2
    lay = Layout(("a", "b", "c"), ((0, 0, 0), (0, 0, None), (0, 1, 0)))
    assert task_features(lay, "a") == {
        "run:0": 1.0, "run:1": 1.0, "run:2": 1.0,
        "share:b:0": 1.0, "share:c:0": 1.0, "share:b:1": 1.0, "share:c:2": 1.0,
    }  # fmt: skip
    assert task_features(lay, "b") == {
        "run:0": 1.0, "run:1": 1.0, "run:2": 1.0,
        "share:a:0": 1.0, "share:c:0": 1.0, "share:a:1": 1.0, "alone:2": 1.0,
    }  # fmt: skip
    assert task_features(lay, "c") == {
        "run:0": 1.0, "run:2": 1.0, "share:a:0": 1.0, "share:b:0": 1.0, "share:a:2": 1.0,
    }  # fmt: skip


def test_the_model_keeps_what_was_measured_on_a_path() -> None:
    # Two trees of two tasks; y's term is measured on both, and the model ranks them as measured.
    a = Layout(("x", "y"), ((0, 0), (0, 0), (0, 1)))
    b = Layout(("x", "y"), ((0, 1), (0, 1), (0, 1)))
    model = PathModel([a, b], ("x", "y"))
    seen = [(a, {"x": 0.2, "y": 0.1}), (b, {"x": -0.1, "y": -0.3})]
    mean = model.predict(seen, [a, b])
    assert mean[0] > mean[1]
    assert model.predict([], [a, b]).tolist() == [0.0, 0.0]  # nothing seen: no preference


def _run(
    space: SearchSpace,
    sampler: optuna.samplers.BaseSampler,
    terms_of: dict[Layout, dict[str, float]],
    n: int,
    noise: np.random.Generator | None = None,
) -> list[Layout]:
    study = optuna.create_study(direction="maximize", sampler=sampler)
    proposed = []
    for _ in range(n):
        trial = study.ask()
        layout = space.suggest(trial)
        trial.set_user_attr("layout", layout.to_dict())
        terms = {
            t: v + (noise.normal(0, 2.0) if noise is not None else 0.0)
            for t, v in terms_of[layout].items()
        }
        trial.set_user_attr("task_deltas", terms)
        study.tell(trial, float(np.mean(list(terms.values()))))
        proposed.append(layout)
    if noise is None:
        assert len(task_observations(study, space) or []) == n
    return proposed


def test_the_sampler_proposes_only_layouts_of_the_space_and_none_twice() -> None:
    for space in (
        make_space("branched", ("a", "b", "c"), 4, {"split_depths": [0, 2, 4]}),
        make_space("adashare", ("a", "b"), 3, {"always_run": 1}),
    ):
        every = _layouts(space)
        terms = {lay: {t: float(len(lay.used_blocks())) for t in lay.tasks} for lay in every}
        sampler = StructureSampler(space, 0, 3, model="per-task")
        proposed = _run(space, sampler, terms, len(every))
        assert set(proposed) == set(every) and len(proposed) == len(every)


def _planted(seed: int) -> tuple[SearchSpace, dict[Layout, dict[str, float]], Layout]:
    # Four tasks, splits at 0, 2, 4, 6 (154 trees). Each task's term is a known sum over its
    # path: +1 for each (partner, block) it shares in a hidden tree, -1 for each other one it
    # shares. The hidden tree is then the one best layout; which tree it is differs by seed.
    space = make_space("branched", ("a", "b", "c", "d"), 6, {"split_depths": [0, 2, 4, 6]})
    layouts = _layouts(space)
    hidden = random.Random(seed).choice(layouts)
    want = {t: task_features(hidden, t) for t in hidden.tasks}
    terms = {
        lay: {
            t: sum(1.0 if k in want[t] else -1.0 for k in task_features(lay, t) if "share" in k)
            for t in lay.tasks
        }
        for lay in layouts
    }
    return space, terms, hidden


@pytest.mark.parametrize(
    ("name", "options", "trials", "least", "margin"),
    # The model choosing among every untried tree; and `paths` as shipped, which chooses among
    # 8 draws of the space's parameters (a prior that a uniform planted tree does not follow),
    # so it needs more trials to meet the hidden tree.
    [("structure", PER_TASK, 20, 8, 5), ("paths", None, 30, 5, 3)],
    ids=["every-layout", "paths"],
)
def test_on_a_planted_landscape_it_finds_the_best_far_more_often_than_random(
    name: str, options: dict[str, object] | None, trials: int, least: int, margin: int
) -> None:
    found = {"random": 0, name: 0}
    for seed in range(10):
        space, terms, best = _planted(seed)
        for which in found:
            sampler = make_strategy(which, None if which == "random" else options).sampler_for(
                space, seed
            )
            noise = np.random.default_rng(seed)  # 2 points of noise on each task's term
            found[which] += best in _run(space, sampler, terms, trials, noise)
    # 20 (30) of 154 trees: random proposals hold the best about 13% (19%) of the time
    assert found[name] >= least and found[name] >= found["random"] + margin, found


def test_a_bad_model_is_refused_in_one_line() -> None:
    with pytest.raises(StrategyError, match="model must be one of"):
        make_strategy("structure", {"model": "tree"})


def test_a_study_stores_each_tasks_term_and_the_model_reads_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Answered from the shipped digits table (35 trees): no training, the real study path.
    monkeypatch.chdir(tmp_path)
    args = ["search", "--name", "s", "--n-trials", "12", "--no-confirm", "--quiet",
            "--evaluator", f"table:{TABLE}", "--benchmark", "digits", "--size", "small",
            "--epochs", "3", "--device", "cpu", "--strategy", "structure",
            "--strategy-option", 'model="per-task"']  # fmt: skip
    assert main(args) == 0
    study = optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path / 'studies.db'}")
    done = study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
    records = [TrialRecord.of(t) for t in done]
    assert len(records) == 12 and all(r.duplicate_of is None for r in records)  # none twice
    for r in records:
        if r.delta_mtl is None:  # pruned: no final score, no terms
            continue
        assert r.task_deltas is not None and r.delta_mtl is not None
        assert np.mean(list(r.task_deltas.values())) == pytest.approx(r.delta_mtl)
