"""Latency of exported graphs under onnxruntime, and what the confirm stage does without it."""

from __future__ import annotations

import optuna
import pytest
import torch

import nas.runtime._latency
from nas.core import Layout
from nas.data import load_benchmark
from nas.runtime import SERVING_BATCH, Latency, measure_latency
from nas.study import ConfirmedResult, ConfirmedRow
from nas.study._outcome.confirmed import TaskInfo
from nas.study._outcome.stage import with_latency
from nas.study._outcome.stats import summarize
from nas.training import Problem

_LAYOUT = Layout.independent(["a", "b"], 2)  # what the rows say they retrained


@pytest.fixture(scope="module")
def problem() -> Problem:
    return Problem.prepare(load_benchmark("digits", size="tiny"), None, torch.device("cpu"))


def test_every_network_is_timed_at_batch_one_and_a_serving_batch(problem: Problem) -> None:
    tasks = problem.benchmark.task_names
    depth = problem.backbone.depth
    torch.manual_seed(0)
    nets = {
        "independent": problem.build(Layout.independent(tasks, depth)).eval(),
        "hard": problem.build(Layout.hard_sharing(tasks, depth)).eval(),
    }
    latency = measure_latency(nets, repeats=10, device="cpu")
    assert set(latency.median_ms) == {"independent", "hard"}
    for times in latency.median_ms.values():
        assert set(times) == {1, SERVING_BATCH} and all(ms > 0 for ms in times.values())
    assert latency.device.startswith("onnxruntime CPUExecutionProvider on ")
    assert latency.repeats == 10
    assert Latency.from_dict(latency.to_dict()) == latency


def _row(finalist: int, role: str, latency: dict[int, float] | None) -> ConfirmedRow:
    return ConfirmedRow(
        finalist, role, role, _LAYOUT, "equal", None, None, [0.0, 0.0], summarize([0.0, 0.0]),
        {0: finalist, 1: 3 + finalist}, [0.0, 0.1], [{"a": 1.0}, {"a": 1.0}],
        params=100 * (2 - finalist), flops=1000 * (2 - finalist), latency_ms=latency,
    )  # fmt: skip


def test_latency_ratios_are_relative_to_the_independent_networks() -> None:
    rows = [_row(0, "independent", {1: 2.0, 64: 40.0}), _row(1, "hard_sharing", {1: 1.0, 64: 10.0})]
    result = ConfirmedResult([0, 1], 1, rows, [TaskInfo("a", "acc", True)], latency_device="x")
    assert result.latency_ratio(rows[1]) == {1: 0.5, 64: 0.25}
    assert result.cost_words(rows[1]) == (
        "0.50x FLOPs, 0.50x params, 0.50x / 0.25x latency at batch 1 / 64"
    )
    again = ConfirmedResult.from_dict(result.to_dict())
    assert again.rows[1].latency_ms == {1: 1.0, 64: 10.0} and again.latency_device == "x"


def test_a_graph_that_cannot_be_timed_costs_the_latency_not_the_answer(
    problem: Problem, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(nets: object, **_: object) -> Latency:
        raise RuntimeError("the exporter cannot take this graph")

    monkeypatch.setattr(nas.runtime._latency, "measure_latency", broken)
    rows = [_row(0, "independent", None)]
    rows = [ConfirmedRow(**{**rows[0].__dict__, "test_deltas": None})]  # nothing to time
    result = ConfirmedResult([0, 1], 0, rows, [TaskInfo("a", "acc", True)])
    store = None  # not read: no tested row
    assert with_latency(result, optuna.create_study(), problem, store) is result  # type: ignore[arg-type]
    err = capsys.readouterr().err
    assert "latency not measured (RuntimeError: the exporter cannot take this graph)" in err
