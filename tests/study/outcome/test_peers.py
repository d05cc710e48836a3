"""Peers in the confirm stage: who joins, scaled to a budget, added later, resumed after a kill."""

from __future__ import annotations

import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from nas.app.cli import main
from nas.study import confirmed, open_storage
from nas.study._outcome.confirm import ConfirmPlan
from nas.study._outcome.peers import parse_peers
from nas.study._store.record import PLAN_KEY, StudyRecord
from tests import NO_LATENCY
from tests.study.outcome.test_confirm import kill_confirm_mid_run

TINY = ["--benchmark", "digits", "--size", "tiny", "--device", "cpu", "--quiet", "--epochs", "1"]
URL = "sqlite:///studies.db"


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def runs(name: str, url: str = URL) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=f"{name}:confirm", storage=url).get_trials()


def stored_plan(name: str, url: str = URL) -> ConfirmPlan:
    study = optuna.load_study(study_name=f"{name}:confirm", storage=url)
    return ConfirmPlan.from_dict(StudyRecord(study).get(PLAN_KEY))


def test_parse_peers_reads_names_none_and_the_default() -> None:
    assert parse_peers(None) is None and parse_peers("none") == ()
    assert parse_peers("mtan,mmoe") == ("mtan", "mmoe")
    with pytest.raises(ValueError, match="names 'mtan' twice"):
        parse_peers("mtan,mtan")


def test_every_peer_that_fits_joins_by_default_and_is_tested(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["search", "--name", "p", "--n-trials", "3", "--confirm-top", "1", *TINY]
    assert main([*args, "--confirm-seeds", "2", *NO_LATENCY]) == 0
    result = confirmed(open_storage(URL), "p")
    assert result is not None
    roles = [r.role for r in result.rows]
    assert roles[:5] == ["independent", "hard_sharing", "cross_stitch", "mtan", "mmoe"]
    for row in result.rows[2:5]:
        assert row.tested and row.layout.peer == row.role and row.source_trial is None
        assert row.test_deltas is not None and len(row.test_deltas) == 2
    assert len(runs("p")) == len(result.rows) * 2  # each finalist, each seed, once
    out = capsys.readouterr().out
    assert "MTAN (peer" in out and "MMoE (peer" in out and "cross-stitch (peer" in out


def test_peers_added_to_a_confirmed_study_train_only_their_runs(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["search", "--name", "q", "--n-trials", "3", "--confirm-top", "1", *TINY]
    assert main([*args, "--confirm-seeds", "2", "--confirm-peers", "none", *NO_LATENCY]) == 0
    before = {t.number: t.user_attrs["weights_sha256"] for t in runs("q")}
    assert len(before) == 3 * 2 and not any(f.layout.peer for f in stored_plan("q").finalists)
    confirm = ["confirm", "q", "--device", "cpu", "--quiet", "--latency-repeats", "0"]
    assert main([*confirm, "--peers", "mtan"]) == 0
    after = runs("q")
    assert {t.number: t.user_attrs["weights_sha256"] for t in after[:6]} == before  # kept
    new = after[6:]
    assert len(new) == 2 and all(t.user_attrs["role"] == "mtan" for t in new)
    assert {t.user_attrs["finalist"] for t in new} == {3}  # after every stored finalist
    result = confirmed(open_storage(URL), "q")
    assert result is not None and result.role_row("mtan") is not None
    assert result.role_row("mtan").tested  # type: ignore[union-attr]
    assert main([*confirm, "--peers", "mtan"]) == 0  # already there: nothing more
    assert len(runs("q")) == 8
    assert "adding MTAN to the confirm stage: 2 runs" in capsys.readouterr().out


def test_under_a_budget_every_peer_is_scaled_within_it(in_tmp: Path) -> None:
    args = ["search", "--name", "b", "--n-trials", "4", "--confirm-top", "1", *TINY]
    assert main([*args, "--confirm-seeds", "2", "--max-cost", "flops=0.6", *NO_LATENCY]) == 0
    result = confirmed(open_storage(URL), "b")
    assert result is not None
    budget = 0.6 * result.role_row("independent").flops  # type: ignore[union-attr]
    for role in ("cross_stitch", "mtan", "mmoe"):
        row = result.role_row(role)  # type: ignore[arg-type]
        assert row is not None and row.layout.width != 1
        assert 0.95 * budget <= row.flops <= budget, (role, row.flops / budget)
    assert result.winner_row.flops <= budget


def test_a_peer_that_does_not_exist_is_one_line_and_stores_nothing(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["search", "--name", "x", "--n-trials", "3", "--confirm-top", "1", *TINY]
    assert main([*args, "--confirm-seeds", "2", "--confirm-peers", "mtna", *NO_LATENCY]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "unknown peer 'mtna'; choose one of" in err
    assert not optuna.get_all_study_names(URL)  # refused before the search


def test_a_study_with_peers_resumes_after_a_kill_in_the_confirm_stage(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    base = ["--storage", url, "--heartbeat", "1"]
    search = ["search", "--name", "k", "--n-trials", "3", *TINY, "--epochs", "3", "--no-confirm"]
    assert main([*search, *base]) == 0
    args = ["--seeds", "2", "--top", "1", *base, "--peers", "mtan,mmoe"]

    def a_peer_is_stored(done: list[optuna.trial.FrozenTrial]) -> bool:
        return any(t.user_attrs.get("role") in ("mtan", "mmoe") for t in done)

    done, killed = kill_confirm_mid_run(tmp_path, "k", url, args, a_peer_is_stored)
    before = {t.number: t.user_attrs["weights_sha256"] for t in done}
    time.sleep(3.5)  # past the grace period: the killed run counts as dead
    again = ["confirm", "k", *base, "--device", "cpu", "--quiet", "--latency-repeats", "0"]
    assert main(again) == 0  # the stored plan, peers included, is resumed as it was
    after = runs("k", url)
    complete = [t for t in after if t.state == TrialState.COMPLETE]
    keys = [(t.user_attrs["finalist"], t.user_attrs["seed"]) for t in complete]
    assert len(keys) == len(set(keys)) == 5 * 2  # 2 baselines, 2 peers, 1 searched; 2 seeds
    for number, sha in before.items():  # stored runs were kept, not trained again
        assert after[number].state == TrialState.COMPLETE
        assert after[number].user_attrs["weights_sha256"] == sha
    assert all(after[n].state == TrialState.FAIL for n in killed)
    result = confirmed(open_storage(url), "k")
    assert result is not None and {"mtan", "mmoe"} <= {r.role for r in result.rows}
