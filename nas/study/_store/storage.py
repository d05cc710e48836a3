"""Optuna's own storages and artifact store, opened with settings that survive crashes.

Trials keep a heartbeat: a trial whose process died (SIGKILL, a lost machine) is marked FAILED
once its heartbeat is older than the grace period, and its parameters are queued again.
SQLite gets a long busy timeout, so several local processes wait for the lock instead of
failing with "database is locked".
"""

from __future__ import annotations

import contextlib
import os
import time
import types
import warnings
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy
from optuna.artifacts import FileSystemArtifactStore
from optuna.storages import RDBStorage

from nas.core._errors import UserError
from nas.core._faults import deferred_interrupts
from nas.study._store.record import is_internal
from nas.study._store.stale import grace_seconds, requeue, stopped_reason
from nas.study._store.weights import AtomicFileStore

__all__ = [
    "InterruptSafeStorage",
    "DEFAULT_STORAGE",
    "StorageError",
    "artifact_dir",
    "artifact_store",
    "heartbeat_seconds",
    "load_study",
    "open_storage",
]

# Heartbeats, their retry callback and metric names are marked experimental in Optuna; we rely
# on them on purpose, and the tests pin their behaviour.
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

DEFAULT_STORAGE = "sqlite:///studies.db"
HEARTBEAT_SECONDS = 10  # default; MTLNAS_HEARTBEAT or --heartbeat override it (grace: 3x)


class StorageError(UserError, RuntimeError):
    """The storage URL or the database behind it cannot be used."""


def _check_url(url: str) -> sqlalchemy.engine.URL:
    try:
        parsed = sqlalchemy.engine.make_url(url)
    except sqlalchemy.exc.ArgumentError:
        raise StorageError(
            f"storage {url!r} is not a database URL; use e.g. {DEFAULT_STORAGE} or "
            "postgresql+psycopg://user:password@host/db"
        ) from None
    try:
        parsed.get_dialect()
    except (sqlalchemy.exc.NoSuchModuleError, ImportError) as err:
        raise StorageError(
            f"storage {url!r}: unknown database dialect or missing driver ({err}); "
            "use sqlite:///FILE, postgresql+psycopg://... or mysql+pymysql://... with its "
            "driver installed (pip install 'mtl-nas[postgres]' or 'mtl-nas[mysql]')"
        ) from None
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        folder = Path(parsed.database).resolve().parent
        if not folder.is_dir():
            raise StorageError(f"storage {url!r}: folder {folder} does not exist")
    return parsed


class InterruptSafeStorage(RDBStorage):
    """Optuna's RDB storage whose calls a Ctrl-C or SIGTERM never cuts half way.

    The interrupt is held until the call returns (:func:`nas.core._faults.deferred_interrupts`), so
    no transaction is left open holding the database's write lock.
    """


def _deferring(name: str) -> Any:
    def call(self: RDBStorage, *args: Any, **kwargs: Any) -> Any:
        with deferred_interrupts():
            # Looked up at each call, so a method patched on RDBStorage later is the one run.
            return getattr(RDBStorage, name)(self, *args, **kwargs)

    call.__name__ = name
    return call


# Private methods too: Optuna calls some from outside the class (the heartbeat module's
# ``_get_stale_trial_ids`` at every trial start). An interrupt landing inside one leaves its
# unfinished SELECT holding SQLite's shared lock for as long as the traceback lives, so every
# cleanup write then waits out the busy timeout and fails.
for _name, _fn in vars(RDBStorage).items():
    if not _name.startswith("__") and isinstance(_fn, types.FunctionType):
        setattr(InterruptSafeStorage, _name, _deferring(_name))


def _stale_with_reasons(self: RDBStorage, study_id: int) -> list[int]:
    # Optuna fails these trials itself at every trial start (a trial can turn stale between this
    # worker's own sweep, nas.study._store.stale.fail_stale, and that call): store why first, as a
    # finished trial's attributes can no longer be written.
    with deferred_interrupts():
        ids = RDBStorage._get_stale_trial_ids(self, study_id)
        reason = stopped_reason(grace_seconds(self) or 0.0)
        for trial_id in ids:
            # Finished already: another worker failed it first (or it just ended on its own).
            with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
                self.set_trial_user_attr(trial_id, "fail_reason", reason)
        return ids


InterruptSafeStorage._get_stale_trial_ids = _stale_with_reasons  # type: ignore[method-assign]


def open_storage(
    url: str = DEFAULT_STORAGE, heartbeat: int | None = None, create: bool = False
) -> RDBStorage:
    """An Optuna RDB storage with heartbeats and retry of killed trials.

    Only ``create`` may make a new SQLite file: reading commands never leave an empty
    database behind.

    Raises:
        StorageError: unknown dialect, unreachable server, or a file that is not a database.
    """
    parsed = _check_url(url)
    if (
        not create
        and parsed.get_backend_name() == "sqlite"
        and parsed.database not in (None, "", ":memory:")
        and not Path(parsed.database).exists()
    ):
        raise StorageError(f"no database at {parsed.database}; start a study with: mtlnas search")
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        _check_sqlite_file(Path(parsed.database), create)
    interval = heartbeat_seconds(heartbeat)
    engine_kwargs: dict[str, object] = {}
    if parsed.get_backend_name() == "sqlite":
        # Wait up to 60 s for another process's write instead of failing at once.
        engine_kwargs["connect_args"] = {"timeout": 60}
    else:
        engine_kwargs["pool_pre_ping"] = True  # survive a server restart between trials
    for attempt in range(5):
        try:
            return InterruptSafeStorage(
                url,
                engine_kwargs=engine_kwargs,
                heartbeat_interval=interval,
                grace_period=3 * interval,
                # Queued again without the failed run's results (Optuna's own retry
                # callback would copy them), at most MAX_RETRY times.
                heartbeat_stale_trial_callback=_requeue,
            )
        except sqlalchemy.exc.DatabaseError as err:
            reason = str(getattr(err, "orig", err)).strip().splitlines()[0]
            # Workers starting together on an empty database all create Optuna's tables;
            # the losers of that race see duplicate objects. The tables exist now: retry.
            racing = (
                isinstance(err, (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError))
                or "already exists" in reason
            )
            if not racing or attempt == 4:
                raise StorageError(f"storage {url!r} cannot be opened: {reason}") from None
            time.sleep(0.2 * (attempt + 1))
        except RuntimeError as err:  # Optuna's schema-version checks
            raise StorageError(f"storage {url!r}: {err}") from None
    raise AssertionError("unreachable")


def _requeue(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    requeue(study, trial)


def heartbeat_seconds(given: int | None = None) -> int:
    """Seconds between trial heartbeats: ``given``, else ``MTLNAS_HEARTBEAT``, else 10.

    Raises:
        StorageError: not a whole number of seconds of at least 1.
    """
    if given is not None:
        value, source = str(given), "--heartbeat"
    else:
        value, source = (
            os.environ.get("MTLNAS_HEARTBEAT", str(HEARTBEAT_SECONDS)),
            "MTLNAS_HEARTBEAT",
        )
    if not value.strip().isdigit() or int(value) < 1:
        raise StorageError(f"{source} must be a whole number of seconds (1 or more), got {value!r}")
    return int(value)


def _check_sqlite_file(path: Path, create: bool) -> None:
    # SQLite would happily turn an empty file into a database; a reader must not. A creator
    # may find one: a worker starting at the same moment has just made it, header to come.
    if path.is_file():
        with open(path, "rb") as f:
            head = f.read(16)
        if not head and create:
            return
        if not head:
            raise StorageError(f"{path} is an empty file, not a database; give another --storage")
        if head != b"SQLite format 3\x00":
            raise StorageError(f"{path} is not a SQLite database; give another --storage")


def artifact_dir(url: str, override: str | None = None) -> Path:
    """Where trial weights go: ``override``, else ``artifacts/`` beside a SQLite file."""
    if override:
        return Path(override)
    parsed = sqlalchemy.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return Path(parsed.database).resolve().parent / "artifacts"
    return Path("artifacts").resolve()


def artifact_store(
    url: str, override: str | None = None, create: bool = True
) -> FileSystemArtifactStore:
    """Optuna's file-system artifact store for this storage, writing files atomically.

    Only ``create`` (the commands that train) makes the folder: reading commands never leave
    an empty one behind.

    Raises:
        StorageError: without ``create``, the folder does not exist.
    """
    path = artifact_dir(url, override)
    if not create and not path.is_dir():
        raise StorageError(
            f"no artifact folder at {path}; pass --artifacts DIR where the trial weights live"
        )
    path.mkdir(parents=True, exist_ok=True)
    return AtomicFileStore(str(path))


def load_study(storage: optuna.storages.BaseStorage, name: str) -> optuna.Study:
    """Load a study by name, or raise StorageError listing the stored names."""
    names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
    if name not in names:
        names = [n for n in names if not is_internal(n)]  # not choices of their own
        hint = f"stored studies: {names}" if names else "this storage holds no study"
        raise StorageError(f"no study named {name!r}; {hint}")
    return optuna.load_study(study_name=name, storage=storage)
