"""A SIGTERM that lands inside a database read must not leave SQLite's lock held.

An unfinished SELECT keeps SQLite's shared lock while its cursor lives, and an exception raised
inside the read keeps the cursor alive through its traceback, i.e. through the whole cleanup
that then marks the trial failed: every cleanup write waited out the busy timeout and failed.
Here the signal arrives right after the query's cursor executed, before a row is fetched.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pytest
import sqlalchemy

from nas.core import Terminated, signals_as_interrupts
from nas.study._store.stale import _stale_ids
from nas.study._store.storage import InterruptSafeStorage

READS: dict[str, Callable[[InterruptSafeStorage, int], Any]] = {
    # Optuna's heartbeat module calls this private method at every trial start.
    "optuna stale check": lambda storage, study_id: storage._get_stale_trial_ids(study_id),
    "mtl-nas stale check": lambda storage, study_id: _stale_ids(storage, study_id, 3.0),
    "trials": lambda storage, study_id: storage.get_all_trials(study_id),
}


@pytest.mark.filterwarnings("ignore:Heartbeat of storage:UserWarning")  # asked, not optimized
@pytest.mark.parametrize("read", sorted(READS))
def test_sigterm_inside_a_read_is_held_and_the_cleanup_can_write(tmp_path: Path, read: str) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    # A short busy timeout: a lock left held fails the cleanup write in 2 s, not 60.
    storage = InterruptSafeStorage(
        url, engine_kwargs={"connect_args": {"timeout": 2}}, heartbeat_interval=1, grace_period=3
    )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=storage, study_name="s")
    trial_id = study.ask()._trial_id
    storage.record_heartbeat(trial_id)
    armed = [False]

    @sqlalchemy.event.listens_for(storage.engine, "after_cursor_execute")
    def signal_mid_read(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if armed[0] and "FROM trials" in statement:
            armed[0] = False
            os.kill(os.getpid(), signal.SIGTERM)
            sum(range(10))  # Python runs the handler here, inside the read

    returned = False
    with pytest.raises(Terminated) as interrupted, signals_as_interrupts():
        armed[0] = True
        READS[read](storage, study._study_id)
        returned = True
    assert not armed[0], "the read never queried the trials table"
    assert not returned  # raised as the read returned, before the next statement
    # The cleanup, with the interrupt's traceback still alive, writes at once.
    storage.set_trial_user_attr(trial_id, "fail_reason", "terminated (SIGTERM)")
    assert storage.get_trial(trial_id).user_attrs["fail_reason"] == "terminated (SIGTERM)"
    assert interrupted.tb is not None  # (kept alive until here on purpose)


@pytest.mark.filterwarnings("ignore:Heartbeat of storage:UserWarning")  # asked, not optimized
def test_a_trial_optuna_itself_fails_as_stale_keeps_its_reason_and_is_queued_again(
    tmp_path: Path,
) -> None:
    # Optuna fails stale trials at every trial start, apart from this project's own sweep; a
    # trial that turns stale between the two once ended FAIL without a reason.
    from optuna.storages._rdb import models
    from optuna.trial import TrialState

    from nas.study import TrialRecord, open_storage

    storage = open_storage(f"sqlite:///{tmp_path / 'studies.db'}", heartbeat=1, create=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=storage, study_name="s")
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    storage.record_heartbeat(trial._trial_id)
    beats = models.TrialHeartbeatModel.__table__
    with storage.engine.begin() as conn:  # the beat, ten seconds ago: its process is gone
        conn.execute(sqlalchemy.update(beats).values(
            heartbeat=sqlalchemy.func.datetime("now", "-10 seconds")))  # fmt: skip
    optuna.storages.fail_stale_trials(study)
    failed, retry = study.get_trials()
    assert failed.state == TrialState.FAIL
    assert str(TrialRecord.of(failed).fail_reason).startswith("its process stopped")
    assert retry.state == TrialState.WAITING and retry.params == failed.params
