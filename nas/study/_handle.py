"""A study handle: an open search study and what every stage needs beside it."""

from __future__ import annotations

from dataclasses import dataclass

import optuna
from optuna.artifacts import FileSystemArtifactStore

from nas.explore._config import SearchConfig

__all__ = ["StudyHandle"]


@dataclass(frozen=True)
class StudyHandle:
    """A search study, its storage, artifact store and stored configuration.

    Passed to the search and the confirm stage instead of loose parameters.

    Attributes:
        study: the open search study.
        storage: the storage it lives in (its confirm stage lives there too).
        config: the configuration stored with the study (it rules over the command line).
        store: where weights and checkpoints go; None for a storage without one.
        url: the storage URL, from which locks are opened; None runs without locks (one process).
    """

    study: optuna.Study
    storage: optuna.storages.BaseStorage
    config: SearchConfig
    store: FileSystemArtifactStore | None = None
    url: str | None = None

    @property
    def name(self) -> str:
        """The study's name."""
        return self.study.study_name
