"""One protocol for studies that many processes may start at once: create, or join and wait.

The database's unique study name makes creation atomic: of several workers starting together
exactly one creates the study and fills it (configuration, plan, queued trials), storing its
*ready key* last; every other one loads it and waits until that key is stored, so nobody sees
a half-filled study. Searches, confirm stages and tabulations are all created this way.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, Literal

import optuna

from nas.study._store.record import study_attrs

__all__ = ["create_or_join", "queued_study", "study_exists", "wait_ready"]

POLL_SECONDS = 0.2


def queued_study(
    storage: optuna.storages.BaseStorage, name: str, direction: Literal["minimize", "maximize"]
) -> Callable[[], optuna.Study]:
    """A ``make`` for :func:`create_or_join`: a study whose runs are all queued, none sampled."""
    return lambda: optuna.create_study(
        storage=storage, study_name=name, direction=direction,
        sampler=optuna.samplers.RandomSampler(),  # never asked: every run is enqueued
    )  # fmt: skip


def study_exists(storage: optuna.storages.BaseStorage, name: str) -> bool:
    """True when the storage holds a study called ``name``."""
    return name in {s.study_name for s in optuna.get_all_study_summaries(storage)}


def wait_ready(
    study: optuna.Study,
    key: str,
    seconds: float,
    refuse: Callable[[dict[str, Any]], Exception | None] | None = None,
) -> Any:
    """The JSON value stored under ``key`` once a creator has stored it; None after ``seconds``.

    ``refuse`` looks at the study's attributes on every poll and returns an error to raise
    when the study can never become ready (e.g. it is another kind of study).
    """
    deadline = time.monotonic() + seconds
    while True:
        attrs = study_attrs(study)  # fresh: a creator may be storing them now
        raw = attrs.get(key)
        if raw is not None and (value := json.loads(raw)) is not None:
            return value
        if refuse is not None and (error := refuse(attrs)) is not None:
            raise error
        if time.monotonic() >= deadline:
            return None
        time.sleep(POLL_SECONDS)


def create_or_join(
    storage: optuna.storages.BaseStorage,
    name: str,
    make: Callable[[], optuna.Study],
    fill: Callable[[optuna.Study], None],
) -> tuple[optuna.Study, bool]:
    """Create study ``name`` with ``make()`` and ``fill`` it, or load the one that exists.

    ``fill`` must store the study's ready key last; a caller that gets ``created`` False waits
    for it with :func:`wait_ready` (not here: what a joiner checks differs by kind of study).

    Returns:
        The study, and whether this process created it.
    """
    if not study_exists(storage, name):
        try:
            study = make()
        except optuna.exceptions.DuplicatedStudyError:
            pass  # another process is creating it right now: join it below
        else:
            fill(study)
            return study, True
    return optuna.load_study(study_name=name, storage=storage), False
