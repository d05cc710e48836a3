"""AdaShare's policy: soft (or straight-through) Gumbel gates, a curriculum from the top, the
sparsity and sharing regularisers as the authors' code computes them, and layouts sampled."""

from __future__ import annotations

import math

import pytest
import torch

from nas.core import Layout
from nas.data.datasets import scenes
from nas.model.backbones import BackboneSpec
from nas.training import INITIAL_LOGIT, Policy, Problem, Supernet, gated_forward


def test_the_logits_start_equal_at_the_authors_value() -> None:
    p = Policy(("a", "b"), depth=4, instances=2)
    assert torch.all(p.logits == INITIAL_LOGIT) and INITIAL_LOGIT == 0.5
    assert torch.allclose(p.select_probability(), torch.full((2, 4), 2 / 3))


def test_the_curriculum_learns_depths_from_the_top_in_order() -> None:
    p = Policy(("a", "b"), depth=4, always_run=1)
    assert p.learned(1).tolist() == [False, False, False, True]
    assert p.learned(2).tolist() == [False, False, True, True]
    assert p.learned(9).tolist() == [False, True, True, True]  # depth 0 always runs


def test_gates_are_soft_samples_by_default_and_one_hot_when_hard() -> None:
    torch.manual_seed(0)
    p = Policy(("a", "b", "c"), depth=3, instances=2, always_run=1)
    soft = p.gates(tau=1.0, n_unlocked=1)
    assert torch.allclose(soft.sum(-1), torch.ones(3, 3))
    assert 0 < float(soft[:, 2].detach().max()) < 1  # the learned depth mixes its options
    assert torch.all(soft[:, :2, 0] == 1)  # locked depths run copy 0
    hard = p.gates(tau=1.0, n_unlocked=1, hard=True)
    assert set(hard.unique().tolist()) <= {0.0, 1.0} and torch.all(hard.sum(-1) == 1)
    (hard * torch.randn_like(hard)).sum().backward()
    grad = p.logits.grad
    assert grad is not None
    assert grad[:, 2].abs().sum() > 0  # straight-through: the soft sample's gradient
    assert torch.all(grad[:, :2] == 0)  # locked depths get none


def test_sparsity_and_sharing_losses_match_a_hand_computed_example() -> None:
    p = Policy(("a", "b"), depth=3, always_run=1)
    with torch.no_grad():  # logits [select, skip]
        p.logits.zero_()
        p.logits[1, 1, 1] = math.log(3.0)  # task b, depth 1: P(skip) = 3/4
        p.logits[1, 2, 0] = 1.0  # task b, depth 2: select logit 1
    # Sparsity, the authors' CrossEntropy(logits, skip) averaged over the learned depths 1
    # and 2, summed over tasks: a: (ln 2 + ln 2) / 2; b: (-ln(3/4) + ln(1 + e)) / 2.
    want = math.log(2) + (-math.log(0.75) + math.log(1 + math.e)) / 2
    assert float(p.sparsity_loss().detach()) == pytest.approx(want)
    # Only the top learned depth while the curriculum has unlocked one: a ln 2, b ln(1 + e).
    assert float(p.sparsity_loss(1).detach()) == pytest.approx(math.log(2) + math.log(1 + math.e))
    # Sharing on the raw select logits, weights (d + 1) / D = 1/3, 2/3, 1 (depth 0 always
    # runs: weight 0); |z_a - z_b| = 0, 0, 1 at depths 0, 1, 2.
    assert float(p.sharing_loss().detach()) == pytest.approx(1.0)
    with torch.no_grad():
        p.logits[0, 1, 0] = 0.5  # |z_a - z_b| at depth 1 becomes 0.5, weight 2/3
    assert float(p.sharing_loss().detach()) == pytest.approx(1.0 + 2 / 3 * 0.5)


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
    x = problem.benchmark.train.x[:4]
    with torch.no_grad():
        got, want = gated_forward(net, x, gates, learned), net(x, rows)
    for task in tasks:
        assert torch.allclose(got[task], want[task], atol=1e-5)


def test_depths_the_curriculum_never_learned_run_in_every_sample() -> None:
    p = Policy(("a", "b"), depth=4, always_run=1)
    with torch.no_grad():
        p.logits[:, 3, 1] = 5.0  # the one learned depth leans to skip
    layouts = p.sample(8, torch.Generator().manual_seed(0), n_unlocked=1)
    assert layouts[0].rows == ((0, 0), (0, 0), (0, 0), (None, None))
    # Depths 1 and 2 kept their equal start: drawn, they would skip half the time.
    assert all(layout.rows[1] == layout.rows[2] == (0, 0) for layout in layouts)
