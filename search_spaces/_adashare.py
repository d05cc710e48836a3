"""AdaShare-style modular networks: each task selects or skips each block of a shared backbone."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution

from nas.core._layout import Layout
from search_spaces._base import Rows, SearchSpace, check_basics, check_layout

__all__ = ["SKIP", "AdaShareSpace"]

SKIP = -1  # the categorical choice meaning "skip this block"


@dataclass(frozen=True)
class AdaShareSpace(SearchSpace):
    """Per task and depth, skip the block or run one of ``instances`` copies of it.

    With ``instances=1`` this is AdaShare's select-or-skip policy (Sun et al. 2020); more
    instances give a wider modular pool. Tasks share a block call wherever their paths agree.
    Parameters are ``block:{task}:{depth}`` categoricals over ``[-1, 0, ..., instances-1]``
    (-1 = skip); the first ``always_run`` depths cannot be skipped, like AdaShare's stem, and
    carry no parameter at all when ``instances=1``.

    Example:
        >>> space = AdaShareSpace(("a", "b"), 2)
        >>> trial = optuna.trial.FixedTrial({"block:a:1": 0, "block:b:1": -1})
        >>> space.suggest(trial).rows
        ((0, 0), (0, None))
    """

    tasks: tuple[str, ...]
    depth: int
    instances: int = 1  # block copies per depth a task may choose from
    always_run: int = 1  # leading depths every task runs

    name = "adashare"

    def __post_init__(self) -> None:
        object.__setattr__(self, "tasks", tuple(self.tasks))
        check_basics(self.tasks, self.depth)
        if not isinstance(self.instances, int) or self.instances < 1:
            raise ValueError(f"instances must be a positive int, got {self.instances!r}")
        if not isinstance(self.always_run, int) or not 0 <= self.always_run <= self.depth:
            raise ValueError(f"always_run must be an int in [0, {self.depth}]")

    def _choices(self, d: int) -> list[int]:
        run = list(range(self.instances))
        return run if d < self.always_run else [SKIP, *run]

    def suggest(self, trial: optuna.trial.BaseTrial) -> Layout:
        """Sample one choice per task and depth."""
        rows = []
        for d in range(self.depth):
            choices = self._choices(d)
            row = []
            for task in self.tasks:
                c = choices[0]
                if len(choices) > 1:
                    c = trial.suggest_categorical(f"block:{task}:{d}", choices)
                row.append(None if c == SKIP else c)
            rows.append(tuple(row))
        return Layout(self.tasks, tuple(rows))

    def cheapest(self) -> Layout:
        """Every task runs the first copy of the unskippable depths and skips all the rest."""
        shared, skipped = (0,) * len(self.tasks), (None,) * len(self.tasks)
        rows = tuple(shared if d < self.always_run else skipped for d in range(self.depth))
        return Layout(self.tasks, rows)

    def params(self, layout: Layout) -> dict[str, Any]:
        """The choices of ``layout`` (canonical instance numbers)."""
        check_layout(self, layout)
        out = {}
        for d, row in enumerate(layout.rows):
            choices = self._choices(d)
            for task, c in zip(self.tasks, row, strict=True):
                value = SKIP if c is None else c
                if value not in choices:
                    what = "skip" if c is None else f"use instance {c}"
                    raise ValueError(
                        f"task {task!r}, depth {d}: cannot {what} in this space"
                        f" (instances={self.instances}, always_run={self.always_run})"
                    )
                if len(choices) > 1:
                    out[f"block:{task}:{d}"] = value
        return out

    def distributions(self) -> dict[str, BaseDistribution]:
        """One categorical per task and depth that has a choice."""
        return {
            f"block:{task}:{d}": CategoricalDistribution(self._choices(d))
            for d in range(self.depth)
            for task in self.tasks
            if len(self._choices(d)) > 1
        }

    def pool(self) -> list[int]:
        """The space's copies, or one per task where the independent baseline needs more."""
        return [max(self.instances, len(self.tasks))] * self.depth

    def instance_rows(self, layout: Layout, params: Mapping[str, Any]) -> Rows:
        """The copy each task chose (the trial's parameters), not the canonical renumbering."""
        if not all(k in params for k in self.distributions()):  # a baseline outside the space
            return layout.rows
        rows = []
        for d in range(self.depth):
            choices = self._choices(d)
            row = []
            for task in self.tasks:
                c = params[f"block:{task}:{d}"] if len(choices) > 1 else choices[0]
                row.append(None if c == SKIP else int(c))
            rows.append(tuple(row))
        return tuple(rows)

    def options(self) -> dict[str, Any]:
        """The pool size and the number of unskippable leading depths."""
        return {"instances": self.instances, "always_run": self.always_run}
