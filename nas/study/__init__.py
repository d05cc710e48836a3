"""Studies: the entry points the commands, reports and export use.

Start or resume a search (:func:`create_or_resume`, a :class:`StudyHandle`, :func:`run_search`),
confirm it
(:func:`run_confirm`, :func:`confirmed`, :class:`ConfirmedResult`), and read it back
(:func:`load_study`, :func:`study_config`, :func:`answer`, :func:`best_trial`,
:class:`StudyRecord`, :class:`TrialRecord`). The modules behind them (config, record,
storage, create, objective, runner, confirm, ...) stay importable for the tests and for
plug-ins that need more.
"""

from nas.study.config import ConfigError, SearchConfig
from nas.study.confirmed import ConfirmedResult, ConfirmedRow
from nas.study.create import create_or_resume, finished, study_config
from nas.study.handle import StudyHandle
from nas.study.pick import NoTrial, answer, best_trial, trial_by_number
from nas.study.prepare import prepare
from nas.study.record import RecordError, StudyRecord, TrialRecord, is_internal
from nas.study.search import run_search
from nas.study.stage import run_confirm
from nas.study.storage import StorageError, artifact_store, load_study, open_storage
from nas.study.verdict import confirm_progress, confirmed

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
