"""The thin objective: FixedTrial-driven, reuse of a repeated layout, baseline ordering, fronts."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import torch
from optuna.trial import FixedTrial, TrialState

from nas.evaluators import FullTraining
from nas.layout import Layout
from nas.study.baseline import BaselineNotReady, baseline_metrics
from nas.study.config import SearchConfig
from nas.study.create import create_or_resume, prepare
from nas.study.objective import Objective, is_front
from nas.study.record import StudyRecord, TrialRecord
from nas.study.search import run_search
from nas.study.storage import artifact_store, open_storage
from tests.plugins import UntrainedEvaluator

CONFIG = SearchConfig(benchmark="digits", size="tiny", epochs=1, n_trials=3)


def new_study(tmp_path: Path, config: SearchConfig = CONFIG) -> tuple[optuna.Study, Objective]:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    problem, space = prepare(config, torch.device("cpu"))
    study, _ = create_or_resume(open_storage(url, create=True), "s", config, {}, space)
    objective = Objective(
        study, config, problem, space, UntrainedEvaluator(), artifact_store(url), False
    )
    return study, objective


def test_is_front() -> None:
    dirs = ["maximize", "minimize"]
    assert is_front([0.1, 5.0], [], dirs)
    assert not is_front([0.1, 5.0], [[0.2, 5.0]], dirs)  # better Δ, same cost
    assert not is_front([0.1, 5.0], [[0.1, 4.0]], dirs)  # same Δ, cheaper
    assert is_front([0.1, 5.0], [[0.1, 5.0]], dirs)  # a tie does not dominate
    assert is_front([0.1, 5.0], [[0.2, 6.0], [0.0, 4.0]], dirs)  # trade-offs
    assert not is_front([1.0], [[2.0]], ["maximize"])


def test_a_fixed_trial_drives_the_objective(tmp_path: Path) -> None:
    study, objective = new_study(tmp_path)
    baseline = {"left": 0.5, "right": 0.5, "sum": 0.25}
    StudyRecord(study).set_baseline(0, baseline)
    params = {"shared_depth:left:right": 4, "shared_depth:left:sum": 0, "shared_depth:right:sum": 0}
    trial = FixedTrial(params)
    value = objective(trial)
    record = TrialRecord.of(trial)  # type: ignore[arg-type]
    assert record.layout is not None and record.primary is not None
    layout = Layout.from_dict(record.layout)
    assert layout.path("left") == layout.path("right") != layout.path("sum")
    assert value == record.delta_mtl
    expected = sum(
        (record.primary[t] - baseline[t]) / baseline[t] for t in ("left", "right", "sum")
    )
    assert value == pytest.approx(expected / 3)


def test_a_repeated_layout_reuses_the_stored_result(tmp_path: Path) -> None:
    config = CONFIG.replace(n_trials=3)
    study, objective = new_study(tmp_path, config)
    problem, space = objective.problem, objective.space
    hard = space.params(Layout.hard_sharing(space.tasks, space.depth))
    study.enqueue_trial(hard)  # proposed again, after the two baselines
    run_search(study, config, problem, space, objective.store, progress=False)
    first, again = study.trials[1], study.trials[2]
    assert again.params == first.params
    assert TrialRecord.of(again).duplicate_of == 1
    assert again.values == first.values
    assert TrialRecord.of(again).metrics == TrialRecord.of(first).metrics
    assert TrialRecord.of(again).epochs == 0 and TrialRecord.of(first).epochs == 1


def test_baseline_not_ready_requeues_the_trial(tmp_path: Path) -> None:
    study, objective = new_study(tmp_path)
    record = StudyRecord(study)
    with pytest.raises(BaselineNotReady):
        baseline_metrics(record, wait=True)  # the independent trial is WAITING
    assert baseline_metrics(record, wait=False) is None
    params = {"shared_depth:left:right": 1, "shared_depth:left:sum": 1, "shared_depth:right:sum": 1}
    waiting_before = len(study.get_trials(states=(TrialState.WAITING,)))
    with pytest.raises(BaselineNotReady):
        objective(FixedTrial(params))
    waiting = study.get_trials(states=(TrialState.WAITING,))
    assert len(waiting) == waiting_before + 1  # queued again, to run after the baseline
    assert waiting[-1].system_attrs["fixed_params"] == params
    assert "fail_reason" not in waiting[-1].user_attrs


def test_a_study_whose_baseline_failed_reports_why(tmp_path: Path) -> None:
    study, objective = new_study(tmp_path)
    t = study.ask()  # the independent trial, taken and lost
    study.tell(t, state=TrialState.FAIL)
    assert baseline_metrics(StudyRecord(study), wait=True) is None
    hard = study.ask()
    with pytest.raises(RuntimeError, match="no single-task baseline"):
        objective(hard)


def test_full_training_is_reproducible_on_the_cpu(tmp_path: Path) -> None:
    problem, _ = prepare(CONFIG, torch.device("cpu"))
    layout = Layout.hard_sharing(problem.benchmark.task_names, problem.backbone.depth)
    from nas.evaluators import Candidate

    trainer = FullTraining(epochs=2, batch_size=32)
    a = trainer.evaluate(problem, Candidate(layout, seed=3))
    b = trainer.evaluate(problem, Candidate(layout, seed=3))
    c = trainer.evaluate(problem, Candidate(layout, seed=4))
    assert a.metrics == b.metrics  # the premise of reusing a repeated layout's result
    assert a.network is not None and b.network is not None
    for (k, x), (_, y) in zip(
        a.network.state_dict().items(), b.network.state_dict().items(), strict=True
    ):
        assert torch.equal(x, y), k
    assert a.metrics != c.metrics  # and the seed matters
