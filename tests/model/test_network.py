from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from nas import ConvBackbone, HeadSpec, Layout, MLPBackbone, build, cost
from nas.model.backbones import ConvBlock, MLPBlock, block_cost

TASKS = ("seg", "depth", "cls")
CONV = ConvBackbone(3, widths=(8, 8, 16, 16), strides=(1, 1, 2, 1))
CONV_HEADS = {
    "seg": HeadSpec("dense", 5),
    "depth": HeadSpec("dense", 1),
    "cls": HeadSpec("pooled", 4),
}
MLP = MLPBackbone(6, widths=(12, 12, 8, 8))
MLP_HEADS = {t: HeadSpec("pooled", i + 1) for i, t in enumerate(TASKS)}
CASES = [(CONV, CONV_HEADS, (3, 12, 10)), (MLP, MLP_HEADS, (6,))]


@st.composite
def layouts(draw: st.DrawFn) -> Layout:
    choice = st.one_of(st.none(), st.integers(0, 2))
    rows = draw(st.lists(st.lists(choice, min_size=3, max_size=3), min_size=4, max_size=4))
    return Layout(TASKS, tuple(tuple(r) for r in rows))


def run_path_alone(
    net: torch.nn.Module, layout: Layout, task: str, x: torch.Tensor
) -> torch.Tensor:
    h = x
    for d, c in enumerate(layout.path(task)):
        name = f"s{d}" if c is None else f"b{d}_{c}"
        if name in net.blocks:
            h = net.blocks[name](h)
    return net.heads[layout.tasks.index(task)](h)


def count_block_calls(net: torch.nn.Module, x: torch.Tensor) -> int:
    calls = []
    hooks = [
        m.register_forward_hook(lambda *_: calls.append(1))
        for m in net.modules()
        if isinstance(m, (ConvBlock, MLPBlock))
    ]
    net(x)
    for h in hooks:
        h.remove()
    return len(calls)


@pytest.mark.parametrize(("backbone", "heads", "shape"), CASES)
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(layout=layouts())
def test_each_task_equals_its_own_path(backbone, heads, shape, layout: Layout) -> None:
    net = build(layout, backbone, heads, shape).eval()
    x = torch.randn(3, *shape)
    with torch.no_grad():
        out = net(x)
        assert list(out) == list(TASKS)
        for task in TASKS:
            alone = run_path_alone(net, layout, task, x)
            torch.testing.assert_close(out[task], alone, atol=1e-6, rtol=0)


@pytest.mark.parametrize(("backbone", "heads", "shape"), CASES)
@settings(max_examples=25, deadline=None)
@given(layout=layouts())
def test_cost_model_matches_the_network(backbone, heads, shape, layout: Layout) -> None:
    net = build(layout, backbone, heads, shape)
    predicted = cost(layout, backbone, heads, shape)
    x = torch.randn(2, *shape)
    assert count_block_calls(net, x) == predicted.block_executions
    assert sum(p.numel() for p in net.parameters()) == predicted.params
    with FlopCounterMode(display=False) as counter:
        net(x)
    assert counter.get_total_flops() == 2 * predicted.flops


def test_unused_blocks_are_not_built_and_skips_do_not_run() -> None:
    layout = Layout(TASKS, ((0, 0, 0), (0, None, None), (None, None, None), (0, 1, 1)))
    net = build(layout, CONV, CONV_HEADS, (3, 8, 8))
    assert sorted(net.blocks) == ["b0_0", "b1_0", "b3_0", "b3_1", "s2"]
    # depth 2 has a stride: the skip shortcut runs once per distinct input, without weights
    assert sum(p.numel() for p in net.blocks["s2"].parameters()) == 0
    # depth and cls share their prefix at depth 3, so run instance 1 once
    assert count_block_calls(net, torch.randn(1, 3, 8, 8)) == 1 + 1 + 0 + 2


def test_extremes_cost() -> None:
    hard = cost(Layout.hard_sharing(TASKS, 4), CONV, CONV_HEADS, (3, 16, 16))
    ind = cost(Layout.independent(TASKS, 4), CONV, CONV_HEADS, (3, 16, 16))
    assert (hard.block_executions, ind.block_executions) == (4, 12)
    net = build(Layout.hard_sharing(TASKS, 4), CONV, CONV_HEADS, (3, 16, 16))
    heads = sum(p.numel() for p in net.heads.parameters())
    assert heads > 0
    assert ind.params - heads == 3 * (hard.params - heads)


def test_measured_block_cost_matches_a_hand_count() -> None:
    # Block 0 of CONV: two 3x3 convs (3->8, 8->8), two batch norms, and a 1x1 projection with
    # its batch norm (the channel count changes); stride 1 on a 16x16 input.
    measured = block_cost(CONV, 0, (3, 16, 16))
    assert measured.out_shape == (8, 16, 16)
    assert measured.params == 3 * 8 * 9 + 8 * 8 * 9 + 2 * 8 + 2 * 8 + 3 * 8 + 2 * 8
    assert measured.flops == 2 * (3 * 9 * 8 + 8 * 9 * 8 + 3 * 8) * 16 * 16
    # Block 2 halves the resolution: 8 -> 16 channels on 8x8 outputs.
    assert block_cost(CONV, 2, (8, 16, 16)).out_shape == (16, 8, 8)


def test_shapes_and_bad_inputs() -> None:
    net = build(Layout.hard_sharing(TASKS, 4), CONV, CONV_HEADS, (3, 12, 10))
    out = net(torch.randn(2, 3, 12, 10))
    assert out["seg"].shape == (2, 5, 12, 10) and out["cls"].shape == (2, 4)
    with pytest.raises(ValueError, match="layout has 2 depths but the backbone has 4"):
        build(Layout.hard_sharing(TASKS, 2), CONV, CONV_HEADS, (3, 8, 8))
    with pytest.raises(ValueError, match=r"missing \['cls'\]"):
        build(
            Layout.hard_sharing(TASKS, 4),
            CONV,
            {"seg": HeadSpec("dense", 1), "depth": HeadSpec("dense", 1)},
            (3, 8, 8),
        )
    with pytest.raises(
        ValueError, match=r"input shape \(1, 8, 8\) does not fit the backbone: block 0"
    ):
        build(Layout.hard_sharing(TASKS, 4), CONV, CONV_HEADS, (1, 8, 8))
    with pytest.raises(ValueError, match="dense head needs an image backbone"):
        build(Layout.hard_sharing(TASKS, 4), MLP, CONV_HEADS, (6,))


@pytest.mark.parametrize(("backbone", "heads", "shape"), CASES)
@pytest.mark.parametrize("width", [0.5, 1.5])
def test_a_layout_at_another_width_scales_every_channel_and_the_cost_model_follows(
    backbone, heads, shape, width: float
) -> None:
    layout = Layout(TASKS, ((0, 0, 0), (0, 0, 1), (0, None, 1), (0, 1, 2))).scaled(width)
    net = build(layout, backbone, heads, shape)
    # every block is the scaled backbone's: widths (8, 8, 16, 16) at 0.5 are (4, 4, 8, 8)
    scaled = backbone.scaled(width)
    assert scaled.widths == tuple(max(1, round(w * width)) for w in backbone.widths)
    for name, block in net.blocks.items():
        if name.startswith("b"):
            d = int(name[1:].split("_")[0])
            want = scaled.block(d)
            assert [p.shape for p in block.parameters()] == [p.shape for p in want.parameters()]
    predicted = cost(layout, backbone, heads, shape)
    assert sum(p.numel() for p in net.parameters()) == predicted.params
    with FlopCounterMode(display=False) as counter:
        out = net(torch.randn(2, *shape))
    assert counter.get_total_flops() == 2 * predicted.flops
    assert {t: o.shape[1] for t, o in out.items()} == {t: h.out for t, h in heads.items()}
    full = cost(layout.scaled(1.0), backbone, heads, shape)
    assert (predicted.flops < full.flops) == (width < 1)


def test_a_backbone_without_a_width_is_refused_in_one_line() -> None:
    class Fixed:  # a user's backbone with the three required members only
        depth = 1

        def block(self, d: int) -> torch.nn.Module:
            return MLPBlock(6, 6)

        def skip(self, d: int) -> None:
            return None

    layout = Layout(("a",), ((0,),))
    heads = {"a": HeadSpec("pooled", 2)}
    build(layout, Fixed(), heads, (6,))  # full width needs nothing more
    with pytest.raises(ValueError, match=r"^backbone Fixed has no scaled\(width\) method") as err:
        build(layout.scaled(0.5), Fixed(), heads, (6,))
    assert "\n" not in str(err.value)
