"""A study trained with a gradient aggregation searches, resumes, confirms and exports as any."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from nas.app.cli import main
from nas.runtime import OnnxModel
from nas.study import confirmed, open_storage
from tests import NO_LATENCY, NO_PEERS

TINY = ["--benchmark", "digits", "--size", "tiny", "--device", "cpu", "--quiet", "--epochs", "1"]


@pytest.mark.slow
def test_a_study_with_combine_resumes_confirms_and_exports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["search", "--name", "c", "--n-trials", "3", *TINY, "--combine", "pcgrad",
                 "--no-confirm"]) == 0  # fmt: skip
    config = optuna.load_study(study_name="c", storage="sqlite:///studies.db").user_attrs
    assert '"loss_weighting": "pcgrad"' in config["mtlnas_config"]
    assert main(["resume", "c", "--n-trials", "4", "--device", "cpu", "--quiet",
                 "--confirm-top", "1", "--confirm-seeds", "2",
                 *NO_LATENCY, *NO_PEERS]) == 0  # fmt: skip
    study = optuna.load_study(study_name="c", storage="sqlite:///studies.db")
    assert {t.user_attrs["loss_weighting"] for t in study.trials} == {"pcgrad"}
    result = confirmed(open_storage("sqlite:///studies.db"), "c")
    assert result is not None
    # Each searched finalist is retrained with its own method; the baselines with equal weights
    # (either may be the winner).
    assert [r.loss_weighting for r in result.rows if r.role == "candidate"] == ["pcgrad"]
    assert [r.loss_weighting for r in result.rows[:2]] == ["equal", "equal"]
    assert main(["export", "c", "-o", "c.onnx"]) == 0
    assert OnnxModel("c.onnx", "cpu").metadata["config"]["loss_weighting"] == "pcgrad"
    capsys.readouterr()
    assert main(["search", "--name", "bad", *TINY, "--combine", "search:upgrad"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "e.g. search:equal,upgrad,pcgrad" in err


def test_a_users_loss_weighting_by_import_path_trains_a_tiny_study(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    mine = "tests.plugins:FirstTaskTwice"
    assert main(["search", "--name", "u", "--n-trials", "3", *TINY, "--combine", mine,
                 "--no-confirm"]) == 0  # fmt: skip
    study = optuna.load_study(study_name="u", storage="sqlite:///studies.db")
    searched = [t for t in study.trials if "baseline" not in t.user_attrs]
    assert searched and {t.user_attrs["loss_weighting"] for t in searched} == {mine}
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    capsys.readouterr()
    for bad, why in (("tests.plugins:nope", "tests.plugins has no function 'nope'"),
                     ("no_such_pkg:Mine", "cannot import 'no_such_pkg'"),
                     ("tests.plugins:not_a_combiner", "gave a list, not a")):  # fmt: skip
        assert main(["search", "--name", "bad", *TINY, "--combine", bad]) == 2
        err = capsys.readouterr().err.strip()
        assert why in err and "\n" not in err, err
    assert optuna.get_all_study_names(storage="sqlite:///studies.db") == ["u"]
