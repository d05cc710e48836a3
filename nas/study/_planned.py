"""Planned runs: a fixed list of (candidate, seed) trainings, run as the queued trials of a study.

The confirm stage and a tabulation are both this. The plan is made before the study exists and
stored on it when it is created, with one enqueued trial per run; any number of workers then
take runs until none is missing, a killed run is queued again by its heartbeat, and one that
raised is queued again by the next process to run the plan. What a run keeps (weights, a curve)
is its objective's business: :class:`PlannedObjective` trains, a subclass stores.

A run is stored as the user attributes of its trial. The attribute that names its place in the
plan differs by kind (``finalist`` in a confirm stage, ``entry`` in a tabulation) and is kept so,
so studies stored by every version read the same.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import optuna
from optuna.trial import FrozenTrial, TrialState

from nas.core._errors import UserError
from nas.core._layout import Layout
from nas.explore.evaluators import Candidate, Evaluation, FullTraining
from nas.study._roles import Role, role_of
from nas.study._runner import run_trials
from nas.study._store.joining import create_or_join, queued_study, study_exists, wait_ready
from nas.study._store.record import StudyRecord
from nas.study._store.recording import recording
from nas.training._problem import Problem

__all__ = [
    "PlannedObjective",
    "PlannedRun",
    "RunPlan",
    "open_planned",
    "run_planned",
]


@dataclass(frozen=True)
class PlannedRun:
    """One training of a plan: a candidate and a seed, at place ``index`` of the plan."""

    index: int
    seed: int
    layout: Layout
    loss_weighting: str = "equal"
    role: Role = "candidate"

    @property
    def candidate(self) -> Candidate:
        """What the evaluator trains."""
        return Candidate(self.layout, self.loss_weighting, self.seed)

    def attrs(self, key: str) -> dict[str, Any]:
        """The user attributes it is stored as, its index under ``key``."""
        return {
            "role": self.role,
            key: self.index,
            "seed": self.seed,
            "layout": self.layout.to_dict(),
            "summary": self.layout.summary(),
            "loss_weighting": self.loss_weighting,
        }

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any], key: str) -> PlannedRun:
        """Read :meth:`attrs` output (tabulations stored before roles read as candidates)."""
        return cls(
            int(attrs[key]),
            int(attrs["seed"]),
            Layout.from_dict(attrs["layout"]),
            attrs.get("loss_weighting", "equal"),
            role_of(attrs.get("role", "candidate")),
        )


@dataclass(frozen=True)
class RunPlan:
    """Every run of a plan, and the user attribute that names a run's place in it.

    Args:
        key: the attribute holding a run's index (``finalist``, ``entry``).
        runs: seed by seed, so a plan stopped early has whole seeds.
        what: a run in words, for messages ("confirm run").
    """

    key: str
    runs: tuple[PlannedRun, ...]
    what: str

    def _covered(self, study: optuna.Study, states: Sequence[TrialState],
                 exclude: Collection[int]) -> dict[tuple[int, int], FrozenTrial]:  # fmt: skip
        out: dict[tuple[int, int], FrozenTrial] = {}
        for t in study.get_trials(deepcopy=False, states=tuple(states)):
            if self.key in t.user_attrs and t.number not in exclude:
                out.setdefault((int(t.user_attrs[self.key]), int(t.user_attrs["seed"])), t)
        return out

    def complete(
        self, study: optuna.Study, gone: Collection[int] = ()
    ) -> dict[tuple[int, int], FrozenTrial]:
        """(index, seed) -> the first complete trial of that run, leaving out ``gone`` ones."""
        return self._covered(study, (TrialState.COMPLETE,), gone)

    def missing(self, study: optuna.Study, gone: Collection[int] = ()) -> list[PlannedRun]:
        """The runs no trial has completed, is running or waits to run (``gone`` ones aside)."""
        live = (TrialState.COMPLETE, TrialState.WAITING, TrialState.RUNNING)
        covered = self._covered(study, live, gone)
        return [r for r in self.runs if (r.index, r.seed) not in covered]

    def claim(
        self, trial: optuna.Trial, study: optuna.Study, gone: Collection[int] = ()
    ) -> PlannedRun:
        """The run ``trial`` runs: its own when enqueued, else the first missing one.

        A trial without the plan's key was started by a worker after a run failed on the way;
        it takes over the first missing run and stores it as its own.

        Raises:
            UserError: the trial was not enqueued and no run is missing.
        """
        if self.key in trial.user_attrs:
            return PlannedRun.from_attrs(trial.user_attrs, self.key)
        missing = self.missing(study, {*gone, trial.number})
        if not missing:
            raise UserError(f"no {self.what} is missing")
        for name, value in missing[0].attrs(self.key).items():
            trial.set_user_attr(name, value)
        return missing[0]

    def enqueue(self, study: optuna.Study, runs: Sequence[PlannedRun]) -> None:
        """Queue ``runs`` as trials of ``study``."""
        for run in runs:
            study.enqueue_trial({}, user_attrs=run.attrs(self.key))


def open_planned(
    storage: optuna.storages.BaseStorage,
    name: str,
    direction: Literal["minimize", "maximize"],
    ready_key: str,
    describe: Callable[[optuna.Study], None],
    plan: Callable[[], tuple[RunPlan, Any]],
    refuse: Callable[[dict[str, Any]], Exception | None] | None = None,
) -> tuple[optuna.Study, Any, bool]:
    """The planned study ``name``, created with its runs queued on first use, or joined.

    ``plan()`` is called once, and only when the study does not exist (so a plan that cannot be
    made creates nothing); it returns the runs and the JSON value stored under ``ready_key``.
    ``describe`` stores the study's own attributes (its kind first, for ``refuse`` in joiners).

    Returns:
        The study, the stored plan value (None when a creator never stored it), and whether
        this process created the study.
    """
    made = None
    if not study_exists(storage, name):
        made = plan()

    def fill(study: optuna.Study) -> None:
        assert made is not None, "the study did not exist a moment ago"
        describe(study)
        made[0].enqueue(study, made[0].runs)
        StudyRecord(study).set(ready_key, made[1])  # last: joiners wait for it

    study, created = create_or_join(storage, name, queued_study(storage, name, direction), fill)
    return study, wait_ready(study, ready_key, 0 if created else 60, refuse), created


class PlannedObjective:
    """Trains the run a trial was enqueued with (or a missing one), recording how it went.

    Subclasses store what they keep with :meth:`keep`, whose return value is the trial's value.
    """

    def __init__(self, study: optuna.Study, plan: RunPlan, problem: Problem,
                 trainer: FullTraining) -> None:  # fmt: skip
        self.study, self.plan, self.problem, self.trainer = study, plan, problem, trainer

    def gone(self) -> Collection[int]:
        """Finished trials that no longer count (their runs are missing again)."""
        return ()

    def progress(self, run: PlannedRun) -> Callable[[Evaluation], None] | None:
        """A callback for each epoch's evaluation of ``run``; None for none."""
        return None

    def keep(self, trial: optuna.Trial, run: PlannedRun, evaluation: Evaluation) -> float:
        """Store what the run keeps; return the trial's value."""
        raise NotImplementedError

    def __call__(self, trial: optuna.Trial) -> float:
        """Train the trial's run; failures are recorded and raised."""
        run = self.plan.claim(trial, self.study, self.gone())
        with recording(trial, self.problem.device):
            got = self.trainer.evaluate(self.problem, run.candidate, self.progress(run))
            assert got.network is not None  # full training always has a network
            return self.keep(trial, run, got)


def run_planned(objective: PlannedObjective, url: str | None, progress: bool) -> None:
    """Queue the runs that raised again, then train runs until every one is complete.

    Finished trials that no longer count (``objective.gone()``) need one more trial each.
    """
    study, plan, gone = objective.study, objective.plan, objective.gone()
    plan.enqueue(study, plan.missing(study, gone))  # killed runs are requeued by heartbeats
    run_trials(study, objective, len(plan.runs) + len(gone), url, progress)
