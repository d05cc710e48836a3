"""Many workers on one study: real PostgreSQL and MariaDB servers, and SQLite on one machine."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from tests import QUICK
from tests.study.store.test_preemption import stopped

pytestmark = pytest.mark.slow  # real servers, several processes

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def worker(url: str, cwd: Path, *extra: str) -> subprocess.Popen[str]:
    cmd = [
        sys.executable,
        "-m",
        "nas.app.cli",
        "search",
        "--name",
        "w",
        "--storage",
        url,
        "--benchmark",
        "digits",
        "--size",
        "tiny",
        *QUICK,
        "--heartbeat",
        "1",
        *extra,
    ]
    return subprocess.Popen(
        cmd,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def check_exact(url: str, target: int) -> list[optuna.trial.FrozenTrial]:
    trials = optuna.load_study(study_name="w", storage=url).get_trials()
    story = "\n".join(
        f"{t.number} {t.state.name} {t.datetime_start} {t.datetime_complete} "
        f"{t.user_attrs.get('worker')} {t.user_attrs.get('duplicate_of')} "
        f"{t.user_attrs.get('baseline')} {[k for k in t.system_attrs if 'artifact' not in k]}"
        for t in trials
    )
    assert sum(t.state in FINISHED for t in trials) == target, story
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    baselines = [t.user_attrs["baseline"] for t in trials if "baseline" in t.user_attrs]
    assert sorted(baselines) == ["hard_sharing", "independent"]  # enqueued once, run once
    return trials


@pytest.mark.parametrize("server", ["postgres_url", "mariadb_url"])
def test_three_workers_reach_exactly_the_target(
    server: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = request.getfixturevalue(server)  # a fresh database on a real server
    procs = [worker(url, tmp_path, "--n-trials", "7", "--epochs", "2") for _ in range(3)]
    for p in procs:
        _out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    trials = check_exact(url, 7)
    assert not [t for t in trials if t.state == TrialState.FAIL]


def test_killed_worker_is_replaced(postgres_url: str, tmp_path: Path) -> None:
    procs = [worker(postgres_url, tmp_path, "--n-trials", "6", "--epochs", "10") for _ in range(3)]
    by_pid = {p.pid: p for p in procs}
    deadline, victim = time.time() + 180, None
    while time.time() < deadline and victim is None:
        time.sleep(0.3)
        try:
            study = optuna.load_study(study_name="w", storage=postgres_url)
        except KeyError:
            continue
        for t in study.get_trials(states=(TrialState.RUNNING,)):
            pid = int(t.user_attrs.get("worker", ":0").rsplit(":", 1)[1])
            if t.intermediate_values and pid in by_pid:  # mid-training: an epoch reported
                # Frozen first, then checked: a trial pruned or finished since the read above
                # would let the kill land between trials, where it interrupts nothing.
                os.killpg(pid, signal.SIGSTOP)
                # kill() returns before every thread has stopped: one may still be writing.
                while not stopped(pid) and by_pid[pid].poll() is None:
                    time.sleep(0.01)
                now = optuna.load_study(study_name="w", storage=postgres_url).trials[t.number]
                if now.state == TrialState.RUNNING:
                    victim = by_pid.pop(pid)
                    os.killpg(pid, signal.SIGKILL)
                    killed_trial = t.number
                else:
                    os.killpg(pid, signal.SIGCONT)
                break
    if victim is None:  # say what the workers said: the poll's timing alone is not the story
        for p in procs:
            p.kill()
        said = " | ".join((p.communicate()[1] or "").strip()[-600:] for p in procs)
        pytest.fail(f"no trial reached training in time; the workers said: {said}")
    victim.wait()
    for p in by_pid.values():
        _out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    trials = check_exact(postgres_url, 6)
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert [t.number for t in failed] == [killed_trial]
    retried = [t for t in trials if t.system_attrs.get("failed_trial") == killed_trial]
    assert retried and retried[0].params == failed[0].params
    if retried[0].state == TrialState.WAITING:
        # Queued after the trial that reached the target had started (the sweep that finds a
        # dead worker runs when a trial starts): the study stopped at exactly its target, and
        # the next worker runs the retry first.
        more = worker(postgres_url, tmp_path, "--n-trials", "7", "--epochs", "10")
        _out, err = more.communicate(timeout=300)
        assert more.returncode == 0, err
        study = optuna.load_study(study_name="w", storage=postgres_url)
        retried = [study.trials[retried[0].number]]
    assert retried[0].state in FINISHED


def test_sqlite_local_workers_do_not_lock_up(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    procs = [worker(url, tmp_path, "--n-trials", "6", "--epochs", "1") for _ in range(3)]
    for p in procs:
        _out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        assert "database is locked" not in err
    trials = check_exact(url, 6)
    assert not [t for t in trials if t.state == TrialState.FAIL]
