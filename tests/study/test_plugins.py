"""A backbone and an evaluator from outside nas/, by import path, with no edit to nas/."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from nas.app.cli import main
from nas.core import Layout
from nas.study import StudyRecord, TrialRecord
from tests import NO_LATENCY, NO_PEERS
from tests.plugins import UntrainedEvaluator

FAST = ["--benchmark", "digits", "--size", "tiny", "--device", "cpu", "--quiet", "--no-confirm"]


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def load(tmp: Path, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{tmp / 'studies.db'}")


def test_a_backbone_by_import_path_runs_a_study_and_exports(in_tmp: Path) -> None:
    args = ["search", "--name", "b", "--n-trials", "3", "--epochs", "1", *FAST]
    args += ["--backbone", "tests.plugins:tiny_backbone", "--backbone-option", "depth=2"]
    assert main(args) == 0
    study = load(in_tmp, "b")
    config = StudyRecord(study).config()
    assert (config["backbone"], config["backbone_options"]) == (
        "tests.plugins:tiny_backbone",
        {"depth": 2},
    )
    first = TrialRecord.of(study.trials[0])
    assert first.layout is not None and Layout.from_dict(first.layout).depth == 2
    # cost measured without formulas: 2 blocks x 3 tasks of one 3x3 conv (1 channel) each
    hard, ind = TrialRecord.of(study.trials[1]), first
    assert ind.params is not None and hard.params is not None
    assert ind.params - hard.params == (3 - 1) * 2 * (1 * 1 * 9 + 1)
    # resume reads the backbone back from the study alone
    assert (
        main(["resume", "b", "--n-trials", "4", "--device", "cpu", "--quiet", "--no-confirm"]) == 0
    )
    assert len(load(in_tmp, "b").get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))) == 4
    assert main(["export", "b", "-o", str(in_tmp / "b.onnx")]) == 0
    assert (in_tmp / "b.onnx").stat().st_size > 0


def test_an_evaluator_by_import_path_scores_every_trial(in_tmp: Path) -> None:
    UntrainedEvaluator.calls.clear()
    args = ["search", "--name", "e", "--n-trials", "4", *FAST]
    assert main([*args, "--evaluator", "tests.plugins:untrained"]) == 0
    study = load(in_tmp, "e")
    assert len(UntrainedEvaluator.calls) == len(study.trials) == 4
    assert {c.layout for c in UntrainedEvaluator.calls} >= {
        Layout.from_dict(TrialRecord.of(t).layout or {}) for t in study.trials[:2]
    }
    for t in study.trials:
        assert TrialRecord.of(t).epochs == 0  # nothing trained
    assert StudyRecord(study).config()["evaluator"] == "tests.plugins:untrained"


def test_an_evaluator_that_always_fails_stalls_with_one_line(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "search",
        "--name",
        "x",
        "--n-trials",
        "5",
        *FAST,
        "--evaluator",
        "tests.plugins:broken",
    ]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "mtlnas search: error: study 'x': 3 trials in a row failed; "
        "see the reasons with mtlnas show"
    ]
    study = load(in_tmp, "x")
    failed = study.get_trials(states=(TrialState.FAIL,))
    # The three trials the loop ran, and the baseline each of the last two trained first.
    assert len(failed) == 5
    assert [t.user_attrs.get("baseline") for t in failed[:3]] == [
        "independent",
        "hard_sharing",
        "independent",
    ]
    assert TrialRecord.of(failed[0]).fail_reason == "RuntimeError: this evaluator always fails"


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (
            ["--backbone", "nope"],
            "unknown backbone 'nope'; choose one of ['auto', 'conv', 'mlp', 'resnet18', "
            "'resnet34', 'resnet50']",
        ),
        (["--backbone", "tests.plugins:missing"], "tests.plugins has no function 'missing'"),
        (["--backbone", "mlp"], "backbone 'mlp' needs vector inputs (F,), got (1, 16, 16)"),
        (["--backbone-option", "width=3"], "takes no option 'width'"),
        (["--evaluator", "nope"], "unknown evaluator 'nope'"),
    ],
)
def test_bad_plugins_are_one_line_errors_that_touch_nothing(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], option: list[str], message: str
) -> None:
    assert main(["search", "--name", "bad", "--n-trials", "2", *FAST, *option]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not (in_tmp / "studies.db").exists()


@pytest.mark.slow
def test_an_evaluator_with_options_searches_resumes_confirms_and_exports(in_tmp: Path) -> None:
    args = ["search", "--name", "o", "--n-trials", "3", "--epochs", "2", *FAST]
    args += ["--evaluator", "tests.plugins:short_training", "--evaluator-option", "epochs=1"]
    assert main(args) == 0
    study = load(in_tmp, "o")
    config = StudyRecord(study).config()
    assert (config["evaluator"], config["evaluator_options"]) == (
        "tests.plugins:short_training",
        {"epochs": 1},
    )
    assert {TrialRecord.of(t).epochs for t in study.trials} == {1}  # its option, not --epochs
    resume = ["resume", "o", "--n-trials", "4", "--device", "cpu", "--quiet"]
    assert (
        main([*resume, "--confirm-top", "1", "--confirm-seeds", "2", *NO_LATENCY, *NO_PEERS]) == 0
    )
    runs = load(in_tmp, "o:confirm").trials
    assert {TrialRecord.of(t).epochs for t in runs} == {2}  # confirm trains from scratch
    assert main(["export", "o", "-o", str(in_tmp / "o.onnx")]) == 0
    bad = ["search", "--name", "p", *FAST, "--evaluator", "tests.plugins:short_training"]
    assert main([*bad, "--evaluator-option", "depth=1"]) == 2
