"""Fault injection with real processes and signals: what a study survives, and what users see.

Every fault ends in one line on stderr and a non-zero exit, leaves the database unchanged (or
resumable to exactly its target), no trial RUNNING and no partial file. Faults that need a
small full or read-only file system mount one (tmpfs, bind mount), which needs root: CI runs as
root; elsewhere those tests are skipped with the reason.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
import sqlalchemy
from optuna.trial import TrialState

from nas.study import TrialRecord

# Runs the CLI in a process that SIGKILLs itself at the last write of creating a study.
KILL_AT_CREATION = (
    "import os, signal, sys\n"
    "from nas.study._store.record import StudyRecord\n"
    "StudyRecord.set_config = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)\n"
    "from nas.app.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)

BASE = ["--benchmark", "digits", "--size", "tiny", "--device", "cpu", "--quiet", "--no-confirm"]


def mtlnas(cwd: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nas.app.cli", *args],
        cwd=cwd, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def _default_sigint() -> None:
    # A test run started in the background inherits an ignored SIGINT (shells do that to
    # background jobs), and Python keeps it ignored: give the child Ctrl-C back, as a terminal.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(cwd: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONFAULTHANDLER": "1"}  # SIGABRT dumps every thread's stack
    return subprocess.Popen(
        [sys.executable, "-m", "nas.app.cli", *args],
        cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        preexec_fn=_default_sigint,
    )  # fmt: skip


def finish(proc: subprocess.Popen[str], timeout: float = 180) -> str:
    """Wait for ``proc``; if it hangs, fail with where each of its threads was."""
    try:
        return proc.communicate(timeout=timeout)[1]
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        raise AssertionError(f"hung; its threads were at:\n{proc.communicate()[1]}") from None


def study(folder: Path, name: str) -> optuna.Study:
    """The study ``name``; KeyError while it, or its database, is still being created."""
    try:
        return optuna.load_study(study_name=name, storage=f"sqlite:///{folder / 'studies.db'}")
    except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.OperationalError) as err:
        # Opening a database another process is creating races it to create Optuna's tables
        # (the product retries, as its workers do; a test polling for the study waits).
        if isinstance(err, sqlalchemy.exc.OperationalError) and "already exists" not in str(err):
            raise
        raise KeyError(name) from err


def wait_until_running(
    folder: Path, name: str, number: int, proc: subprocess.Popen[str], at_least: bool = False
) -> None:
    """Block until trial ``number`` of ``name`` is RUNNING (the process is mid-trial).

    ``at_least``: any trial numbered ``number`` or later will do (short trials can start and
    end between two polls).
    """
    deadline = time.time() + 600  # a safety net only: the loop waits for a condition
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
        try:
            trials = study(folder, name).get_trials()
        except KeyError:  # not created yet
            continue
        running = [t.number for t in trials if t.state == TrialState.RUNNING]
        if number in running or (at_least and any(n >= number for n in running)):
            time.sleep(1.0)  # into training, past the first writes
            return
    proc.kill()
    raise AssertionError(f"trial {number} never ran: {proc.communicate()[1]}")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def states(folder: Path, name: str) -> list[TrialState]:
    return [t.state for t in study(folder, name).get_trials()]


@pytest.mark.slow
def test_ctrl_c_during_the_baseline_then_resume_reaches_the_target(tmp_path: Path) -> None:
    proc = start(tmp_path, "search", "--name", "c", "--n-trials", "2", "--epochs", "15", *BASE)
    wait_until_running(tmp_path, "c", 0, proc)
    proc.send_signal(signal.SIGINT)
    err = finish(proc)
    assert proc.returncode == 130
    assert err.strip().splitlines() == [
        "mtlnas search: interrupted; the running trial is marked failed; resume to go on"
    ]
    lost = study(tmp_path, "c").trials[0]
    assert lost.state == TrialState.FAIL
    assert TrialRecord.of(lost).fail_reason == "interrupted (Ctrl-C)"

    done = mtlnas(tmp_path, "resume", "c", "--device", "cpu", "--quiet", "--no-confirm")
    assert done.returncode == 0, done.stderr
    assert "queued again the baseline trials that were lost: independent" in done.stdout
    trials = study(tmp_path, "c").get_trials()
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 2  # exactly the target
    assert [t.state for t in trials].count(TrialState.FAIL) == 1  # only the interrupted one
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]


@pytest.mark.slow
def test_sigkill_during_the_baseline_then_resume_within_the_grace_takes_it_over(
    tmp_path: Path,
) -> None:
    args = ["--name", "k", "--n-trials", "2", "--epochs", "15", "--heartbeat", "1", *BASE]
    proc = start(tmp_path, "search", *args)
    wait_until_running(tmp_path, "k", 0, proc)
    proc.kill()
    proc.wait()
    assert states(tmp_path, "k")[0] == TrialState.RUNNING  # dead, not yet known to be
    # Within the grace period: the resume trains the hard-sharing layout, finds the baseline
    # RUNNING, notices its heartbeat stop, fails it and trains it itself. It must not hang.
    resume = ["resume", "k", "--heartbeat", "1", "--device", "cpu", "--quiet", "--no-confirm"]
    done = mtlnas(tmp_path, *resume, timeout=240)
    assert done.returncode == 0, done.stderr
    trials = study(tmp_path, "k").get_trials()
    assert trials[0].state == TrialState.FAIL
    kinds = [t.user_attrs.get("baseline") for t in trials if t.state == TrialState.COMPLETE]
    assert sorted(map(str, kinds)) == ["hard_sharing", "independent"]


@pytest.mark.slow
def test_workers_started_together_never_train_one_layout_twice(tmp_path: Path) -> None:
    first = mtlnas(tmp_path, "search", "--name", "w", "--n-trials", "2", "--epochs", "3", *BASE)
    assert first.returncode == 0, first.stderr
    more = ["--n-trials", "8", "--device", "cpu", "--quiet", "--no-confirm"]
    workers = [start(tmp_path, "worker", "w", *more) for _ in range(2)]
    for w in workers:
        _, err = w.communicate(timeout=300)
        assert w.returncode == 0, err
    trials = study(tmp_path, "w").get_trials()
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 8
    assert len({str(TrialRecord.of(t).worker) for t in trials[2:]}) == 2  # both took part
    # The first draws of the two workers differ (each trial has its own sampler seed) ...
    assert trials[2].params != trials[3].params
    # ... and a layout is trained once: a repeat reuses the result, even when it was drawn
    # while its twin was still training in the other worker.
    trained: dict[str, int] = {}
    for t in trials:
        r = TrialRecord.of(t)
        if r.epochs:
            trained[str(r.layout)] = trained.get(str(r.layout), 0) + 1
    assert trained and max(trained.values()) == 1


@pytest.mark.slow
def test_a_kill_during_creation_is_repaired_by_the_next_search(tmp_path: Path) -> None:
    # A real SIGKILL at the worst moment: the study and its queued baselines exist, the
    # configuration (the last write of creation) does not.
    proc = subprocess.run(
        [sys.executable, "-c", KILL_AT_CREATION, "search", "--name", "h", "--n-trials", "2", *BASE],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == -signal.SIGKILL
    shown = mtlnas(tmp_path, "show", "h")
    assert shown.returncode == 2
    assert shown.stderr.strip().splitlines() == [
        "mtlnas show: error: study 'h' was left half-created (its creation was interrupted); "
        "create it again with: mtlnas search --name h and its options"
    ]
    again = mtlnas(tmp_path, "search", "--name", "h", "--n-trials", "2", "--epochs", "1", *BASE)
    assert again.returncode == 0, again.stderr
    assert "was left half-created by an interrupted search" in again.stderr
    assert [t.state for t in study(tmp_path, "h").get_trials()] == [TrialState.COMPLETE] * 2


def test_a_half_created_study_is_never_taken_for_an_empty_one(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    foreign = optuna.create_study(study_name="mine", storage=url)
    foreign.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    done = mtlnas(tmp_path, "search", "--name", "mine", "--n-trials", "2", *BASE)
    assert done.returncode == 2
    assert "not created by mtl-nas" in done.stderr
    assert len(study(tmp_path, "mine").trials) == 1  # a study with results is never removed


# --- Machine faults ------------------------------------------------------------------------


def _root_mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs: a disk the test can fill."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small file system needs root (CI runs as root)")
    where = tmp_path / "disk"
    where.mkdir()
    try:
        _root_mount("-t", "tmpfs", "-o", "size=4m", "tmpfs", str(where))
    except subprocess.CalledProcessError as err:
        pytest.skip(f"cannot mount a tmpfs here: {err.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path, leave_kib: int) -> None:
    free = shutil.disk_usage(disk).free // 1024
    with open(disk / "filler", "wb") as f:
        f.write(b"\0" * max(0, free - leave_kib) * 1024)


def assert_clean(folder: Path, name: str) -> None:
    assert TrialState.RUNNING not in states(folder, name)
    leftovers = [p.name for p in folder.rglob("*.tmp")]
    assert not leftovers


@pytest.mark.slow
def test_a_full_disk_stops_the_search_with_one_line(small_disk: Path) -> None:
    ok = mtlnas(small_disk, "search", "--name", "d", "--n-trials", "2", "--epochs", "1", *BASE)
    assert ok.returncode == 0, ok.stderr
    fill(small_disk, leave_kib=300)  # room for the database, not for a weights file
    full = mtlnas(small_disk, "resume", "d", "--n-trials", "4", *BASE[4:])
    assert full.returncode == 2
    assert full.stderr.strip().splitlines() == [
        "mtlnas resume: error: no space left on the disk: free space, then run the command "
        "again (a study resumes where it stopped)"
    ]
    assert_clean(small_disk, "d")
    (small_disk / "filler").unlink()
    again = mtlnas(small_disk, "resume", "d", "--device", "cpu", "--quiet", "--no-confirm")
    assert again.returncode == 0, again.stderr
    assert sum(s == TrialState.COMPLETE for s in states(small_disk, "d")) == 4


@pytest.mark.slow
def test_a_full_disk_during_export_leaves_no_partial_file(small_disk: Path) -> None:
    ok = mtlnas(small_disk, "search", "--name", "e", "--n-trials", "2", "--epochs", "1", *BASE)
    assert ok.returncode == 0, ok.stderr
    fill(small_disk, leave_kib=64)  # the database needs nothing more; the model does not fit
    out = mtlnas(small_disk, "export", "e", "-o", "model.onnx")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1].startswith("mtlnas export: error: no space left")
    assert len(out.stderr.strip().splitlines()) == 1
    assert not (small_disk / "model.onnx").exists()
    assert_clean(small_disk, "e")


@pytest.mark.slow
def test_a_read_only_database_is_named_and_left_alone(small_disk: Path, tmp_path: Path) -> None:
    ok = mtlnas(small_disk, "search", "--name", "r", "--n-trials", "2", "--epochs", "1", *BASE)
    assert ok.returncode == 0, ok.stderr
    before = digest(small_disk / "studies.db")
    ro = tmp_path / "ro"
    ro.mkdir()
    _root_mount("--bind", str(small_disk), str(ro))
    try:
        _root_mount("-o", "remount,ro,bind", str(ro))
        for args in (
            ["resume", "r", "--n-trials", "3", *BASE[4:]],
            ["search", "--name", "new", *BASE],
        ):
            run = mtlnas(ro, *args)
            assert run.returncode == 2
            line = run.stderr.strip().splitlines()
            assert len(line) == 1 and "read-only" in line[0], run.stderr
        shown = mtlnas(ro, "show", "r")  # reading still works
        assert shown.returncode == 0 and "COMPLETE" in shown.stdout
    finally:
        subprocess.run(["umount", "-l", str(ro)], check=False)
    assert digest(small_disk / "studies.db") == before


@pytest.mark.slow
def test_a_corrupt_database_is_named_and_left_alone(tmp_path: Path) -> None:
    ok = mtlnas(tmp_path, "search", "--name", "x", "--n-trials", "2", "--epochs", "1", *BASE)
    assert ok.returncode == 0, ok.stderr
    db = tmp_path / "studies.db"
    data = bytearray(db.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 8192] = os.urandom(8192)  # a torn write in the middle of the file
    db.write_bytes(bytes(data))
    before = digest(db)
    for args in (["list"], ["show", "x"], ["resume", "x", "--n-trials", "3", *BASE[4:]]):
        run = mtlnas(tmp_path, *args)
        assert run.returncode == 2, run.stdout
        assert run.stderr.strip().splitlines() == [
            f"mtlnas {args[0]}: error: the database file is corrupt (malformed): restore it "
            "from a backup, or give another --storage"
        ]
    assert digest(db) == before


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncated", "empty", "another trial's"])
def test_a_corrupt_weights_file_is_refused_at_export(tmp_path: Path, damage: str) -> None:
    ok = mtlnas(tmp_path, "search", "--name", "x", "--n-trials", "2", "--epochs", "1", *BASE)
    assert ok.returncode == 0, ok.stderr
    trials = study(tmp_path, "x").get_trials()
    best = max(trials, key=lambda t: t.values[0])
    target = tmp_path / "artifacts" / str(TrialRecord.of(best).weights)
    if damage == "truncated":
        target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    elif damage == "empty":
        target.write_bytes(b"")
    else:  # the same layout's file from a study with another seed: it loads, but is not it
        args = ["--name", "y", "--n-trials", "2", "--epochs", "1", "--seed", "1", *BASE]
        assert mtlnas(tmp_path, "search", *args).returncode == 0
        first = study(tmp_path, "y").trials[0]
        target.write_bytes(
            (tmp_path / "artifacts" / str(TrialRecord.of(first).weights)).read_bytes()
        )
    out = mtlnas(tmp_path, "export", "x", "-o", "m.onnx")
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1
    prefix = f"mtlnas export: error: search trial {best.number}: weights file "
    assert lines[0].startswith(prefix)
    assert "is not the file that was saved" in lines[0]
    assert not (tmp_path / "m.onnx").exists()
