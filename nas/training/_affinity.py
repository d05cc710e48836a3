"""Task affinity from representation similarity, and the trees it prefers (Vandenhende et al.).

"Branched Multi-Task Networks: Deciding What Layers to Share" (BMVC 2020) builds a tree from
single-task networks: at each depth it compares how the tasks' networks represent the same
images. Per task and depth, a representation dissimilarity matrix (RDM) holds ``1 - Pearson``
between the feature vectors (maps average-pooled to at most 8 x 8) of every pair of K images;
two tasks' affinity at that depth is the Spearman correlation of their RDMs. A tree is scored by
its *task dissimilarity*: at every block, each group of tasks that shares it costs the largest
dissimilarity (``1 - affinity``) between two of its tasks at that depth; the tree's score is the
mean over blocks of the mean over groups. Among the trees within a cost budget the method takes
the one of lowest score, so a few budgets between hard sharing and separate networks give a few
trees along the cost axis.

We chose representation similarity over TAG's lookahead affinities (Fifty et al. 2021): it needs
only the single-task networks, trained by the project's own trainer like any candidate (one
training of the independent layout), and no change to the training step; TAG measures affinity
inside one joint training with an extra forward and backward per task pair and step.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any

import torch

from nas.core._layout import Layout
from nas.model._network import MultiTaskNetwork

__all__ = [
    "POOLED",
    "affinity",
    "choose_trees",
    "dissimilarity_score",
    "rdm",
    "representations",
    "spearman",
    "trees",
]

Partition = tuple[int, ...]  # per task, a group label (the first task of its group)


POOLED = 8  # feature maps are average-pooled to at most 8 x 8 per channel before comparing


@torch.no_grad()
def representations(
    net: MultiTaskNetwork, x: torch.Tensor, batch_size: int = 64
) -> list[list[torch.Tensor]]:
    """Per depth, per task: each task's own block output on ``x``, one row per image (CPU).

    ``net`` must be an independent layout's network (each task its own block at every depth).
    Feature maps are average-pooled to at most ``POOLED x POOLED`` per channel and ``x`` runs
    in batches, so memory stays bounded on large inputs and backbones (a full NYUv2 map of
    500 images would take gigabytes per task and depth).
    """
    layout = net.layout
    if any(len(set(row)) != len(row) or None in row for row in layout.rows):
        raise ValueError("representations need separate networks: the independent layout")
    found: dict[tuple[int, int], list[torch.Tensor]] = {}
    hooks = []
    for d, row in enumerate(layout.rows):
        for t, inst in enumerate(row):
            hooks.append(net.blocks[f"b{d}_{inst}"].register_forward_hook(_keeper(found, d, t)))
    was_training = net.training
    net.eval()
    try:
        for start in range(0, len(x), batch_size):
            net(x[start : start + batch_size])
    finally:
        net.train(was_training)
        for h in hooks:
            h.remove()
    return [
        [torch.cat(found[(d, t)]) for t in range(layout.num_tasks)] for d in range(layout.depth)
    ]


def _keeper(found: dict[tuple[int, int], list[torch.Tensor]], d: int, t: int) -> Any:
    def keep(_module: object, _inputs: object, out: torch.Tensor) -> None:
        if out.dim() == 4 and max(out.shape[-2:]) > POOLED:
            size = (min(POOLED, out.shape[-2]), min(POOLED, out.shape[-1]))
            out = torch.nn.functional.adaptive_avg_pool2d(out, size)
        found.setdefault((d, t), []).append(out.detach().flatten(1).float().cpu())

    return keep


def rdm(features: torch.Tensor) -> torch.Tensor:
    """The K x K dissimilarity ``1 - Pearson`` between the rows (images) of ``features``."""
    f = features - features.mean(dim=1, keepdim=True)
    f = f / f.norm(dim=1, keepdim=True).clamp_min(1e-12)
    out: torch.Tensor = 1.0 - f @ f.T
    return out


def _ranks(v: torch.Tensor) -> torch.Tensor:
    ranks = torch.empty_like(v)
    ranks[v.argsort()] = torch.arange(len(v), dtype=v.dtype, device=v.device)
    return ranks


def spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman's rank correlation of the upper triangles of two RDMs."""
    iu = torch.triu_indices(a.shape[0], a.shape[0], offset=1)
    ra, rb = _ranks(a[iu[0], iu[1]].double()), _ranks(b[iu[0], iu[1]].double())
    ra, rb = ra - ra.mean(), rb - rb.mean()
    return float((ra @ rb) / (ra.norm() * rb.norm()).clamp_min(1e-12))


def affinity(reps: Sequence[Sequence[torch.Tensor]]) -> torch.Tensor:
    """Per depth, the T x T Spearman affinity of the tasks' RDMs (1 on the diagonal)."""
    depth, n = len(reps), len(reps[0])
    out = torch.eye(n, dtype=torch.float64).repeat(depth, 1, 1)
    for d in range(depth):
        rdms = [rdm(f) for f in reps[d]]
        for i, j in itertools.combinations(range(n), 2):
            out[d, i, j] = out[d, j, i] = spearman(rdms[i], rdms[j])
    return out


def _partitions(items: Sequence[int]) -> Iterator[list[list[int]]]:
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for p in _partitions(rest):
        for i in range(len(p)):
            yield [*p[:i], [first, *p[i]], *p[i + 1 :]]
        yield [[first], *p]


def _labels(groups: Sequence[Sequence[int]], n: int) -> Partition:
    label = [0] * n
    for g in groups:
        for t in g:
            label[t] = min(g)
    return tuple(label)


def trees(
    tasks: Sequence[str], depth: int, split_depths: Sequence[int] | None = None
) -> Iterator[Layout]:
    """Every tree of ``tasks`` over ``depth`` blocks.

    Going down the blocks, each block's groups refine the previous block's; they may change
    only at a depth a pair may share (``split_depths``; None: any). This is the branched
    space's set of layouts (35 trees of 3 tasks over 4 blocks; 154 of 4 over 6 at [0,2,4,6]).
    """
    allowed = set(range(depth + 1) if split_depths is None else split_depths)
    names, n_tasks = tuple(tasks), len(tasks)

    def down(groups: list[list[int]], d: int, rows: list[Partition]) -> Iterator[Layout]:
        if d == depth:
            yield Layout(names, tuple(rows))
            return
        if d not in allowed:
            yield from down(groups, d + 1, [*rows, _labels(groups, n_tasks)])
            return
        for split in itertools.product(*(list(_partitions(g)) for g in groups)):
            finer = [g for part in split for g in part]
            yield from down(finer, d + 1, [*rows, _labels(finer, n_tasks)])

    for first in _partitions(list(range(n_tasks))):
        yield from down(first, 1, [_labels(first, n_tasks)])


def dissimilarity_score(layout: Layout, dissimilarity: torch.Tensor) -> float:
    """Mean over blocks of the mean over sharing groups of their largest pairwise dissimilarity.

    ``dissimilarity[d, i, j]`` is ``1 - affinity`` of tasks i and j at the output of block d.
    A task alone in its block costs 0, so separate networks score 0 and sharing costs more the
    less alike the sharing tasks' representations are.
    """
    total = 0.0
    for d, row in enumerate(layout.rows):
        groups: dict[object, list[int]] = {}
        for t, c in enumerate(row):
            groups.setdefault(c, []).append(t)
        pairs = [[float(dissimilarity[d, i, j]) for i, j in itertools.combinations(g, 2)]
                 for g in groups.values()]  # fmt: skip
        worst = [max(p, default=0.0) for p in pairs]
        total += sum(worst) / len(worst)
    return total / layout.depth


def choose_trees(
    candidates: Sequence[Layout],
    dissimilarity: torch.Tensor,
    block_flops: Sequence[float],
    n: int,
) -> list[Layout]:
    """The lowest-dissimilarity tree under each of ``n`` FLOPs budgets, cheapest budget first.

    The budgets are evenly spaced strictly between hard sharing's block FLOPs and separate
    networks' (both are a study's baselines already); a tree already chosen is not chosen again.
    """

    def flops(layout: Layout) -> float:
        return sum(block_flops[d] * len(set(row)) for d, row in enumerate(layout.rows))

    n_tasks = candidates[0].num_tasks
    low, high = sum(block_flops), n_tasks * sum(block_flops)
    scored = sorted(
        (dissimilarity_score(c, dissimilarity), flops(c), i) for i, c in enumerate(candidates)
    )
    chosen: list[Layout] = []
    for k in range(1, n + 1):
        budget = low + (high - low) * k / (n + 1)
        for _, cost, i in scored:
            layout = candidates[i]
            if low < cost <= budget and cost < high and layout not in chosen:
                chosen.append(layout)
                break
    return chosen
