"""Trials whose process is gone: failed with a reason and queued again, never waited on for ever.

Optuna fails a RUNNING trial once its heartbeat is older than the grace period
(``optuna.storages.fail_stale_trials``), but only a trial that has beaten at least once. A process
that dies between marking its trial RUNNING and the first beat (SIGKILL, a preempted machine, a
stopped process that is then killed) leaves a trial Optuna never fails, and every loop that waits
for it waits for ever. Here such a trial is judged by the age of its start instead.

A failed trial stores why (``fail_reason``) and is queued again with its parameters and what it
was enqueued with, up to the storage's retry limit, as Optuna's
``RetryHeartbeatStaleTrialCallback`` does; its results and reasons are not copied to the retry.
"""

from __future__ import annotations

import datetime
from typing import Any

import optuna
import sqlalchemy
from optuna.storages import RDBStorage
from optuna.storages._rdb import models
from optuna.trial import FrozenTrial, TrialState

from nas.core._faults import deferred_interrupts

__all__ = ["MAX_RETRY", "OUTCOME_KEYS", "fail_stale", "grace_seconds", "requeue", "stopped_reason"]

MAX_RETRY = 2  # a trial whose process died this many times is given up

# What a trial learns while it runs; a retry starts without them.
OUTCOME_KEYS = frozenset(
    {
        "metrics", "primary", "beat_trivial", "delta_mtl", "weights", "weights_sha256",
        "duplicate_of", "pruned_reason", "fail_reason", "wall_seconds", "train_seconds",
        "eval_seconds", "epochs", "worker", "device", "numerics", "table_run",
    }
)  # fmt: skip


def _rdb(storage: optuna.storages.BaseStorage) -> RDBStorage | None:
    # A study's storage is Optuna's cache in front of the RDB storage.
    backend = getattr(storage, "_backend", storage)
    return backend if isinstance(backend, RDBStorage) else None


def grace_seconds(storage: optuna.storages.BaseStorage) -> float | None:
    """Seconds without a beat after which a trial's process is taken for dead; None: no beats."""
    rdb = _rdb(storage)
    if rdb is None or not rdb.heartbeat_interval:
        return None
    grace = rdb.grace_period
    return float(grace if grace is not None else 2 * rdb.heartbeat_interval)


def stopped_reason(grace: float) -> str:
    """The ``fail_reason`` of a trial whose process stopped beating for over ``grace`` seconds."""
    return f"its process stopped (no heartbeat for over {grace:g} s)"


def _stale_ids(storage: RDBStorage, study_id: int, grace: float) -> dict[int, str]:
    """Trial id -> reason, for RUNNING trials whose process has stopped beating or never beat."""
    limit = datetime.timedelta(seconds=grace)
    out: dict[int, str] = {}
    # Deferred like the storage's own calls: an interrupt inside the query would leave its
    # SELECT holding SQLite's shared lock while the cleanup tries to write.
    with deferred_interrupts(), storage.engine.connect() as conn:
        # A beat's age on the database's clock, as Optuna measures it; a start's age on this
        # machine's clock, as the start time is written by the worker (clock skew between
        # machines shifts it: keep the grace period well above it).
        now = conn.execute(sqlalchemy.select(sqlalchemy.func.now())).scalar()
        assert now is not None
        now = now.replace(tzinfo=None)
        trial, beat = models.TrialModel.__table__, models.TrialHeartbeatModel.__table__
        rows = conn.execute(
            sqlalchemy.select(trial.c.trial_id, trial.c.datetime_start, beat.c.heartbeat)
            .select_from(trial.outerjoin(beat, beat.c.trial_id == trial.c.trial_id))
            .where(trial.c.study_id == study_id, trial.c.state == TrialState.RUNNING)
        ).all()
    local_now = datetime.datetime.now()
    for trial_id, started, heartbeat in rows:
        if heartbeat is not None:
            if now - heartbeat.replace(tzinfo=None) > limit:
                out[trial_id] = stopped_reason(grace)
        elif started is not None and local_now - started > limit:
            out[trial_id] = (
                f"its process died before its first heartbeat (started over {grace:g} s ago)"
            )
    return out


def fail_stale(study: optuna.Study) -> list[int]:
    """Fail every trial of ``study`` whose process is gone, store why, and queue it again.

    Safe beside other workers: of several processes failing one trial, one succeeds and only
    that one queues the retry. Returns the numbers of the trials failed here.
    """
    storage = study._storage
    rdb, grace = _rdb(storage), grace_seconds(storage)
    if grace is None or rdb is None:
        return []
    failed = []
    for trial_id, reason in _stale_ids(rdb, study._study_id, grace).items():
        try:
            # The reason first: a finished trial's attributes can no longer be written.
            storage.set_trial_user_attr(trial_id, "fail_reason", reason)
            if not storage.set_trial_state_values(trial_id, state=TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another worker failed it first (or it just ended on its own)
        frozen = storage.get_trial(trial_id)
        requeue(study, frozen)
        failed.append(frozen.number)
    return failed


def requeue(study: optuna.Study, failed: FrozenTrial) -> bool:
    """Queue ``failed`` again with its parameters, unless it was retried too often already.

    Returns True when it was queued.
    """
    history = [*failed.system_attrs.get("retry_history", []), failed.number]
    if len(history) > MAX_RETRY:
        return False
    system: dict[str, Any] = {
        **failed.system_attrs,
        "failed_trial": failed.system_attrs.get("failed_trial", failed.number),
        "retry_history": history,
    }
    user = {k: v for k, v in failed.user_attrs.items() if k not in OUTCOME_KEYS}
    study.add_trial(
        optuna.trial.create_trial(
            state=TrialState.WAITING,
            params=failed.params,
            distributions=failed.distributions,
            user_attrs=user,
            system_attrs=system,
        )
    )
    return True
