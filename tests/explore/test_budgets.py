"""Budgets as users say them: relative to the independent networks, or counts with a unit."""

from __future__ import annotations

import json
import re
from pathlib import Path

import optuna
import pytest
import torch

from nas.app.cli import main
from nas.core import Layout
from nas.explore import BudgetError, SearchConfig, feasible, parse_max_cost, resolve, widest
from nas.study import prepare
from search_spaces import make_space

FAST = ["--benchmark", "digits", "--size", "tiny", "--device", "cpu", "--quiet", "--no-confirm"]


def test_budgets_are_multiples_or_counts_with_a_unit() -> None:
    assert parse_max_cost("flops=0.5, params=800k") == {"flops": "0.5", "params": "800k"}
    independent, cheapest = {"flops": 1e6, "params": 1e6}, {"flops": 1e5, "params": 2e5}
    got = resolve({"flops": "0.5", "params": "0.8M"}, independent, cheapest)
    assert got == {"max_flops": 5e5, "max_params": 8e5}
    # Latency budgets come out as multiples of the independent networks' (a study's unit).
    ms = {"latency": 4.0}
    assert resolve({"latency": "2ms"}, ms, {"latency": 1.0}) == {"max_latency": 0.5}
    assert resolve({"latency": "0.5"}, ms, {"latency": 1.0}) == {"max_latency": 0.5}
    with pytest.raises(BudgetError, match=re.escape("needs 1.00 ms (0.25x the independent")):
        resolve({"latency": "0.5ms"}, ms, {"latency": 1.0})
    for bad, why in [
        ("memory=0.5", "COST one of ['params', 'flops', 'latency']"),
        ("flops", "expected COST=BUDGET"),
        ("flops=0.5,flops=0.6", "names 'flops' twice"),
        ("flops=-1", "not a positive multiple"),
        ("params=800000", "for an amount give a unit (k, M, G), e.g. 800k"),
        ("latency=25", "for an amount give a unit (ms), e.g. 25ms"),
        ("latency=2k", "an amount with a unit (ms; e.g. 2.5ms)"),
        ("flops=2ms", "an amount with a unit (k, M, G; e.g. 800k, 1.2G)"),
    ]:
        with pytest.raises(BudgetError, match=re.escape(why)):
            parse_max_cost(bad)


def test_a_budget_below_the_cheapest_layout_names_its_cost() -> None:
    with pytest.raises(BudgetError) as err:
        resolve({"flops": "0.05"}, {"flops": 1e6}, {"flops": 2e5})
    message = str(err.value)
    assert "allows 50,000 flops per sample" in message
    assert "the cheapest layout of this space needs 200,000 (0.20x the independent" in message


def test_the_cheapest_layout_of_a_skipping_space_skips_every_block_it_may() -> None:
    space = make_space("adashare", ("a", "b"), 4, {"always_run": 1})
    cheapest = space.cheapest()
    assert cheapest.rows == ((0, 0), (None, None), (None, None), (None, None))
    assert space.reaches(cheapest)
    problem, branched = prepare(SearchConfig(benchmark="digits", size="tiny"), torch.device("cpu"))
    assert branched.cheapest() == Layout.hard_sharing(branched.tasks, branched.depth)
    skipping = make_space("adashare", branched.tasks, branched.depth)
    assert problem.cost(skipping.cheapest()).flops < problem.cost(branched.cheapest()).flops


def test_a_relative_budget_is_resolved_once_enforced_and_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    low = ["search", "--name", "b", "--n-trials", "3", "--epochs", "1", *FAST]
    assert main([*low, "--max-cost", "flops=0.05"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "the cheapest layout of this space needs" in err
    assert not (tmp_path / "studies.db").exists()  # refused before the database
    assert main([*low, "--max-cost", "flops=0.7"]) == 0
    study = optuna.load_study(study_name="b", storage="sqlite:///studies.db")
    config = json.loads(study.user_attrs["mtlnas_config"])
    problem, space = prepare(SearchConfig(benchmark="digits", size="tiny"), torch.device("cpu"))
    independent = problem.cost(Layout.independent(space.tasks, space.depth))
    assert config["max_cost"] == {"flops": "0.7"}
    assert config["objective_options"]["max_flops"] == pytest.approx(0.7 * independent.flops)
    first = study.trials[0]
    assert first.user_attrs["baseline"] == "independent" and not feasible(first)
    capsys.readouterr()
    assert main(["show", "b"]) == 0
    shown = capsys.readouterr().out
    assert "(--max-cost flops=0.7)" in shown and "[independent]  [over budget]" in shown
    assert (
        main(["resume", "b", "--n-trials", "4", "--device", "cpu", "--quiet", "--no-confirm"]) == 0
    )


@pytest.mark.parametrize("benchmark", ["digits", "scenes"])
def test_the_equal_cost_baselines_land_within_five_percent_under_the_budget(
    benchmark: str,
) -> None:
    problem, space = prepare(SearchConfig(benchmark=benchmark, size="tiny"), torch.device("cpu"))
    independent = Layout.independent(space.tasks, space.depth)
    base = problem.cost(independent)
    for share in (0.4, 0.6):
        budgets = {"max_flops": share * base.flops, "max_params": 2.0 * base.params}
        for layout in (independent, Layout.hard_sharing(space.tasks, space.depth)):
            scaled = widest(layout, problem.cost, budgets)
            assert scaled is not None and scaled.rows == layout.rows
            flops = problem.cost(scaled).flops
            assert 0.95 * budgets["max_flops"] <= flops <= budgets["max_flops"], (layout, share)
            wider = problem.cost(scaled.scaled(scaled.width + 0.001)).flops
            assert wider > budgets["max_flops"]  # the widest: one step more is over
    # The budget that binds is the one the network meets first; none that applies: no width.
    tight = widest(independent, problem.cost, {"max_flops": 1e12, "max_params": 0.5 * base.params})
    assert tight is not None and problem.cost(tight).params <= 0.5 * base.params
    assert widest(independent, problem.cost, {"max_latency": 0.5}) is None
    assert widest(independent, problem.cost, {"max_flops": 10.0}) is None  # below one channel
