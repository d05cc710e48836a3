"""The thin objective: FixedTrial-driven, reuse of a repeated layout, baseline ordering, fronts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest
import torch
from optuna.trial import FixedTrial, TrialState

from nas.core import Layout
from nas.explore import SearchConfig
from nas.explore.evaluators import Candidate, Evaluation, FullTraining
from nas.study import (
    StudyHandle,
    StudyRecord,
    TrialRecord,
    artifact_store,
    create_or_resume,
    open_storage,
    prepare,
    run_search,
)
from nas.study._baseline import BaselineFailed, baseline_trials
from nas.study._objective import Objective, is_front
from nas.training import Problem, TrainConfig
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
    run_search(StudyHandle(study, study._storage, config, objective.store), problem, space, False)
    first, again = study.trials[1], study.trials[2]
    assert again.params == first.params
    assert TrialRecord.of(again).duplicate_of == 1
    assert again.values == first.values
    assert TrialRecord.of(again).metrics == TrialRecord.of(first).metrics
    assert TrialRecord.of(again).epochs == 0 and TrialRecord.of(first).epochs == 1


class FailsOnIndependent(UntrainedEvaluator):
    """Fails whenever asked to score the independent layout: a baseline that cannot finish."""

    def evaluate(self, problem: Problem, candidate: Candidate, progress: Any = None) -> Evaluation:
        layout = candidate.layout
        if layout == Layout.independent(layout.tasks, layout.depth):
            raise RuntimeError("out of memory (simulated)")
        return super().evaluate(problem, candidate, progress)


def test_a_lost_baseline_is_trained_by_the_next_trial_first(tmp_path: Path) -> None:
    study, objective = new_study(tmp_path)
    lost = study.ask()  # the independent trial, taken and lost (Ctrl-C, or given up)
    study.tell(lost, state=TrialState.FAIL)
    hard = study.ask()  # the hard-sharing trial, queued before any new baseline
    value = objective(hard)
    study.tell(hard, value)
    baselines = baseline_trials(study)
    assert [t.state for t in baselines] == [TrialState.FAIL, TrialState.COMPLETE]
    again = baselines[1]
    assert StudyRecord(study).baseline() == TrialRecord.of(again).primary
    assert again.values == [0.0] and again.number > hard.number  # queued again, run first
    assert TrialRecord.of(study.trials[hard.number]).delta_mtl == value
    # The hard-sharing layout was scored once, not thrown away and queued again.
    assert not study.get_trials(states=(TrialState.WAITING,))


def test_a_search_repairs_a_lost_baseline_and_reaches_its_target(tmp_path: Path) -> None:
    study, objective = new_study(tmp_path, CONFIG.replace(n_trials=4))
    for _ in range(2):  # both baselines lost before anything finished
        study.tell(study.ask(), state=TrialState.FAIL)
    handle = StudyHandle(study, study._storage, objective.config)
    run_search(handle, objective.problem, objective.space, progress=False)
    done = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(done) == 4
    kinds = sorted(str(t.user_attrs.get("baseline")) for t in done)
    assert kinds == ["None", "None", "hard_sharing", "independent"]
    assert all(TrialRecord.of(t).fail_reason is None for t in done)


def test_a_baseline_that_fails_again_fails_the_trial_with_its_reason(tmp_path: Path) -> None:
    study, objective = new_study(tmp_path)
    objective.evaluator = FailsOnIndependent()
    study.tell(study.ask(), state=TrialState.FAIL)
    hard = study.ask()
    with pytest.raises(BaselineFailed, match=r"independent layout failed \(RuntimeError: out of"):
        objective(hard)
    assert baseline_metrics_of(study) is None


def baseline_metrics_of(study: optuna.Study) -> dict[str, float] | None:
    return StudyRecord(study).baseline()


def test_full_training_is_reproducible_on_the_cpu(tmp_path: Path) -> None:
    problem, _ = prepare(CONFIG, torch.device("cpu"))
    layout = Layout.hard_sharing(problem.benchmark.task_names, problem.backbone.depth)
    from nas.explore.evaluators import Candidate

    trainer = FullTraining(TrainConfig(epochs=2, batch_size=32))
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
