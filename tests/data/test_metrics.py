from __future__ import annotations

import math

import pytest
import torch

from nas.data import Task, TaskMeter, delta_mtl


def meter(task: Task, *batches: tuple[torch.Tensor, torch.Tensor]) -> dict[str, float]:
    m = TaskMeter(task)
    for pred, target in batches:
        m.update(pred, target)
    return m.compute()


def test_accuracy_over_batches() -> None:
    task = Task("c", "classification", 3)
    logits = torch.eye(3)[[0, 1, 2, 0, 1]]  # predicts 0 1 2 0 1
    target = torch.tensor([0, 1, 0, 0, 2])
    assert meter(task, (logits[:2], target[:2]), (logits[2:], target[2:])) == {"accuracy": 0.6}


def test_multilabel_accuracy() -> None:
    task = Task("m", "multilabel", 2)
    logits = torch.tensor([[1.0, -1.0], [1.0, 1.0]])
    target = torch.tensor([[1.0, 1.0], [1.0, 1.0]])
    assert meter(task, (logits, target)) == {"accuracy": 0.75}


def test_miou_and_pixel_accuracy_whole_split_with_ignore() -> None:
    task = Task("s", "segmentation", 3)
    target = torch.tensor([[[0, 0, 1, 2]], [[1, 1, -1, 2]]])  # (2, 1, 4); one ignored pixel
    pred_cls = torch.tensor([[[0, 1, 1, 2]], [[1, 1, 0, 0]]])
    logits = torch.nn.functional.one_hot(pred_cls, 3).permute(0, 3, 1, 2).float()
    # Confusion over 7 valid pixels: class 0: tp 1, fp 1, fn 1 -> 1/3;
    # class 1: tp 3, fp 1, fn 0 -> 3/4; class 2: tp 1, fp 0, fn 1 -> 1/2.
    got = meter(task, (logits[:1], target[:1]), (logits[1:], target[1:]))
    assert got["miou"] == pytest.approx((1 / 3 + 3 / 4 + 1 / 2) / 3)
    assert got["pix_acc"] == pytest.approx(5 / 7)
    # Per-batch averaging would give another number: the meter must not do that.
    per_batch = (
        meter(task, (logits[:1], target[:1]))["miou"]
        + meter(task, (logits[1:], target[1:]))["miou"]
    ) / 2
    assert per_batch != pytest.approx(got["miou"])


def test_depth_errors_skip_unknown_pixels() -> None:
    task = Task("d", "depth")
    target = torch.tensor([2.0, 4.0, 0.0, 1.0]).reshape(1, 1, 2, 2)
    pred = torch.tensor([1.0, 5.0, 9.0, 1.0]).reshape(1, 1, 2, 2)
    got = meter(task, (pred, target))
    assert got["abs_err"] == pytest.approx((1 + 1 + 0) / 3)
    assert got["rel_err"] == pytest.approx((1 / 2 + 1 / 4 + 0) / 3)
    assert got["rmse"] == pytest.approx(math.sqrt(2 / 3))


def test_regression_errors() -> None:
    got = meter(
        Task("r", "regression", 2), (torch.tensor([[1.0, 2.0]]), torch.tensor([[0.0, 4.0]]))
    )
    assert got == {"abs_err": 1.5, "rmse": pytest.approx(math.sqrt(2.5))}


def test_normal_angles() -> None:
    task = Task("n", "normals")
    target = torch.zeros(1, 3, 1, 4)
    target[0, 2] = 1.0  # all pixels face the camera ...
    target[0, :, 0, 3] = 0.0  # ... but one is unknown
    deg = torch.tensor([0.0, 20.0, 60.0])
    pred = torch.zeros(1, 3, 1, 4)
    pred[0, 0, 0, :3] = torch.sin(torch.deg2rad(deg)) * 3  # length does not matter
    pred[0, 2, 0, :3] = torch.cos(torch.deg2rad(deg)) * 3
    got = meter(task, (pred, target))
    assert got["mean_angle"] == pytest.approx(80 / 3, abs=1e-3)
    assert got["median_angle"] == pytest.approx(20.0, abs=0.01)
    assert got["within_11.25"] == pytest.approx(1 / 3)
    assert got["within_22.5"] == pytest.approx(2 / 3)
    assert got["within_30"] == pytest.approx(2 / 3)


def test_empty_meter_is_nan() -> None:
    assert math.isnan(TaskMeter(Task("c", "classification", 2)).compute()["accuracy"])


def test_delta_mtl_signs() -> None:
    up = {"acc": True}
    down = {"err": False}
    assert delta_mtl({"acc": 0.6}, {"acc": 0.5}, up) == pytest.approx(0.2)
    assert delta_mtl({"acc": 0.4}, {"acc": 0.5}, up) == pytest.approx(-0.2)
    assert delta_mtl({"err": 0.8}, {"err": 1.0}, down) == pytest.approx(0.2)  # lower error: better
    assert delta_mtl({"err": 1.2}, {"err": 1.0}, down) == pytest.approx(-0.2)
    both = delta_mtl({"acc": 0.6, "err": 1.2}, {"acc": 0.5, "err": 1.0}, {**up, **down})
    assert both == pytest.approx(0.0)
    assert delta_mtl({"acc": 0.5}, {"acc": 0.5}, up) == 0.0


def test_delta_mtl_errors() -> None:
    with pytest.raises(ValueError, match=r"task 'acc': baseline 0\.0 cannot divide"):
        delta_mtl({"acc": 0.5}, {"acc": 0.0}, {"acc": True})
    with pytest.raises(ValueError, match="task 'x': no baseline"):
        delta_mtl({"x": 0.5}, {}, {"x": True})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "", "kind": "depth"}, "field 'name'"),
        ({"name": "a", "kind": "colour"}, "task 'a': field 'kind' is 'colour'"),
        ({"name": "a", "kind": "classification", "out": 1}, "task 'a': field 'out'"),
        ({"name": "a", "kind": "depth", "primary": "miou"}, "task 'a': field 'primary' is 'miou'"),
        ({"name": "a", "kind": "normals", "loss": "l1"}, "task 'a': field 'loss' is 'l1'"),
    ],
)
def test_task_spec_rejections(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Task(**kwargs)


def test_losses_match_hand_computed_values() -> None:
    # regression, l1: mean absolute error over every value
    reg = Task("r", "regression", 2)
    pred, target = torch.tensor([[1.0, 2.0], [3.0, 5.0]]), torch.tensor([[0.0, 2.0], [3.0, 1.0]])
    assert float(reg.compute_loss(pred, target)) == pytest.approx((1 + 0 + 0 + 4) / 4)
    # depth, l1 over known pixels only (0 = unknown)
    depth = Task("d", "depth")
    pred = torch.tensor([[[[1.0, 5.0], [2.0, 9.0]]]])
    target = torch.tensor([[[[2.0, 0.0], [2.0, 0.0]]]])
    assert float(depth.compute_loss(pred, target)) == pytest.approx((1 + 0) / 2)
    # no known pixel: zero loss, never NaN
    assert float(depth.compute_loss(pred, torch.zeros_like(target))) == 0.0
    # normals: 1 - cosine over pixels with a normal; scale does not matter
    normals = Task("n", "normals")
    pred = torch.zeros(1, 3, 1, 2)
    pred[0, :, 0, 0] = torch.tensor([2.0, 0.0, 0.0])  # same direction as the target
    pred[0, :, 0, 1] = torch.tensor([0.0, 3.0, 0.0])  # orthogonal
    target = torch.zeros(1, 3, 1, 2)
    target[0, 0] = 1.0
    assert float(normals.compute_loss(pred, target)) == pytest.approx((0 + 1) / 2)
    # segmentation: cross-entropy, -1 pixels ignored
    seg = Task("s", "segmentation", 2)
    logits = torch.tensor([[[[2.0, 0.0]], [[0.0, 0.0]]]])  # (1, 2 classes, 1, 2)
    labels = torch.tensor([[[0, -1]]])
    want = -torch.log_softmax(torch.tensor([2.0, 0.0]), 0)[0]
    assert float(seg.compute_loss(logits, labels)) == pytest.approx(float(want))
    # classification cross-entropy and multilabel BCE
    cls = Task("c", "classification", 3)
    logits = torch.tensor([[0.0, 1.0, 2.0]])
    want = -torch.log_softmax(logits[0], 0)[2]
    assert float(cls.compute_loss(logits, torch.tensor([2]))) == pytest.approx(float(want))
    ml = Task("m", "multilabel", 2)
    logit = torch.tensor([[0.0, 0.0]])
    assert float(ml.compute_loss(logit, torch.tensor([[1.0, 0.0]]))) == pytest.approx(
        0.693147, 1e-5
    )


@pytest.mark.parametrize("kind", ["regression", "depth", "normals", "segmentation"])
def test_losses_are_finite_and_differentiable(kind: str) -> None:
    task = Task("t", kind, 4 if kind == "segmentation" else 2)  # type: ignore[arg-type]
    pred = torch.randn(2, task.out, 3, 3, requires_grad=True)
    if kind == "segmentation":
        target = torch.randint(-1, 4, (2, 3, 3))
    elif kind == "regression":
        pred = torch.randn(2, 2, requires_grad=True)
        target = torch.randn(2, 2)
    else:
        target = torch.randn(2, task.out, 3, 3).abs()
    target_empty = torch.zeros_like(target) if kind in ("depth", "normals") else target
    for t in (target, target_empty):
        loss = task.compute_loss(pred, t)
        loss.backward()
        assert torch.isfinite(loss)
