"""The loop that runs trials until a study reaches its target, alone or beside other workers."""

from __future__ import annotations

import time
from collections.abc import Callable

import optuna
from optuna.trial import TrialState
from tqdm.auto import tqdm

from nas.core._errors import UserError
from nas.core._faults import (
    MachineFault,
    describe_fault,
    interrupt_reason,
    is_interrupt,
    is_terminated,
)
from nas.study._store.gate import TrialGate
from nas.study._store.record import FINISHED
from nas.study._store.stale import fail_stale, requeue

__all__ = ["MAX_FAILURES_IN_A_ROW", "SearchStalled", "run_trials"]

MAX_FAILURES_IN_A_ROW = 3

ObjectiveFn = Callable[[optuna.Trial], float | tuple[float, float]]


class SearchStalled(UserError, RuntimeError):
    """Trials keep failing: the study makes no progress."""


def run_trials(
    study: optuna.Study,
    objective: ObjectiveFn,
    target: int,
    storage_url: str | None = None,
    progress: bool = True,
    poll: float = 2.0,
    postfix: Callable[[optuna.Study], str | None] | None = None,
    sampler: Callable[[int], optuna.samplers.BaseSampler] | None = None,
    repair: Callable[[optuna.Study], None] | None = None,
) -> None:
    """Run trials until ``target`` trials are finished (complete or pruned).

    Any number of processes may run this on one study: ``storage_url`` names the database so
    that they agree, through :class:`~nas.study._store.gate.TrialGate`, on who starts the remaining
    trials. The gate is released as soon as the new trial is RUNNING (other workers count it
    from then on), never held while training.

    Args:
        study: the study to fill.
        objective: scores one trial.
        target: finished trials to reach.
        storage_url: the storage's URL, for the gate; None runs without one.
        progress: show a progress bar.
        poll: seconds between looks while other workers' trials may reach the target.
        postfix: text for the progress bar after each trial.
        sampler: builds the sampler for the next trial from the study's trial count, read
            under the gate: each trial draws from its own seed, so workers that start
            together never draw the same layouts, and one process stays reproducible.
        repair: run once under the gate before the first trial (queues lost baselines).

    Raises:
        SearchStalled: several trials in a row failed, so more would fail too.
    """
    bar = tqdm(
        total=target,
        initial=min(_finished(study), target),
        desc=study.study_name,
        unit="trial",
        disable=not progress,
    )
    last: list[TrialState] = []

    def update(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        last[:] = [trial.state]
        bar.n = min(_finished(study), target)
        text = postfix(study) if postfix is not None else None
        if text:
            bar.set_postfix_str(text)
        bar.refresh()

    gate = TrialGate(storage_url, study.study_name) if storage_url else None

    faults: list[str] = []
    current: list[optuna.Trial] = []

    def started(trial: optuna.Trial) -> float | tuple[float, float]:
        current[:] = [trial]
        try:
            if gate is not None:
                gate.release()  # this trial is RUNNING now: other workers may count it
            return objective(trial)
        except KeyboardInterrupt as err:
            # A signal outside the objective's own recording (during the gate's release, or
            # deferred to the end of the objective's last writes): Optuna marks the trial FAILED
            # next, after which no reason can be written, and only a stated SIGTERM is queued.
            _store_reason(trial, interrupt_reason(err))
            raise
        except Exception as err:
            # A full disk or a broken database fails every later trial too: stop after this one.
            fault = describe_fault(err)
            if fault is not None:
                faults.append(fault)
            raise

    failed_in_a_row = 0
    try:
        if repair is not None:
            if gate is not None:
                gate.acquire()
            repair(study)
        while True:
            if gate is not None:
                gate.acquire()
            # One read for both counts: with two, a trial finishing in between would be in
            # neither, and this worker would start one trial too many.
            states = [t.state for t in study.get_trials(deepcopy=False)]
            done = sum(s in FINISHED for s in states)
            if done >= target:
                break
            if done + states.count(TrialState.RUNNING) >= target:
                # Other workers' trials may reach the target: wait, and take over the work
                # of any that dies (its stale trial is failed here and its layout queued).
                if gate is not None:
                    gate.release()
                fail_stale(study)
                time.sleep(poll)
                continue
            # Trials of dead processes are failed (with why) and queued again before Optuna
            # asks for the next trial, so this worker takes their queued retries first.
            fail_stale(study)
            last.clear()
            current.clear()
            if sampler is not None:
                study.sampler = sampler(len(states))
            study.optimize(
                started,
                n_trials=1,
                callbacks=[update],
                catch=(Exception,),  # a failing trial fails alone; its reason is stored
                gc_after_trial=False,
            )
            if faults:
                raise MachineFault(faults[0])
            failed_in_a_row = failed_in_a_row + 1 if last == [TrialState.FAIL] else 0
            if failed_in_a_row >= MAX_FAILURES_IN_A_ROW:
                raise SearchStalled(
                    f"study {study.study_name!r}: {failed_in_a_row} trials in a row failed; "
                    "see the reasons with mtlnas show"
                )
    except BaseException as err:
        # Optuna could not record how the trial ended (the database write failed too): try
        # once more, so that this process leaves no trial RUNNING where it can help it.
        if current:
            _fail_if_running(study, current[0], err)
        raise
    finally:
        if gate is not None:
            gate.close()
        bar.close()


def _store_reason(trial: optuna.Trial, reason: str) -> None:
    """Store why ``trial`` stopped, unless a reason is stored already (the first is the cause)."""
    storage = trial.study._storage
    if "fail_reason" not in storage.get_trial(trial._trial_id).user_attrs:
        storage.set_trial_user_attr(trial._trial_id, "fail_reason", reason)


def _fail_if_running(study: optuna.Study, trial: optuna.Trial, err: BaseException) -> None:
    storage = study._storage
    try:
        frozen = storage.get_trial(trial._trial_id)
        if frozen.state == TrialState.RUNNING:
            _store_reason(trial, interrupt_reason(err) if is_interrupt(err) else type(err).__name__)
            storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
            frozen = storage.get_trial(trial._trial_id)
        # Preempted (SIGTERM), not stopped by choice: queue its layout for whoever resumes.
        if (
            is_terminated(err)
            and frozen.state == TrialState.FAIL
            and str(frozen.user_attrs.get("fail_reason", "")).startswith("terminated")
        ):
            requeue(study, frozen)
    except Exception:  # the storage is broken: the heartbeat fails the trial later
        pass


def _finished(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=FINISHED))
