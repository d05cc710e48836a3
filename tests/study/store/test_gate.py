"""The study lock that keeps workers from overshooting the target, on each backend."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from nas.study._store.gate import TrialGate


@pytest.fixture(params=["sqlite", "postgres_url", "mariadb_url"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'studies.db'}"
    return str(request.getfixturevalue(request.param))  # a fresh database on a real server


def test_a_held_lock_blocks_the_same_study_only(url: str) -> None:
    holder, waiter, other = TrialGate(url, "s"), TrialGate(url, "s"), TrialGate(url, "other")
    got = threading.Event()

    def wait_for_lock() -> None:
        waiter.acquire()
        got.set()

    try:
        holder.acquire()
        thread = threading.Thread(target=wait_for_lock, daemon=True)
        thread.start()
        assert not got.wait(1.0), "a second holder got the lock of the same study"
        if not url.startswith("sqlite"):  # SQLite has one lock per database file
            other.acquire()  # another study's lock is independent
            other.release()
        holder.release()
        assert got.wait(30), "the waiter never got the lock after its release"
        thread.join(30)
    finally:
        for gate in (waiter, holder, other):
            gate.close()


def _waiter(url: str) -> tuple[TrialGate, threading.Event]:
    """Another holder that tries to take the study's lock in the background."""
    gate, got = TrialGate(url, "s"), threading.Event()

    def take() -> None:
        gate.acquire()
        got.set()

    threading.Thread(target=take, daemon=True).start()
    return gate, got


def test_release_and_close_are_idempotent(url: str) -> None:
    gate = TrialGate(url, "s")
    gate.release()  # not held: nothing happens
    gate.acquire()
    gate.acquire()  # already held: returns at once
    first, got = _waiter(url)
    assert not got.wait(1.0), "the lock was taken while held"
    gate.release()  # one release frees it, however many acquires
    assert got.wait(30), "the lock stayed held after release"
    gate.release()  # not held any more: nothing happens
    first.release()
    gate.acquire()
    second, got = _waiter(url)
    gate.close()  # close releases
    gate.close()
    assert got.wait(30), "the lock stayed held after close"
    for g in (first, second):
        g.close()


def test_the_gate_as_a_context_manager_is_closed_however_the_block_ends(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    with pytest.raises(RuntimeError), TrialGate(url, "s") as gate:
        assert gate._held
        raise RuntimeError("inside")
    assert not gate._held and gate._file is not None and gate._file.closed
    with TrialGate(url, "s"):  # free again
        pass
