"""ResNet training options, and whole studies on ResNets: search, confirm, export, NYUv2 folders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from nas import Layout, build, load_benchmark
from nas.app.cli import main
from nas.model.backbones import create_backbone, torchvision_state_dict
from nas.runtime import OnnxModel
from nas.training import TrainConfig, train
from tests import NO_LATENCY, NO_PEERS
from tests.data.test_benchmark import write_nyuv2

SMALL = ["--backbone-option", "width=0.125", "--backbone-option", "output_stride=8"]


def _net_and_bench() -> tuple[torch.nn.Module, object]:
    bench = load_benchmark("scenes", size="tiny")
    b = create_backbone("resnet18", bench.input_shape, {"width": 0.125, "output_stride": 8})
    layout = Layout.hard_sharing(bench.task_names, b.depth)
    return build(layout, b, {t.name: t.head for t in bench.tasks}, bench.input_shape), bench


def _changes(before: dict[str, torch.Tensor], net: torch.nn.Module) -> dict[str, float]:
    after = net.state_dict()
    return {k: float((after[k].float() - v.float()).abs().max()) for k, v in before.items()}


def test_backbone_lr_mult_scales_backbone_steps_only() -> None:
    net, bench = _net_and_bench()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    config = TrainConfig(epochs=1, batch_size=16, backbone_lr_mult=1e-6)
    train(net, bench.train, bench.val, bench.tasks, config)  # type: ignore[attr-defined]
    moved = _changes(before, net)
    weights = [k for k in moved if k.endswith("weight")]
    backbone = [k for k in weights if k.startswith(("stem.", "blocks."))]
    heads = [k for k in weights if k.startswith("heads.")]
    assert backbone and heads
    assert max(moved[k] for k in backbone) < 1e-6
    assert min(moved[k] for k in heads) > 1e-4


def test_frozen_batch_norm_keeps_the_backbone_statistics_and_affine() -> None:
    net, bench = _net_and_bench()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    config = TrainConfig(epochs=1, batch_size=16, bn_mode="frozen")
    train(net, bench.train, bench.val, bench.tasks, config)  # type: ignore[attr-defined]
    moved = _changes(before, net)
    bn = [k for k in moved if re.search(r"\.(bn\d|downsample\.1)\.", k)]
    backbone_bn = [k for k in bn if k.startswith(("stem.", "blocks."))]
    assert backbone_bn and all(moved[k] == 0 for k in backbone_bn)
    assert any(moved[k] > 0 for k in moved if k.startswith("blocks.") and "conv" in k)
    head_stats = [k for k in moved if k.startswith("heads.") and k.endswith("running_mean")]
    assert head_stats and all(moved[k] > 0 for k in head_stats)  # heads' norms still train


@pytest.mark.slow
def test_a_resnet18_study_searches_confirms_and_exports(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    common = ["--storage", url, "--device", "cpu", "--quiet"]
    args = ["search", "--size", "tiny", "--n-trials", "3", "--epochs", "1", "--backbone"]
    args += [
        "resnet18",
        *SMALL,
        "--confirm-top",
        "1",
        "--confirm-seeds",
        "2",
        *common,
        *NO_LATENCY,
        *NO_PEERS,
    ]
    assert main(args) == 0
    out = tmp_path / "m.onnx"
    assert main(["export", "scenes-branched", "-o", str(out), "--storage", url]) == 0
    model = OnnxModel(out, "cpu")
    config = model.metadata["config"]
    assert config["backbone"] == "resnet18"
    assert config["backbone_options"] == {"width": 0.125, "output_stride": 8}
    norm = model.metadata["input"]["normalised_inside"]
    assert norm["mean"] == pytest.approx([0.485, 0.456, 0.406])
    assert model.metadata["confirmed"]["split"] == "test"


def test_nyuv2_folder_with_pretrained_resnet18(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "nyuv2"
    write_nyuv2(data, n_train=12, n_val=4, h=32, w=48)
    b = create_backbone("resnet18", (3, 32, 48), {"width": 0.125, "output_stride": 8})
    weights = tmp_path / "resnet18.pth"
    net = build(
        Layout.hard_sharing(["a"], 8), b, {"a": load_benchmark("digits").tasks[0].head}, (3, 32, 48)
    )
    torch.save(torchvision_state_dict(net, b), weights)
    url = f"sqlite:///{tmp_path / 's.db'}"
    args = ["search", "--benchmark", "nyuv2", "--data", str(data), "--backbone", "resnet18"]
    args += [*SMALL, "--pretrained", str(weights), "--backbone-lr-mult", "0.1"]
    args += ["--bn-mode", "frozen", "--n-trials", "3", "--epochs", "1", "--batch-size", "4"]
    args += ["--storage", url, "--device", "cpu", "--quiet", "--no-confirm"]
    assert main(args) == 0
    capsys.readouterr()
    assert main(["show", "nyuv2-branched", "--storage", url]) == 0
    shown = capsys.readouterr().out
    assert f"backbone: resnet18 (output_stride=8, width=0.125), pretrained from {weights}" in shown
    assert "backbone lr x0.1, batch norm frozen" in shown
    # A missing file on resume is one line naming it, and nothing is lost.
    weights.unlink()
    assert main(["resume", "nyuv2-branched", "--n-trials", "4", "--storage", url, "--quiet"]) != 0
    err = capsys.readouterr().err.strip()
    assert "pretrained file" in err and str(weights) in err and len(err.splitlines()) == 1


def test_pretrained_needs_a_backbone_that_takes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    args = ["search", "--size", "tiny", "--pretrained", str(tmp_path / "w.pth")]
    assert main([*args, "--storage", url, "--quiet"]) != 0
    err = capsys.readouterr().err.strip()
    assert "takes no option 'pretrained'" in err and len(err.splitlines()) == 1
