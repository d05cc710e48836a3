"""Studies: the entry points the commands, reports and export use.

Start or resume a search (:func:`create_or_resume`, a :class:`StudyHandle`, :func:`run_search`),
confirm it (:func:`run_confirm`, :func:`confirmed`, :class:`ConfirmedResult`), and read it
back (:func:`load_study`, :func:`study_config`, :func:`answer`, :func:`best_trial`,
:class:`StudyRecord`, :class:`TrialRecord`). Behind them: this folder runs a study (create,
objective, runner, baseline, tabulate), ``store/`` keeps it in its database (record, storage,
stale, gate, weights) and ``outcome/`` confirms and reads its answer (confirm, stage, verdict,
pick). Those modules stay importable for the tests and for plug-ins that need more.
"""

from nas.explore._config import ConfigError, SearchConfig
from nas.study._create import create_or_resume, finished, study_config
from nas.study._handle import StudyHandle
from nas.study._outcome.confirmed import ConfirmedResult, ConfirmedRow
from nas.study._outcome.pick import NoTrial, answer, best_trial, trial_by_number
from nas.study._outcome.stage import run_confirm
from nas.study._outcome.verdict import confirm_progress, confirmed
from nas.study._prepare import prepare
from nas.study._search import run_search
from nas.study._store.record import RecordError, StudyRecord, TrialRecord, is_internal
from nas.study._store.storage import StorageError, artifact_store, load_study, open_storage

__all__ = [
    "ConfigError",
    "ConfirmedResult",
    "ConfirmedRow",
    "NoTrial",
    "RecordError",
    "SearchConfig",
    "StorageError",
    "StudyHandle",
    "StudyRecord",
    "TrialRecord",
    "answer",
    "artifact_store",
    "best_trial",
    "confirm_progress",
    "confirmed",
    "create_or_resume",
    "finished",
    "is_internal",
    "load_study",
    "open_storage",
    "prepare",
    "run_confirm",
    "run_search",
    "study_config",
    "trial_by_number",
]
