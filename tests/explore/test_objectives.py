"""Objectives: values, directions and budgets in one object, and a user's own by import path."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
import torch
from optuna.trial import TrialState

from nas.app.cli import main
from nas.core import Layout
from nas.explore import ConfigError, ObjectivesError, SearchConfig, feasible, make_objectives
from nas.model import Cost
from nas.study import TrialRecord, confirmed, open_storage, prepare
from tests import NO_LATENCY, NO_PEERS

FAST = ["--benchmark", "digits", "--size", "tiny", "--device", "cpu", "--quiet"]


def test_the_built_in_specs() -> None:
    one = make_objectives("delta")
    assert (one.names, one.directions, one.multi) == (["delta_mtl"], ["maximize"], False)
    two = make_objectives("delta,flops", {"max_params": 10})
    assert (two.names, two.directions, two.multi) == (
        ["delta_mtl", "flops"],
        ["maximize", "minimize"],
        True,
    )
    cost = Cost(block_executions=3, params=12, flops=40)
    assert two.values(0.5, cost) == [0.5, 40.0]
    assert two.constraints(cost) == {"max_params": 2.0}
    assert SearchConfig(objectives="delta,params").directions == ["maximize", "minimize"]
    fast = make_objectives("delta,latency", {"max_latency": 0.5})
    assert fast.names == ["delta_mtl", "latency"] and fast.uses_latency and not two.uses_latency
    assert fast.values(0.5, cost, latency=0.25) == [0.5, 0.25]
    assert fast.constraints(cost, latency=0.75) == {"max_latency": 0.25}


def test_bad_objectives_are_one_line_errors() -> None:
    with pytest.raises(ObjectivesError, match="use delta, delta,params, delta,flops"):
        make_objectives("delta,memory")
    with pytest.raises(ObjectivesError, match="takes no option 'max_memory'"):
        make_objectives("delta", {"max_memory": 3})
    with pytest.raises(ObjectivesError, match="budget max_flops must be a positive number"):
        make_objectives("delta", {"max_flops": -1})
    with pytest.raises(ConfigError, match="unknown objectives 'nope'"):
        SearchConfig(objectives="nope")


def test_feasible_reads_the_stored_constraints() -> None:
    study = optuna.create_study()
    for value in (-1.0, 0.0, 2.0):
        trial = study.ask()
        trial.set_constraint("max_params", value)
        study.tell(trial, 0.0)
    assert [feasible(t) for t in study.trials] == [True, True, False]


@pytest.mark.slow
def test_objectives_of_your_own_with_a_budget_run_a_study_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    problem, space = prepare(SearchConfig(benchmark="digits", size="tiny"), torch.device("cpu"))
    ind = problem.cost(Layout.independent(space.tasks, space.depth)).params
    hard = problem.cost(Layout.hard_sharing(space.tasks, space.depth)).params
    budget = (ind + hard) // 2  # independent networks are over it, hard sharing within
    monkeypatch.chdir(tmp_path)
    args = ["search", "--name", "b", "--n-trials", "6", "--epochs", "1", *FAST]
    args += ["--objectives", "tests.plugins:within_params"]
    args += ["--objective-option", f"max_params={budget}", "--confirm-top", "1"]
    assert main([*args, "--confirm-seeds", "2", *NO_LATENCY, *NO_PEERS]) == 0
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    study = optuna.load_study(study_name="b", storage=url)
    config = json.loads(study.user_attrs["mtlnas_config"])
    assert config["objective_options"] == {"max_params": budget}
    trials = study.get_trials(states=(TrialState.COMPLETE,))
    assert not feasible(trials[0]) and feasible(trials[1])  # independent over, hard within
    over = [t for t in trials if not feasible(t)]
    assert all(TrialRecord.of(t).weights is None for t in over)  # never kept for export
    plan = json.loads(
        optuna.load_study(study_name="b:confirm", storage=url).user_attrs["mtlnas_confirm_plan"]
    )
    for finalist in plan["finalists"]:
        if finalist["role"] == "candidate":
            assert problem.cost(Layout.from_dict(finalist["layout"])).params <= budget
    result = confirmed(open_storage(url), "b")
    assert result is not None and result.winner_row.role != "independent"  # over the budget
    more = ["resume", "b", "--n-trials", "7", "--device", "cpu", "--quiet", "--no-confirm"]
    assert main(more) == 0
    assert main(["export", "b", "-o", str(tmp_path / "b.onnx")]) == 0
