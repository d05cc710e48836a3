"""Edge cases a hostile but fair user hits at the command line: one test per case."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest

from nas.app.cli import main
from tests import QUICK
from tests.app.test_bad_input import TINY, digest, fails


@pytest.fixture
def study_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding studies.db with one finished tiny study 's'."""
    monkeypatch.chdir(tmp_path)
    assert main(["search", "--name", "s", "--benchmark", "digits", *TINY]) == 0
    return tmp_path / "studies.db"


def search(*args: str) -> list[str]:
    return ["search", "--benchmark", "digits", *TINY, *args]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lr", "inf"], "option 'lr' must be a positive finite number, got inf"),
        (["--lr", "nan"], "option 'lr' must be a positive finite number, got nan"),
        (["--seed", "-5"], "option 'seed' must be a non-negative integer, got -5"),
        (["--device", "tpu"], "unknown device 'tpu'; use auto, cpu, cuda or cuda:N"),
        (["--name", ""], "--name is empty"),
        (["--name", " "], "--name is empty"),
    ],
)
def test_bad_values_are_refused_before_anything_is_written(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert message in fails(capsys, *search(*args))
    assert not (tmp_path / "studies.db").exists()


def test_a_bad_heartbeat_variable_is_one_line(
    study_db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MTLNAS_HEARTBEAT", "soon")
    err = fails(capsys, "resume", "s", *QUICK)
    assert "MTLNAS_HEARTBEAT must be a whole number of seconds (1 or more), got 'soon'" in err
    assert "--heartbeat must be" in fails(capsys, "resume", "s", "--heartbeat", "0", *QUICK)


def test_plot_into_an_existing_file_is_refused(
    study_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (study_db.parent / "taken").write_text("mine")
    assert "--out taken is a file; give a folder" in fails(capsys, "plot", "s", "--out", "taken")
    assert (study_db.parent / "taken").read_text() == "mine"


@pytest.mark.parametrize("name", ["../../escaped", "x" * 500, "a b/c"])
def test_figures_stay_in_their_folder_whatever_the_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(search("--name", name)) == 0
    capsys.readouterr()
    assert main(["plot", name, "--out", "figs"]) == 0
    written = [Path(line) for line in capsys.readouterr().out.split()]
    assert written and all(p.parent == Path("figs") and p.exists() for p in written)
    assert all(len(p.name) < 100 for p in written)
    assert {p.name for p in (tmp_path / "figs").iterdir()} == {p.name for p in written}


def test_the_next_step_hint_is_shell_quoted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(search("--name", "my study")) == 0
    assert "mtlnas show 'my study'" in capsys.readouterr().out


def test_lowering_the_target_below_finished_is_refused(
    study_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["resume", "s", "--n-trials", "3", *QUICK]) == 0  # 3 finished now
    before = digest(study_db)
    for again in (search("--name", "s", "--n-trials", "2"), ["resume", "s", "--n-trials", "2"]):
        err = fails(capsys, *again, *QUICK)
        assert "already has 3 finished trials; --n-trials 2 would set its target below that" in err
    assert digest(study_db) == before


def test_list_on_an_empty_file_leaves_it_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "studies.db").write_bytes(b"")
    assert "studies.db is an empty file, not a database" in fails(capsys, "list")
    assert (tmp_path / "studies.db").stat().st_size == 0


def test_export_with_a_missing_artifact_folder_creates_none(
    study_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = fails(capsys, "export", "s", "-o", "m.onnx", "--artifacts", "nope")
    assert "no artifact folder at nope; pass --artifacts DIR" in err
    assert not (study_db.parent / "nope").exists()


BROKEN = {
    "raises": "def make(seed=0):\n    raise RuntimeError('download server down')\n",
    "valueerror": "def make(seed=0):\n    raise ValueError('labels out of range')\n",
    "syntax": "def make(seed=0)\n    return 1\n",
    "import_raises": "raise RuntimeError('no GPU driver')\ndef make():\n    pass\n",
}


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("raises", "failed: RuntimeError: download server down (b_raises.py, line 2)"),
        ("valueerror", "benchmark 'b_valueerror:make' failed: ValueError: labels out of range"),
        ("syntax", "benchmark 'b_syntax:make': importing 'b_syntax' failed: SyntaxError"),
        ("import_raises", "importing 'b_import_raises' failed: RuntimeError: no GPU driver"),
    ],
)  # fmt: skip
def test_a_broken_user_benchmark_is_one_line_naming_it(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    kind: str,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / f"b_{kind}.py").write_text(BROKEN[kind])
    err = fails(capsys, "search", "--benchmark", f"b_{kind}:make", *QUICK)
    assert message in err
    assert not (tmp_path / "studies.db").exists()


def test_bench_on_a_foreign_onnx_file_is_one_line(
    study_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 4])
    graph = onnx.helper.make_graph([onnx.helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)])
    model.ir_version = 8  # what any onnxruntime loads
    onnx.save(model, "foreign.onnx")
    assert "foreign.onnx was not exported by mtl-nas" in fails(capsys, "bench", "foreign.onnx")


def test_predict_names_the_file_it_wrote(
    study_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", "s", "-o", "m.onnx"]) == 0
    np.save("x.npy", np.zeros((2, 1, 16, 16), dtype=np.float32))
    capsys.readouterr()
    assert main(["predict", "m.onnx", "x.npy", "-o", "outs"]) == 0
    out = capsys.readouterr().out
    assert "wrote outs.npz" in out
    assert (study_db.parent / "outs.npz").exists()
    # what a user reads: each task's kind and its classes, not logit means
    assert "left (classification): class per sample: " in out and "mean" not in out


def test_predict_on_an_empty_batch_is_one_line(
    study_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", "s", "-o", "m.onnx"]) == 0
    np.save("empty.npy", np.zeros((0, 1, 16, 16), dtype=np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's "mean of empty slice" once printed here
        assert "empty.npy holds no samples" in fails(capsys, "predict", "m.onnx", "empty.npy")


LONG_BENCH = """
from nas.data._benchmark import load_benchmark


def make(seed=0, size=None):
    return load_benchmark("digits", size="tiny", seed=seed)
"""


def test_list_and_show_columns_stay_aligned_for_long_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "realphoto_bench_with_a_long_name.py").write_text(LONG_BENCH)
    long_name = "a-study-name-much-longer-than-any-column-width-x"
    assert main(search("--name", "a")) == 0
    bench = "realphoto_bench_with_a_long_name:make"
    assert main(["search", "--benchmark", bench, "--name", long_name, *TINY]) == 0
    capsys.readouterr()
    assert main(["list"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    end = header.index("finished") + len("finished")  # a right-aligned column
    assert len(rows) == 2
    for row in rows:
        assert row[end - 3 : end] == "2/2", (header, row)
    assert main(["show", long_name]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(line for line in lines if line.lstrip().startswith("trial"))
    body = lines[lines.index(header) + 1 :]
    end = header.index("Δ_MTL") + len("Δ_MTL")
    for row in body:
        assert row[end - 1] == "%", (header, row)  # every Δ_MTL ends in the same column


def test_a_finished_program_ignores_a_late_sigterm_and_a_library_call_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SIGTERM during the interpreter's exit must not make a finished run read as killed."""
    import signal
    import sys

    monkeypatch.chdir(tmp_path)
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        # No database here: a one-line error, and still a program that has finished its work.
        assert main(["list"]) == 2  # called from Python: the caller's handlers come back
        assert {s: signal.getsignal(s) for s in before} == before
        monkeypatch.setattr(sys, "argv", ["mtlnas", "list"])
        assert main() == 2  # the program itself: about to exit, signals are ignored
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)


def test_a_sigterm_while_the_arguments_are_parsed_ends_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import os
    import signal

    import nas.app.cli

    real = nas.app.cli.build_parser

    def slow_start() -> object:
        os.kill(os.getpid(), signal.SIGTERM)  # arrives before the command is known
        return real()

    monkeypatch.setattr(nas.app.cli, "build_parser", slow_start)
    assert main(["list"]) == 128 + signal.SIGTERM
    assert capsys.readouterr().err.strip().splitlines() == [
        "mtlnas: terminated (SIGTERM); nothing was written"
    ]
