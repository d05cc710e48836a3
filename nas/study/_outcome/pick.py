"""The one answer to "which trial is the answer?", shared by show, plot and export."""

from __future__ import annotations

import optuna
from optuna.trial import FrozenTrial, TrialState

from nas.core._errors import UserError
from nas.explore._objectives import feasible
from nas.study._store.record import TrialRecord

__all__ = ["NoTrial", "answer", "best_trial", "trial_by_number"]


class NoTrial(UserError, LookupError):
    """The study has no such trial, or none that finished."""


def best_trial(study: optuna.Study) -> FrozenTrial:
    """The complete trial within budget with the best validation Δ_MTL; on a front, the front's.

    A multi-objective study's front holds trials that trade Δ_MTL for cost; the one with the
    highest Δ_MTL is the answer to "the best layout", and ``--trial`` picks another member.

    Raises:
        NoTrial: no trial has completed yet.
    """
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        raise NoTrial(
            f"study {study.study_name!r} has no complete trial yet; "
            f"run: mtlnas resume {study.study_name}"
        )
    within = [t for t in complete if feasible(t)]  # a layout over its budget is never the answer
    if not within:
        raise NoTrial(
            f"study {study.study_name!r}: none of its {len(complete)} complete trials is within "
            f"its budget; see mtlnas show {study.study_name}, or raise the budget in a new study"
        )
    pool = study.best_trials if len(study.directions) > 1 else within
    # Ties go to the earlier trial, as Optuna's own best_trial does.
    return max(pool, key=lambda t: (t.values[0], -t.number))


def trial_by_number(study: optuna.Study, number: int) -> FrozenTrial:
    """Trial ``number`` of the study.

    Raises:
        NoTrial: there is no such trial.
    """
    trials = study.get_trials(deepcopy=False)
    if not 0 <= number < len(trials):
        raise NoTrial(
            f"study {study.study_name!r} has no trial {number} (trials 0..{len(trials) - 1})"
        )
    return trials[number]


def answer(
    storage: optuna.storages.BaseStorage,
    study: optuna.Study,
    number: int | None = None,
    front_point: int | None = None,
) -> tuple[optuna.Study, FrozenTrial]:
    """The trial that answers search study ``study``, as (the study holding it, the trial).

    Trial ``number`` of the search when given (when its weights were not kept and the
    confirm stage retrained its layout, that row's run with the first confirm seed); else
    finalist ``front_point`` of a confirmed front (``#K`` in ``mtlnas show``), or the
    confirmed winner: its run with the first confirm seed (retrained, tested); else, before a
    confirm stage, the search's best trial on validation (:func:`best_trial`).

    Raises:
        NoTrial: no such trial, a front point that is not one, or nothing complete yet.
    """
    from nas.study._outcome.confirm import confirm_name
    from nas.study._outcome.verdict import confirmed

    result = confirmed(storage, study.study_name)
    if number is not None:
        trial = trial_by_number(study, number)
        if TrialRecord.of(trial).weights is not None or result is None:
            return study, trial
        # Its weights were not kept (not the best when it finished), but the confirm stage
        # retrained its layout: the run with the first confirm seed answers for it.
        row = next((r for r in result.rows if r.source_trial == number), None)
        if row is None:
            return study, trial
        confirm = optuna.load_study(study_name=confirm_name(study.study_name), storage=storage)
        return confirm, confirm.get_trials(deepcopy=False)[row.runs[result.seeds[0]]]
    run = None if result is None else result.answer_run()
    if front_point is not None:
        if result is None or result.cost_axis is None:
            raise NoTrial(
                f"study {study.study_name!r} has no confirmed front (a study with a cost "
                f"objective, confirmed); use --trial N, or run: mtlnas confirm {study.study_name}"
            )
        points = [r.finalist for r in result.rows if r.tested and r.role == "candidate"]
        if front_point not in points:
            raise NoTrial(
                f"study {study.study_name!r}: front point #{front_point} is not one; its "
                f"points are {', '.join(f'#{k}' for k in points)} (mtlnas show "
                f"{study.study_name})"
            )
        run = result.rows[front_point].runs[result.seeds[0]]
    if run is None:
        return study, best_trial(study)
    confirm = optuna.load_study(study_name=confirm_name(study.study_name), storage=storage)
    return confirm, confirm.get_trials(deepcopy=False)[run]
