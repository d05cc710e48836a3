"""The confirm stage: fresh seeds, a winner chosen on validation, the test split read once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pytest
import torch
from optuna.trial import TrialState

import nas.study._outcome.verdict
import nas.training._train
from nas.app.cli import main
from nas.data import Resident, load_benchmark
from nas.runtime import OnnxModel
from nas.study import StudyRecord, confirmed, open_storage, prepare, study_config
from nas.study._outcome.confirm import confirm_name
from nas.study._outcome.confirmed import CONFIRMED_VERSION
from nas.study._outcome.verdict import choose
from nas.study._store.record import CONFIRMED_KEY
from nas.training import Problem
from tests import NO_LATENCY, NO_PEERS

TINY = ["--benchmark", "digits", "--size", "tiny", "--device", "cpu", "--quiet", "--epochs", "1"]


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def load(name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage="sqlite:///studies.db")


@pytest.mark.slow
def test_the_test_split_is_read_once_after_every_run(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    test_x = load_benchmark("digits", size="tiny", seed=0).test.x
    events: list[str] = []

    def is_test(split: Any) -> bool:
        x = split.split.x if isinstance(split, Resident) else split.x
        return x.shape == test_x.shape and bool(torch.equal(x.cpu(), test_x))

    real_evaluate, real_test_split = nas.training._train.evaluate, Problem.test_split

    def evaluate(net: Any, split: Any, *args: Any, **kwargs: Any) -> Any:
        events.append("eval test" if is_test(split) else "eval other")
        return real_evaluate(net, split, *args, **kwargs)

    def train(net: Any, train_split: Any, val_split: Any, *args: Any, **kwargs: Any) -> Any:
        assert not is_test(train_split) and not is_test(val_split), "training saw the test split"
        return real_train(net, train_split, val_split, *args, **kwargs)

    def test_split(self: Problem) -> Any:
        search = load("t").get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
        runs = load(confirm_name("t")).get_trials(states=(TrialState.COMPLETE,))
        events.append(f"test_split after {len(search)} trials and {len(runs)} runs")
        return real_test_split(self)

    real_train = nas.training._train.train
    monkeypatch.setattr(nas.training._train, "evaluate", evaluate)
    monkeypatch.setattr(nas.study._outcome.verdict, "evaluate", evaluate)
    monkeypatch.setattr(nas.training._train, "train", train)
    monkeypatch.setattr("nas.explore.evaluators._training.train", train)
    monkeypatch.setattr(Problem, "test_split", test_split)
    args = ["search", "--name", "t", "--n-trials", "4", "--confirm-top", "1", *TINY]
    assert main([*args, "--confirm-seeds", "2", *NO_LATENCY, *NO_PEERS]) == 0
    assert events.count("test_split after 4 trials and 6 runs") == 1  # (2 baselines + 1) x 2
    first_test = events.index("test_split after 4 trials and 6 runs")
    assert "eval test" not in events[:first_test]
    # the winner and both baselines (the winner may be one of them), each seed; nothing else
    result = confirmed(open_storage("sqlite:///studies.db"), "t")
    assert result is not None
    tested = 2 if result.winner_row.role != "candidate" else 3
    assert events[first_test + 1 :] == ["eval test"] * (2 * tested)
    out = capsys.readouterr().out
    assert "CONFIRMED" in out and "paired test Δ_MTL, winner minus" in out


def kill_confirm_mid_run(
    cwd: Path,
    name: str,
    url: str,
    args: list[str],
    ready: Callable[[list[optuna.trial.FrozenTrial]], bool],
) -> tuple[list[optuna.trial.FrozenTrial], list[int]]:
    """Run ``mtlnas confirm NAME ARGS`` in a process; SIGKILL it mid-training once ``ready``.

    ``ready`` sees the runs complete so far. Returns the runs complete at the kill and the
    numbers of the runs it left RUNNING (at least one: a run was training).
    """
    cmd = [sys.executable, "-m", "nas.app.cli", "confirm", name, *args]
    cmd += ["--device", "cpu", "--quiet", "--latency-repeats", "0"]  # not a latency test
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[3])}
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stderr=subprocess.PIPE, start_new_session=True)
    done: list[optuna.trial.FrozenTrial] = []
    deadline, running, killed_it = time.time() + 180, set[int](), False
    try:
        while time.time() < deadline and proc.poll() is None:
            time.sleep(0.2)
            try:
                runs = optuna.load_study(study_name=f"{name}:confirm", storage=url).get_trials()
            except KeyError:
                continue
            done = [t for t in runs if t.state == TrialState.COMPLETE]
            # A run seen RUNNING twice in a row is mid-training, not a moment from its end.
            now = {t.number for t in runs if t.state == TrialState.RUNNING}
            if ready(done) and now & running:
                os.killpg(proc.pid, signal.SIGKILL)
                killed_it = True
                break
            running = now
    finally:
        if proc.poll() is None and not killed_it:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert killed_it, proc.stderr.read().decode() if proc.stderr else ""
    stored = optuna.load_study(study_name=f"{name}:confirm", storage=url).get_trials()
    killed = [t.number for t in stored if t.state == TrialState.RUNNING]
    assert killed, "a run was training when the process was killed"
    return done, killed


@pytest.mark.slow
def test_confirm_resumes_after_sigkill_without_redoing_runs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    base = ["--storage", url, "--heartbeat", "1"]
    # three epochs: each confirm run lasts long enough to be seen RUNNING twice, then killed
    search = [
        "search",
        "--name",
        "k",
        "--n-trials",
        "3",
        *TINY,
        "--epochs",
        "3",
        "--no-confirm",
        *base,
    ]
    assert main(search) == 0
    args = ["--seeds", "3", "--top", "1", *base, "--peers", "none"]
    done, killed = kill_confirm_mid_run(tmp_path, "k", url, args, lambda done: len(done) >= 2)
    before = {t.number: (t.user_attrs["finalist"], t.user_attrs["seed"]) for t in done}
    time.sleep(3.5)  # past the grace period: the killed run counts as dead
    cli = ["--device", "cpu", "--quiet", "--latency-repeats", "0"]  # not a latency test
    assert main(["confirm", "k", *base, *cli]) == 0
    runs = optuna.load_study(study_name="k:confirm", storage=url).get_trials()
    complete = [t for t in runs if t.state == TrialState.COMPLETE]
    keys = [(t.user_attrs["finalist"], t.user_attrs["seed"]) for t in complete]
    assert len(keys) == len(set(keys)) == 3 * 3  # every run once: none trained twice
    for number, key in before.items():  # finished runs were kept, not redone
        assert runs[number].state == TrialState.COMPLETE and keys.count(key) == 1
    assert all(runs[n].state == TrialState.FAIL for n in killed)  # the killed run, retried


def test_confirm_errors_are_one_line(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def error(*args: str) -> str:
        capsys.readouterr()  # what earlier commands printed
        assert main(list(args)) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1, err
        return err

    assert "no database at studies.db" in error("confirm", "nope")
    # only the two baselines: nothing to confirm against them
    assert main(["search", "--name", "two", "--n-trials", "2", *TINY, "--no-confirm"]) == 0
    assert "has no complete layout beyond the two baselines" in error("confirm", "two")
    # every trial failed
    bad = ["search", "--name", "bad", "--n-trials", "3", *TINY, "--no-confirm"]
    assert main([*bad, "--evaluator", "tests.plugins:broken"]) == 2
    capsys.readouterr()
    assert "no complete layout beyond the two baselines to confirm (0 complete" in error(
        "confirm", "bad"
    )
    assert "--seeds must be at least 2" in error("confirm", "two", "--seeds", "1")
    assert "no study named 'nope'" in error("confirm", "nope")


@pytest.mark.slow
def test_confirmed_winner_is_shown_exported_and_kept(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["search", "--name", "w", "--n-trials", "4", *TINY, "--confirm-seeds", "2", *NO_PEERS]
    assert main([*args, "--confirm-top", "1"]) == 0
    capsys.readouterr()
    assert main(["show", "w"]) == 0
    shown = capsys.readouterr().out
    assert shown.index("CONFIRMED") < shown.index("SEARCH LEADERBOARD")
    # Every confirmed layout's cost is the cost model's, and said as multiples of independent's.
    result = confirmed(open_storage("sqlite:///studies.db"), "w")
    assert result is not None
    problem, _ = prepare(study_config(load("w")), torch.device("cpu"))
    for row in result.rows:
        cost = problem.cost(row.layout)
        assert (row.params, row.flops) == (cost.params, cost.flops)
    independent, hard = result.rows[0], result.rows[1]
    assert result.cost_ratio(independent) == (1.0, 1.0)
    ratio = result.cost_ratio(hard)
    assert ratio is not None and ratio[0] < 1 and ratio[1] < 1
    assert f"{ratio[0]:.2f}x / {ratio[1]:.2f}x" in shown  # the hard-sharing row's cost column
    # Each tested layout's exported graph was timed under onnxruntime, side by side.
    assert result.latency_device is not None and "onnxruntime" in result.latency_device
    assert all((row.latency_ms is not None) == row.tested for row in result.rows)
    assert "latency: exported graphs under onnxruntime" in shown
    assert main(["list"]) == 0
    assert "x FLOPs" in capsys.readouterr().out
    assert main(["export", "w", "-o", "m.onnx"]) == 0
    assert "confirmed winner, w:confirm run" in capsys.readouterr().out
    meta = OnnxModel("m.onnx", "cpu").metadata
    assert meta["confirmed"]["seed"] == 1000 and meta["confirmed"]["split"] == "test"
    assert set(meta["confirmed"]["test_primary"]) == {"left", "right", "sum"}
    win = result.winner_row
    assert (meta["confirmed"]["params"], meta["confirmed"]["flops_per_sample"]) == (
        win.params,
        win.flops,
    )
    assert meta["confirmed"]["cost_vs_independent"] == result.cost_words(win)
    assert win.latency_ms is not None
    assert meta["confirmed"]["latency_ms"] == {str(b): ms for b, ms in win.latency_ms.items()}
    # a second confirm with other options is refused; the same one is a no-op
    assert main(["confirm", "w", "--seeds", "3"]) == 2
    assert "was confirmed with --top 1 --seeds 2" in capsys.readouterr().err
    runs = len(load(confirm_name("w")).trials)
    assert main(["confirm", "w", "--quiet"]) == 0
    assert len(load(confirm_name("w")).trials) == runs


@pytest.mark.slow
def test_a_verdict_of_the_earlier_rule_is_chosen_again_without_training(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["search", "--name", "v", "--n-trials", "4", *TINY, "--confirm-seeds", "2"]
    assert main([*args, "--confirm-top", "1", *NO_LATENCY, *NO_PEERS]) == 0
    runs = load(confirm_name("v"))
    record = StudyRecord(runs)
    stored = record.get(CONFIRMED_KEY)
    assert stored is not None and stored["version"] == CONFIRMED_VERSION
    # As version 1 stored it: the searched finalist, whatever the baselines scored.
    record.set(CONFIRMED_KEY, {**stored, "version": 1, "winner": 2})
    before = len(runs.trials)
    capsys.readouterr()
    assert main(["confirm", "v", "--quiet", "--latency-repeats", "0"]) == 0
    assert "its verdict was chosen by an earlier rule" in capsys.readouterr().out
    assert len(load(confirm_name("v")).trials) == before  # nothing trained
    result = confirmed(open_storage("sqlite:///studies.db"), "v")
    assert result is not None and result.version == CONFIRMED_VERSION
    val = {r.finalist: r.val_deltas for r in result.rows}
    assert result.winner == choose(val, range(3), {2})
    assert main(["confirm", "v", "--quiet", "--latency-repeats", "0"]) == 0
    assert "earlier rule" not in capsys.readouterr().out
    # A baseline as the answer: list names it instead of a cost against itself.
    StudyRecord(load(confirm_name("v"))).set(CONFIRMED_KEY, {**result.to_dict(), "winner": 0})
    assert main(["list"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("v "))
    assert line.endswith("+0.00% ± 0.00: independent (baseline)")
    # ... and export writes the separate networks, their first confirm seed's weights.
    assert main(["export", "v", "-o", "v.onnx"]) == 0
    meta = OnnxModel("v.onnx", "cpu").metadata
    assert meta["confirmed"]["role"] == "independent" and meta["confirmed"]["seed"] == 1000


@pytest.mark.slow
def test_two_workers_share_the_confirm_runs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    search = ["search", "--name", "s", "--n-trials", "3", *TINY, "--no-confirm", "--storage", url]
    assert main(search) == 0
    cmd = [sys.executable, "-m", "nas.app.cli", "confirm", "s", "--seeds", "3", "--top", "1"]
    cmd += ["--peers", "none"]
    cmd += ["--storage", url, "--device", "cpu", "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[3])}
    procs = [
        subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert all("CONFIRMED" in out for out in outs)
    runs = optuna.load_study(study_name="s:confirm", storage=url).get_trials()
    keys = [(t.user_attrs["finalist"], t.user_attrs["seed"]) for t in runs]
    assert all(t.state == TrialState.COMPLETE for t in runs)
    assert len(keys) == len(set(keys)) == 3 * 3  # each run trained once, by one of them
    workers = {t.user_attrs["worker"] for t in runs}
    assert len(workers) == 2, "one worker did all the runs"
