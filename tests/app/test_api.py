"""The Python API: the docs' example runs the three jobs; bad options fail before the database."""

from __future__ import annotations

import re
from pathlib import Path

import onnx
import optuna
import pytest

import nas
from nas.app.cli import main
from nas.core import UserError

DOC = Path(__file__).parents[2] / "docs" / "api.md"


def test_the_documented_example_searches_resumes_and_exports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    match = re.search(r"<!-- api-example -->\s*```python\n(.*?)```", DOC.read_text(), re.S)
    assert match is not None, "docs/api.md lost its example"
    exec(compile(match.group(1), str(DOC), "exec"), {"__name__": "api_example"})
    out = capsys.readouterr().out
    assert "best on validation:" in out and "confirmed: " in out and "6 trials finished" in out
    study = optuna.load_study(study_name="api-demo", storage="sqlite:///api-demo.db")
    assert len(study.trials) == 6
    onnx.checker.check_model(onnx.load(str(tmp_path / "api-demo.onnx")))
    # the command line resumes what Python started (its benchmark known to this process)
    assert main(["resume", "api-demo", "--storage", "sqlite:///api-demo.db", "--no-confirm",
                 "--quiet", "--device", "cpu"]) == 0  # fmt: skip
    assert "already has 6 finished trials" in capsys.readouterr().out


def test_search_returns_its_result_typed(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 's.db'}"
    # In two device slots: two child processes train, this one returns the result.
    result = nas.search("s", benchmark="digits", size="tiny", n_trials=3, epochs=1, storage=db,
                        devices="cpu", per_device=2, progress=False, confirm=False)  # fmt: skip
    assert isinstance(result, nas.SearchResult)
    assert (result.name, result.storage, result.finished) == ("s", db, 3)
    trials = optuna.load_study(study_name="s", storage=db).trials
    assert len({t.user_attrs["worker"] for t in trials}) == 2
    assert result.config.n_trials == 3 and result.confirmed is None
    assert result.best is not None and isinstance(result.best.delta_mtl, float)


def test_unknown_options_and_names_fail_before_the_database(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    with pytest.raises(UserError, match="unknown search option 'n_trail'"):
        nas.search("x", n_trail=3, storage=f"sqlite:///{db}")
    with pytest.raises(UserError, match="kept for the stages"):
        nas.search("x:confirm", storage=f"sqlite:///{db}")
    with pytest.raises(UserError, match="benchmark must be a name"):
        nas.search("x", benchmark=3, storage=f"sqlite:///{db}")  # type: ignore[arg-type]
    mine = nas.load_benchmark("digits", size="tiny")
    with pytest.raises(UserError, match="child processes, which know a benchmark by name"):
        nas.search("x", benchmark=mine, devices="cpu", per_device=2, storage=f"sqlite:///{db}")
    assert not db.exists()


@pytest.mark.slow
def test_the_readme_example_runs_with_a_smaller_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    readme = DOC.parents[1] / "README.md"
    match = re.search(r"```python\n(import torch, nas.*?)```", readme.read_text(), re.S)
    assert match is not None, "the README lost its own-data example"
    code = match.group(1)
    # The README's budget (20 trials of 6 epochs, 5 confirm seeds) shrunk to seconds; the rest
    # runs as written, in the default database sqlite:///studies.db.
    assert "n_trials=20)" in code
    code = code.replace("n_trials=20)", "n_trials=3, epochs=1, confirm_top=1, confirm_seeds=2, "
                        "confirm_peers='none', "
                        "device='cpu', progress=False)")  # fmt: skip
    exec(compile(code, str(readme), "exec"), {"__name__": "readme_example"})
    assert " | " in capsys.readouterr().out  # the confirmed winner's layout summary
    assert (tmp_path / "studies.db").exists()
    onnx.checker.check_model(onnx.load(str(tmp_path / "mine.onnx")))
