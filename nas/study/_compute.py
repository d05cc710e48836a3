"""What a study's answer cost, in full-training equivalents.

The strategy's own learning, the search's trials and the confirm stage's runs. One full
training is one candidate trained for the study's epochs. A pruned trial counts the share of
epochs it ran, a trial answered from an earlier one of the same layout nothing; a strategy that
learns before its trials (AdaShare's policy, the single-task networks of the affinity method)
records its own figure on the study, whichever process ran it, so equal compute can be read
off any two studies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from nas.study._store.record import StudyRecord

__all__ = ["COMPUTE_KEY", "Compute", "record_strategy", "study_compute"]

COMPUTE_KEY = "mtlnas_strategy_compute"  # {role: {"name", "trainings", "seconds"}}


@dataclass(frozen=True)
class Compute:
    """Full-training equivalents spent by each part of a study."""

    strategies: dict[str, float]  # strategy name -> its own learning
    trials: float  # search trials (pruned: the share of epochs run)
    confirm: int  # confirm runs finished (each one full training)

    @property
    def total(self) -> float:
        """Everything together."""
        return sum(self.strategies.values()) + self.trials + self.confirm

    def line(self) -> str:
        """One line for ``show``."""
        parts = [f"strategy {n!r} {t:.2f}" for n, t in self.strategies.items()]
        parts.append(f"search trials {self.trials:.2f}")
        if self.confirm:
            parts.append(f"confirm runs {self.confirm}")
        return f"compute: {self.total:.2f} full trainings ({' + '.join(parts)})"


def record_strategy(study: optuna.Study, role: str, name: str, trainings: float,
                    seconds: float) -> None:  # fmt: skip
    """Store what strategy ``name`` (``role``: strategy or warm_start) spent before its trials."""
    record = StudyRecord(study)
    current: dict[str, Any] = dict(record.get(COMPUTE_KEY) or {})
    entry = {"name": name, "trainings": round(trainings, 4), "seconds": round(seconds, 1)}
    if current.get(role) != entry:
        record.set(COMPUTE_KEY, {**current, role: entry}, sort_keys=True)


def _trial_trainings(trial: FrozenTrial, epochs: int) -> float:
    if trial.state not in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL):
        return 0.0
    ran = trial.user_attrs.get("epochs")  # 0 for a layout answered from its earlier trial
    if ran is None:  # not recorded (a failed trial): the epochs it reported
        ran = epochs if trial.state == TrialState.COMPLETE else len(trial.intermediate_values)
    return min(1.0, float(ran) / epochs)


def study_compute(
    study: optuna.Study, epochs: int, confirm_runs: Sequence[FrozenTrial] = ()
) -> Compute:
    """The compute of ``study`` (trained with ``epochs`` per trial) and its confirm runs."""
    stored: dict[str, Any] = StudyRecord(study).get(COMPUTE_KEY) or {}
    strategies = {e["name"]: float(e["trainings"]) for e in stored.values()}
    trials = sum(_trial_trainings(t, epochs) for t in study.get_trials(deepcopy=False))
    confirm = sum(t.state == TrialState.COMPLETE for t in confirm_runs)
    return Compute(strategies, trials, confirm)
