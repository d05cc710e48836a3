"""AdaShare's policy: Gumbel gates annealed and straight-through, a curriculum from the top, the
sparsity and sharing regularisers in the paper's form, and layouts sampled from it."""

from __future__ import annotations

import math

import pytest
import torch

from nas.backbones import BackboneSpec
from nas.datasets.scenes import scenes
from nas.layout import Layout
from nas.policy import Policy, Temperature, gated_forward, unlocked
from nas.problem import Problem
from nas.supernet import Supernet


def test_the_temperature_anneals_geometrically_from_five() -> None:
    t = Temperature()
    assert t.at(0) == 5.0
    assert t.at(10) == pytest.approx(5.0 * 0.965**10)
    assert all(t.at(e + 1) < t.at(e) for e in range(50))


def test_the_curriculum_unlocks_depths_from_the_top_in_order() -> None:
    p = Policy(("a", "b"), depth=4, always_run=1)
    assert [unlocked(e, p.lockable, every=2) for e in range(8)] == [1, 1, 2, 2, 3, 3, 3, 3]
    assert p.learned(1).tolist() == [False, False, False, True]
    assert p.learned(2).tolist() == [False, False, True, True]
    assert p.learned(9).tolist() == [False, True, True, True]  # depth 0 always runs


def test_gates_are_hard_samples_with_straight_through_gradients() -> None:
    torch.manual_seed(0)
    p = Policy(("a", "b", "c"), depth=3, instances=2, always_run=1)
    g = p.gates(tau=1.0, n_unlocked=1)
    assert set(g.unique().tolist()) <= {0.0, 1.0} and torch.all(g.sum(-1) == 1)
    assert torch.all(g[:, :2, 0] == 1)  # locked depths run copy 0
    (g * torch.randn_like(g)).sum().backward()
    grad = p.logits.grad
    assert grad is not None
    assert grad[:, 2].abs().sum() > 0  # the learned depth gets the soft sample's gradient
    assert torch.all(grad[:, :2] == 0)  # locked depths get none


def test_sparsity_and_sharing_losses_match_a_hand_computed_example() -> None:
    p = Policy(("a", "b"), depth=3, always_run=1)
    with torch.no_grad():  # logits [select, skip]: P(skip) = 1/2 where 0, 3/4 where ln 3
        p.logits.zero_()
        p.logits[1, 1, 1] = math.log(3.0)
        p.logits[1, 2, 1] = math.log(3.0)
    a = p.select_probability()
    assert torch.allclose(a, torch.tensor([[0.5, 0.5, 0.5], [0.5, 0.25, 0.25]]))
    # Sparsity over the learnable depths 1 and 2: log .5 + log .5 + log .25 + log .25.
    assert float(p.sparsity_loss()) == pytest.approx(2 * math.log(0.5) + 2 * math.log(0.25))
    # Sharing: weights (D - d - 1) / D = 2/3, 1/3, 0; |a_a - a_b| = 0, .25, .25.
    assert float(p.sharing_loss()) == pytest.approx(1 / 3 * 0.25)


def test_sampled_layouts_are_distinct_most_likely_first_and_never_skip_always_run_depths() -> None:
    p = Policy(("a", "b"), depth=3, always_run=1)
    with torch.no_grad():
        p.logits[:, :, 1] = 5.0  # skipping is far more likely everywhere
    layouts = p.sample(8, torch.Generator().manual_seed(0))
    assert len(layouts) == len(set(layouts)) and 1 < len(layouts) <= 8
    assert layouts[0] == Layout(("a", "b"), ((0, 0), (None, None), (None, None)))
    assert all(layout.rows[0] == (0, 0) for layout in layouts)
    assert layouts == p.sample(8, torch.Generator().manual_seed(0))  # seeded


def test_one_hot_gates_give_the_outputs_of_the_layout_they_select() -> None:
    problem = Problem.prepare(scenes("tiny"), BackboneSpec("conv", {"widths": [8, 8, 16]}),
                              torch.device("cpu"))  # fmt: skip
    tasks = problem.benchmark.task_names
    torch.manual_seed(0)
    net = Supernet(problem.backbone, problem.heads, tasks, problem.benchmark.input_shape,
                   (2, 2, 2)).eval()  # fmt: skip
    n = len(tasks)
    rows = ((0,) * n, (1, None, 0, 1, None)[:n], (None, 0, 1, 1, 0)[:n])
    gates = torch.zeros(len(tasks), 3, 3)
    for d, row in enumerate(rows):
        for t, c in enumerate(row):
            gates[t, d, 2 if c is None else c] = 1.0
    learned = torch.tensor([False, True, True])
    x = problem.train.x[:4]
    with torch.no_grad():
        got, want = gated_forward(net, x, gates, learned), net(x, rows)
    for task in tasks:
        assert torch.allclose(got[task], want[task], atol=1e-5)
