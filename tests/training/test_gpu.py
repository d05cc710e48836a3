"""CUDA-only behaviour; skipped with a reason where no GPU is visible (see conftest)."""

from __future__ import annotations

import math

import pytest
import torch

import nas
from nas import Layout, build, load_benchmark
from nas.training import TrainConfig, evaluate, pick_device, train

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

    from nas.runtime import session_for

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


def test_resnet_trains_channels_last_with_bf16_autocast_on_cuda() -> None:
    from nas.model.backbones import create_backbone

    bench = load_benchmark("scenes", size="tiny")
    backbone = create_backbone("resnet18", bench.input_shape, {"width": 0.25, "output_stride": 8})
    layout = Layout.hard_sharing(bench.task_names, backbone.depth)
    net = build(layout, backbone, {t.name: t.head for t in bench.tasks}, bench.input_shape)
    net = net.to("cuda")
    config = TrainConfig(epochs=1, amp=True, backbone_lr_mult=0.1)
    result = train(net, bench.train.to("cuda"), bench.val.to("cuda"), bench.tasks, config)
    conv = net.stem.conv1.weight
    assert conv.is_contiguous(memory_format=torch.channels_last)
    for task in bench.tasks:
        assert math.isfinite(result.metrics[task.name][task.primary])


def test_the_supernet_trains_and_scores_on_cuda() -> None:
    from nas.explore.evaluators import Candidate, Preparation, SupernetEvaluator
    from nas.model.backbones import BackboneSpec
    from nas.testing import MemoryState
    from nas.training import Problem
    from search_spaces import make_space

    bench = load_benchmark("scenes", size="tiny")
    problem = Problem.prepare(bench, BackboneSpec("conv", {"widths": [8, 16]}), pick_device())
    space = make_space("branched", bench.task_names, 2)
    ev = SupernetEvaluator(TrainConfig(epochs=1, batch_size=32))
    ev.prepare(Preparation("gpu", problem, space, MemoryState(), progress=False))
    layout = Layout.hard_sharing(bench.task_names, 2)
    result = ev.evaluate(problem, Candidate(layout, instances=space.instance_rows(layout, {})))
    for task in bench.tasks:
        assert math.isfinite(result.metrics[task.name][task.primary])


def test_a_streamed_split_reaches_cuda_pinned_and_equal_to_the_resident_one() -> None:
    from nas.data import Resident, SplitDataset, Streamed

    bench = load_benchmark("scenes", size="tiny")
    device = pick_device("auto")
    assert isinstance(bench.train, nas.Split)
    plan = list(torch.arange(48).split(16))
    resident = Resident(bench.train, device)
    streamed = Streamed(SplitDataset(bench.train), device, "train", bench.input_shape,
                        bench.tasks, workers=2)  # fmt: skip
    for (_, xa, ya), (_, xb, yb) in zip(
        resident.batches(plan), streamed.batches(plan), strict=True
    ):
        assert xb.device.type == "cuda" and torch.equal(xa, xb)
        assert all(torch.equal(ya[k], yb[k]) for k in ya)
    backbone = bench.backbone_spec().create(bench.input_shape)
    layout = Layout.hard_sharing(bench.task_names, backbone.depth)
    net = build(layout, backbone, {t.name: t.head for t in bench.tasks}, bench.input_shape)
    result = train(net.to(device), streamed, Resident(bench.val, device), bench.tasks,
                   TrainConfig(epochs=1, amp=True))  # fmt: skip
    assert all(math.isfinite(v) for m in result.metrics.values() for v in m.values())
