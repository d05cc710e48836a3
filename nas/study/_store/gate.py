"""A lock shared by all workers of a study: "is another trial needed? then start it" is atomic.

Without it, two workers that both see one trial missing would both start one, and the study
would overshoot its target. The lock is held only from that check until the new trial is
RUNNING in the database (the objective releases it first thing), never while training.

PostgreSQL: a session-level advisory lock on its own connection. MySQL and MariaDB: a named
``GET_LOCK`` on its own connection. SQLite: an exclusive ``flock`` on ``<database>.lock`` (SQLite
serves one machine; the studies of one file share this lock, held for milliseconds). Other
backends: no lock, so a study may end up to (workers - 1) trials over its target.
"""

from __future__ import annotations

import fcntl
import zlib
from pathlib import Path
from typing import IO

import sqlalchemy

__all__ = ["TrialGate"]


class TrialGate:
    """Cross-process mutex for one study on one storage; ``release`` is idempotent.

    As a context manager it is held inside the block and closed (file or connection freed) at
    its end, however the block ends::

        with TrialGate(url, "my-study"):
            ...  # no other worker of the study is here
    """

    def __init__(self, url: str, study_name: str, purpose: str = "") -> None:
        parsed = sqlalchemy.engine.make_url(url)
        # Another purpose (e.g. "supernet", held for minutes) gets a lock of its own, so holding
        # it never blocks the quick trial gate.
        study_name = f"{study_name}:{purpose}" if purpose else study_name
        self._backend = parsed.get_backend_name()
        self._held = False
        self._file: IO[bytes] | None = None
        self._conn: sqlalchemy.engine.Connection | None = None
        # A stable 63-bit key per study name, as advisory locks take integers.
        self._key = zlib.crc32(study_name.encode()) * 2**31 + zlib.adler32(study_name.encode())
        self._key %= 2**63
        self._name = f"mtlnas-{self._key:016x}"  # MySQL lock names: at most 64 characters
        if self._backend == "sqlite" and parsed.database not in (None, "", ":memory:"):
            suffix = f".{purpose}.lock" if purpose else ".lock"
            self._file = open(Path(parsed.database + suffix), "ab")  # noqa: SIM115
        elif self._backend in ("postgresql", "mysql", "mariadb"):
            engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
            self._conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")

    def __enter__(self) -> TrialGate:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def acquire(self) -> None:
        """Block until this process holds the study's lock."""
        if self._held:
            return
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_EX)
        elif self._conn is not None and self._backend == "postgresql":
            self._conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": self._key})
        elif self._conn is not None:
            # GET_LOCK returns 0 on timeout; MariaDB has no "wait for ever", so wait in rounds.
            get = sqlalchemy.text("SELECT GET_LOCK(:n, 60)")
            while (got := self._conn.execute(get, {"n": self._name}).scalar()) == 0:
                pass
            if got != 1:  # NULL: the server refused (e.g. the connection was killed)
                raise RuntimeError(f"the database refused the study lock {self._name!r}")
        self._held = True

    def release(self) -> None:
        """Let the next worker check; does nothing when not held."""
        if not self._held:
            return
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
        elif self._conn is not None and self._backend == "postgresql":
            self._conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
        elif self._conn is not None:
            self._conn.execute(sqlalchemy.text("SELECT RELEASE_LOCK(:n)"), {"n": self._name})
        self._held = False

    def close(self) -> None:
        """Release and free the file or connection."""
        self.release()
        if self._file is not None:
            self._file.close()
        if self._conn is not None:
            self._conn.close()
