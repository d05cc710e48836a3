"""Run a queued trial that this process claimed, to its end, the way ``study.optimize`` would.

Used when a trial needs another one done first (the baseline) and nobody is doing it: the
claimed trial keeps a heartbeat, so if this process dies it is failed and retried like any other.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

import optuna
from optuna.trial import FrozenTrial, TrialState

from nas.core._faults import is_terminated
from nas.study._store.stale import requeue

__all__ = ["Heartbeat", "run_claimed"]


class Heartbeat:
    """Records a trial's heartbeat every interval on a daemon thread, until stopped."""

    def __init__(self, storage: optuna.storages.BaseStorage, trial_id: int) -> None:
        self._storage, self._trial_id = storage, trial_id
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Heartbeat:
        interval = getattr(self._storage, "get_heartbeat_interval", lambda: None)()
        if interval:
            self._thread = threading.Thread(target=self._beat, args=(interval,), daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _beat(self, interval: float) -> None:
        while not self._stop.is_set():
            # A missed beat is retried next round; storage faults surface in the trial itself.
            with contextlib.suppress(Exception):
                self._storage.record_heartbeat(self._trial_id)  # type: ignore[attr-defined]
            self._stop.wait(interval)


def run_claimed(
    study: optuna.Study,
    frozen: FrozenTrial,
    objective: Callable[[optuna.Trial], float | tuple[float, float]],
) -> TrialState:
    """Run ``objective`` on a trial this process set RUNNING and record how it ended.

    A failure is recorded and not raised (the trial fails alone, as under ``optimize``); an
    interrupt (Ctrl-C) fails the trial and is raised.
    """
    trial = optuna.Trial(study, frozen._trial_id)
    with Heartbeat(study._storage, frozen._trial_id):
        try:
            values = objective(trial)
        except optuna.TrialPruned:
            study.tell(trial, state=TrialState.PRUNED)
            return TrialState.PRUNED
        except Exception:  # the objective stored the reason on the trial
            study.tell(trial, state=TrialState.FAIL)
            return TrialState.FAIL
        except BaseException as err:
            study.tell(trial, state=TrialState.FAIL)
            if is_terminated(err):  # preempted: its work is queued for whoever resumes
                requeue(study, study._storage.get_trial(frozen._trial_id))
            raise
    study.tell(trial, list(values) if isinstance(values, tuple) else values)
    return TrialState.COMPLETE
