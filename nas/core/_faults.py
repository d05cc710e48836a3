"""Faults of the machine, not of the code: a full disk, a read-only or corrupt database.

They reach us wrapped: SQLite's error inside SQLAlchemy's inside Optuna's
``StorageInternalError`` ("invalid data ... exceeding max length", whatever the cause), or
hidden behind the ``AssertionError`` Optuna raises when it cannot even record a failed trial.
:func:`describe_fault` walks the chain of causes and names the real one, with what to do.
"""

from __future__ import annotations

import errno
import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from nas.core._errors import UserError

__all__ = [
    "deferred_interrupts",
    "MachineFault",
    "Terminated",
    "describe_fault",
    "interrupt_reason",
    "is_interrupt",
    "is_terminated",
    "quiet_trial_tracebacks",
    "signals_as_interrupts",
]

_RESUME = "then run the command again (a study resumes where it stopped)"

# (text in the database driver's message, what we say): first match wins.
_DRIVER_MESSAGES = (
    ("database or disk is full", f"the disk holding the database is full: free space, {_RESUME}"),
    (
        "readonly database",
        "the database is read-only: make the file and its folder writable for this user, "
        "or give another --storage",
    ),
    (
        "read-only",
        "the database is read-only: make it writable for this user, or give another --storage",
    ),
    (
        "malformed",
        "the database file is corrupt (malformed): restore it from a backup, "
        "or give another --storage",
    ),
    (
        "file is not a database",
        "the database file is corrupt or not a SQLite database: restore it from a backup, "
        "or give another --storage",
    ),
    (
        "unable to open database file",
        "the database file cannot be opened: check the path and that its folder is writable",
    ),
    (
        "disk i/o error",
        f"the disk reported an I/O error on the database: check the disk, {_RESUME}",
    ),
    (
        "database is locked",
        "the database stayed locked by another process for 60 s: retry, or use PostgreSQL "
        "for many workers",
    ),
)

_ERRNO_MESSAGES = {
    errno.ENOSPC: "no space left on the disk: free space, " + _RESUME,
    errno.EDQUOT: "disk quota exceeded: free space, " + _RESUME,
    errno.EROFS: "the file system is read-only: give a writable --storage / --artifacts / --out",
}


class MachineFault(UserError, RuntimeError):
    """A full disk, a read-only or corrupt database: the message names it and what to do."""


def _chain(err: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException] = [err]
    while todo:
        e = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        for nxt in (getattr(e, "orig", None), e.__cause__, e.__context__):
            if isinstance(nxt, BaseException):
                todo.append(nxt)


def describe_fault(err: BaseException) -> str | None:
    """One line naming the machine fault behind ``err``, or None when it is not one."""
    for e in _chain(err):
        if isinstance(e, OSError) and e.errno in _ERRNO_MESSAGES:
            where = f" ({e.filename})" if getattr(e, "filename", None) else ""
            return _ERRNO_MESSAGES[e.errno].replace(":", f"{where}:", 1)
    for e in _chain(err):
        text = str(e).lower()
        for needle, message in _DRIVER_MESSAGES:
            if needle in text:
                return message
    return None


class Terminated(KeyboardInterrupt):
    """SIGTERM: a batch scheduler or a preemptible machine stops the job (then SIGKILLs it).

    A KeyboardInterrupt, so every path that cleans up after Ctrl-C cleans up after it too.
    """


def is_interrupt(err: BaseException) -> bool:
    """True when ``err`` is, or was caused by, a Ctrl-C or SIGTERM (libraries re-wrap it)."""
    return any(isinstance(e, KeyboardInterrupt) for e in _chain(err))


def is_terminated(err: BaseException) -> bool:
    """True when ``err`` is, or was caused by, a SIGTERM."""
    return any(isinstance(e, Terminated) for e in _chain(err))


def interrupt_reason(err: BaseException) -> str:
    """What a trial stopped by ``err`` (an interrupt) stores as its reason."""
    if is_terminated(err):
        return "terminated (SIGTERM: preempted or stopped by a scheduler)"
    return "interrupted (Ctrl-C)"


# Interrupts held back while the main thread is inside a database call (see deferred_interrupts).
_DEFERRED: dict[str, Any] = {"depth": 0, "pending": None}


@contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Hold a Ctrl-C or SIGTERM that arrives inside the block until the block has ended.

    An interrupt raised half way through a database call can leave that connection's transaction
    open, holding the SQLite write lock, so the cleanup that marks the trial failed then waits
    on the process's own lock. Storage calls run inside this block (nas.study._store.storage).
    Elsewhere than the main thread it does nothing: signals are delivered there only.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _DEFERRED["depth"] += 1
    try:
        yield
    finally:
        _DEFERRED["depth"] -= 1
        pending = _DEFERRED["pending"]
        if _DEFERRED["depth"] == 0 and pending is not None:
            _DEFERRED["pending"] = None
            raise pending


@contextmanager
def signals_as_interrupts() -> Iterator[None]:
    """Turn the first SIGINT or SIGTERM into an exception; ignore any that follow.

    The exception unwinds through the code that marks the running trial failed; a second
    signal arriving during that cleanup is ignored, so it cannot break a database write half
    way. A signal the process was started ignoring (``nohup``, a background job) stays ignored.
    Outside the main thread this does nothing (Python delivers signals there only).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if caught:
            return  # cleaning up after the first one
        caught.append(signum)
        err = Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()
        if _DEFERRED["depth"]:  # inside a database call: raised when it returns
            _DEFERRED["pending"] = err
            return
        raise err

    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(sig) in (signal.SIG_DFL, signal.default_int_handler):
            previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class _OneLinePerTrial(logging.Filter):
    """Optuna logs a failed trial's whole traceback; its reason is stored and shown by ``show``.

    Kept: one line per failed trial. Dropped: the traceback, the repeated "failed with value
    None" line, and everything about an interrupt or a machine fault (the command prints its
    own one line for those).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        err = record.exc_info[1] if record.exc_info else None
        if err is not None and (is_interrupt(err) or describe_fault(err) is not None):
            return False
        if "failed with value None" in record.getMessage():
            return False
        record.exc_info, record.exc_text = None, None
        return True


def quiet_trial_tracebacks() -> None:
    """Filter Optuna's log handler (once): one line per failed trial, nothing for faults."""
    for handler in logging.getLogger("optuna").handlers:
        if not any(isinstance(f, _OneLinePerTrial) for f in handler.filters):
            handler.addFilter(_OneLinePerTrial())
