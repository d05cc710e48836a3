"""ResNet backbones: torchvision's names and sizes, pretrained files, dilation, executor rule."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from nas import HeadSpec, Layout, build, cost
from nas.model import feature_shapes
from nas.model.backbones import (
    BackboneError,
    ResNetBackbone,
    create_backbone,
    torchvision_state_dict,
)

HEADS = {"seg": HeadSpec("dense", 5), "cls": HeadSpec("pooled", 3)}
# torchvision's ImageNet models without the 1000-way classifier (fc): parameter and key counts.
TORCHVISION = {
    "resnet18": (11_176_512, 120),
    "resnet34": (21_284_672, 216),
    "resnet50": (23_508_032, 318),
}


def _state_of_backbone(b: ResNetBackbone) -> dict[str, torch.Tensor]:
    with torch.device("meta"):
        parts = [("", b.stem())] + [
            (b.torchvision_name(d) + ".", b.block(d)) for d in range(b.depth)
        ]
    return {p + k: v for p, m in parts for k, v in m.state_dict().items()}


@pytest.mark.parametrize("arch", sorted(TORCHVISION))
def test_names_and_sizes_are_torchvision_s(arch: str) -> None:
    b = create_backbone(arch, (3, 224, 224))
    state = _state_of_backbone(b)
    params = sum(
        v.numel() for k, v in state.items() if "running" not in k and "num_batches" not in k
    )
    assert (params, len(state)) == TORCHVISION[arch]
    assert b.depth == (8 if arch == "resnet18" else 16)
    assert "layer2.0.downsample.0.weight" in state and "layer4.1.bn2.running_var" in state
    if arch == "resnet50":
        assert state["layer1.0.conv3.weight"].shape == (256, 64, 1, 1)


@pytest.mark.parametrize("arch", ["resnet18", "resnet50"])
@pytest.mark.parametrize("stride", [8, 16, 32])
def test_dilation_gives_the_stated_output_stride(arch: str, stride: int) -> None:
    b = create_backbone(arch, (3, 64, 96), {"width": 0.125, "output_stride": stride})
    _, h, w = feature_shapes(b, (3, 64, 96))[-1]
    assert (h, w) == (64 // stride, 96 // stride)
    net = build(Layout.hard_sharing(["seg", "cls"], b.depth), b, HEADS, (3, 64, 96))
    out = net(torch.randn(2, 3, 64, 96))
    assert out["seg"].shape == (2, 5, 64, 96) and out["cls"].shape == (2, 3)


def _perturbed_file(tmp_path: Path, b: ResNetBackbone) -> Path:
    """A torchvision-named file saved from the project's own (hard-sharing) network."""
    net = build(Layout.hard_sharing(["seg", "cls"], b.depth), b, HEADS, (3, 32, 32))
    with torch.no_grad():
        for t in net.state_dict().values():
            if t.is_floating_point():
                t.copy_(torch.rand_like(t) + 0.5)  # positive: valid running variances too
    path = tmp_path / "resnet.pth"
    torch.save(torchvision_state_dict(net, b), path)
    return path


def test_a_torchvision_named_file_loads_into_every_block_instance(tmp_path: Path) -> None:
    small = {"width": 0.125, "output_stride": 8}
    path = _perturbed_file(tmp_path, create_backbone("resnet18", (3, 32, 32), small))
    b = create_backbone("resnet18", (3, 32, 32), {**small, "pretrained": str(path)})
    saved = torch.load(path, weights_only=True)
    # Three branches from depth 4 and a skipped depth: instances 0..2 of the later blocks.
    layout = Layout(("seg", "cls", "x"), ((0, 0, 0),) * 4 + ((0, 1, 2),) * 3 + ((0, None, 2),))
    heads = {**HEADS, "x": HeadSpec("pooled", 1)}
    net = build(layout, b, heads, (3, 32, 32))
    instances = 0
    for name, block in net.blocks.items():
        if not name.startswith("b"):
            continue  # a parameter-free skip shortcut
        d = int(name[1:].split("_")[0])
        prefix = b.torchvision_name(d) + "."
        for key, tensor in block.state_dict().items():
            torch.testing.assert_close(tensor, saved[prefix + key], msg=f"{name}.{key}")
        instances += 1
    assert instances == 4 + 3 * 3 + 2
    for key, tensor in net.stem.state_dict().items():
        torch.testing.assert_close(tensor, saved[key])
    # fc.* (an ImageNet classifier) is ignored; a DataParallel prefix and a wrapper are read.
    wrapped = {"state_dict": {"module." + k: v for k, v in saved.items()}}
    wrapped["state_dict"]["module.fc.weight"] = torch.zeros(1000, 64)
    torch.save(wrapped, tmp_path / "wrapped.pth")
    create_backbone("resnet18", (3, 32, 32), {**small, "pretrained": str(tmp_path / "wrapped.pth")})


def test_a_file_that_does_not_fit_is_refused_naming_the_key(tmp_path: Path) -> None:
    small = {"width": 0.125, "output_stride": 8}
    path = _perturbed_file(tmp_path, create_backbone("resnet18", (3, 32, 32), small))
    state = torch.load(path, weights_only=True)
    renamed = {k.replace("layer1.0.conv1.", "layer1.0.convX."): v for k, v in state.items()}
    cases = {
        "renamed": (
            renamed,
            "lacks keys of resnet18 at width 0.125: layer1.0.conv1.weight; has keys resnet18 "
            "does not have: layer1.0.convX.weight",
        ),
    }
    wrong = dict(torch.load(path, weights_only=True))
    wrong["layer3.1.bn9.weight"] = torch.zeros(3)
    cases["unknown"] = (wrong, "has keys resnet18 does not have: layer3.1.bn9.weight")
    for name, (bad, message) in cases.items():
        torch.save(bad, tmp_path / f"{name}.pth")
        with pytest.raises(BackboneError, match=message.replace(".", r"\.")) as err:
            create_backbone(
                "resnet18", (3, 32, 32), {**small, "pretrained": str(tmp_path / f"{name}.pth")}
            )
        assert "\n" not in str(err.value)
    with pytest.raises(
        BackboneError,
        match=r"does not fit resnet18 at width 0\.25: conv1\.weight \(8, 3, 7, 7\) "
        r"\(needs \(16, 3, 7, 7\)\)",
    ):
        create_backbone("resnet18", (3, 32, 32), {"width": 0.25, "pretrained": str(path)})
    with pytest.raises(BackboneError, match="No such file"):
        create_backbone("resnet18", (3, 32, 32), {"pretrained": str(tmp_path / "none.pth")})
    (tmp_path / "junk.pth").write_bytes(b"junk")
    with pytest.raises(BackboneError, match="is not a PyTorch state dict"):
        create_backbone("resnet18", (3, 32, 32), {"pretrained": str(tmp_path / "junk.pth")})


def test_skipped_blocks_never_run_and_the_cost_model_matches_the_network() -> None:
    b = create_backbone("resnet18", (3, 32, 32), {"width": 0.125, "output_stride": 16})
    n = None
    # seg skips the strided first blocks of stages 2 and 3; cls skips two stride-1 blocks.
    layout = Layout(
        ("seg", "cls"), ((0, 0), (0, n), (n, 0), (0, 0), (n, 0), (0, n), (0, 0), (0, 0))
    )
    net = build(layout, b, HEADS, (3, 32, 32))
    assert sum(p.numel() for p in net.blocks["s2"].parameters()) == 0
    calls: list[str] = []
    for name, module in net.blocks.items():
        module.register_forward_hook(lambda m, i, o, name=name: calls.append(name))
    x = torch.randn(2, 3, 32, 32)
    with FlopCounterMode(display=False) as counter:
        net(x)
    c = cost(layout, b, HEADS, (3, 32, 32))
    block_calls = [name for name in calls if name.startswith("b")]
    assert len(block_calls) == c.block_executions == len(layout.executions())
    assert "b2_0" in block_calls and "s2" in calls  # cls runs block 2; seg its shortcut
    assert c.params == sum(p.numel() for p in net.parameters())
    assert c.flops * 2 == counter.get_total_flops()  # the cost model counts one sample


def test_input_normalisation_is_part_of_the_network() -> None:
    b = create_backbone(
        "resnet18", (3, 16, 16), {"width": 0.125, "mean": [0.5, 0.5, 0.5], "std": [2, 2, 2]}
    )
    net = build(
        Layout.hard_sharing(["cls"], b.depth), b, {"cls": HeadSpec("pooled", 2)}, (3, 16, 16)
    )
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        got = net.stem(x)
        want = net.stem.maxpool(torch.relu(net.stem.bn1(net.stem.conv1((x - 0.5) / 2))))
    torch.testing.assert_close(got, want)
    assert "mean" not in net.state_dict() and not any("stem.mean" in k for k in net.state_dict())
    with pytest.raises(BackboneError, match="one value per input channel"):
        create_backbone("resnet18", (1, 16, 16), {"mean": [0.5, 0.5, 0.5]})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"output_stride": 4}, "output_stride must be 8, 16 or 32"),
        ({"width": 0}, r"width must be a multiplier in \(0, 4\]"),
        ({"depth": 3}, "takes no option 'depth'"),
    ],
)
def test_bad_options_are_one_line_errors(options: dict[str, object], message: str) -> None:
    with pytest.raises(BackboneError, match=message):
        create_backbone("resnet34", (3, 32, 32), options)
    with pytest.raises(BackboneError, match="needs image inputs"):
        create_backbone("resnet18", (12,))


def test_the_aspp_head_keeps_rates_below_the_map_size() -> None:
    b = create_backbone("resnet18", (3, 128, 128), {"width": 0.125, "output_stride": 8})
    head = b.head(HeadSpec("dense", 4), (64, 16, 16), (3, 128, 128))
    dilations = [branch[0].dilation[0] for branch in head.branches]  # type: ignore[index]
    assert dilations == [1, 12]  # 1x1, then 12 of DeepLab's 12/24/36 (16 px map)
    assert isinstance(b.head(HeadSpec("pooled", 4), (64, 16, 16), (3, 128, 128)), nn.Module)


def test_a_resnet_scales_by_its_width_and_a_pretrained_one_refuses(tmp_path: Path) -> None:
    b = create_backbone("resnet18", (3, 32, 32), {"width": 0.25})
    assert b.scaled(0.5).width == 0.125
    layout = Layout(("seg", "cls"), ((0, 0),) * 8).scaled(0.5)
    net = build(layout, b, HEADS, (3, 32, 32))
    assert sum(p.numel() for p in net.parameters()) == cost(layout, b, HEADS, (3, 32, 32)).params
    with pytest.raises(ValueError, match="has the width of its weights"):
        path = str(_perturbed_file(tmp_path, b))
        create_backbone("resnet18", (3, 32, 32), {"width": 0.25, "pretrained": path}).scaled(0.5)
