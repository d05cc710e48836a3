"""Branched (tree) networks: tasks share a trunk and split into branches at chosen depths."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, IntDistribution

from nas.core._layout import Layout
from search_spaces._base import Rows, SearchSpace, check_basics, check_layout

__all__ = ["BranchedSpace"]


def _closure(share: list[list[int]]) -> list[list[int]]:
    """Single-linkage closure: the largest ultrametric below ``share`` (max-min paths).

    After it, "tasks i and j share the first s blocks" is consistent for every triple, so the
    groups at each depth form a tree; an already consistent matrix is left unchanged.
    """
    n = len(share)
    s = [row[:] for row in share]
    for k in range(n):
        for i in range(n):
            for j in range(n):
                s[i][j] = max(s[i][j], min(s[i][k], s[k][j]))
    return s


@dataclass(frozen=True)
class BranchedSpace(SearchSpace):
    """For every task pair, the number of leading blocks they share, repaired into a tree.

    Parameters are ``shared_depth:{a}:{b}`` integers in ``[0, depth]``: 0 = separate from the
    first block, ``depth`` = shared to the heads. Every sample is valid after the closure.

    ``split_depths`` limits where a branch may split off (the branched-network papers split at
    stage boundaries): a pair then shares one of those depths of blocks, which makes the space
    small enough to enumerate. It must hold 0 and ``depth``, so both baselines stay inside.

    Example:
        >>> space = BranchedSpace(("a", "b", "c"), 3)
        >>> trial = optuna.trial.FixedTrial(
        ...     {"shared_depth:a:b": 2, "shared_depth:a:c": 1, "shared_depth:b:c": 0})
        >>> space.suggest(trial).rows
        ((0, 0, 0), (0, 0, 1), (0, 1, 2))
    """

    tasks: tuple[str, ...]
    depth: int
    split_depths: tuple[int, ...] | None = None  # None: a split after any block
    name = "branched"

    def __post_init__(self) -> None:
        object.__setattr__(self, "tasks", tuple(self.tasks))
        check_basics(self.tasks, self.depth)
        if self.split_depths is not None:
            given = self.split_depths
            if isinstance(given, (str, bytes)) or not hasattr(given, "__iter__"):
                raise ValueError(f"split_depths must be a list, e.g. [0, 2, 4], got {given!r}")
            depths = tuple(sorted(set(given)))
            if any(isinstance(d, bool) or not isinstance(d, int) for d in depths) or (
                not depths or depths[0] != 0 or depths[-1] != self.depth
            ):
                raise ValueError(
                    f"split_depths must be integers from 0 to {self.depth} that include both "
                    f"(0: separate networks, {self.depth}: hard sharing), got {list(given)}"
                )
            object.__setattr__(self, "split_depths", depths)

    def _depths(self) -> tuple[int, ...]:
        return self.split_depths or tuple(range(self.depth + 1))

    def _key(self, i: int, j: int) -> str:
        return f"shared_depth:{self.tasks[i]}:{self.tasks[j]}"

    def suggest(self, trial: optuna.trial.BaseTrial) -> Layout:
        """Sample pairwise shared depths, close them into a tree, return its Layout."""
        n = len(self.tasks)
        share = [[self.depth] * n for _ in range(n)]
        for i, j in combinations(range(n), 2):
            key = self._key(i, j)
            if self.split_depths is None:
                share[i][j] = trial.suggest_int(key, 0, self.depth)
            else:
                share[i][j] = int(trial.suggest_categorical(key, self.split_depths))
            share[j][i] = share[i][j]
        share = _closure(share)
        rows = []
        for d in range(self.depth):
            # Group label = the first task still sharing block d with this one.
            rows.append(tuple(next(i for i in range(n) if share[i][t] > d) for t in range(n)))
        return Layout(self.tasks, tuple(rows))

    def params(self, layout: Layout) -> dict[str, Any]:
        """The shared depth of every pair in a tree layout."""
        check_layout(self, layout)
        if not layout.is_tree():
            raise ValueError("the branched space holds only tree layouts (no skips, no merges)")
        out = {}
        for i, j in combinations(range(len(self.tasks)), 2):
            shared = 0
            while shared < layout.depth and layout.rows[shared][i] == layout.rows[shared][j]:
                shared += 1
            if shared not in self._depths():
                raise ValueError(
                    f"tasks {self.tasks[i]} and {self.tasks[j]} share {shared} blocks; this "
                    f"space splits only at depths {list(self._depths())}"
                )
            out[self._key(i, j)] = shared
        return out

    def distributions(self) -> dict[str, BaseDistribution]:
        """One shared depth per task pair: in ``[0, depth]``, or one of ``split_depths``."""
        n = len(self.tasks)
        dist: BaseDistribution = (
            IntDistribution(0, self.depth)
            if self.split_depths is None
            else CategoricalDistribution(self.split_depths)
        )
        return {self._key(i, j): dist for i, j in combinations(range(n), 2)}

    def instance_rows(self, layout: Layout, params: Mapping[str, Any]) -> Rows:
        """Each group runs the copy of its first task: a task alone always runs its own copy.

        So the independent baseline uses copy ``t`` for task ``t``, hard sharing copy 0, and
        a branch's weights are the ones its first task trains whenever it splits off there.
        """
        del params
        return tuple(
            tuple(row.index(c) if c is not None else None for c in row) for row in layout.rows
        )

    def options(self) -> dict[str, Any]:
        """``split_depths`` where it is limited."""
        return {} if self.split_depths is None else {"split_depths": list(self.split_depths)}
