"""``--strategy affinity``: planted pairs recovered; measured once per study; warm starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest
import torch

from nas.app.cli import main
from nas.explore import SearchConfig
from nas.explore.evaluators import Preparation
from nas.explore.strategies import Strategy, StrategyError, make_strategy
from nas.study import StudyRecord, prepare
from nas.testing import MemoryState
from nas.training import Problem
from search_spaces import SearchSpace, make_space
from tests import NO_LATENCY, NO_PEERS

CONFIG = SearchConfig(benchmark="tests.plugins:pairs", epochs=3, seed=0)


@pytest.fixture(scope="module")
def pairs() -> tuple[Problem, SearchSpace]:
    return prepare(CONFIG, torch.device("cpu"))


def _prep(problem: Problem, space: SearchSpace, state: Any) -> Preparation:
    return Preparation("s", problem, space, state, progress=False, config=CONFIG)


@pytest.fixture(scope="module")
def measured(pairs: tuple[Problem, SearchSpace]) -> Strategy:
    problem, space = pairs
    strategy = make_strategy("affinity", {"trees": 3})
    assert "trained and measured" in str(strategy.prepare(_prep(problem, space, MemoryState())))
    return strategy


def test_affinity_recovers_the_planted_pairs(
    pairs: tuple[Problem, SearchSpace], measured: Strategy
) -> None:
    problem, space = pairs
    strategy = measured
    aff = strategy.affinity  # type: ignore[attr-defined]
    partner = {0: 1, 1: 0, 2: 3, 3: 2}  # a1-a2, b1-b2
    for d in range(1, space.depth):  # past the first block, each task's nearest is its pair
        for t in range(4):
            others = [o for o in range(4) if o != t]
            assert max(others, key=lambda o: float(aff[d, t, o])) == partner[t]
    # Of the three ways to give the four tasks two networks of two, the least dissimilar is
    # the planted grouping.
    from nas.core import Layout
    from nas.training import dissimilarity_score

    pairings = [Layout(space.tasks, ((0, 0, 1, 1),) * space.depth),
                Layout(space.tasks, ((0, 1, 0, 1),) * space.depth),
                Layout(space.tasks, ((0, 1, 1, 0),) * space.depth)]  # fmt: skip
    scores = [dissimilarity_score(t, 1 - aff) for t in pairings]
    assert scores[0] < min(scores[1:]) - 0.2
    chosen = strategy.layouts(space, CONFIG)
    assert len(chosen) == 3 and len(set(chosen)) == 3
    costs = [problem.cost(layout).flops for layout in chosen]
    assert costs == sorted(costs)  # one per budget, cheapest first
    for layout in chosen:
        space.params(layout)  # reachable: queued as an ordinary trial


def test_a_kill_after_the_training_does_not_train_again(
    pairs: tuple[Problem, SearchSpace], measured: Strategy, monkeypatch: pytest.MonkeyPatch
) -> None:
    problem, space = pairs
    whole = measured
    state = MemoryState()
    real_save = state.save

    def save_then_die(checkpoint: dict[str, Any]) -> None:
        real_save(checkpoint)
        raise KeyboardInterrupt  # killed right after the trained networks are saved

    monkeypatch.setattr(state, "save", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        make_strategy("affinity").prepare(_prep(problem, space, state))
    monkeypatch.setattr(state, "save", real_save)
    import nas.explore.strategies._affinity as module

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("trained again")

    monkeypatch.setattr(module.FullTraining, "evaluate", no_training)
    resumed = make_strategy("affinity", {"trees": 3})
    assert "measured" in str(resumed.prepare(_prep(problem, space, state)))
    assert torch.equal(resumed.affinity, whole.affinity)  # type: ignore[attr-defined]
    assert resumed.layouts(space, CONFIG) == whole.layouts(space, CONFIG)
    again = make_strategy("affinity")
    assert "loaded" in str(again.prepare(_prep(problem, space, state)))


def test_affinity_is_refused_outside_the_branched_space(
    pairs: tuple[Problem, SearchSpace],
) -> None:
    problem, _ = pairs
    space = make_space("adashare", problem.benchmark.task_names, 3, {})
    with pytest.raises(StrategyError, match="use --space branched"):
        make_strategy("affinity").prepare(_prep(problem, space, MemoryState()))
    with pytest.raises(StrategyError, match="trees must be >= 1"):
        make_strategy("affinity", {"trees": 0})


@pytest.mark.slow
def test_a_warm_started_study_queues_the_trees_then_tpe_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["search", "--name", "w", "--benchmark", "tests.plugins:pairs", "--size", "tiny",
            "--epochs", "1",
            "--warm-start", "affinity", "--warm-start-option", "trees=2", "--n-trials", "5",
            "--device", "cpu", "--quiet", "--no-confirm"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "single-task networks trained and measured" in out
    assert "strategy 'affinity' queued 2 layouts" in out
    study = optuna.load_study(study_name="w", storage="sqlite:///studies.db")
    assert "mtlnas_warm_start_state" in study.user_attrs
    # Baselines first, then the two trees, then TPE's own draw.
    fixed = [t.system_attrs.get("fixed_params") is not None for t in study.trials]
    assert fixed[:4] == [True] * 4 and fixed[4] is False
    assert main(["resume", "w", "--n-trials", "6", "--device", "cpu", "--quiet",
                 "--confirm-seeds", "2", "--confirm-top", "1",
                 *NO_LATENCY, *NO_PEERS]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "single-task networks loaded" in out and "CONFIRMED" in out
    # Its compute: the single-task networks (1), six trials, 2 seeds x 3 confirmed layouts.
    study = optuna.load_study(study_name="w", storage="sqlite:///studies.db")
    spent = StudyRecord(study).get("mtlnas_strategy_compute")["warm_start"]
    assert spent["name"] == "affinity" and spent["trainings"] == 1.0 and spent["seconds"] > 0
    assert main(["show", "w"]) == 0
    assert ("compute: 13.00 full trainings (strategy 'affinity' 1.00 + search trials 6.00 + "
            "confirm runs 6)") in capsys.readouterr().out  # fmt: skip
    assert main(["export", "w", "-o", str(tmp_path / "m.onnx")]) == 0
    assert (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--warm-start", "nope"], "unknown strategy 'nope'"),
        (["--warm-start-option", "trees=2"], "--warm-start-option needs --warm-start NAME"),
    ],
)
def test_a_bad_warm_start_is_one_line_before_the_database(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["search", "--benchmark", "digits", "--size", "tiny", "--quiet", *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "studies.db").exists()
