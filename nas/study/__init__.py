"""Studies: the entry points the commands, reports and export use.

Start or resume a search (:func:`create_or_resume`, a :class:`StudyHandle`, :func:`run_search`),
confirm it (:func:`run_confirm`, :func:`confirmed`, :class:`ConfirmedResult`), and read it
back (:func:`load_study`, :func:`study_config`, :func:`answer`, :func:`best_trial`,
:class:`StudyRecord`, :class:`TrialRecord`). Behind them: this folder runs a study (create,
objective, runner, baseline, tabulate), ``store/`` keeps it in its database (record, storage,
stale, gate, weights) and ``outcome/`` confirms and reads its answer (confirm, stage, verdict,
pick). Those modules stay importable for the tests and for plug-ins that need more.
"""

from nas.explore.config import ConfigError, SearchConfig
from nas.study.create import create_or_resume, finished, study_config
from nas.study.handle import StudyHandle
from nas.study.outcome.confirmed import ConfirmedResult, ConfirmedRow
from nas.study.outcome.pick import NoTrial, answer, best_trial, trial_by_number
from nas.study.outcome.stage import run_confirm
from nas.study.outcome.verdict import confirm_progress, confirmed
from nas.study.prepare import prepare
from nas.study.search import run_search
from nas.study.store.record import RecordError, StudyRecord, TrialRecord, is_internal
from nas.study.store.storage import StorageError, artifact_store, load_study, open_storage

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
