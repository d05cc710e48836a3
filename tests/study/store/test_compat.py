"""A study written by the previous version (record version 1) still resumes, shows and exports."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import optuna
import pytest

from nas.app.cli import main
from nas.study import RecordError, StudyRecord
from nas.study._store.record import RECORD_VERSION, VERSION_KEY

FIXTURE = Path(__file__).parents[2] / "fixtures" / "v1"


@pytest.fixture
def old(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copy(FIXTURE / "studies.db", tmp_path / "studies.db")
    shutil.copytree(FIXTURE / "artifacts", tmp_path / "artifacts")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_fixture_is_a_version_1_record(old: Path) -> None:
    study = optuna.load_study(study_name="legacy", storage="sqlite:///studies.db")
    assert VERSION_KEY not in study.user_attrs
    assert StudyRecord(study).version == 1
    assert StudyRecord(study).model()["backbone"]["kind"] == "conv"  # type: ignore[index]


def test_old_study_shows_resumes_and_exports(old: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    assert "legacy" in capsys.readouterr().out
    assert main(["show", "legacy"]) == 0
    shown = capsys.readouterr().out
    assert "best on validation: trial 2" in shown and "[independent]" in shown
    assert main(["export", "legacy", "-o", "old.onnx"]) == 0
    assert "wrote old.onnx (trial 2" in capsys.readouterr().out
    assert (
        main(["resume", "legacy", "--n-trials", "4", "--device", "cpu", "--quiet", "--no-confirm"])
        == 0
    )
    study = optuna.load_study(study_name="legacy", storage="sqlite:///studies.db")
    assert len(study.trials) == 4
    assert study.trials[3].user_attrs["delta_mtl"] is not None  # against the stored baseline


def test_show_plot_and_export_pick_the_same_trial_on_a_front(
    old: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = optuna.load_study(study_name="legacy-pareto", storage="sqlite:///studies.db")
    front = study.best_trials
    assert len(front) == 2
    best = max(front, key=lambda t: t.values[0]).number
    assert main(["show", "legacy-pareto"]) == 0
    shown = re.search(r"best on validation: trial (\d+)", capsys.readouterr().out)
    assert main(["plot", "legacy-pareto", "--out", "fig"]) == 0
    drawn = re.search(r"legacy-pareto-trial(\d+)\.png", capsys.readouterr().out)
    assert main(["export", "legacy-pareto", "-o", "m.onnx"]) == 0
    exported = re.search(r"\(trial (\d+),", capsys.readouterr().out)
    assert shown and drawn and exported
    assert int(shown[1]) == int(drawn[1]) == int(exported[1]) == best


def test_a_newer_record_is_refused_with_one_line(
    old: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = optuna.load_study(study_name="legacy", storage="sqlite:///studies.db")
    study.set_user_attr(VERSION_KEY, RECORD_VERSION + 1)
    with pytest.raises(RecordError, match="written by a newer mtl-nas"):
        StudyRecord(study).config()
    assert main(["resume", "legacy", "--device", "cpu", "--quiet", "--no-confirm"]) == 2
    assert "upgrade mtl-nas" in capsys.readouterr().err
