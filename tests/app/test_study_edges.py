"""A study's life at its edges: options checked before anything is stored, stages kept apart,
hints that work as printed, and a way to delete a study with its files."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

import nas
from nas.app.cli import main
from nas.study import StudyRecord
from nas.study._store.record import CONFIRM_OPTIONS_KEY, PLAN_KEY
from tests import NO_PEERS, QUICK
from tests.plugins import pairs

TINY = ["--benchmark", "digits", "--size", "tiny", "--epochs", "1"]


def fails(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    assert main(list(args)) == 2
    err = capsys.readouterr().err.strip()
    assert err and "\n" not in err and "Traceback" not in err, err
    return err


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--strategy", "adashare"], "use --space adashare"),
        (["--space", "adashare", "--strategy", "affinity"], "use --space branched"),
        (["--warm-start", "adashare"], "use --space adashare"),
    ],
)
def test_a_strategy_that_cannot_search_the_space_stores_nothing(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert message in fails(capsys, "search", "--name", "zz", *TINY, *QUICK, *args)
    assert not (in_tmp / "studies.db").exists()  # the name is free: nothing was stored


def test_delete_removes_the_study_its_stage_and_their_files(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["search", "--name", "d", *TINY, "--n-trials", "3", "--device", "cpu",
                 "--quiet", "--confirm-top", "1", "--confirm-seeds", "2",
                 "--confirm-latency-repeats", "0", *NO_PEERS]) == 0  # fmt: skip
    assert main(["search", "--name", "keep", *TINY, "--n-trials", "2", *QUICK]) == 0
    files = {p for p in (in_tmp / "artifacts").rglob("*") if p.is_file()}
    assert "confirm stage of study 'd'" in fails(capsys, "delete", "d:confirm")
    assert main(["delete", "d"]) == 0
    out = capsys.readouterr().out
    assert "deleted 'd', 'd:confirm'" in out and "9 trials" in out
    names = {s.study_name for s in optuna.get_all_study_summaries("sqlite:///studies.db")}
    assert names == {"keep"}
    left = {p for p in (in_tmp / "artifacts").rglob("*") if p.is_file()}
    assert len(files - left) == 9 and len(left) == 2  # the other study's weights stay
    assert "no study named 'd'" in fails(capsys, "delete", "d")
    # the name is free again
    assert main(["search", "--name", "d", *TINY, "--n-trials", "2", *QUICK]) == 0


def test_bad_confirm_options_are_refused_before_the_search(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["search", "--name", "c", *TINY, "--n-trials", "2", "--device", "cpu", "--quiet"]
    assert "--confirm-top must be at least 1" in fails(capsys, *base, "--confirm-top", "0")
    assert "--confirm-seeds must be at least 2" in fails(capsys, *base, "--confirm-seeds", "0")
    assert "--confirm-seeds must be at least 2" in fails(capsys, *base, "--confirm-seeds", "1")
    assert not (in_tmp / "studies.db").exists()


def test_confirm_options_given_to_search_survive_a_stop_before_the_confirm_stage(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["search", "--name", "c", *TINY, "--n-trials", "3", *QUICK,
                 "--confirm-top", "1", "--confirm-seeds", "2", *NO_PEERS]) == 0  # fmt: skip
    study = optuna.load_study(study_name="c", storage="sqlite:///studies.db")
    assert StudyRecord(study).get(CONFIRM_OPTIONS_KEY) == {"top": 1, "seeds": 2, "peers": []}
    assert (
        main(["resume", "c", "--device", "cpu", "--quiet", "--confirm-latency-repeats", "0"]) == 0
    )
    confirm = optuna.load_study(study_name="c:confirm", storage="sqlite:///studies.db")
    plan = StudyRecord(confirm).get(PLAN_KEY)
    assert plan["top"] == 1 and len(plan["seeds"]) == 2
    assert len(confirm.trials) == 3 * 2  # one finalist and two baselines, two seeds each
    assert "was confirmed with --top 2" not in capsys.readouterr().out


def test_a_failed_resume_writes_nothing_and_names_the_way_out(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = pairs("tiny")
    nas.search("p", benchmark=mine, n_trials=2, epochs=1, device="cpu", progress=False,
               confirm=False)  # fmt: skip
    db = in_tmp / "studies.db"
    before = digest(db)
    # Another process, which does not know the object: the shell's resume.
    run = subprocess.run([sys.executable, "-m", "nas.app.cli", "resume", "p", "--n-trials", "5",
                          *QUICK], capture_output=True, text=True, timeout=120)  # fmt: skip
    err = run.stderr.strip()
    assert run.returncode == 2 and "\n" not in err, err
    assert "made from the Python benchmark 'pairs'" in err and "nas.resume('p'" in err
    assert digest(db) == before
    study = optuna.load_study(study_name="p", storage="sqlite:///studies.db")
    assert nas.study.study_config(study).n_trials == 2


def test_a_benchmark_function_with_an_import_path_resumes_from_the_shell(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = nas.search("f", benchmark=pairs, size="tiny", n_trials=2, epochs=1, device="cpu",
                        progress=False, confirm=False)  # fmt: skip
    assert result.config.benchmark == "tests.plugins:pairs"
    # another process, which never saw the function object, resumes it by its stored path
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}  # the user's package
    args = [sys.executable, "-m", "nas.app.cli", "resume", "f", "--n-trials", "3", *QUICK]
    run = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 0, run.stderr
    study = optuna.load_study(study_name="f", storage="sqlite:///studies.db")
    assert nas.study.finished(study) == 3


@pytest.mark.parametrize(
    ("command", "instead"),
    [
        ("show", "show"),
        ("export", "export"),
        ("plot", "plot"),
        ("resume", "confirm"),
        ("confirm", "confirm"),
        ("delete", "delete"),
    ],
)
def test_the_confirm_stage_is_not_read_as_a_study(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], command: str, instead: str
) -> None:
    err = fails(capsys, command, "s:confirm")
    assert "'s:confirm' is the confirm stage of study 's'" in err
    assert err.endswith(f"run: mtlnas {instead} s")
    assert not (in_tmp / "studies.db").exists()


def test_the_api_does_not_export_a_stage(in_tmp: Path) -> None:
    with pytest.raises(nas.UserError, match="confirm stage of study 's'"):
        nas.export("s:confirm", "m.onnx")


def test_the_next_step_hints_keep_the_storage(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = "sqlite:///other.db"
    assert main(["search", "--name", "h", *TINY, "--n-trials", "2", *QUICK, "--storage", db]) == 0
    hint = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("next:"))
    show = hint.split("|")[-1].strip()
    assert show == f"mtlnas show h --storage {db}"
    assert main(show.split()[1:]) == 0


@pytest.mark.parametrize(
    ("call", "names"),
    [
        (lambda: nas.search(42), "study name"),
        (lambda: nas.search("x", strategy_options="seed=3"), "strategy_options"),
        (lambda: nas.search("x", max_cost=0.5), "max_cost"),
        (lambda: nas.search("x", combine="equal", loss_weighting="dwa"), "combine"),
        (lambda: nas.search("x", tasks=["a", "a"]), "tasks"),
        (lambda: nas.search("x", epochs="6x"), "epochs"),
        (lambda: nas.resume("x", n_trials="many"), "n_trials"),
        (lambda: nas.resume(42), "study name"),
        (lambda: nas.export("x", None), "path"),
        (lambda: nas.export("x", "t.onnx", trial="first"), "trial"),
        (lambda: nas.delete(None), "study name"),
        (
            lambda: nas.search("x", benchmark="digits", size="tiny", strategy="adashare"),
            "use --space adashare",
        ),
    ],
)
def test_wrong_types_through_the_api_are_user_errors(
    in_tmp: Path, call: object, names: str
) -> None:
    with pytest.raises(nas.UserError, match=names):
        call()  # type: ignore[operator]
    assert not (in_tmp / "studies.db").exists()


def test_the_command_lines_string_forms_are_accepted_from_python(in_tmp: Path) -> None:
    result = nas.search("t", benchmark="digits", size="tiny", tasks="left,right",
                        labels="left=0.5", max_cost="flops=2", combine="uncertainty", n_trials=2,
                        epochs=1, device="cpu", progress=False, confirm=False)  # fmt: skip
    assert result.config.tasks == ["left", "right"]
    assert result.config.labels == {"left": 0.5}
    assert result.config.loss_weighting == "uncertainty"
    assert dict(result.config.max_cost) == {"flops": "2"}
    assert nas.export("t", "t.onnx", trial="0").trial == 0


def test_a_database_that_cannot_be_written_is_a_user_error_from_python(in_tmp: Path) -> None:
    (in_tmp / "studies.db.lock").mkdir()  # the study gate's lock file cannot be opened
    with pytest.raises(nas.UserError, match=r"studies\.db\.lock"):
        nas.search("v", benchmark="digits", size="tiny", n_trials=2, epochs=1, device="cpu",
                   progress=False, confirm=False)  # fmt: skip


def test_a_confirmed_row_exports_with_metadata_about_the_answer(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from nas.runtime import OnnxModel
    from nas.study import confirmed, open_storage

    assert main(["search", "--name", "e", *TINY, "--n-trials", "3", "--device", "cpu",
                 "--quiet", "--confirm-top", "1", "--confirm-seeds", "2",
                 "--confirm-latency-repeats", "0", *NO_PEERS]) == 0  # fmt: skip
    storage = open_storage("sqlite:///studies.db")
    result = confirmed(storage, "e")
    assert result is not None
    # The answer, whatever it is, describes the search study and its test figures.
    assert main(["export", "e", "-o", "w.onnx"]) == 0
    meta = OnnxModel("w.onnx", "cpu").metadata
    assert meta["study"] == "e" and "trial" not in meta and "val_delta_mtl" not in meta
    assert meta["weights"]["study"] == "e:confirm" and meta["weights"]["seed"] == result.seeds[0]
    assert meta["weights"]["role"] == result.winner_row.role
    assert meta["confirmed"]["split"] == "test"
    # A searched finalist whose own weights were not kept exports the confirm stage's.
    row = next(r for r in result.rows if r.role == "candidate")
    search = optuna.load_study(study_name="e", storage=storage)
    trial = search.trials[row.source_trial]  # type: ignore[index]
    with sqlite3.connect("studies.db") as db:  # as for a trial whose weights were not kept
        db.execute("UPDATE trial_user_attributes SET value_json = 'null' WHERE trial_id = ? "
                   "AND key = 'weights'", (trial._trial_id,))  # fmt: skip
    capsys.readouterr()
    assert main(["export", "e", "--trial", str(row.source_trial), "-o", "f.onnx"]) == 0
    assert "retrained by the confirm stage" in capsys.readouterr().out
    meta = OnnxModel("f.onnx", "cpu").metadata
    assert meta["weights"] == {"study": "e:confirm", "trial": row.runs[result.seeds[0]],
                               "role": "candidate", "finalist": row.finalist,
                               "seed": result.seeds[0]}  # fmt: skip
    # bench finds the run the weights came from
    assert main(["bench", "f.onnx", "--repeats", "5"]) == 0


def test_one_version_number() -> None:
    import importlib.metadata

    assert importlib.metadata.version("mtl-nas") == nas.__version__


CONCEPTS = Path(__file__).parents[2] / "docs" / "concepts.md"


def test_the_layout_notation_is_explained_where_it_is_first_printed(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from nas.app._jobs import LAYOUT_NOTATION

    assert main(["search", "--name", "n", *TINY, "--n-trials", "2", *QUICK]) == 0
    out = capsys.readouterr().out.splitlines()
    best = next(i for i, line in enumerate(out) if line.startswith("best on validation"))
    assert out[best + 1] == f"  ({LAYOUT_NOTATION})"
    assert "`-` where it skips the block" in CONCEPTS.read_text()


def test_the_documented_repair_is_what_the_space_does() -> None:
    from search_spaces import BranchedSpace

    space = BranchedSpace(("a", "b", "c"), 3)
    sampled = {"shared_depth:a:b": 2, "shared_depth:a:c": 1, "shared_depth:b:c": 0}
    layout = space.suggest(optuna.trial.FixedTrial(sampled))
    text = " ".join(CONCEPTS.read_text().split())
    assert f"trains `{layout.summary()}`" in text
    assert space.params(layout)["shared_depth:b:c"] == 1  # raised by the repair, as documented


def test_a_budget_only_hard_sharing_fits_is_answered_by_it(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # digits tiny: hard sharing costs 0.33x the independent networks' FLOPs, every other tree
    # more than 0.34x. This once stopped with "no complete layout beyond the two baselines".
    # The first four trials are the baselines, two of them scaled to the budget.
    assert main(["search", "--name", "b", *TINY, "--max-cost", "flops=0.34", "--n-trials", "6",
                 "--device", "cpu", "--quiet", "--confirm-top", "1", "--confirm-seeds", "2",
                 "--confirm-latency-repeats", "0", *NO_PEERS]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "no layout study 'b' searched beyond the baselines is within its budget" in out
    assert "hard sharing (baseline, winner)" in out
    assert "no layout the search tried beyond the baselines was within the budget" in out
    assert "latency not measured (--confirm-latency-repeats 0)" in out
    study = optuna.load_study(study_name="b", storage="sqlite:///studies.db")
    searched = [t for t in study.trials if "baseline" not in t.user_attrs]
    assert searched and all(t.user_attrs["flops"] == study.trials[1].user_attrs["flops"]
                            for t in searched)  # fmt: skip


def test_a_benchmark_option_reaches_the_benchmark(tmp_path: Path) -> None:
    import torch

    from nas.app._options import given_options
    from nas.app.cli import build_parser
    from nas.study import SearchConfig, prepare
    from tests.data.test_benchmark import write_nyuv2

    write_nyuv2(tmp_path, n_train=8)
    args = build_parser().parse_args(["search", "--benchmark", "nyuv2", "--data", str(tmp_path),
                                      "--benchmark-option", "val_fraction=0.5"])  # fmt: skip
    given = given_options(args)
    assert given["benchmark_options"] == {"val_fraction": 0.5}
    problem, _ = prepare(SearchConfig(**given), torch.device("cpu"))
    assert (len(problem.benchmark.train), len(problem.benchmark.val)) == (4, 4)
    with pytest.raises(nas.UserError, match="give --size, --seed or --data instead"):
        SearchConfig(benchmark_options={"seed": 3})
