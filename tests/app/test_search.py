"""End-to-end studies through the CLI, on tiny built-in benchmarks, on the CPU."""

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

from nas.app.cli import main
from nas.core import Layout
from tests import QUICK

TINY = ["--size", "tiny", "--device", "cpu", "--quiet", "--no-confirm"]


def storage_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'studies.db'}"


def load(tmp_path: Path, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=storage_url(tmp_path))


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.slow
@pytest.mark.parametrize(("benchmark", "space"), [("digits", "branched"), ("scenes", "adashare")])
def test_end_to_end_study(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], benchmark: str, space: str
) -> None:
    args = ["search", "--name", "e2e", "--benchmark", benchmark, "--space", space]
    args += ["--n-trials", "4", "--epochs", "2", *TINY]
    assert main(args) == 0
    study = load(in_tmp, "e2e")  # the default storage: studies.db in the working directory
    trials = study.get_trials()
    assert sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials) == 4
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    first, second = trials[0], trials[1]
    assert first.user_attrs["baseline"] == "independent" and first.value == 0.0
    assert second.user_attrs["baseline"] == "hard_sharing"
    tasks = tuple(first.user_attrs["primary"])
    assert Layout.from_dict(first.user_attrs["layout"]) == Layout.independent(
        tasks, 4 if benchmark == "digits" else 6
    )
    for t in trials:
        if t.state == TrialState.COMPLETE:
            for key in ("metrics", "delta_mtl", "params", "flops", "device", "wall_seconds"):
                assert key in t.user_attrs, key
    best = study.best_trial
    artifact = in_tmp / "artifacts"
    assert "weights" in best.user_attrs and any(artifact.rglob("*")), "best weights not stored"
    capsys.readouterr()
    assert main(["show", "e2e"]) == 0
    shown = capsys.readouterr().out
    assert "[independent]" in shown and "Δ_MTL" in shown
    assert main(["list"]) == 0
    assert "e2e" in capsys.readouterr().out
    assert main(["plot", "e2e", "--out", str(in_tmp / "fig")]) == 0
    assert len(list((in_tmp / "fig").glob("*.png"))) == 2
    # The target is reached: a second search with the same options does nothing.
    assert main(args) == 0
    assert "already has 4 finished trials" in capsys.readouterr().out
    assert len(load(in_tmp, "e2e").trials) == len(trials)


def test_multi_objective_gives_a_pareto_front(in_tmp: Path) -> None:
    assert (
        main(
            [
                "search",
                "--benchmark",
                "digits",
                "--objectives",
                "delta,params",
                "--n-trials",
                "5",
                "--epochs",
                "1",
                "--name",
                "mo",
                *TINY,
            ]
        )
        == 0
    )
    study = load(in_tmp, "mo")
    assert study.metric_names == ["delta_mtl", "params"]
    front = study.best_trials
    assert front
    assert all(t.user_attrs.get("weights") for t in front)
    assert main(["plot", "mo", "--out", str(in_tmp / "fig")]) == 0
    assert (in_tmp / "fig" / "mo-pareto.png").exists()


DIVERGING = """
import torch
from nas.data._benchmark import Benchmark, Split
from nas.data._tasks import Task

def make(seed=0):
    g = torch.Generator().manual_seed(seed)
    def split(n):
        x = torch.randn(n, 4, generator=g)
        # finite targets so large that the squared error overflows float32: loss = inf
        return Split(x, {"a": (x[:, :1] > 0).long().squeeze(1), "b": x[:, :1] * 1e30})
    return Benchmark("diverging", (4,), (Task("a", "classification", 2),
                     Task("b", "regression", 1, loss="mse")), split(64), split(32), split(32))
"""


def test_nan_trials_are_pruned_and_the_study_goes_on(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (in_tmp / "diverging.py").write_text(DIVERGING)
    monkeypatch.syspath_prepend(str(in_tmp))
    assert (
        main(
            [
                "search",
                "--benchmark",
                "diverging:make",
                "--n-trials",
                "3",
                "--epochs",
                "2",
                "--name",
                "nan",
                *QUICK,
            ]
        )
        == 0
    )
    trials = load(in_tmp, "nan").get_trials()
    assert [t.state for t in trials] == [TrialState.PRUNED] * 3
    assert all("loss became inf in epoch 1" in t.user_attrs["pruned_reason"] for t in trials)


def test_conflicting_resume_is_refused(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "search",
                "--benchmark",
                "digits",
                "--n-trials",
                "2",
                "--epochs",
                "1",
                "--name",
                "c",
                *TINY,
            ]
        )
        == 0
    )
    before = len(load(in_tmp, "c").trials)
    capsys.readouterr()
    assert (
        main(["resume", "c", "--epochs", "3", "--space", "adashare", "--quiet", "--no-confirm"])
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "epochs: stored 1, given 3" in err and "space: stored 'branched'" in err
    assert main(["search", "--name", "c", "--benchmark", "digits", "--seed", "5", *TINY]) == 2
    assert "seed: stored 0, given 5" in capsys.readouterr().err
    assert len(load(in_tmp, "c").trials) == before
    # Raising the target is allowed and resumes.
    assert (
        main(["resume", "c", "--n-trials", "3", "--device", "cpu", "--quiet", "--no-confirm"]) == 0
    )
    assert len(load(in_tmp, "c").trials) == before + 1
    assert main(["resume", "nope", "--quiet", "--no-confirm"]) == 2
    assert "no study named 'nope'; stored studies: ['c']" in capsys.readouterr().err


@pytest.mark.slow
def test_sigkill_mid_trial_then_resume(tmp_path: Path) -> None:
    url = storage_url(tmp_path)
    cmd = [
        sys.executable,
        "-m",
        "nas.app.cli",
        "search",
        "--benchmark",
        "digits",
        "--name",
        "k",
        "--n-trials",
        "4",
        "--epochs",
        "12",
        "--heartbeat",
        "1",
        "--storage",
        url,
        *TINY,
    ]
    proc = subprocess.Popen(
        cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    deadline = time.time() + 600  # a safety net only: the loop waits for a condition
    killed_number = None
    try:
        while time.time() < deadline and proc.poll() is None:
            time.sleep(0.3)
            try:
                trials = optuna.load_study(study_name="k", storage=url).get_trials()
            except KeyError:
                continue
            done = [t for t in trials if t.state == TrialState.COMPLETE]
            running = [t for t in trials if t.state == TrialState.RUNNING]
            # Mid-trial: it has reported an epoch, and at most half of its 12, so it cannot
            # finish between this look and the kill.
            if done and running and 0 < len(running[0].intermediate_values) <= 6:
                killed_number = running[0].number
                os.killpg(proc.pid, signal.SIGKILL)
                break
    finally:
        if proc.poll() is None and killed_number is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert killed_number is not None, proc.stderr.read().decode() if proc.stderr else ""
    before = {
        t.number: t.value
        for t in load(tmp_path, "k").get_trials()
        if t.state == TrialState.COMPLETE
    }
    assert load(tmp_path, "k").trials[killed_number].state == TrialState.RUNNING
    time.sleep(3.5)  # past the grace period (3 heartbeats) the trial counts as dead
    resume = subprocess.run(
        [
            sys.executable,
            "-m",
            "nas.app.cli",
            "resume",
            "k",
            "--storage",
            url,
            "--heartbeat",
            "1",
            *QUICK,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resume.returncode == 0, resume.stderr
    trials = load(tmp_path, "k").get_trials()
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    assert sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials) == 4
    for number, value in before.items():
        assert trials[number].state == TrialState.COMPLETE and trials[number].value == value
    killed = trials[killed_number]
    assert killed.state == TrialState.FAIL
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == killed_number]
    assert retries and retries[0].params == killed.params
    assert retries[0].user_attrs.get("layout") == killed.user_attrs.get("layout")
