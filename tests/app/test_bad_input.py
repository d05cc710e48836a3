"""Every bad input: a one-line error naming the problem, exit status 2, the database untouched."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from nas.app.cli import main
from tests import QUICK

TINY = [
    "--size",
    "tiny",
    *QUICK,
    "--epochs",
    "1",
    "--n-trials",
    "2",
]


def digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def fails(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    assert main(list(args)) == 2
    err = capsys.readouterr().err.strip()
    assert err and "\n" not in err, err
    assert "Traceback" not in err
    return err


@pytest.fixture
def study_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding studies.db with one finished tiny study 's'."""
    monkeypatch.chdir(tmp_path)
    assert main(["search", "--name", "s", "--benchmark", "digits", *TINY]) == 0
    return tmp_path / "studies.db"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--benchmark", "mnist"], "unknown benchmark 'mnist'; choose one of"),
        (["--space", "tree"], "unknown search space 'tree'; choose one of"),
        (["--epochs", "0"], "option 'epochs' must be a positive integer"),
        (["--objectives", "speed"], "unknown objectives 'speed'; choose one of"),
        (["--space-option", "instances"], "--space-option 'instances': expected KEY=VALUE"),
        (["--space", "adashare", "--space-option", "width=2"], "bad options for search space"),
        (["--sampler", "nsga2"], "strategy 'nsga2' needs several objectives"),
        (["--benchmark", "nyuv2"], "needs the path of its folder: --data PATH"),
        (
            ["--device", "cuda:3"]
            if not __import__("torch").cuda.is_available()
            else ["--device", "tpu"],
            "device",
        ),
    ],
)
def test_bad_search_options_touch_nothing(
    study_db: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    before = digest(study_db)
    err = fails(capsys, "search", "--name", "new", "--quiet", "--no-confirm", *args)
    assert message in err
    assert digest(study_db) == before


def test_bad_search_options_create_no_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    fails(capsys, "search", "--benchmark", "mnist")
    assert not (tmp_path / "studies.db").exists()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("foo://x", "unknown database dialect or missing driver"),
        ("not a url", "is not a database URL"),
        ("postgresql+psycopg://nobody@127.0.0.1:1/db", "cannot be opened"),
        ("sqlite:////no/such/folder/studies.db", "folder /no/such/folder does not exist"),
    ],
)
def test_bad_storage(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    url: str,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert message in fails(capsys, "list", "--storage", url)


def test_file_that_is_not_a_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    junk = tmp_path / "studies.db"
    junk.write_bytes(b"these are my notes, not a database\n" * 50)
    before = digest(junk)
    assert "is not a SQLite database" in fails(capsys, "search", "--benchmark", "digits", *TINY)
    assert "is not a SQLite database" in fails(capsys, "list")
    assert digest(junk) == before


@pytest.mark.parametrize("command", ["resume", "show", "export", "plot", "worker"])
def test_unknown_study(study_db: Path, capsys: pytest.CaptureFixture[str], command: str) -> None:
    before = digest(study_db)
    err = fails(capsys, command, "nope")
    assert "no study named 'nope'; stored studies: ['s']" in err
    assert digest(study_db) == before


def test_existing_study_with_another_configuration(
    study_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = digest(study_db)
    err = fails(capsys, "search", "--name", "s", "--benchmark", "scenes", *TINY)
    assert "study 's' exists with another configuration (benchmark: stored 'digits'" in err
    assert digest(study_db) == before


NAN_BENCH = """
import torch
from nas.data._benchmark import Benchmark, Split
from nas.data._tasks import Task

def make(seed=0):
    x = torch.randn(8, 4)
    y = torch.randn(8, 1)
    y[3] = float("inf")
    split = Split(x, {"a": (x[:, 0] > 0).long(), "b": y})
    return Benchmark("nan", (4,), (Task("a", "classification", 2), Task("b", "regression")),
                     split, split, split)
"""

DIVERGE_BENCH = """
import torch
from nas.data._benchmark import Benchmark, Split
from nas.data._tasks import Task

def make(seed=0):
    x = torch.randn(16, 4)
    split = Split(x, {"b": x[:, :1] * 1e30})
    return Benchmark("huge", (4,), (Task("b", "regression", loss="mse"),), split, split, split)
"""


def test_nan_targets_in_a_user_benchmark(
    study_db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (study_db.parent / "nanbench.py").write_text(NAN_BENCH)
    monkeypatch.syspath_prepend(str(study_db.parent))
    before = digest(study_db)
    err = fails(capsys, "search", "--benchmark", "nanbench:make", "--quiet", "--no-confirm")
    assert "split 'train', task 'b': field 'targets' holds infinite values" in err
    assert digest(study_db) == before


def test_export_without_finished_trials(
    study_db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (study_db.parent / "huge.py").write_text(DIVERGE_BENCH)
    monkeypatch.syspath_prepend(str(study_db.parent))
    assert (
        main(
            [
                "search",
                "--name",
                "h",
                "--benchmark",
                "huge:make",
                "--n-trials",
                "2",
                "--epochs",
                "1",
                *QUICK,
            ]
        )
        == 0
    )
    before = digest(study_db)
    err = fails(capsys, "export", "h", "-o", str(study_db.parent / "m.onnx"))
    assert "study 'h' has no complete trial yet; run: mtlnas resume h" in err
    assert digest(study_db) == before
    assert not (study_db.parent / "m.onnx").exists()


def test_console_script_exit_status(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "nas.app.cli", "resume", "nope"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2
    assert run.stderr.strip() == (
        "mtlnas resume: error: no database at studies.db; start a study with: mtlnas search"
    )
    assert not (tmp_path / "studies.db").exists()


def test_a_plain_bug_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    # Only UserError (and missing files) are the user's to fix; anything else is a bug.
    import nas.app._reports

    def broken(args: object, given: object) -> int:
        raise ValueError("an internal bug")

    monkeypatch.setattr(nas.app._reports, "list_studies", broken)
    with pytest.raises(ValueError, match="an internal bug"):
        main(["list"])
