"""CUDA-only behaviour; skipped with a reason where no GPU is visible (see conftest)."""

from __future__ import annotations

import math

import pytest

from nas import Layout, TrainConfig, build, load_benchmark, train
from nas.train import evaluate, pick_device

pytestmark = pytest.mark.gpu


def test_training_on_cuda_with_autocast_is_finite() -> None:
    bench = load_benchmark("scenes", size="tiny")
    device = pick_device("auto")
    assert device.type == "cuda"
    backbone = bench.backbone_spec().create(bench.input_shape)
    layout = Layout.hard_sharing(bench.task_names, backbone.depth)
    net = build(layout, backbone, {t.name: t.head for t in bench.tasks}, bench.input_shape)
    net = net.to(device)
    result = train(
        net,
        bench.train.to(device),
        bench.val.to(device),
        bench.tasks,
        TrainConfig(epochs=2, amp=True),
    )
    for task in bench.tasks:
        assert math.isfinite(result.metrics[task.name][task.primary])


def test_cuda_and_cpu_evaluation_agree() -> None:
    bench = load_benchmark("digits", size="tiny")
    backbone = bench.backbone_spec().create(bench.input_shape)
    layout = Layout.independent(bench.task_names, backbone.depth)
    net = build(layout, backbone, {t.name: t.head for t in bench.tasks}, bench.input_shape).eval()
    cpu = evaluate(net, bench.val, bench.tasks, amp=False)
    gpu = evaluate(net.to("cuda"), bench.val.to("cuda"), bench.tasks, amp=False)
    for task in bench.tasks:
        assert gpu[task.name]["accuracy"] == pytest.approx(cpu[task.name]["accuracy"], abs=0.02)


def test_onnxruntime_uses_the_gpu() -> None:
    from onnx import TensorProto, helper

    from export.runtime import session_for

    node = helper.make_node("Relu", ["x"], ["y"])
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    session = session_for(model.SerializeToString(), "cuda")
    assert session.get_providers()[0] == "CUDAExecutionProvider"
