"""A study's compute in full trainings: trials by the epochs they ran, strategies as recorded."""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState, create_trial

from nas.study._compute import record_strategy, study_compute


def test_trials_count_the_epochs_they_ran_and_strategies_what_they_recorded() -> None:
    study = optuna.create_study()
    study.add_trial(create_trial(value=0.1, user_attrs={"epochs": 6}))
    study.add_trial(create_trial(value=0.1, user_attrs={"epochs": 0}))  # answered from trial 0
    study.add_trial(create_trial(state=TrialState.PRUNED, intermediate_values={1: 0.0, 2: 0.0},
                                 user_attrs={"epochs": 3}))  # fmt: skip
    study.add_trial(create_trial(state=TrialState.FAIL, intermediate_values={1: 0.0}))
    record_strategy(study, "strategy", "affinity", 1.0, 12.5)
    record_strategy(study, "warm_start", "adashare", 4 / 3, 30.0)
    confirm = [create_trial(value=0.0), create_trial(value=0.0),
               create_trial(state=TrialState.FAIL)]  # fmt: skip
    spent = study_compute(study, 6, confirm)
    assert spent.trials == 1 + 0 + 0.5 + 1 / 6
    assert spent.strategies == {"affinity": 1.0, "adashare": 1.3333}
    assert spent.confirm == 2
    assert spent.total == pytest.approx(spent.trials + 1.0 + 1.3333 + 2)
    assert spent.line().startswith(f"compute: {spent.total:.2f} full trainings (strategy")
