"""Combination methods: each wired to the right parameters, each following its definition."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nas.model.combine import check_combine, make_combiner, search_choices, users_of
from nas.model.combine._weightings import DWA, GradNorm, Uncertainty


class NoScale:
    def scale(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs


class TwoTasks(nn.Module):
    """A trunk both tasks use, a branch only task a uses, and one head each."""

    def __init__(self) -> None:
        super().__init__()
        self.trunk = nn.Parameter(torch.tensor([1.0, 2.0]))
        self.branch = nn.Parameter(torch.tensor([0.5, -1.0]))
        self.head_b = nn.Parameter(torch.tensor([3.0, 1.0]))

    def losses(self) -> dict[str, torch.Tensor]:
        # a = x . branch + 1, b = x . head_b with x = trunk: grads on the trunk are
        # [0.5, -1] for a and [3, 1] for b (their dot product is +0.5: no conflict).
        return {"a": self.trunk @ self.branch, "b": self.trunk @ self.head_b}


def _grads(method: str, net: TwoTasks) -> dict[str, torch.Tensor]:
    combiner = make_combiner(method, ["a", "b"])
    params = list(net.parameters())
    for p in params:
        p.grad = None
    combiner.backward(net.losses(), params, NoScale())
    return {name: p.grad.clone() for name, p in net.named_parameters()}  # type: ignore[union-attr]


@pytest.mark.parametrize("method", ["upgrad", "mgda", "pcgrad", "cagrad", "dualproj", "imtl_g"])
def test_a_parameter_one_task_uses_gets_exactly_that_tasks_gradient(method: str) -> None:
    net = TwoTasks()
    grads = _grads(method, net)
    assert torch.equal(grads["branch"], net.trunk.detach())  # d a / d branch, untouched
    assert torch.equal(grads["head_b"], net.trunk.detach())
    # Without a conflict the projection methods leave the sum alone on the shared trunk.
    if method in ("pcgrad",):
        assert torch.allclose(grads["trunk"], torch.tensor([3.5, 0.0]))


def test_the_tasks_using_each_parameter_are_read_from_the_graph() -> None:
    net = TwoTasks()
    losses = list(net.losses().values())
    assert users_of(losses, list(net.parameters())) == [(0, 1), (0,), (1,)]


class Conflict(nn.Module):
    """Two tasks on one shared parameter with gradients g_a = [1, 0], g_b = [-1, 1]."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(2))

    def losses(self) -> dict[str, torch.Tensor]:
        return {"a": self.w @ torch.tensor([1.0, 0.0]), "b": self.w @ torch.tensor([-1.0, 1.0])}


def _shared_grad(method: str) -> torch.Tensor:
    net = Conflict()
    make_combiner(method, ["a", "b"]).backward(net.losses(), [net.w], NoScale())
    assert net.w.grad is not None
    return net.w.grad


def test_pcgrad_and_mgda_match_their_formulas_by_hand() -> None:
    ga, gb = torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 1.0])
    # PCGrad: each gradient loses its component along the other (they conflict), then sum.
    pa = ga - (ga @ gb) / (gb @ gb) * gb
    pb = gb - (gb @ ga) / (ga @ ga) * ga
    assert torch.allclose(_shared_grad("pcgrad"), pa + pb)  # [0.5, 1.5]
    # MGDA: the least-norm point of the hull, w ga + (1 - w) gb, minimised at w = 0.6.
    w = 0.6
    assert torch.allclose(_shared_grad("mgda"), w * ga + (1 - w) * gb, atol=1e-4)
    assert torch.allclose(_shared_grad("equal"), ga + gb)


def test_dwa_weights_follow_the_loss_ratios_of_the_last_two_epochs() -> None:
    dwa = DWA(["a", "b"], temperature=2.0)
    dwa.end_epoch({"a": 1.0, "b": 1.0})
    assert dwa.weights.tolist() == [1.0, 1.0]  # one epoch: no ratio yet
    dwa.end_epoch({"a": 0.5, "b": 0.9})  # a fell fast (r = 0.5), b slowly (r = 0.9)
    ra, rb = torch.tensor(0.5 / 2), torch.tensor(0.9 / 2)
    expected = 2 * torch.exp(torch.stack([ra, rb])) / (torch.exp(ra) + torch.exp(rb))
    assert torch.allclose(dwa.weights, expected)
    assert dwa.weights[1] > dwa.weights[0]
    losses = {"a": torch.tensor(2.0), "b": torch.tensor(3.0)}
    assert float(dwa.combine(losses)) == pytest.approx(float(expected @ torch.tensor([2.0, 3.0])))


def test_gradnorm_moves_weight_to_the_task_that_trains_slowest() -> None:
    w = nn.Parameter(torch.tensor([1.0, 1.0]))
    gn = GradNorm(["a", "b"], alpha=1.5, lr=0.1)
    # First step fixes L(0); then task b's loss stays while a's halves: b trains slower.
    for scale_a in (1.0, 0.5):
        losses = {"a": scale_a * (w**2).sum(), "b": (w**2).sum()}
        w.grad = None
        gn.backward(losses, [w], NoScale())
    assert gn.weights[1] > gn.weights[0]
    assert float(gn.weights.detach().sum()) == pytest.approx(2.0)  # renormalised to T


def test_uncertainty_weighting_is_kendalls_form() -> None:
    u = Uncertainty(["a", "b"])
    with torch.no_grad():
        u.log_vars.copy_(torch.tensor([0.5, -1.0]))
    total = u.combine({"a": torch.tensor(2.0), "b": torch.tensor(3.0)})
    expected = torch.exp(torch.tensor(-0.5)) * 2 + 0.5 + torch.exp(torch.tensor(1.0)) * 3 - 1.0
    assert total.item() == pytest.approx(float(expected))
    assert u.trained_parameters() == [u.log_vars]


def test_method_names_and_searched_sets_are_checked() -> None:
    assert check_combine("upgrad") is None and check_combine("search") is None
    assert search_choices("search") == ["equal", "uncertainty"]
    assert check_combine("search:equal,upgrad") is None
    assert "e.g. search:equal,upgrad,pcgrad" in str(check_combine("search:equal"))
    assert "is not one of" in str(check_combine("sgd"))
    with pytest.raises(ValueError, match="unknown combination method 'sgd'"):
        make_combiner("sgd", ["a"])
