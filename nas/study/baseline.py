"""The study's own single-task baseline: the independent-networks trial every Δ_MTL divides by."""

from __future__ import annotations

import time

from optuna.trial import TrialState

from nas.study.record import StudyRecord

__all__ = ["BaselineNotReady", "baseline_metrics"]


class BaselineNotReady(RuntimeError):
    """The independent-networks baseline is queued but nobody is training it yet."""


def baseline_metrics(record: StudyRecord, wait: bool, poll: float = 2.0) -> dict[str, float] | None:
    """The baseline's primary metrics, read fresh from the storage.

    With ``wait``, blocks while another process trains the baseline. Returns None when it is not
    available (without ``wait``), or ended without metrics (pruned, failed, given up).

    Raises:
        BaselineNotReady: with ``wait``, the baseline trial is queued but not running.
    """
    while True:
        metrics = record.baseline()
        if metrics is not None or not wait:
            return metrics
        states = {
            t.state
            for t in record.study.get_trials(
                deepcopy=False, states=(TrialState.WAITING, TrialState.RUNNING)
            )
            if t.user_attrs.get("baseline") == "independent"
        }
        if TrialState.RUNNING in states:
            time.sleep(poll)
        elif TrialState.WAITING in states:
            raise BaselineNotReady("the single-task baseline is queued behind this trial")
        else:
            return None
