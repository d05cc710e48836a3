"""Missing labels: each kind's marker counts in no loss and no metric; empty batches stay finite."""

from __future__ import annotations

import math
import re
from pathlib import Path

import optuna
import pytest
import torch
import torch.nn.functional as F  # noqa: N812

from nas.app.cli import main
from nas.data import (
    Benchmark,
    BenchmarkError,
    Split,
    Task,
    TaskMeter,
    balanced_weights,
    labelled,
    trivial_scores,
)
from nas.study import study_config
from tests import QUICK

NAN = float("nan")


def scored(task: Task, pred: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    meter = TaskMeter(task)
    meter.update(pred, target)
    return meter.compute()


def test_classification_skips_minus_one() -> None:
    task = Task("c", "classification", 2)
    pred = torch.tensor([[2.0, 0.0], [0.0, 2.0], [0.0, 2.0]])
    target = torch.tensor([0, -1, 0])
    # Labelled: samples 0 (right) and 2 (wrong): accuracy 1/2, loss the mean of their two.
    assert scored(task, pred, target) == {"accuracy": 0.5}
    right, wrong = math.log(1 + math.exp(-2)), math.log(1 + math.exp(2))
    assert float(task.compute_loss(pred, target)) == pytest.approx((right + wrong) / 2)
    weighted = Task("c", "classification", 2, weights=(1.0, 3.0))
    expected = F.cross_entropy(pred[[0, 2]], target[[0, 2]], weight=torch.tensor([1.0, 3.0]))
    assert float(weighted.compute_loss(pred, target)) == pytest.approx(float(expected))


def test_multilabel_and_regression_skip_nan() -> None:
    task = Task("m", "multilabel", 2)
    pred = torch.tensor([[3.0, -3.0], [-3.0, -3.0]])
    target = torch.tensor([[1.0, NAN], [0.0, 1.0]])
    # Three labelled entries: right, right, wrong.
    assert scored(task, pred, target)["accuracy"] == pytest.approx(2 / 3)
    entries = [math.log(1 + math.exp(-3))] * 2 + [math.log(1 + math.exp(3))]
    assert float(task.compute_loss(pred, target)) == pytest.approx(sum(entries) / 3)
    reg = Task("r", "regression", 1)
    pred_r, target_r = torch.tensor([[1.5], [9.0], [2.0]]), torch.tensor([[1.0], [NAN], [3.0]])
    assert scored(reg, pred_r, target_r)["abs_err"] == pytest.approx(0.75)
    assert float(reg.compute_loss(pred_r, target_r)) == pytest.approx(0.75)


@pytest.mark.parametrize(
    ("task", "target"),
    [
        (Task("c", "classification", 3), torch.full((4,), -1)),
        (Task("m", "multilabel", 2), torch.full((4, 2), NAN)),
        (Task("r", "regression", 2), torch.full((4, 2), NAN)),
        (Task("s", "segmentation", 3), torch.full((4, 2, 2), -1)),
        (Task("s", "segmentation", 3, weights=(1.0, 2.0, 3.0)), torch.full((4, 2, 2), -1)),
        (Task("d", "depth"), torch.zeros(4, 1, 2, 2)),
        (Task("n", "normals"), torch.zeros(4, 3, 2, 2)),
        (Task("e", "edges"), torch.full((4, 1, 2, 2), -1.0)),
    ],
)
def test_a_batch_without_labels_gives_a_zero_loss(task: Task, target: torch.Tensor) -> None:
    shape = {"classification": (4, 3), "segmentation": (4, 3, 2, 2)}.get(task.kind, target.shape)
    pred = torch.randn(shape, requires_grad=True)
    loss = task.compute_loss(pred, target)
    assert float(loss.detach()) == 0.0
    loss.backward()  # and it backpropagates (zero gradients), never NaN
    assert pred.grad is not None and torch.isfinite(pred.grad).all()
    assert not labelled(task, target).any()


def split(y: torch.Tensor) -> Split:
    return Split(torch.zeros(len(y), 2), {"c": y})


def test_a_task_with_no_label_in_a_split_is_refused() -> None:
    some, none = torch.tensor([0, -1, 1, -1]), torch.full((4,), -1)
    task = (Task("c", "classification", 2),)
    Benchmark("b", (2,), task, split(some), split(some), split(some)).validate()
    with pytest.raises(BenchmarkError, match="split 'val', task 'c': no sample has a label"):
        Benchmark("b", (2,), task, split(some), split(none), split(some)).validate()
    shares = Benchmark("b", (2,), task, split(some), split(some), split(torch.tensor([0, 1, 1, 1])))
    assert shares.label_shares() == {"c": {"train": 0.5, "val": 0.5, "test": 1.0}}


def test_trivial_and_balanced_figures_use_labelled_samples_only() -> None:
    # Labelled training classes: 1, 1, 0 (the -1s are not class 0): majority 1.
    train = split(torch.tensor([1, -1, 1, -1, -1, 0]))
    val = split(torch.tensor([1, 0, -1, 1]))
    bench = Benchmark("b", (2,), (Task("c", "classification", 2),), train, val, val)
    assert trivial_scores(bench)["c"] == pytest.approx(2 / 3)
    assert balanced_weights(Task("c", "classification", 2), train.targets["c"]) == pytest.approx(
        (3 / 2, 3 / 4)
    )


def test_keep_labels_is_deterministic_and_keeps_the_share() -> None:
    from nas.data import keep_labels, load_benchmark

    bench = load_benchmark("digits", size="tiny", seed=0)
    a = keep_labels(bench, {"sum": 0.25}, seed=3)
    b = keep_labels(bench, {"sum": 0.25}, seed=3)
    assert torch.equal(a.train.targets["sum"], b.train.targets["sum"])
    share = a.label_shares()["sum"]
    assert share["train"] == pytest.approx(0.25, abs=1 / len(bench.train))
    assert share["val"] == share["test"] == 1.0  # scoring keeps every label
    assert a.label_shares()["left"]["train"] == 1.0
    with pytest.raises(BenchmarkError, match=r"--labels names tasks \['nope'\]"):
        keep_labels(bench, {"nope": 0.5}, seed=0)


def test_a_few_labels_search_stores_its_labels_and_says_the_shares(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["search", "--benchmark", "digits", "--size", "tiny", "--epochs", "1", "--name", "f"]
    assert main([*args, "--n-trials", "2", "--labels", "sum=0.5", *QUICK]) == 0
    assert "task 'sum' is labelled on 50% of train, 100% of val, 100% of test" in (
        capsys.readouterr().out
    )
    storage = f"sqlite:///{tmp_path / 'studies.db'}"
    study = optuna.load_study(study_name="f", storage=storage)
    assert study_config(study).labels == {"sum": 0.5}
    assert main(["show", "f"]) == 0
    assert "training labels kept: sum 50% (validation and test fully labelled)" in (
        capsys.readouterr().out
    )
    assert main(["resume", "f", "--labels", "sum=0.25", *QUICK]) == 2  # a stored option
    assert "labels" in capsys.readouterr().err
    assert main([*args, "--labels", "sum=2", *QUICK]) == 2
    assert "give a share in (0, 1]" in capsys.readouterr().err


def merged_source() -> str:
    text = (Path(__file__).resolve().parents[2] / "docs" / "guide.md").read_text()
    match = re.search(r"<!-- merged-benchmark -->\s*```python\n(.*?)```", text, re.S)
    assert match, "docs/guide.md lost its merged-datasets example"
    return match.group(1)


def test_the_merged_datasets_example_from_the_readme(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "merged.py").write_text(merged_source())
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    args = ["search", "--benchmark", "merged:make", "--n-trials", "3", "--epochs", "2"]
    assert main([*args, "--name", "m", *QUICK]) == 0
    out = capsys.readouterr().out
    assert "task 'parity' is labelled on 50% of train" in out
    assert "task 'norm' is labelled on 50% of train" in out
    study = optuna.load_study(study_name="m", storage=f"sqlite:///{tmp_path / 'studies.db'}")
    done = [t for t in study.trials if t.values is not None]
    assert len(done) == 3 and all(math.isfinite(t.values[0]) for t in done)
