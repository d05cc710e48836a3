"""Latency as an objective and a budget: measured once per layout, kept on the study."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest
import torch
from optuna.trial import TrialState

import nas.runtime._latency
import nas.study._latency
from nas.app.cli import main
from nas.core import Layout
from nas.explore import SearchConfig, feasible
from nas.study import StudyRecord, prepare
from nas.study._latency import LATENCY_KEY, LatencyCache

FAST = ["--benchmark", "digits", "--size", "tiny", "--device", "cpu", "--quiet", "--no-confirm"]


def test_each_layout_is_measured_once_and_read_back_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    problem, space = prepare(SearchConfig(benchmark="digits", size="tiny"), torch.device("cpu"))
    measured: list[Layout] = []
    real = nas.study._latency.measure_ratio

    def counting(problem: Any, layout: Layout, reference: Layout, *graph: Any) -> Any:
        measured.append(layout)
        return real(problem, layout, reference, *graph)

    exported: list[Any] = []
    real_export = nas.runtime._latency.to_onnx

    def exporting(net: Any) -> Any:
        exported.append(net)
        return real_export(net)

    monkeypatch.setattr(nas.study._latency, "measure_ratio", counting)
    monkeypatch.setattr(nas.runtime._latency, "to_onnx", exporting)
    study = optuna.create_study()
    independent = Layout.independent(space.tasks, space.depth)
    hard = Layout.hard_sharing(space.tasks, space.depth)
    cache = LatencyCache(StudyRecord(study), problem, independent)
    first = cache.get(hard)
    assert 0 < first.ratio < 1  # one trunk for three tasks runs faster than three networks
    assert first.ms == pytest.approx(first.ratio * cache.reference_ms())
    assert "onnxruntime" in first.device
    # Another process of the same study reads the stored figure back: nothing is measured.
    again = LatencyCache(StudyRecord(study), problem, independent)
    assert again.get(hard) == first and cache.get(independent).ratio == 1.0
    assert measured == [independent, hard]  # the reference once, then the layout once
    assert len(exported) == 2  # the reference is exported once and timed beside each layout


@pytest.mark.slow
def test_a_latency_study_stores_one_measurement_per_layout_and_honours_its_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    base = ["search", "--n-trials", "4", "--epochs", "1", *FAST]
    assert main([*base, "--name", "too", "--max-cost", "latency=0.01"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "the cheapest layout of this space needs" in err
    assert main([*base, "--name", "l", "--objectives", "delta,latency"]) == 0
    study = optuna.load_study(study_name="l", storage="sqlite:///studies.db")
    done = study.get_trials(states=(TrialState.COMPLETE,))
    assert done and all(t.values[1] == t.user_attrs["latency"] for t in done)
    assert study.trials[0].user_attrs["latency"] == 1.0  # the independent networks
    layouts = {str(t.user_attrs["layout"]) for t in study.trials if "layout" in t.user_attrs}
    stored = [k for k in study.user_attrs if k.startswith(LATENCY_KEY + ":")]
    assert len(stored) == len(layouts) + 1  # one per layout, and the reference
    assert main([*base, "--name", "b", "--max-cost", "latency=0.7"]) == 0
    out = capsys.readouterr().out
    assert "latency budget against onnxruntime" in out
    budgeted = optuna.load_study(study_name="b", storage="sqlite:///studies.db")
    for t in budgeted.trials:
        assert feasible(t) == (t.user_attrs["latency"] <= 0.7)
