"""The recovery every error message promises, and the smaller edges of preemption.

Each test here failed on the release before the preemption work: lost confirm weights that
``confirm`` would not retrain, internal studies accepted as searches, broken pipes, unchecked
input types, a half-created study sent to a resume that refuses it, blank failure reasons.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from nas.app.cli import main
from nas.study import TrialRecord
from nas.study._store.evaluator_state import STATE_KEY as SUPERNET_KEY
from nas.study._store.weights import AtomicFileStore
from tests import SMALL_CONFIRM
from tests.study.store.test_faults import BASE, KILL_AT_CREATION, mtlnas

CONFIRM_CLI = ["--device", "cpu", "--quiet", "--latency-repeats", "0"]  # not a latency test


@pytest.fixture(scope="module")
def confirmed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A digits study searched (3 trials) and confirmed (1 finalist x 2 seeds)."""
    root = tmp_path_factory.mktemp("confirmed")
    args = ["search", "--name", "c", "--n-trials", "3", "--epochs", "1", *BASE, *SMALL_CONFIRM]
    args.remove("--no-confirm")
    done = mtlnas(root, *args)
    assert done.returncode == 0, done.stderr
    return root


def _confirm_study(root: Path) -> optuna.Study:
    return optuna.load_study(study_name="c:confirm", storage=f"sqlite:///{root / 'studies.db'}")


def _one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.mark.slow
def test_lost_confirm_weights_are_retrained_by_confirm_retrain_and_nothing_else(
    confirmed: Path, tmp_path: Path
) -> None:
    root = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(confirmed), str(root)], check=True)
    table = _confirm_study(root).user_attrs["mtlnas_confirmed"]
    import json

    table = json.loads(table)
    winner = table["rows"][table["winner"]]
    run = winner["runs"][str(table["seeds"][0])]
    trial = _confirm_study(root).trials[run]
    (root / "artifacts" / TrialRecord.of(trial).weights).unlink()  # type: ignore[operator]
    before = len(_confirm_study(root).trials)

    out = str(tmp_path / "m.onnx")
    error = _one_line_error(mtlnas(root, "export", "c", "-o", out))
    assert f"confirm run {run} (study 'c:confirm')" in error
    assert "retrain it with: mtlnas confirm c --retrain" in error

    plain = mtlnas(root, "confirm", "c", *CONFIRM_CLI)
    assert plain.returncode == 0 and len(_confirm_study(root).trials) == before

    again = mtlnas(root, "confirm", "c", "--retrain", *CONFIRM_CLI)
    assert again.returncode == 0, again.stderr
    assert f"retraining 1 confirm runs whose weights are missing or corrupt: run {run}" in (
        again.stdout
    )
    trials = _confirm_study(root).trials
    assert len(trials) == before + 1  # exactly the lost run, with its own seed
    assert trials[-1].user_attrs["seed"] == trial.user_attrs["seed"]
    assert trials[-1].user_attrs["finalist"] == trial.user_attrs["finalist"]
    assert trials[-1].state == TrialState.COMPLETE
    exported = mtlnas(root, "export", "c", "-o", out)
    assert exported.returncode == 0, exported.stderr
    nothing = mtlnas(root, "confirm", "c", "--retrain", *CONFIRM_CLI)
    assert "every confirm run's weights are in place: nothing to retrain" in nothing.stdout
    assert len(_confirm_study(root).trials) == before + 1


@pytest.mark.slow
def test_internal_studies_are_refused_and_hidden(confirmed: Path) -> None:
    for command in ("resume", "worker"):
        error = _one_line_error(mtlnas(confirmed, command, "c:confirm", "--device", "cpu"))
        assert error.endswith(
            "'c:confirm' is the confirm stage of study 'c', not a study of its own; run: mtlnas "
            "confirm c"
        )
    error = _one_line_error(mtlnas(confirmed, "search", "--name", "x:confirm", *BASE))
    assert "kept for the stages mtl-nas runs beside a search" in error
    error = _one_line_error(mtlnas(confirmed, "resume", "nope", "--device", "cpu"))
    assert error.endswith("no study named 'nope'; stored studies: ['c']")
    assert len(_confirm_study(confirmed).trials) == 6  # nothing was added to the confirm stage


@pytest.mark.slow
@pytest.mark.parametrize("command", [["show", "c"], ["list"], ["show", "c", "--all"]])
def test_a_closed_pipe_ends_quietly(confirmed: Path, command: list[str]) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "nas.app.cli", *command],
        cwd=confirmed, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()  # `| head -1`
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert proc.returncode in (0, 141)


@pytest.mark.slow
def test_predict_checks_the_input_type(
    confirmed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "m.onnx"
    url = f"sqlite:///{confirmed / 'studies.db'}"
    assert main(["export", "c", "-o", str(model), "--storage", url]) == 0
    shape = (2, 1, 16, 16)
    cases = {
        "str": np.full(shape, "a"),
        "int64": np.ones(shape, np.int64),
        "uint8": np.ones(shape, np.uint8),
        "bool": np.ones(shape, bool),
        "complex128": np.ones(shape, np.complex128),
    }
    for name, array in cases.items():
        path = tmp_path / f"{name}.npy"
        np.save(path, array)
        capsys.readouterr()
        assert main(["predict", str(model), str(path)]) == 2
        (error,) = capsys.readouterr().err.strip().splitlines()
        assert "but the model takes float32" in error, error
    for dtype in (np.float16, np.float64):
        path = tmp_path / "ok.npy"
        np.save(path, np.zeros(shape, dtype))
        assert main(["predict", str(model), str(path)]) == 0
        assert not capsys.readouterr().err


@pytest.mark.slow
def test_a_half_created_study_is_named_by_export(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-c", KILL_AT_CREATION, "search", "--name", "h", "--n-trials", "2", *BASE],
        cwd=tmp_path, capture_output=True, timeout=120,
    )  # fmt: skip
    for command in (["export", "h"], ["resume", "h", "--device", "cpu"], ["show", "h"]):
        error = _one_line_error(mtlnas(tmp_path, *command))
        assert "was left half-created" in error and "mtlnas search --name h" in error, error


def test_labels_naming_a_task_twice_are_refused(tmp_path: Path) -> None:
    args = ["search", "--labels", "left=0.1,left=0.2", *BASE]
    error = _one_line_error(mtlnas(tmp_path, *args))
    assert "--labels names task 'left' twice" in error
    assert not (tmp_path / "studies.db").exists()


@pytest.mark.slow
def test_a_confirm_run_stopped_by_ctrl_c_stores_why(tmp_path: Path) -> None:
    search = ["search", "--name", "i", "--n-trials", "3", "--epochs", "1", *BASE]
    assert mtlnas(tmp_path, *search).returncode == 0
    # A real SIGINT, sent by the process to itself the moment a confirm run starts training.
    interrupt = (
        "import os, signal, sys, time\n"
        "import nas.study._outcome.stage as c\n"
        "def stop(self, problem, candidate, progress=None):\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    time.sleep(5)\n"
        "c.FullTraining.evaluate = stop\n"
        "from nas.app.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", interrupt, "confirm", "i", "--top", "1", "--seeds", "2", "--quiet",
         "--peers", "none"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        preexec_fn=lambda: __import__("signal").signal(2, __import__("signal").SIG_DFL),
    )  # fmt: skip
    assert done.returncode == 130, done.stderr
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    runs = optuna.load_study(study_name="i:confirm", storage=url).trials
    assert runs[0].state == TrialState.FAIL
    assert TrialRecord.of(runs[0]).fail_reason == "interrupted (Ctrl-C)"


@pytest.mark.slow
def test_a_lost_supernet_checkpoint_is_named_and_retrained_on_request(tmp_path: Path) -> None:
    args = ["--evaluator", "supernet", "--supernet-epochs", "1", "--epochs", "1"]
    first = mtlnas(tmp_path, "search", "--name", "s", "--n-trials", "3", *args, *BASE)
    assert first.returncode == 0, first.stderr
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    entry = optuna.load_study(study_name="s", storage=url).user_attrs[SUPERNET_KEY]
    import json

    artifact = json.loads(entry)["artifact"]
    AtomicFileStore(str(tmp_path / "artifacts")).remove(artifact)
    more = ["--n-trials", "4", "--device", "cpu", "--quiet", "--no-confirm"]
    error = _one_line_error(mtlnas(tmp_path, "resume", "s", *more))
    assert "the supernet checkpoint of study s (epoch 1) cannot be loaded" in error
    assert "mtlnas resume s --retrain" in error
    again = mtlnas(tmp_path, "resume", "s", *more, "--retrain")
    assert again.returncode == 0, again.stderr
    assert "training the supernet again from scratch" in again.stdout
    assert os.listdir(tmp_path / "artifacts")
