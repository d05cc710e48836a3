"""Confirmed fronts: finalists spread along the validation front, dominance paired on test."""

from __future__ import annotations

import itertools
from pathlib import Path

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import create_trial

from nas.app.cli import main
from nas.core import Layout
from nas.explore import SearchConfig, feasible
from nas.runtime import OnnxModel
from nas.study import ConfirmedResult, ConfirmedRow, confirmed, open_storage
from nas.study._outcome.confirm import ConfirmError, plan
from nas.study._outcome.confirmed import TaskInfo
from nas.study._outcome.front import choose, dominated, layers, spread
from nas.study._outcome.stats import summarize
from tests import NO_PEERS

TASKS = ("a", "b", "c")
TINY = ["--benchmark", "digits", "--size", "tiny", "--device", "cpu", "--quiet", "--epochs", "1"]


_LAYOUT = Layout.independent(["a", "b"], 2)  # what the rows say they retrained


def tree(s1: int, s2: int, depth: int = 4) -> Layout:
    """Shared below ``s1``, tasks a and b together below ``s2``, separate above."""
    rows = [(0, 0, 0) if d < s1 else (0, 0, 1) if d < s2 else (0, 1, 2) for d in range(depth)]
    return Layout.from_groups(TASKS, rows)


def test_layers_and_spread_follow_their_definitions() -> None:
    points = [(0.0, 1.0), (-1.0, 0.5), (-2.0, 0.8), (-3.0, 0.2), (-1.0, 0.5)]
    # Equal points do not dominate each other; the one dominated point is the second layer.
    assert layers(points) == [[3, 1, 4, 0], [2]]
    # Most of the front crowds its cheap end: the spread still takes both ends and the middle.
    costs = [0.20, 0.21, 0.22, 0.23, 0.24, 0.55, 0.90, 1.0]
    assert spread(costs, 3) == [0, 5, 7]
    assert spread(costs, 1) == [7]  # one point: the most accurate (dearest) end
    assert spread(costs, 20) == list(range(8))


def test_choose_fills_from_the_next_front_when_the_first_is_short() -> None:
    points = [(0.0, 1.0), (-5.0, 0.1), (-1.0, 1.0), (-6.0, 0.2), (-9.0, 0.9)]
    assert choose(points, 2) == [1, 0]  # the front is exactly the two ends
    assert choose(points, 4) == [1, 3, 0, 2]  # then the second front, spread the same way


def _study(points: list[tuple[Layout, float, float, bool]]) -> optuna.Study:
    study = optuna.create_study(directions=["maximize", "minimize"])
    depth = points[0][0].depth
    baselines = [
        ("independent", Layout.independent(TASKS, depth), 0.0, 1.0),
        ("hard_sharing", Layout.hard_sharing(TASKS, depth), -0.2, 0.25),
    ]
    dist = {"x": FloatDistribution(0, 1)}
    for role, layout, delta, cost in baselines:
        attrs = {"baseline": role, "layout": layout.to_dict(), "delta_mtl": delta}
        study.add_trial(create_trial(values=[delta, cost], params={"x": 0.0},
                                     distributions=dist, user_attrs=attrs))  # fmt: skip
    for layout, delta, cost, within in points:
        attrs = {"layout": layout.to_dict(), "delta_mtl": delta, "loss_weighting": "equal"}
        study.add_trial(
            create_trial(values=[delta, cost], params={"x": 0.5}, distributions=dist,
                         user_attrs=attrs, constraints={"max_flops": -1.0 if within else 1.0})
        )  # fmt: skip
    return study


def test_a_front_study_confirms_layouts_spread_along_it_never_an_infeasible_one() -> None:
    layouts = [tree(s1, s2) for s1, s2 in itertools.combinations_with_replacement(range(5), 2)]
    layouts = [x for x in layouts if x not in (tree(0, 0), tree(4, 4))]
    # A crowded cheap end, one middle point, an expensive accurate end, dominated points, and
    # the most accurate layout of all over the budget.
    points = [
        (layouts[0], -0.10, 0.30, True),
        (layouts[1], -0.09, 0.31, True),
        (layouts[2], -0.08, 0.32, True),
        (layouts[3], -0.07, 0.33, True),
        (layouts[4], -0.04, 0.60, True),
        (layouts[5], -0.01, 0.95, True),
        (layouts[6], -0.12, 0.70, True),  # dominated
        (layouts[7], +0.05, 0.97, False),  # over budget
        (layouts[0], -0.30, 0.30, True),  # the same layout again, worse: counted once
    ]
    study = _study(points)
    over = study.trials[-2]
    assert not feasible(over)
    config = SearchConfig(benchmark="digits", objectives="delta,flops")
    made = plan(study, config, top=3, seeds=2)
    picked = [f.source_trial for f in made.finalists[2:]]
    assert picked == [2, 6, 7]  # cheapest, middle, dearest of the front: not the top 3 by Δ
    assert over.number not in [f.source_trial for f in plan(study, config, 9, 2).finalists]
    assert made.cost_axis == "flops" and made.finalists[0].role == "independent"
    # Single-objective studies keep the top K by validation Δ_MTL.
    top = plan(study, SearchConfig(benchmark="digits"), top=3, seeds=2)
    assert top.cost_axis is None and [f.source_trial for f in top.finalists[2:]] == [7, 6, 5]
    with pytest.raises(ConfirmError, match="--confirm-top must be at least 1"):
        plan(study, config, top=0, seeds=2)


def _row(k: int, role: str, deltas: list[float], flops: int) -> ConfirmedRow:
    return ConfirmedRow(k, role, role, _LAYOUT, "equal", None, None, deltas, summarize(deltas),
                        {1: 2 * k, 2: 2 * k + 1}, deltas, [{"t": 0.5}] * 2, 10, flops)  # fmt: skip


def test_a_point_is_dominated_only_by_a_paired_margin_at_no_more_cost() -> None:
    rows = [
        _row(0, "independent", [0.0, 0.0, 0.0], 100),
        _row(1, "hard_sharing", [-0.10, -0.12, -0.11], 30),
        _row(2, "candidate", [-0.20, -0.25, -0.22], 60),  # worse than hard sharing, dearer
        _row(3, "candidate", [-0.05, -0.30, +0.05], 40),  # noisy: not shown worse
        _row(4, "candidate", [-0.01, -0.02, -0.015], 110),  # dearer than independent, worse
    ]
    result = ConfirmedResult([1, 2, 3], 4, rows, [TaskInfo("t", "acc", True)], cost_axis="flops")
    assert dominated(result) == {2: 1, 4: 0}
    assert dominated(ConfirmedResult([1, 2, 3], 4, rows, result.tasks)) == {}  # not a front
    assert ConfirmedResult.from_dict(result.to_dict()).cost_axis == "flops"


@pytest.mark.slow
def test_a_front_is_confirmed_shown_drawn_and_each_point_exported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["search", "--name", "f", "--n-trials", "6", *TINY, "--objectives", "delta,flops"]
    assert main([*args, "--confirm-seeds", "2", *NO_PEERS]) == 0
    result = confirmed(open_storage("sqlite:///studies.db"), "f")
    assert result is not None and result.cost_axis == "flops"
    assert all(r.tested and r.latency_ms is not None for r in result.rows)  # every point
    points = [r for r in result.rows if r.role == "candidate"]
    assert 1 <= len(points) <= 3
    capsys.readouterr()
    assert main(["show", "f"]) == 0
    shown = capsys.readouterr().out
    assert "front: every finalist was tested; cost axis FLOPs" in shown
    for r in points:
        assert f"#{r.finalist} (search trial {r.source_trial}" in shown
    assert main(["plot", "f", "--out", "figs"]) == 0
    assert (tmp_path / "figs" / "f-front.png").stat().st_size > 0
    last = points[-1]
    assert main(["export", "f", "--front-point", str(last.finalist), "-o", "p.onnx"]) == 0
    assert f"front point #{last.finalist}, f:confirm run" in capsys.readouterr().out
    meta = OnnxModel("p.onnx", "cpu").metadata
    assert meta["confirmed"]["flops_per_sample"] == last.flops
    assert meta["confirmed"]["test_delta_mtl"] == last.test_deltas[0]  # type: ignore[index]
    assert main(["export", "f", "--front-point", "0", "-o", "x.onnx"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "front point #0 is not one" in err
