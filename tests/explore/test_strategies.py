"""Strategies: Optuna's samplers by name, an exhaustive grid, and a user's own by import path."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from nas.app.cli import main
from nas.core import Layout
from nas.explore import SearchConfig
from nas.explore.strategies import Grid, Strategy, StrategyError, make_strategy, strategy_names
from nas.study import TrialRecord
from search_spaces import make_space
from tests import NO_LATENCY, NO_PEERS

FAST = ["--benchmark", "digits", "--size", "tiny", "--device", "cpu", "--quiet"]


@pytest.mark.parametrize(
    ("name", "sampler"),
    [
        ("tpe", optuna.samplers.TPESampler),
        ("random", optuna.samplers.RandomSampler),
        ("nsga2", optuna.samplers.NSGAIISampler),
        ("gp", optuna.samplers.GPSampler),
        ("grid", optuna.samplers.RandomSampler),  # after its queued layouts: random draws
    ],
)
def test_builtin_strategies_give_their_samplers(name: str, sampler: type) -> None:
    assert name in strategy_names()
    assert isinstance(make_strategy(name).sampler(3), sampler)


def test_a_seeded_sampler_draws_the_same_twice() -> None:
    space = make_space("branched", ("a", "b", "c"), 4)

    def draws(options: dict[str, object] | None = None, name: str = "random") -> list[Layout]:
        study = optuna.create_study(sampler=make_strategy(name, options).sampler(7))
        out = []
        for i in range(12):
            trial = study.ask()
            out.append(space.suggest(trial))
            study.tell(trial, float(i % 5))
        return out

    assert draws() == draws()
    # The seed option moves the sampler's draws (to replicate a search on the same data).
    for name in ("random", "tpe"):
        assert draws({"seed": 0}, name) == draws(None, name)
        assert draws({"seed": 1}, name) == draws({"seed": 1}, name) != draws(None, name)


@pytest.mark.parametrize("seed", [-1, 1.5, True, "2"])
def test_a_bad_sampler_seed_is_refused(seed: object) -> None:
    with pytest.raises(StrategyError, match="strategy option seed must be an int >= 0"):
        make_strategy("tpe", {"seed": seed})


def test_bad_strategies_are_refused_in_one_line() -> None:
    with pytest.raises(StrategyError, match=r"unknown strategy 'nope'; choose one of \["):
        make_strategy("nope")
    with pytest.raises(StrategyError, match="strategy 'tpe' takes no option 'depth'"):
        make_strategy("tpe", {"depth": 3})
    with pytest.raises(
        StrategyError, match=r"returned SearchConfig, not a nas\.explore\.strategies"
    ):
        make_strategy("nas.explore._config:SearchConfig")


def test_the_grid_lists_every_tree_of_a_small_space_once() -> None:
    space = make_space("branched", ("a", "b", "c"), 4)
    layouts = Grid().layouts(space, SearchConfig())
    # Three tasks over four blocks: 1 + 3 x (ways to place one split, then the last pair) ...
    assert len(layouts) == len(set(layouts)) == 35
    assert all(layout.is_tree() for layout in layouts)
    assert Layout.independent(space.tasks, 4) in layouts
    assert Layout.hard_sharing(space.tasks, 4) in layouts
    with pytest.raises(StrategyError, match="parameter combinations, over max_combinations=10"):
        Grid(max_combinations=10).layouts(space, SearchConfig())


@pytest.mark.slow
def test_a_strategy_of_your_own_runs_a_study_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["search", "--name", "s", "--n-trials", "4", "--epochs", "1", *FAST]
    args += ["--strategy", "tests.plugins:fixed_layouts", "--strategy-option", "shared=[1,3]"]
    args += ["--confirm-top", "1", "--confirm-seeds", "2", *NO_LATENCY, *NO_PEERS]
    assert main(args) == 0
    assert "strategy 'tests.plugins:fixed_layouts' queued 2 layouts" in capsys.readouterr().out
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    study = optuna.load_study(study_name="s", storage=url)
    config = json.loads(study.user_attrs["mtlnas_config"])
    assert (config["strategy"], config["strategy_options"]) == (
        "tests.plugins:fixed_layouts",
        {"shared": [1, 3]},
    )
    summaries = [TrialRecord.of(t).summary for t in study.trials]
    rows = [Layout.from_dict(TrialRecord.of(t).layout or {}).rows for t in study.trials[2:]]
    assert rows == [((0, 0, 0), (0, 1, 2), (0, 1, 2), (0, 1, 2)), ((0, 0, 0),) * 3 + ((0, 1, 2),)]
    assert len(summaries) == 4
    # resume: nothing queued twice; the target raised is filled by the sampler (random)
    resume = ["resume", "s", "--n-trials", "5", "--device", "cpu", "--quiet", "--no-confirm"]
    assert main(resume) == 0
    study = optuna.load_study(study_name="s", storage=url)
    assert len(study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))) == 5
    assert len(study.trials) == 5
    assert main(["export", "s", "-o", str(tmp_path / "s.onnx")]) == 0


def test_the_old_sampler_option_is_read_as_the_strategy(tmp_path: Path) -> None:
    old = {**SearchConfig().to_dict(), "sampler": "random"}
    del old["strategy"], old["strategy_options"]
    assert SearchConfig.from_dict(old).strategy == "random"
    err = main(["search", "--sampler", "tpe", "--strategy", "tpe", *FAST, "--storage",
                f"sqlite:///{tmp_path / 'x.db'}"])  # fmt: skip
    assert err == 2 and not (tmp_path / "x.db").exists()


def test_strategy_is_a_base_with_defaults() -> None:
    class Nothing(Strategy):
        pass

    space = make_space("adashare", ("a", "b"), 3)
    assert list(Nothing().layouts(space, SearchConfig())) == []
    assert isinstance(Nothing().sampler(1), optuna.samplers.RandomSampler)


def test_the_default_strategy_is_paths_for_delta_alone_and_tpe_for_a_front() -> None:
    assert SearchConfig().strategy == "paths"
    assert SearchConfig(objectives="delta,flops").strategy == "tpe"
    assert SearchConfig(strategy="random").strategy == "random"
    # stored as what it means, so a study made before keeps its own
    assert SearchConfig.from_dict({**SearchConfig().to_dict(), "strategy": "tpe"}).strategy == "tpe"
    assert SearchConfig().to_dict()["strategy"] == "paths"
