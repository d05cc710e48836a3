"""The study's own single-task baseline: the independent-networks trial every Δ_MTL divides by.

It is never a single point of failure. A trial that needs the baseline and finds nobody training
it (queued behind this trial, failed, interrupted, or killed past its retries) trains it itself,
in this process, as its own trial; one that finds another process training it waits, and fails
that trial once its heartbeat is stale (its process died), then takes it over.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import optuna
from optuna.trial import FrozenTrial, TrialState

from nas.core._layout import Layout
from nas.explore._config import SearchConfig
from nas.model.combine import enqueued_choice, is_search
from nas.study._store.record import FINISHED, StudyRecord, TrialRecord
from nas.study._store.stale import fail_stale
from search_spaces import SearchSpace

__all__ = [
    "BaselineFailed",
    "await_baseline",
    "baseline_layouts",
    "baseline_trials",
    "claim",
    "enqueue_baselines",
]

INDEPENDENT = "independent"


class BaselineFailed(RuntimeError):
    """This process trained the baseline and it failed: nothing to divide by."""


def baseline_trials(
    study: optuna.Study, kind: str = INDEPENDENT, states: tuple[TrialState, ...] | None = None
) -> list[FrozenTrial]:
    """The trials of one baseline kind (a role such as ``independent_scaled``), oldest first."""
    return [
        t
        for t in study.get_trials(deepcopy=False, states=states)
        if t.user_attrs.get("baseline") == kind
    ]


def claim(study: optuna.Study, trial: FrozenTrial) -> bool:
    """Mark a WAITING trial RUNNING for this process; False when another process took it first.

    The storage makes the WAITING -> RUNNING step atomic (it is how Optuna itself pops queued
    trials), so two processes can never both claim one trial.
    """
    try:
        return bool(study._storage.set_trial_state_values(trial._trial_id, TrialState.RUNNING))
    except optuna.exceptions.UpdateFinishedTrialError:
        return False


def await_baseline(
    record: StudyRecord,
    take_over: Callable[[FrozenTrial], None],
    queue_again: Callable[[], None],
    block: bool,
    poll: float = 2.0,
) -> dict[str, float] | None:
    """The baseline's primary metrics, training the baseline here when nobody else does.

    Args:
        record: the study's record.
        take_over: runs a claimed (RUNNING) baseline trial to its end in this process.
        queue_again: queues a fresh baseline trial (the old ones failed or were given up).
        block: wait while another live process trains it; without, return None then.
        poll: seconds between looks at the storage while waiting.

    Raises:
        BaselineFailed: the baseline this process trained did not produce metrics.
    """
    study = record.study
    tried = False
    while True:
        metrics = record.baseline()
        if metrics is not None:
            return metrics
        live = baseline_trials(study, states=(TrialState.WAITING, TrialState.RUNNING))
        running = [t for t in live if t.state == TrialState.RUNNING]
        waiting = [t for t in live if t.state == TrialState.WAITING]
        if running:
            if not block:
                return None
            # A dead runner's trial is failed here (and queued again while retries are left).
            fail_stale(study)
            time.sleep(poll)
            continue
        ended = baseline_trials(study, states=FINISHED)  # ended without metrics: pruned
        if tried or ended:
            if not block and not tried:
                return None  # this trial may still prune itself; it fails when it needs one
            last = (ended or baseline_trials(study))[-1]
            reason = TrialRecord.of(last).reason or last.state.name.lower()
            raise BaselineFailed(
                f"no single-task baseline: the independent layout failed ({reason})"
            )
        if not waiting:
            queue_again()
            continue
        if claim(study, waiting[0]):
            tried = True
            take_over(waiting[0])


def baseline_layouts(
    space: SearchSpace, widths: Mapping[str, float] | None = None
) -> dict[str, Layout]:
    """The layouts every study starts with: the two baselines, then their equal-cost versions.

    ``widths``: a budgeted study's :attr:`~nas.explore.SearchConfig.baseline_widths`; each
    baseline named there is also trained at that width, as ``{baseline}_scaled``.
    """
    full = {
        "independent": Layout.independent(space.tasks, space.depth),
        "hard_sharing": Layout.hard_sharing(space.tasks, space.depth),
    }
    scaled = {f"{k}_scaled": full[k].scaled(w) for k, w in (widths or {}).items()}
    return full | scaled


def enqueue_baselines(
    study: optuna.Study, space: SearchSpace, config: SearchConfig, lost_only: bool = False
) -> list[str]:
    """Queue the baseline trials; with ``lost_only``, only those that failed and were not retried.

    A baseline is lost when no trial of its kind is waiting, running or finished: it failed,
    was interrupted, or was killed more often than the heartbeat retries allow. Returns the
    kinds queued. Callers that may race (several workers) hold the study's gate around this.
    """
    live = (TrialState.WAITING, TrialState.RUNNING, *FINISHED)
    queued = []
    for kind, layout in baseline_layouts(space, config.baseline_widths).items():
        if lost_only and baseline_trials(study, kind, live):
            continue
        try:
            params = space.params(layout) if layout.width == 1 else {}
        except ValueError:
            params = {}  # not reachable in this space: the objective builds it from the attr
        if is_search(config.loss_weighting):
            params["loss_weighting"] = enqueued_choice(config.loss_weighting)
        study.enqueue_trial(params, user_attrs={"baseline": kind, "layout": layout.to_dict()})
        queued.append(kind)
    return queued
