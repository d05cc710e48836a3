"""Studies scored by the supernet: search, confirm from scratch, resume, and workers sharing it."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
from optuna.artifacts import get_all_artifact_meta
from optuna.trial import TrialState

from nas.app.cli import main
from nas.study import TrialRecord
from nas.study._store.evaluator_state import STATE_KEY as SUPERNET_KEY
from tests import NO_LATENCY, NO_PEERS
from tests.study.store.test_faults import start

TINY = ["--size", "tiny", "--epochs", "1", "--supernet-epochs", "2", "--device", "cpu", "--quiet"]


def _study(url: str, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=url)


@pytest.mark.slow
def test_a_supernet_study_scores_many_layouts_then_confirms_from_scratch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    args = ["search", "--evaluator", "supernet", "--n-trials", "8", *TINY, "--storage", url]
    assert main([*args, "--confirm-top", "1", "--confirm-seeds", "2", *NO_LATENCY, *NO_PEERS]) == 0
    out = capsys.readouterr().out
    assert "supernet of study 'scenes-branched': trained 2 of its 2 epochs here" in out
    assert "CONFIRMED" in out
    search = _study(url, "scenes-branched")
    entry = search.user_attrs[SUPERNET_KEY]
    complete = search.get_trials(states=(TrialState.COMPLETE,))
    assert len(complete) == 8
    # Scored, not trained: no epochs, no weights kept for export.
    assert all(
        TrialRecord.of(t).epochs == 0 and TrialRecord.of(t).weights is None for t in complete
    )
    confirm = _study(url, "scenes-branched:confirm")
    runs = confirm.get_trials(states=(TrialState.COMPLETE,))
    assert runs and all(TrialRecord.of(t).epochs == 1 for t in runs)  # trained from scratch
    # Resume scores more layouts with the stored supernet: never trained again.
    assert main(["resume", "scenes-branched", "--n-trials", "11", "--no-confirm", "--quiet",
                 "--storage", url]) == 0  # fmt: skip
    assert "supernet of study 'scenes-branched': loaded" in capsys.readouterr().out
    assert _study(url, "scenes-branched").user_attrs[SUPERNET_KEY] == entry
    # Export takes the confirmed winner's retrained weights.
    assert (
        main(["export", "scenes-branched", "-o", str(tmp_path / "m.onnx"), "--storage", url]) == 0
    )


def test_the_supernet_cannot_score_a_searched_loss_weighting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    args = ["search", "--evaluator", "supernet", "--loss-weighting", "search", *TINY]
    assert main([*args, "--storage", url]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--combine search needs --evaluator train" in err[0]
    assert not (tmp_path / "s.db").exists() or not optuna.get_all_study_names(url)


@pytest.mark.slow
def test_workers_started_together_share_one_supernet(tmp_path: Path) -> None:
    # Two processes start the same new study at once: one trains the supernet, the other
    # waits on the study's supernet lock and loads what it saved.
    base = ["--evaluator", "supernet", "--benchmark", "digits", *TINY, "--no-confirm"]
    workers = [start(tmp_path, "search", "--name", "x", "--n-trials", "6", *base) for _ in range(2)]
    said = []
    for w in workers:
        out, err = w.communicate(timeout=300)
        assert w.returncode == 0, err
        said.append("loaded" if "supernet of study 'x': loaded" in out else "trained")
    assert sorted(said) == ["loaded", "trained"]
    x = _study(f"sqlite:///{tmp_path / 'studies.db'}", "x")
    assert len(get_all_artifact_meta(x)) == 2  # one checkpoint per epoch, from one process
    assert json.loads(x.user_attrs[SUPERNET_KEY])["epoch"] == 2
    assert sum(t.state == TrialState.COMPLETE for t in x.get_trials()) == 6
