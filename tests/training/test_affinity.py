"""Task affinity (nas.training._affinity): RDMs, Spearman, the trees of a space, scores, budgets."""

from __future__ import annotations

import optuna
import pytest
import torch

from nas.core import Layout
from nas.explore import SearchConfig
from nas.explore.strategies import make_strategy
from nas.training import choose_trees, dissimilarity_score, rdm, spearman, trees
from search_spaces import make_space


def test_rdm_is_one_minus_pearson_between_images() -> None:
    f = torch.tensor([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [3.0, 2.0, 1.0]])
    d = rdm(f)
    assert torch.allclose(d, torch.tensor([[0.0, 0.0, 2.0], [0.0, 0.0, 2.0], [2.0, 2.0, 0.0]]),
                          atol=1e-6)  # fmt: skip


def test_spearman_uses_ranks_of_the_upper_triangle() -> None:
    a = torch.tensor([[0.0, 1.0, 2.0], [1.0, 0.0, 3.0], [2.0, 3.0, 0.0]])
    monotone = a**3  # same order of every pair: rank correlation 1
    assert spearman(a, monotone) == pytest.approx(1.0)
    reverse = torch.tensor([[0.0, 3.0, 2.0], [3.0, 0.0, 1.0], [2.0, 1.0, 0.0]])
    assert spearman(a, reverse) == pytest.approx(-1.0)
    # Ranks (1, 2, 3) against (2, 1, 3): 1 - 6 * 2 / (3 * 8) = 0.5.
    swap = torch.tensor([[0.0, 2.0, 1.0], [2.0, 0.0, 3.0], [1.0, 3.0, 0.0]])
    assert spearman(a, swap) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("n", "depth", "split"), [(3, 4, None), (4, 6, [0, 2, 4, 6]), (4, 3, None)]
)
def test_trees_are_exactly_the_branched_space(n: int, depth: int, split: list[int] | None) -> None:
    tasks = tuple("abcd"[:n])
    options = {} if split is None else {"split_depths": split}
    space = make_space("branched", tasks, depth, options)
    grid = make_strategy("grid").layouts(space, SearchConfig())
    mine = list(trees(tasks, depth, split))
    assert len(mine) == len(set(mine)) and set(mine) == set(grid)


def test_dissimilarity_score_by_hand() -> None:
    dis = torch.tensor([[[0.0, 0.2, 0.8], [0.2, 0.0, 0.6], [0.8, 0.6, 0.0]],
                        [[0.0, 0.4, 0.9], [0.4, 0.0, 0.7], [0.9, 0.7, 0.0]]])  # fmt: skip
    tasks = ("a", "b", "c")
    assert dissimilarity_score(Layout.independent(tasks, 2), dis) == 0.0
    # Block 0: one group {a,b,c} costs max 0.8; block 1: groups {a,b} (0.4) and {c} (0).
    tree = Layout(tasks, ((0, 0, 0), (0, 0, 1)))
    assert dissimilarity_score(tree, dis) == pytest.approx((0.8 + (0.4 + 0.0) / 2) / 2)
    assert dissimilarity_score(Layout.hard_sharing(tasks, 2), dis) == pytest.approx(0.85)


def test_choose_trees_takes_the_least_dissimilar_under_each_budget() -> None:
    tasks = ("a", "b", "c")
    dis = torch.tensor([[0.0, 0.1, 0.9], [0.1, 0.0, 0.9], [0.9, 0.9, 0.0]]).repeat(2, 1, 1)
    candidates = list(trees(tasks, 2))
    chosen = choose_trees(candidates, dis, [1.0, 1.0], 2)
    # Budgets 3.33 and 4.67 blocks (hard sharing 2, separate 6). Three blocks: all share the
    # first, then c leaves (0.475; b leaving instead: 0.675); four: a and b share both blocks,
    # c runs alone (0.05; all sharing the first, then each alone: 0.45).
    assert chosen[0] == Layout(tasks, ((0, 0, 0), (0, 0, 1)))
    assert chosen[1] == Layout(tasks, ((0, 0, 1), (0, 0, 1)))
    assert Layout.hard_sharing(tasks, 2) not in chosen
    assert Layout.independent(tasks, 2) not in chosen


def test_the_grid_and_trees_agree_on_parameters() -> None:
    space = make_space("branched", ("a", "b", "c"), 3, {})
    for layout in trees(space.tasks, 3):
        params = space.params(layout)
        assert space.suggest(optuna.trial.FixedTrial(params)) == layout
