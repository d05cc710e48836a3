"""Binary dense tasks (edges, saliency), imbalance weights, and the trivial-predictor check."""

from __future__ import annotations

import math
from pathlib import Path

import optuna
import pytest
import torch
from torch import nn

from nas.app.cli import main
from nas.data import (
    Benchmark,
    Split,
    Task,
    TaskError,
    TaskMeter,
    balanced_weights,
    beats,
    binary_scores,
    trivial_scores,
)
from tests import QUICK


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def test_odsf_and_maxf_by_hand() -> None:
    # Four labelled pixels, two of them edges; probabilities 0.9, 0.6 (edges) and 0.7, 0.2.
    target = torch.tensor([[[[1.0, 1.0], [0.0, 0.0]]]])
    pred = torch.tensor([[[[logit(0.9), logit(0.6)], [logit(0.7), logit(0.2)]]]])
    edges, sal = TaskMeter(Task("e", "edges")), TaskMeter(Task("s", "saliency"))
    edges.update(pred, target)
    sal.update(pred, target)
    # Thresholds in (0.7, 0.9): P 1, R 1/2, F 2/3. In (0.6, 0.7): P 1/2, R 1/2, F 1/2.
    # In (0.2, 0.6): P 2/3, R 1, F 0.8 -- the best single threshold: odsF 0.8.
    # AP: recall 1/2 at precision 1, then +1/2 at precision 2/3: 0.5 + 1/3.
    assert edges.compute() == pytest.approx({"odsf": 0.8, "ap": 0.5 + 1 / 3})
    # maxF with beta^2 0.3: (1.3 P R) / (0.3 P + R); at P 1, R 1/2: 0.65/0.8 = 0.8125;
    # at P 2/3, R 1: 0.8667/1.2 = 0.7222. IoU at 0.5: {0.9, 0.6, 0.7} vs {0.9, 0.6}: 2/3.
    assert sal.compute() == pytest.approx({"maxf": 0.8125, "iou": 2 / 3})


def test_unlabelled_pixels_count_nowhere() -> None:
    target = torch.tensor([[[[1.0, -1.0], [0.0, -1.0]]]])
    pred = torch.tensor([[[[logit(0.9), logit(0.99)], [logit(0.1), logit(0.99)]]]])
    meter = TaskMeter(Task("e", "edges"))
    meter.update(pred, target)
    assert meter.compute()["odsf"] == pytest.approx(1.0)
    task = Task("e", "edges")
    masked = task.compute_loss(pred, target)
    assert masked == pytest.approx(task.compute_loss(pred[..., :1], target[..., :1]))


def test_binary_scores_with_no_predictions_above_a_threshold() -> None:
    r = binary_scores(
        torch.tensor([1.0, 0.0]), torch.tensor([1.0, 0.0]), torch.tensor([1.0, 0.0]), 1.0
    )
    assert r["f1"] == 1.0 and r["ap"] == 1.0


def test_balanced_weights_by_hand() -> None:
    seg = torch.tensor([[0, 0, 0, 1], [0, 0, -1, 1]])
    assert balanced_weights(Task("s", "segmentation", 3), seg) == pytest.approx(
        (7 / 15, 7 / 6, 1.0)  # 7 labelled pixels: five 0s, two 1s
    )
    multi = torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    assert balanced_weights(Task("m", "multilabel", 2), multi) == pytest.approx(
        (3.0, 1.0)
    )  # 1 of 4, 2 of 4 positive
    edges = torch.tensor([[[[1.0, 0.0, 0.0, 0.0, -1.0]]]])
    assert balanced_weights(Task("e", "edges"), edges) == pytest.approx((0.75,))


@pytest.mark.parametrize(
    ("task", "message"),
    [
        (dict(name="c", kind="classification", out=3, weights=(1.0, 2.0)), "needs 3 number(s)"),
        (dict(name="d", kind="depth", weights="balanced"), "takes no class weights"),
        (dict(name="e", kind="edges", weights=(1.5,)), "lies in (0, 1)"),
        (dict(name="c", kind="classification", out=2, weights=(0.0, 0.0)), "not all zero"),
        (dict(name="c", kind="classification", out=2, weights="heavy"), "numbers or 'balanced'"),
    ],
)
def test_bad_weights_are_named(task: dict[str, object], message: str) -> None:
    with pytest.raises(TaskError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Task(**task)  # type: ignore[arg-type]


def test_edges_default_to_a_weighted_loss() -> None:
    assert Task("e", "edges").loss == "weighted_bce" and Task("e", "edges").weights == (0.95,)
    assert Task("s", "saliency").weights is None


def test_the_weighted_loss_learns_a_rare_positive_the_plain_one_misses() -> None:
    # 5% positive pixels, marked in the input by a weak signal (+1 under noise of sd 1): the
    # best plain-BCE prediction stays below 0.5 everywhere (the prior wins), so at the
    # operating point nothing is found; the weighted loss moves the decision to the signal.
    g = torch.Generator().manual_seed(0)
    y = (torch.rand(64, 1, 16, 16, generator=g) < 0.05).float()
    x = y + torch.randn(64, 1, 16, 16, generator=g)
    ious = {}
    for loss in ("bce", "weighted_bce"):
        torch.manual_seed(0)
        task = Task("t", "saliency", loss=loss, weights=(0.95,) if loss == "weighted_bce" else None)
        net = nn.Conv2d(1, 1, 1)
        opt = torch.optim.Adam(net.parameters(), lr=0.05)
        for _ in range(200):
            opt.zero_grad()
            task.compute_loss(net(x), y).backward()
            opt.step()
        meter = TaskMeter(task)
        meter.update(net(x).detach(), y)
        ious[loss] = meter.compute()["iou"]
    # Measured: IoU 0.003 plain, 0.103 weighted (maxF alike, 0.25: the ranking is the same).
    assert ious["bce"] < 0.01 < 0.05 < ious["weighted_bce"], ious


NOISY = """
import torch
from nas.data._benchmark import Benchmark, Split
from nas.data._tasks import Task

def make(seed=0):
    g = torch.Generator().manual_seed(seed)
    def split(n):
        x = torch.randn(n, 8, generator=g)
        easy = (x[:, 0] > 0).long()                       # read straight off the input
        # labels with nothing to learn, 80% of them class 0: the trivial predictor's 0.8 is
        # all a network can reach, as with a rare edge class predicted "no edge" everywhere
        noise = (torch.rand(n, generator=g) * 5).long().clamp(3, 5) - 3
        return Split(x, {"easy": easy, "noise": noise})
    return Benchmark("noisy", (8,), (Task("easy", "classification", 2),
                     Task("noise", "classification", 3)), split(256), split(128), split(64))
"""


def test_the_health_check_names_the_task_that_learns_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "noisy.py").write_text(NOISY)
    args = [
        "search",
        "--benchmark",
        "noisy:make",
        "--name",
        "n",
        "--n-trials",
        "4",
        "--epochs",
        "4",
    ]
    assert main([*args, *QUICK]) == 0
    err = capsys.readouterr().err
    assert "warning: task 'noise': the independent baseline scored accuracy" in err
    assert "task 'easy'" not in err
    assert main(["show", "n"]) == 0
    out = capsys.readouterr().out
    assert "warning: task 'noise' did not beat its trivial predictor" in out
    assert "task 'easy'" not in out


def test_trivial_scores_are_the_constant_predictors() -> None:
    x = torch.zeros(4, 1, 2, 2)
    seg = torch.tensor([[[0, 0], [0, 1]]] * 4)
    depth = torch.full((4, 1, 2, 2), 2.0)
    split = Split(x, {"s": seg, "d": depth})
    bench = Benchmark(
        "t", (1, 2, 2), (Task("s", "segmentation", 2), Task("d", "depth")), split, split, split
    )
    scores = trivial_scores(bench)
    assert scores["s"] == pytest.approx((0.75 + 0.0) / 2)  # class 0 everywhere: IoU 3/4 and 0
    assert scores["d"] == pytest.approx(0.0)  # the mean depth is every depth
    assert beats(Task("s", "segmentation", 2), 0.5, 0.375) and not beats(
        Task("s", "segmentation", 2), 0.378, 0.375
    )


def test_the_warning_counts_layouts_trained_not_trials() -> None:
    from nas.app._views import health_warnings

    study = optuna.create_study()
    for beat, duplicate in ((False, None), (False, None), (True, None), (False, 0), (False, 0)):
        trial = study.ask()
        if duplicate is None:  # a repeat reuses its twin's result and stores no verdict
            trial.set_user_attr("beat_trivial", {"noise": beat})
        else:
            trial.set_user_attr("duplicate_of", duplicate)
        study.tell(trial, 0.0)
    (line,) = health_warnings(study, {"noise": 0.5})
    assert "in 2 of the 3 layouts trained" in line  # five trials, three of them trained
