"""Preemption with real processes and signals: SIGTERM, and a death before the first heartbeat.

Batch schedulers and preemptible machines stop a job with SIGTERM, then SIGKILL. A search must
come back from either at any moment with exactly its target of finished trials, nothing left
RUNNING and no result lost, and no command may wait for ever on a process that is gone.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from nas.study import TrialRecord
from nas.study._store.stale import MAX_RETRY
from tests.study.store.test_faults import BASE, finish, mtlnas, start, study, wait_until_running

RESUME = ["--device", "cpu", "--quiet", "--no-confirm", "--heartbeat", "1"]

# Runs the CLI in a process that stops itself (SIGSTOP) the moment trial N of its study is
# RUNNING, before its first heartbeat is written: the test then kills it, as a preempted
# machine would. Everything else is the real command. The signal goes to the beating thread
# itself: sent to the process, it is taken by the main thread, and the beating thread may run
# on long enough to write the beat before the whole process stops.
STOP_BEFORE_FIRST_BEAT = (
    "import os, signal, sys, threading\n"
    "from optuna.storages import RDBStorage\n"
    "real = RDBStorage.record_heartbeat\n"
    "def beat(self, trial_id):\n"
    "    if self.get_trial(trial_id).number >= int(os.environ['STOP_AT']):\n"
    "        signal.pthread_kill(threading.get_ident(), signal.SIGSTOP)\n"
    "    real(self, trial_id)\n"
    "RDBStorage.record_heartbeat = beat\n"
    "from nas.app.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def stopped(pid: int) -> bool:
    """Whether every thread of process ``pid`` is stopped (a SIGSTOP has fully taken hold)."""
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
        return bool(tasks) and all(
            (t / "stat").read_text().split(") ")[1].startswith("T") for t in tasks
        )
    except (FileNotFoundError, IndexError):
        return False


def kill_before_first_beat(cwd: Path, stop_at: int, *args: str) -> bool:
    """Run ``mtlnas ARGS`` until trial ``stop_at`` is RUNNING without a beat; then SIGKILL it.

    Returns:
        True once killed; False when the command ended cleanly first (its study was done).
    """
    import os

    proc = subprocess.Popen(
        [sys.executable, "-c", STOP_BEFORE_FIRST_BEAT, *args],
        cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "STOP_AT": str(stop_at)},
    )  # fmt: skip
    deadline = time.time() + 300
    while not stopped(proc.pid):
        if proc.poll() is not None:
            err = proc.communicate()[1]
            assert proc.returncode == 0, f"ended before trial {stop_at}: {err}"
            return False
        assert time.time() < deadline, "never reached the trial"
        time.sleep(0.05)
    proc.kill()
    proc.communicate()
    return True


def heartbeats(folder: Path, trial_id: int) -> int:
    import sqlite3

    with sqlite3.connect(folder / "studies.db") as db:
        query = "SELECT COUNT(*) FROM trial_heartbeats WHERE trial_id = ?"
        return int(db.execute(query, (trial_id,)).fetchone()[0])


@pytest.mark.slow
def test_a_trial_dead_before_its_first_heartbeat_is_failed_and_retried(tmp_path: Path) -> None:
    args = ["search", "--name", "b", "--n-trials", "3", "--epochs", "1", *BASE, "--heartbeat", "1"]
    assert kill_before_first_beat(tmp_path, 2, *args)
    dead = study(tmp_path, "b").trials[2]
    assert dead.state == TrialState.RUNNING and heartbeats(tmp_path, dead._trial_id) == 0
    # Optuna's own stale check never fails it; ours does once its start is older than the grace.
    done = mtlnas(tmp_path, "resume", "b", *RESUME, timeout=120)
    assert done.returncode == 0, done.stderr
    trials = study(tmp_path, "b").trials
    assert trials[2].state == TrialState.FAIL
    assert "died before its first heartbeat" in str(TrialRecord.of(trials[2]).fail_reason)
    retry = [t for t in trials if t.system_attrs.get("failed_trial") == 2]
    assert len(retry) == 1  # with what it had drawn (nothing here: it died before drawing)
    assert trials[2].params.items() <= retry[0].params.items()
    assert retry[0].state == TrialState.COMPLETE
    assert "fail_reason" not in retry[0].user_attrs  # a retry starts clean
    assert [t.state for t in trials].count(TrialState.COMPLETE) == 3


# A SIGTERM that lands while a class is being created (torch's import defines hundreds) is
# re-raised by Python 3.11 as a RuntimeError from __set_name__; the command still ends in one line.
SIGTERM_IN_A_CLASS_BODY = """
import os, signal, sys, time
import nas.app.cli

class Field:
    def __set_name__(self, owner, name):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler runs here

def importing(args):
    type("Imported", (), {"traced_sources": Field()})
    return 0

nas.app.cli._run = importing
sys.exit(nas.app.cli.main(["list"]))
"""


def test_a_sigterm_while_a_library_is_imported_is_one_line_and_exit_143(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-c", SIGTERM_IN_A_CLASS_BODY], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert run.returncode == 143, run.stderr
    assert run.stderr.strip().splitlines() == [
        "mtlnas list: terminated (SIGTERM); nothing was written"
    ]


@pytest.mark.slow
def test_sigterm_fails_the_trial_with_its_reason_queues_it_and_exits_143(tmp_path: Path) -> None:
    args = ["--name", "t", "--n-trials", "3", "--epochs", "12", *BASE]
    proc = start(tmp_path, "search", *args)
    wait_until_running(tmp_path, "t", 2, proc)
    proc.send_signal(signal.SIGTERM)
    err = finish(proc)
    assert proc.returncode == 143
    lines = [line for line in err.strip().splitlines() if not line.startswith("warning: ")]
    assert lines == [
        "mtlnas search: terminated (SIGTERM); the running trial is marked failed and queued "
        "again; resume to go on"
    ]
    trials = study(tmp_path, "t").trials
    assert trials[2].state == TrialState.FAIL
    assert str(TrialRecord.of(trials[2]).fail_reason).startswith("terminated (SIGTERM")
    assert trials[3].state == TrialState.WAITING and trials[3].params == trials[2].params
    done = mtlnas(tmp_path, "resume", "t", *RESUME)
    assert done.returncode == 0, done.stderr
    trials = study(tmp_path, "t").trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2 + [
        TrialState.FAIL,
        TrialState.COMPLETE,
    ]


@pytest.mark.slow
def test_a_second_signal_during_the_cleanup_is_ignored(tmp_path: Path) -> None:
    # The process sends itself SIGTERM and SIGINT again while it records why the trial stopped.
    again = (
        "import os, signal, sys, time\n"
        "import nas.core._faults as f\n"
        "real = f.interrupt_reason\n"
        "def twice(err):\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    time.sleep(0.2)\n"
        "    return real(err)\n"
        "f.interrupt_reason = twice\n"
        "import nas.study._objective, nas.study._runner\n"
        "nas.study._objective.interrupt_reason = twice\n"
        "from nas.app.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    args = ["search", "--name", "s", "--n-trials", "3", "--epochs", "12", *BASE]
    proc = subprocess.Popen(
        [sys.executable, "-c", again, *args],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    wait_until_running(tmp_path, "s", 2, proc)  # type: ignore[arg-type]
    proc.send_signal(signal.SIGTERM)
    err = finish(proc)  # type: ignore[arg-type]
    assert proc.returncode == 143, err
    trials = study(tmp_path, "s").trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2 + [
        TrialState.FAIL,
        TrialState.WAITING,
    ]
    assert str(TrialRecord.of(trials[2]).fail_reason).startswith("terminated (SIGTERM")


def _has_config(folder: Path, name: str) -> bool:
    try:
        return "mtlnas_config" in study(folder, name).user_attrs
    except KeyError:
        return False


@pytest.mark.slow
def test_twelve_random_preemptions_end_at_exactly_the_target(tmp_path: Path) -> None:
    """SIGTERM and SIGKILL at seeded random moments, some before a trial's first heartbeat."""
    rng = random.Random(23)
    target, name = 24, "p"
    opts = ["--n-trials", str(target), "--epochs", "2", *BASE, "--heartbeat", "1"]
    kinds = []
    for _ in range(12):
        # search creates the study (and repairs one a kill left half-created); resume after.
        args = ["resume", name, *RESUME] if _has_config(tmp_path, name) else [
            "search", "--name", name, *opts
        ]  # fmt: skip
        kind = rng.choice(["term", "kill", "term", "kill", "before-beat"])
        kinds.append(kind)
        if kind == "before-beat":
            # STOP_AT 0: the first trial this process runs, whatever its number (a trial queued
            # again by an earlier kill keeps its lower number). A clean exit: the target was met.
            kill_before_first_beat(tmp_path, 0, *args)
            continue
        proc = start(tmp_path, *args)
        time.sleep(rng.uniform(0.5, 7.0))
        if proc.poll() is not None:  # reached the target already
            assert proc.returncode == 0, proc.communicate()[1]
            continue
        proc.send_signal(signal.SIGTERM if kind == "term" else signal.SIGKILL)
        err = finish(proc)
        assert proc.returncode in (143, -signal.SIGKILL, 0), err  # 0: the target was reached
        if proc.returncode == 143:
            assert "terminated (SIGTERM)" in err.strip().splitlines()[-1]
    assert {"term", "kill", "before-beat"} <= set(kinds)
    done = mtlnas(tmp_path, "resume", name, *RESUME, timeout=600)
    assert done.returncode == 0, done.stderr

    trials = study(tmp_path, name).trials
    states = [t.state for t in trials]
    finished = sum(s in (TrialState.COMPLETE, TrialState.PRUNED) for s in states)
    assert finished == target
    assert TrialState.RUNNING not in states
    # No result lost: every complete trial keeps its score and the baseline its metrics ...
    for t in trials:
        if t.state == TrialState.COMPLETE:
            assert TrialRecord.of(t).delta_mtl is not None and t.values is not None
    assert "mtlnas_baseline" in study(tmp_path, name).user_attrs
    # ... and every trial stopped by a kill or a SIGTERM has its reason and was queued again,
    # unless it had been retried as often as allowed.
    for t in trials:
        if t.state != TrialState.FAIL:
            continue
        reason = str(TrialRecord.of(t).fail_reason)
        assert reason.startswith(("terminated", "its process")), reason
        history = t.system_attrs.get("retry_history", [])
        retried = [u for u in trials if t.number in u.system_attrs.get("retry_history", [])]
        assert retried or len(history) >= MAX_RETRY, (t.number, reason)
    reasons = [str(TrialRecord.of(t).fail_reason).split(" (")[0] for t in trials]
    print(f"kills {kinds}; {len(trials)} trials; failed: {sorted(set(reasons) - {'None'})}")
    print({r: reasons.count(r) for r in set(reasons)})
    assert optuna.load_study(
        study_name=name, storage=f"sqlite:///{tmp_path / 'studies.db'}"
    ).user_attrs["mtlnas_config"]


def test_an_interrupt_inside_a_storage_call_is_raised_when_the_call_has_ended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Raised half way, it could leave a transaction open holding SQLite's write lock, and the
    # cleanup that marks the trial failed would then wait on the process's own lock.
    import os

    from optuna.storages import RDBStorage

    from nas.core import Terminated, signals_as_interrupts
    from nas.study import open_storage

    storage = open_storage(f"sqlite:///{tmp_path / 's.db'}", create=True)
    s = optuna.create_study(storage=storage, study_name="x")
    real, written = RDBStorage.set_study_user_attr, []

    def interrupted(self: RDBStorage, study_id: int, key: str, value: object) -> None:
        os.kill(os.getpid(), signal.SIGTERM)  # arrives in the middle of the call
        time.sleep(0.2)
        real(self, study_id, key, value)
        written.append(key)

    monkeypatch.setattr(RDBStorage, "set_study_user_attr", interrupted)
    with pytest.raises(Terminated), signals_as_interrupts():
        s.set_user_attr("k", 1)
    assert written == ["k"]
    monkeypatch.undo()
    again = optuna.load_study(study_name="x", storage=f"sqlite:///{tmp_path / 's.db'}")
    assert again.user_attrs == {"k": 1}
    again.set_user_attr("after", 2)  # nothing left holding the lock
