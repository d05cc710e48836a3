from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nas.app.cli import main
from nas.core import Layout
from search_spaces import AdaShareSpace, BranchedSpace, SpaceError, make_space, space_names

TASKS = ("seg", "depth", "normal")


def test_registry() -> None:
    assert {"adashare", "branched"} <= set(space_names())
    assert isinstance(make_space("branched", TASKS, 4), BranchedSpace)
    space = make_space("adashare", TASKS, 4, {"instances": 2})
    assert isinstance(space, AdaShareSpace) and space.instances == 2
    with pytest.raises(ValueError, match="unknown search space 'tree'; choose one of"):
        make_space("tree", TASKS, 4)
    with pytest.raises(ValueError, match="bad options for search space 'adashare'"):
        make_space("adashare", TASKS, 4, {"width": 3})


def test_branched_fixed_trial() -> None:
    space = BranchedSpace(TASKS, 4)
    params = {
        "shared_depth:seg:depth": 3,
        "shared_depth:seg:normal": 1,
        "shared_depth:depth:normal": 0,
    }
    layout = space.suggest(optuna.trial.FixedTrial(params))
    # closure lifts depth:normal to 1; seg/depth part after block 3.
    assert layout.rows == ((0, 0, 0), (0, 0, 1), (0, 0, 1), (0, 1, 2))
    assert layout.is_tree()
    assert space.params(layout) == {**params, "shared_depth:depth:normal": 1}


def test_branched_reaches_both_extremes() -> None:
    space = BranchedSpace(TASKS, 3)
    for layout in (Layout.hard_sharing(TASKS, 3), Layout.independent(TASKS, 3)):
        assert space.suggest(optuna.trial.FixedTrial(space.params(layout))) == layout
    with pytest.raises(ValueError, match="only tree layouts"):
        space.params(Layout(TASKS, ((0, 0, 0), (0, None, 0), (0, 0, 0))))
    with pytest.raises(ValueError, match="layout depth 2 != space depth 3"):
        space.params(Layout.hard_sharing(TASKS, 2))


@given(st.lists(st.integers(0, 4), min_size=3, max_size=3))
def test_branched_every_sample_is_a_tree_and_inverts(draws: list[int]) -> None:
    space = BranchedSpace(TASKS, 4)
    names = ["shared_depth:seg:depth", "shared_depth:seg:normal", "shared_depth:depth:normal"]
    layout = space.suggest(optuna.trial.FixedTrial(dict(zip(names, draws, strict=True))))
    assert layout.is_tree()
    assert space.suggest(optuna.trial.FixedTrial(space.params(layout))) == layout


def test_adashare_fixed_trial() -> None:
    space = AdaShareSpace(TASKS, 3)
    params = {f"block:{t}:{d}": -1 if (t, d) == ("depth", 1) else 0 for t in TASKS for d in (1, 2)}
    layout = space.suggest(optuna.trial.FixedTrial(params))
    assert layout.rows == ((0, 0, 0), (0, None, 0), (0, 0, 0))
    assert space.params(layout) == params
    with pytest.raises(ValueError, match="task 'seg', depth 0: cannot skip"):
        space.params(Layout(TASKS, ((None, 0, 0), (0, 0, 0), (0, 0, 0))))
    with pytest.raises(ValueError, match="task 'depth', depth 1: cannot use instance 1"):
        space.params(Layout(TASKS, ((0, 0, 0), (0, 1, 0), (0, 0, 0))))


@given(st.data())
def test_adashare_pool_every_sample_valid_and_inverts(data: st.DataObject) -> None:
    space = AdaShareSpace(TASKS, 4, instances=3, always_run=1)
    params = {}
    for d in range(4):
        for t in TASKS:
            choices = [0, 1, 2] if d == 0 else [-1, 0, 1, 2]
            params[f"block:{t}:{d}"] = data.draw(st.sampled_from(choices))
    layout = space.suggest(optuna.trial.FixedTrial(params))
    assert all(c is not None for c in layout.rows[0])
    assert space.suggest(optuna.trial.FixedTrial(space.params(layout))) == layout
    # independent networks are reachable with one instance per task
    ind = Layout.independent(TASKS, 4)
    assert space.suggest(optuna.trial.FixedTrial(space.params(ind))) == ind


@pytest.mark.parametrize("name", ["branched", "adashare"])
def test_parameter_names_and_choices_are_stable(name: str) -> None:
    # A resumed study must see the same space: sampled names and distributions never vary.
    space = make_space(name, TASKS, 4)
    seen: dict[str, object] = {}
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(20):
        trial = study.ask()
        space.suggest(trial)
        for key, dist in trial.distributions.items():
            assert seen.setdefault(key, dist) == dist
        assert len(trial.distributions) == len(seen)
        study.tell(trial, 0.0)


def test_a_space_of_your_own_by_import_path_runs_a_grid_study(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["search", "--name", "o", "--space", "tests.plugins:SplitOnce", "--strategy", "grid"]
    args += ["--n-trials", "5", "--epochs", "1", "--benchmark", "digits", "--size", "tiny"]
    assert main([*args, "--device", "cpu", "--quiet", "--no-confirm"]) == 0
    study = optuna.load_study(study_name="o", storage=f"sqlite:///{tmp_path / 'studies.db'}")
    # digits has 4 blocks: splits 0..4, of which 0 and 4 are the two baselines
    assert sorted(t.params["split"] for t in study.trials) == [0, 1, 2, 3, 4]
    with pytest.raises(SpaceError, match=r"made a slice, not a search_spaces\.SearchSpace"):
        make_space("builtins:slice", ("a",), 2)
    with pytest.raises(SpaceError, match=r"or name your own as package\.module:Class"):
        make_space("nope", ("a",), 2)


def test_split_depths_limit_where_a_branch_splits_and_keep_both_baselines() -> None:
    from nas.explore import SearchConfig
    from nas.explore.strategies import Grid
    from search_spaces import SpaceError, make_space

    tasks = ("a", "b", "c", "d")
    space = make_space("branched", tasks, 6, {"split_depths": [6, 0, 2, 4]})
    assert space.options() == {"split_depths": [0, 2, 4, 6]}
    layouts = Grid().layouts(space, SearchConfig())
    # Chains of three partitions of four tasks: 154 trees, both baselines among them.
    assert len(layouts) == 154 == len(set(layouts))
    assert Layout.independent(tasks, 6) in layouts and Layout.hard_sharing(tasks, 6) in layouts
    for layout in layouts:
        assert set(space.params(layout).values()) <= {0, 2, 4, 6}
    off = Layout(tasks, ((0, 0, 0, 0), (0, 0, 0, 1), *[(0, 0, 2, 3)] * 4))  # d splits after 1
    assert not space.reaches(off)
    for bad in ([0, 2], [1, 6], [0, 3.5, 6], "0,6"):
        with pytest.raises(SpaceError, match="split_depths"):
            make_space("branched", tasks, 6, {"split_depths": bad})
