"""The trial loop: a trial stopped by a signal keeps why, wherever in the trial it landed."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from nas.core import Terminated
from nas.study import TrialRecord, open_storage
from nas.study._runner import run_trials


@pytest.mark.filterwarnings("ignore:Heartbeat of storage:UserWarning")
def test_a_sigterm_after_the_objectives_records_still_stores_why_and_queues_the_trial(
    tmp_path: Path,
) -> None:
    # A SIGTERM arriving during the objective's last database write is held until the write
    # ends (nas.core.deferred_interrupts), then raised outside the objective's own recording.
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    study = optuna.create_study(storage=open_storage(url, create=True), study_name="s")

    def objective(trial: optuna.Trial) -> float:
        trial.suggest_int("x", 0, 9)
        trial.set_user_attr("wall_seconds", 1.0)
        raise Terminated()

    with pytest.raises(Terminated):
        run_trials(study, objective, target=2, storage_url=url, progress=False)

    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.WAITING]
    assert str(TrialRecord.of(trials[0]).fail_reason).startswith("terminated")
    assert trials[1].params == trials[0].params  # its layout is queued for whoever resumes
