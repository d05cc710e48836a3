"""mtlnas tabulate and the table evaluator: a ground truth built as a study, and replayed."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from optuna.trial import TrialState

from nas.core import Layout
from nas.data import delta_mtl
from nas.explore import TABLE_VERSION, Table, TableError, load_table
from nas.explore._tables import build_entries
from nas.explore.evaluators import Candidate, Evaluation
from nas.explore.evaluators._table import TableEvaluator
from tests.study.store.test_faults import finish, mtlnas, start, study, wait_until_running

# Five layouts (every partition of three tasks, split only at 0 or 4 blocks), two seeds.
TABLE = ["--benchmark", "digits", "--size", "tiny", "--epochs", "2", "--device", "cpu",
         "--quiet", "--space-option", "split_depths=[0,4]"]  # fmt: skip


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("table")
    done = mtlnas(folder, "tabulate", "--name", "t", "--seeds", "2", *TABLE)
    assert done.returncode == 0, done.stderr
    assert "wrote t.table.json" in done.stdout
    return folder


def test_a_table_holds_every_layout_with_every_seed_and_its_same_seed_delta(built: Path) -> None:
    table = load_table(built / "t.table.json")
    assert len(table.entries) == 5 and table.meta["seeds"] == [0, 1]
    assert table.independent.layout == Layout.independent(("left", "right", "sum"), 4)
    assert table.hard_sharing.layout == Layout.hard_sharing(("left", "right", "sum"), 4)
    primary = {t["name"]: t["primary"] for t in table.meta["tasks"]}
    hib = {t["name"]: t["higher_is_better"] for t in table.meta["tasks"]}
    for entry in table.entries:
        assert [r.seed for r in entry.runs] == [0, 1]
        assert entry.params > 0 and entry.flops > 0
        for run in entry.runs:
            assert len(run.curve) == 2 and run.train_seconds > 0
            base = next(r for r in table.independent.runs if r.seed == run.seed)
            want = delta_mtl(
                {t: run.test[t][k] for t, k in primary.items()},
                {t: base.test[t][k] for t, k in primary.items()},
                hib,
            )
            assert run.test_delta == pytest.approx(want, abs=1e-5)
    assert all(r.val_delta == 0 == r.test_delta for r in table.independent.runs)
    assert table.meta["made_with"].startswith("mtlnas tabulate --name t")
    assert table.meta["config"]["space_options"] == {"split_depths": [0, 4]}
    assert json.loads((built / "t.table.json").read_text())["version"] == TABLE_VERSION


def test_a_search_is_answered_from_the_table_and_charged_its_training_time(built: Path) -> None:
    done = mtlnas(built, "search", "--name", "s", "--n-trials", "6", "--no-confirm",
                  "--evaluator", "table:t.table.json", *TABLE)  # fmt: skip
    assert done.returncode == 0, done.stderr
    table = load_table(built / "t.table.json")
    trials = study(built, "s").get_trials(states=(TrialState.COMPLETE,))
    assert len(trials) == 6
    for t in trials:
        entry = table.find(Layout.from_dict(t.user_attrs["layout"]))
        assert entry is not None
        if t.user_attrs.get("duplicate_of") is None:
            assert t.user_attrs["train_seconds"] in {r.train_seconds for r in entry.runs}
            assert t.user_attrs["metrics"] in [r.val for r in entry.runs]


@pytest.mark.slow
def test_a_study_with_other_options_than_the_table_is_refused_in_one_line(built: Path) -> None:
    done = mtlnas(built, "search", "--name", "x", "--evaluator", "table:t.table.json",
                  *TABLE, "--epochs", "3")  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "mtlnas search: error: table "
        f"'{built / 't.table.json'}' was built with other study options: epochs=2 (this study "
        "has epochs=3); give the table's options"
    ]
    missing = mtlnas(built, "search", "--name", "y", "--evaluator", "table:none.json", *TABLE)
    assert missing.returncode == 2 and "no table file" in missing.stderr


@pytest.mark.slow
def test_resume_confirm_and_other_options_refuse_a_tabulation(built: Path) -> None:
    for cmd in (["resume", "t"], ["confirm", "t"]):
        done = mtlnas(built, *cmd)
        assert done.returncode == 2 and "is a tabulation, not a search" in done.stderr
    other = mtlnas(built, "tabulate", "--name", "t", *TABLE[:-1], "split_depths=[0,2,4]")
    assert other.returncode == 2 and "other options (space_options)" in other.stderr
    same = mtlnas(built, "tabulate", "--name", "t", "-o", "again.json")  # nothing left to train
    assert same.returncode == 0, same.stderr
    assert load_table(built / "again.json").entries == load_table(built / "t.table.json").entries


@pytest.mark.slow
def test_a_killed_tabulation_resumes_and_trains_each_run_once(tmp_path: Path) -> None:
    args = ["tabulate", "--name", "k", "--seeds", "2", "--heartbeat", "1", *TABLE]
    proc = start(tmp_path, *args)
    wait_until_running(tmp_path, "k", 4, proc, at_least=True)  # a run of 2 tiny epochs is short
    proc.send_signal(signal.SIGKILL)
    finish(proc)
    assert not (tmp_path / "k.table.json").exists()
    done = mtlnas(tmp_path, *args)
    assert done.returncode == 0, done.stderr
    trials = study(tmp_path, "k").trials
    runs = [(t.user_attrs["entry"], t.user_attrs["seed"]) for t in trials
            if t.state == TrialState.COMPLETE]  # fmt: skip
    assert sorted(runs) == sorted((e, s) for e in range(5) for s in (0, 1))
    assert TrialState.RUNNING not in [t.state for t in trials]
    assert len(load_table(tmp_path / "k.table.json").entries) == 5


def _toy_table() -> Table:
    tasks = ("a", "b")
    layouts = [Layout.independent(tasks, 2), Layout.hard_sharing(tasks, 2)]
    raw = {
        (i, s): {
            "curve": [{"a": {"acc": 0.1 * e + i + s}, "b": {"acc": 0.5}} for e in (1, 2, 3)],
            "val": {"a": {"acc": 0.5 + 0.1 * i + 0.01 * s}, "b": {"acc": 0.5}},
            "test": {"a": {"acc": 0.4 + 0.1 * i}, "b": {"acc": 0.5}},
            "train_seconds": 10.0 + s,
        }
        for i in range(2)
        for s in range(4)
    }
    entries = build_entries(layouts, [(1, 2), (1, 1)], raw, range(4), 0, {"a": "acc", "b": "acc"},
                            {"a": True, "b": True})  # fmt: skip
    return Table({"independent": 0, "hard_sharing": 1}, entries)


def test_a_query_draws_one_stored_seed_replays_its_curve_and_charges_its_time() -> None:
    table = _toy_table()
    evaluator = TableEvaluator(table)
    layout = Layout.hard_sharing(("a", "b"), 2)
    drawn = set()
    for seed in range(40):
        seen: list[Evaluation] = []
        got = evaluator.evaluate(None, Candidate(layout, seed=seed), seen.append)  # type: ignore[arg-type]
        run = next(r for r in table.find(layout).runs if r.val == got.metrics)  # type: ignore[union-attr]
        drawn.add(run.seed)
        assert [e.metrics for e in seen] == list(run.curve)  # every epoch, for the pruner
        assert [e.epochs for e in seen] == [1, 2, 3] and got.epochs == 3
        assert got.train_seconds == run.train_seconds == seen[-1].train_seconds
        again = evaluator.evaluate(None, Candidate(layout, seed=seed))  # type: ignore[arg-type]
        assert again.metrics == got.metrics  # a query is reproducible
    assert drawn == {0, 1, 2, 3}
    with pytest.raises(TableError, match="is not in table"):
        other = Layout(("a", "b"), ((0, 0), (0, 1)))  # splits after one block: not tabulated
        evaluator.evaluate(None, Candidate(other))  # type: ignore[arg-type]


def test_the_truth_ranks_layouts_by_mean_test_delta() -> None:
    table = _toy_table()
    hard = table.hard_sharing
    assert hard.test_delta == pytest.approx(0.5 * 0.1 / 0.4)
    assert table.rank_of(hard.layout) == 1 and table.rank_of(table.independent.layout) == 2
    assert table.ranked()[0] is hard


def test_a_bad_table_file_gets_one_line(tmp_path: Path) -> None:
    with pytest.raises(TableError, match="no table file"):
        load_table(tmp_path / "none.json")
    (tmp_path / "x.json").write_text("[1, 2]")
    with pytest.raises(TableError, match="is not a table file"):
        load_table(tmp_path / "x.json")
    newer = {**_toy_table().to_dict(), "version": TABLE_VERSION + 1}
    (tmp_path / "n.json").write_text(json.dumps(newer))
    with pytest.raises(TableError, match="upgrade mtl-nas"):
        load_table(tmp_path / "n.json")
    _toy_table().save(tmp_path / "ok.json")
    assert len(load_table(tmp_path / "ok.json").entries) == 2
