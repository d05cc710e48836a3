"""The peers: each body's forward against numbers worked out by hand, costs, export, contract."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from nas import ConvBackbone, HeadSpec, Layout, MLPBackbone, build, cost
from nas.core._plugins import BUILTINS
from nas.model.peers import PeerError, make_peer, peer_layout
from nas.model.peers._cross_stitch import CrossStitchBody
from nas.model.peers._mmoe import MMoEBody
from nas.model.peers._mtan import MTANBody
from nas.testing import check_peer

X = torch.tensor([[1.0, -2.0]])  # one sample of two features


@dataclass(frozen=True)
class Linear2:
    """A backbone of ``depth`` bias-free 2x2 linear blocks: weights set by hand in each test."""

    depth: int = 1

    def block(self, d: int) -> nn.Module:
        return nn.Linear(2, 2, bias=False)

    def skip(self, d: int) -> nn.Module | None:
        return None


def _set(linear: nn.Module, weight: list[list[float]], bias: list[float] | None = None) -> None:
    assert isinstance(linear, nn.Linear)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor(weight))
        if bias is not None:
            linear.bias.copy_(torch.tensor(bias))


def test_cross_stitch_mixes_the_columns_by_its_units() -> None:
    body = CrossStitchBody(Linear2(), tasks=2)
    _set(body.columns[0][0], [[1, 0], [0, 1]])  # column a: x
    _set(body.columns[1][0], [[2, 0], [0, 2]])  # column b: 2x
    # The units start at 0.9 on the diagonal: a = 0.9 x + 0.1 (2x) = 1.1 x; b = 0.1 x + 1.8 x.
    a, b = body(X)
    torch.testing.assert_close(a, torch.tensor([[1.1, -2.2]]))
    torch.testing.assert_close(b, torch.tensor([[1.9, -3.8]]))
    with torch.no_grad():
        body.alphas[0] = torch.tensor([[0.0, 1.0], [0.5, 0.5]])  # a takes b; b the mean
    a, b = body(X)
    torch.testing.assert_close(a, torch.tensor([[2.0, -4.0]]))
    torch.testing.assert_close(b, torch.tensor([[1.5, -3.0]]))
    three = CrossStitchBody(Linear2(depth=2), tasks=3).alphas
    assert three.shape == (2, 3, 3)
    want = [[0.9, 0.05, 0.05], [0.05, 0.9, 0.05], [0.05, 0.05, 0.9]]  # rows sum to 1
    torch.testing.assert_close(three[1], torch.tensor(want))


def test_mtan_masks_the_shared_features_per_task() -> None:
    body = MTANBody(Linear2(), tasks=2, input_shape=(2,))
    _set(body.blocks[0], [[1, 0], [0, 1]])  # the trunk: s = x = (1, -2)
    for t, scale in enumerate((1.0, 2.0)):
        first, _, second, _ = body.attention[0][t]
        _set(first, [[1, 0, 0, 0], [0, 1, 0, 0]], [0, 0])  # reads s, not the task's own
        _set(second, [[scale, 0], [0, scale]], [0, 0])
    # mask = sigmoid(scale * relu(s)) = sigmoid(scale, 0); features = mask * s.
    a, b = body(X)
    torch.testing.assert_close(a, torch.tensor([[1 / (1 + math.exp(-1)), -1.0]]))
    torch.testing.assert_close(b, torch.tensor([[1 / (1 + math.exp(-2)), -1.0]]))


def test_mtan_reads_the_tasks_own_features_at_the_next_depth() -> None:
    body = MTANBody(Linear2(depth=2), tasks=1, input_shape=(2,))
    for block in body.blocks:
        _set(block, [[1, 0], [0, 1]])
    for d in range(2):
        first, _, second, _ = body.attention[d][0]
        _set(first, [[0, 0, 1, 0], [0, 0, 0, 1]], [0, 0])  # reads the task's own, not s
        _set(second, [[1, 0], [0, 1]], [0, 0])
    # depth 0: own = x, mask m0 = sigmoid(relu(1, -2)) = (sig(1), ½), a0 = m0 * x = (sig(1), -1);
    # depth 1: s = x still, mask = sigmoid(relu(a0)) = (sig(sig(1)), ½), a1 = that * x.
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    (a,) = body(X)
    torch.testing.assert_close(a, torch.tensor([[sig(sig(1)), -1.0]]))


def test_mmoe_mixes_the_experts_by_each_tasks_gate() -> None:
    body = MMoEBody(Linear2(), tasks=2, input_shape=(2,))
    _set(body.experts[0][0], [[1, 0], [0, 1]])  # expert 0: x
    _set(body.experts[1][0], [[3, 0], [0, 3]])  # expert 1: 3x
    # Gate logits (task, expert): task 0 (0, ln 3) -> weights (1/4, 3/4); task 1 (0, 0) -> ½, ½.
    _set(body.gates, [[0, 0]] * 4, [0, math.log(3), 0, 0])
    a, b = body(X)
    torch.testing.assert_close(a, torch.tensor([[0.25 + 2.25, -0.5 - 4.5]]))
    torch.testing.assert_close(b, torch.tensor([[2.0, -4.0]]))


def test_mmoe_gates_an_image_by_its_mean_over_the_image() -> None:
    body = MMoEBody(ConvBackbone(2, (2,), (1,)), tasks=2, input_shape=(2, 3, 3))
    _set(body.gates, [[1, 0]] * 4, [0, 0, 0, 0])
    x = torch.zeros(1, 2, 3, 3)
    x[0, 0, 0, 0] = 9.0  # channel 0's mean is 1: every logit is 1, every weight ½
    a, b = body(x)
    want = 0.5 * (body.experts[0](x) + body.experts[1](x))
    torch.testing.assert_close(a, want)
    torch.testing.assert_close(b, want)


CONV = ConvBackbone(3, (4, 4, 8), (1, 2, 1))
MLP = MLPBackbone(6, (8, 8, 6))
PEERS = list(BUILTINS["peer"])


@pytest.mark.parametrize("spec", PEERS)
@pytest.mark.parametrize("backbone, shape", [(CONV, (3, 8, 8)), (MLP, (6,))], ids=["conv", "mlp"])
def test_every_peer_passes_the_contract_and_exports_with_parity(
    spec: str, backbone: ConvBackbone | MLPBackbone, shape: tuple[int, ...]
) -> None:
    check_peer(spec, backbone, shape)  # the ONNX export included


@pytest.mark.parametrize("spec", PEERS)
@pytest.mark.parametrize("width", [1.0, 0.5])
def test_a_peers_cost_is_what_its_network_holds_and_computes(spec: str, width: float) -> None:
    heads = {"a": HeadSpec("dense", 3), "b": HeadSpec("pooled", 2)}
    layout = peer_layout(spec, ["a", "b"], CONV.depth, width)
    net = build(layout, CONV, heads, (3, 8, 8)).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net(torch.randn(1, 3, 8, 8))
    c = cost(layout, CONV, heads, (3, 8, 8))
    assert c.params == sum(p.numel() for p in net.parameters())
    assert c.flops == counter.get_total_flops()
    assert c.block_executions == len(layout.executions())


def test_a_peer_layout_names_its_family_and_round_trips() -> None:
    layout = peer_layout("mtan", ["a", "b"], 3, 0.5)
    assert layout.rows == Layout.hard_sharing(["a", "b"], 3).rows
    assert peer_layout("mmoe", ["a", "b"], 3).rows == Layout.independent(["a", "b"], 3).rows
    assert layout.summary() == "mtan over a:0.0.0 | b:0.0.0 @0.5x"
    data = layout.to_dict()
    assert data["version"] == 3 and data["peer"] == "mtan"
    assert Layout.from_dict(data) == layout and Layout.from_dict(data) != layout.scaled(1.0)
    assert "peer" not in Layout.hard_sharing(["a"], 2).to_dict()  # searched layouts unchanged
    assert Layout.hard_sharing(["a"], 2).to_dict()["version"] == 1


def one_short() -> object:
    """A user's peer that returns one feature map too few (the contract check must say so)."""

    @dataclass(frozen=True)
    class OneShort:
        trunk: str = "independent"

        def fits(self, backbone: object, input_shape: tuple[int, ...]) -> str | None:
            return None

        def body(
            self, backbone: MLPBackbone, tasks: int, input_shape: tuple[int, ...]
        ) -> nn.Module:
            class Body(nn.Module):
                def __init__(self) -> None:
                    super().__init__()
                    self.block = backbone.block(0)

                def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
                    return [self.block(x)] * (tasks - 1)

            return Body()

    return OneShort()


def test_the_contract_names_a_peer_that_breaks_it() -> None:
    with pytest.raises(AssertionError, match="2 feature maps for 3 tasks"):
        check_peer("tests.model.test_peers:one_short", MLPBackbone(6, (6,)), (6,), export=False)


def test_a_peer_that_is_not_one_or_does_not_fit_is_one_line() -> None:
    with pytest.raises(PeerError, match="unknown peer 'mtna'; choose one of"):
        make_peer("mtna")
    with pytest.raises(PeerError, match="lacks trunk, fits"):
        make_peer("tests.model.test_peers:Linear2")
    heads = {"a": HeadSpec("pooled", 2)}
    layout = Layout(("a",), ((0,),), 1.0, "mtan")
    with pytest.raises(PeerError, match="'mtan' is built over hard_sharing rows, not these"):
        build(Layout(("a", "b"), ((0, 1),), 1.0, "mtan"), MLPBackbone(4, (4,)),
              {**heads, "b": HeadSpec("pooled", 2)}, (4,))  # fmt: skip
    assert build(layout, MLPBackbone(4, (4,)), heads, (4,))(torch.zeros(2, 4))["a"].shape == (2, 2)
