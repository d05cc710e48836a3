"""Device slots: one command runs a study in several processes, and stops them together."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest
from optuna.trial import TrialState

from nas.app._slots import SlotError, slot_devices
from nas.app.cli import main
from tests import NO_PEERS
from tests.study.store.test_faults import BASE, finish, mtlnas, start, study

TINY = ["--benchmark", "digits", "--size", "tiny", "--epochs", "1", "--device", "cpu"]
SLOTS = [a for a in BASE if a not in ("--device", "cpu")]  # --devices replaces --device
assert len(SLOTS) == len(BASE) - 2


def test_slot_devices_read_names_all_and_counts() -> None:
    assert slot_devices("cpu", 2, cuda_count=0) == ["cpu", "cpu"]
    assert slot_devices("all", 1, cuda_count=2) == ["cuda:0", "cuda:1"]
    assert slot_devices("all", 3, cuda_count=0) == ["cpu"] * 3
    assert slot_devices("cuda, cpu", 1, cuda_count=1) == ["cuda:0", "cpu"]
    for devices, per, why in [
        ("gpu0", 1, "'gpu0' is not a device; give cpu, all, or cuda:N"),
        ("cuda:2", 1, "this machine has 2 CUDA devices (cuda:0, cuda:1)"),
        ("cuda:0,cuda:0", 1, "names cuda:0 twice; give --per-device K"),
        ("cpu", 0, "--per-device must be a whole number of at least 1, got 0"),
    ]:
        with pytest.raises(SlotError, match=re.escape(why)):
            slot_devices(devices, per, cuda_count=2)


def test_bad_slots_are_one_line_and_store_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    search = ["search", "--name", "s", *TINY[:-2], "--n-trials", "3", "--quiet"]
    for extra, why in [
        (["--devices", "gpu0"], "'gpu0' is not a device"),
        (["--devices", "cuda:0"], "this machine has 0 CUDA devices (none)"),
        (["--per-device", "2"], "--per-device K needs --devices"),
        (["--devices", "cpu", "--device", "cpu"], "give --device (this process) or --devices"),
    ]:
        assert main([*search, *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and why in err, err
    assert not (tmp_path / "studies.db").exists()


def test_two_slots_on_the_cpu_reach_exactly_the_target_each_trial_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["search", "--name", "s", *TINY[:-2], "--n-trials", "6", "--quiet"]
    confirm = [
        "--confirm-top",
        "1",
        "--confirm-seeds",
        "2",
        "--confirm-latency-repeats",
        "0",
        *NO_PEERS,
    ]
    assert main([*args, *confirm, "--devices", "cpu", "--per-device", "2"]) == 0
    out = capsys.readouterr().out
    assert "training in 2 processes on cpu" in out and "CONFIRMED" in out
    trials = study(tmp_path, "s").get_trials()
    assert len(trials) == 6 and {t.state for t in trials} <= {
        TrialState.COMPLETE,
        TrialState.PRUNED,
    }
    # Trained by the slots' processes, not this one. (Both slots training at once is shown by
    # the SIGTERM test, which waits for it: with runs of a fraction of a second, the slot that
    # imports torch first may take every run here.)
    workers = {t.user_attrs["worker"] for t in trials}
    assert 1 <= len(workers) <= 2 and not any(w.endswith(f":{os.getpid()}") for w in workers)
    # The confirm stage's runs were trained by slots as well; this process decided.
    runs = study(tmp_path, "s:confirm").get_trials()
    assert len(runs) == 6 and all(r.state == TrialState.COMPLETE for r in runs)
    confirmers = {r.user_attrs["worker"] for r in runs}
    assert 1 <= len(confirmers) <= 2 and not confirmers & workers  # a new process per stage
    assert not any(w.endswith(f":{os.getpid()}") for w in confirmers)


def test_sigterm_stops_every_slot_and_resume_finishes(tmp_path: Path) -> None:
    # Trials of a few seconds: with trials of a fraction of one, the slot that started first
    # could finish the whole study before the other had imported torch.
    proc = start(tmp_path, "search", "--name", "s", *SLOTS, "--epochs", "10", "--n-trials", "5",
                 "--devices", "cpu", "--per-device", "2", "--heartbeat", "1")  # fmt: skip
    deadline = time.time() + 300
    running: list[str] = []
    while time.time() < deadline and proc.poll() is None and len(set(running) - {""}) < 2:
        time.sleep(0.2)
        try:
            trials = study(tmp_path, "s").get_trials()
        except KeyError:
            continue
        # A trial just started has no worker yet: "" is nobody.
        running += [t.user_attrs.get("worker", "") for t in trials if t.state.name == "RUNNING"]
    assert len(set(running) - {""}) == 2, "both slots were training"
    proc.send_signal(signal.SIGTERM)
    err = finish(proc)
    assert proc.returncode == 143, err
    assert "terminated (SIGTERM)" in err
    for worker in set(running) - {""}:  # every slot's process has ended
        with pytest.raises(ProcessLookupError):
            os.kill(int(worker.rsplit(":", 1)[1]), 0)
    states = [t.state for t in study(tmp_path, "s").get_trials()]
    assert TrialState.RUNNING not in states
    done = mtlnas(tmp_path, "resume", "s", "--device", "cpu", "--quiet", "--no-confirm")
    assert done.returncode == 0, done.stderr
    finished = [t for t in study(tmp_path, "s").get_trials() if t.state.is_finished()]
    ended = [t for t in finished if t.state != TrialState.FAIL]
    assert len(ended) == 5


def test_a_slot_whose_process_dies_is_restarted_and_its_trial_retried(tmp_path: Path) -> None:
    proc = start(tmp_path, "search", "--name", "s", *SLOTS, "--epochs", "2", "--n-trials", "5",
                 "--devices", "cpu", "--per-device", "2", "--heartbeat", "1")  # fmt: skip
    deadline = time.time() + 300
    victim = None
    while time.time() < deadline and proc.poll() is None and victim is None:
        time.sleep(0.2)
        try:
            trials = study(tmp_path, "s").get_trials()
        except KeyError:
            continue
        running = (t for t in trials if t.number >= 2 and t.state.name == "RUNNING")
        victim = next((t for t in running if "worker" in t.user_attrs), None)  # whose it is
    assert victim is not None
    os.kill(int(victim.user_attrs["worker"].rsplit(":", 1)[1]), signal.SIGKILL)
    err = finish(proc, timeout=300)
    assert proc.returncode == 0, err
    assert "its process stopped (killed by signal 9); starting it again" in err
    trials = study(tmp_path, "s").get_trials()
    assert trials[victim.number].state == TrialState.FAIL
    ended = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(ended) == 5
    # Its retry, found by what the storage records, was trained to the end, with the victim's
    # parameters where it had drawn them (it may have died before drawing or storing any).
    retry = [t for t in trials if t.system_attrs.get("failed_trial") == victim.number]
    assert len(retry) == 1 and retry[0].state in (TrialState.COMPLETE, TrialState.PRUNED)
    drawn = trials[victim.number].params
    assert retry[0].params.items() >= drawn.items()
