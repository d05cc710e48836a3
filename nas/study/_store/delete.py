"""Delete a study: its records, the stages kept beside it, and the files in its artifact store.

Optuna deletes a study's records but knows no way to delete its artifacts; this module finds
them through Optuna's artifact metadata (on the study and on every trial) and removes them.
"""

from __future__ import annotations

from dataclasses import dataclass

import optuna
from optuna.artifacts import FileSystemArtifactStore, get_all_artifact_meta
from optuna.artifacts.exceptions import ArtifactNotFound

from nas.study._store.record import INTERNAL_SUFFIXES
from nas.study._store.storage import load_study

__all__ = ["Deleted", "delete_study"]


@dataclass(frozen=True)
class Deleted:
    """What :func:`delete_study` removed.

    Attributes:
        studies: the study and the stages kept beside it (``NAME:confirm``), as named.
        trials: their trials, all together.
        files: artifact files removed; ``missing``: those already gone from the store.
    """

    studies: tuple[str, ...]
    trials: int
    files: int
    missing: int


def _artifact_ids(storage: optuna.storages.BaseStorage, study: optuna.Study) -> list[str]:
    ids = [m.artifact_id for m in get_all_artifact_meta(study, storage=storage)]
    for trial in study.get_trials(deepcopy=False):
        ids += [m.artifact_id for m in get_all_artifact_meta(trial, storage=storage)]
    return ids


def delete_study(
    storage: optuna.storages.BaseStorage,
    name: str,
    store: FileSystemArtifactStore | None,
) -> Deleted:
    """Delete study ``name``, the stages kept beside it, and (with ``store``) their artifacts.

    The records go first, the files after: a process killed half-way leaves files nothing
    refers to (disk only), never a study whose weights are gone.

    Raises:
        StorageError: no study of that name (the message lists the stored ones).
    """
    study = load_study(storage, name)
    names = {s.study_name for s in optuna.get_all_study_summaries(storage)}
    studies = [study] + [
        optuna.load_study(study_name=name + suffix, storage=storage)
        for suffix in INTERNAL_SUFFIXES
        if name + suffix in names
    ]
    ids = [i for s in studies for i in _artifact_ids(storage, s)]
    trials = sum(len(s.get_trials(deepcopy=False)) for s in studies)
    for s in reversed(studies):  # stages first: a kill half-way never leaves an orphan stage
        optuna.delete_study(study_name=s.study_name, storage=storage)
    removed = missing = 0
    if store is not None:
        for artifact_id in dict.fromkeys(ids):
            try:
                store.remove(artifact_id)
                removed += 1
            except ArtifactNotFound:  # already gone (a lost file): nothing to remove
                missing += 1
    return Deleted(tuple(s.study_name for s in studies), trials, removed, missing)
