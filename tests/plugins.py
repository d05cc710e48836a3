"""Plug-ins defined outside nas/ and named by import path in the tests.

A backbone, evaluators, a strategy, a search space, objectives with a budget, a loss weighting,
and a benchmark of two planted task pairs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import optuna
import torch
from torch import nn

from nas.core import Layout
from nas.data import Benchmark, Split, Task
from nas.explore import Objectives, SearchConfig
from nas.explore.evaluators import Candidate, Evaluation, Evaluator, FullTraining
from nas.explore.strategies import Strategy
from nas.model.backbones import BackboneSpec
from nas.model.combine import Combiner
from nas.training import Problem, evaluate
from search_spaces import SearchSpace


class TinyBlock(nn.Module):
    """A 3x3 conv with a residual, for a backbone no built-in has."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + torch.relu(self.conv(x))


class TinyBackbone:
    """Depth-3 stack of same-width residual convs: skipping is the identity."""

    def __init__(self, channels: int, depth: int) -> None:
        self.channels, self._depth = channels, depth

    @property
    def depth(self) -> int:
        return self._depth

    def block(self, d: int) -> nn.Module:
        return TinyBlock(self.channels)

    def skip(self, d: int) -> nn.Module | None:
        return None


def tiny_backbone(input_shape: tuple[int, ...], depth: int = 3) -> TinyBackbone:
    return TinyBackbone(input_shape[0], depth)


class UntrainedEvaluator(Evaluator):
    """Scores the freshly initialised network: no training, so a study takes seconds."""

    calls: ClassVar[list[Candidate]] = []

    def evaluate(
        self, problem: Problem, candidate: Candidate, progress: object = None
    ) -> Evaluation:
        UntrainedEvaluator.calls.append(candidate)
        torch.manual_seed(candidate.seed)
        net = problem.build(candidate.layout).to(problem.device)
        return Evaluation(evaluate(net, problem.val, problem.tasks), network=net)


def untrained(config: SearchConfig) -> UntrainedEvaluator:
    return UntrainedEvaluator()


class BrokenEvaluator(Evaluator):
    def evaluate(
        self, problem: Problem, candidate: Candidate, progress: object = None
    ) -> Evaluation:
        raise RuntimeError("this evaluator always fails")


def broken(config: SearchConfig) -> BrokenEvaluator:
    return BrokenEvaluator()


class FixedLayouts(Strategy):
    """Queues the layouts that share the first ``shared`` blocks and then split per task."""

    def __init__(self, shared: list[int]) -> None:
        self.shared = shared

    def layouts(self, space: SearchSpace, config: SearchConfig) -> list[Layout]:
        out = []
        for k in self.shared:
            rows = [[0] * len(space.tasks)] * k
            rows += [list(range(len(space.tasks)))] * (space.depth - k)
            out.append(Layout(space.tasks, tuple(tuple(r) for r in rows)))
        return [layout for layout in out if space.reaches(layout)]  # e.g. not in adashare


def fixed_layouts(shared: list[int] | None = None) -> FixedLayouts:
    """Strategy factory ``tests.plugins:fixed_layouts``; option ``shared`` (JSON list)."""
    return FixedLayouts(shared if shared is not None else [1, 2])


class SplitOnce(SearchSpace):
    """All tasks share the first ``split`` blocks, then each runs its own: one parameter."""

    name = "split-once"

    def __init__(self, tasks: tuple[str, ...], depth: int) -> None:
        self.tasks, self.depth = tasks, depth

    def _layout(self, split: int) -> Layout:
        shared = [[0] * len(self.tasks)] * split
        own = [list(range(len(self.tasks)))] * (self.depth - split)
        return Layout(self.tasks, tuple(tuple(r) for r in shared + own))

    def suggest(self, trial: optuna.trial.BaseTrial) -> Layout:
        return self._layout(trial.suggest_int("split", 0, self.depth))

    def params(self, layout: Layout) -> dict[str, Any]:
        for split in range(self.depth + 1):
            if self._layout(split) == layout:
                return {"split": split}
        raise ValueError(f"{layout.summary()} does not split once")

    def options(self) -> dict[str, Any]:
        return {}

    def distributions(self) -> dict[str, optuna.distributions.BaseDistribution]:
        return {"split": optuna.distributions.IntDistribution(0, self.depth)}


def within_params(max_params: float) -> Objectives:
    """Objectives ``tests.plugins:within_params``: Δ_MTL of layouts within a parameter budget."""
    return Objectives(max_cost={"params": max_params})


def short_training(config: SearchConfig, epochs: int = 1) -> FullTraining:
    """Evaluator ``tests.plugins:short_training``: full training for its own ``epochs`` option."""
    return FullTraining(config.train_config(epochs=epochs))


def pairs(size: str = "default", seed: int = 0) -> Benchmark:
    """Four tasks in two planted pairs: ``a1``, ``a2`` read features 0-3, ``b1``, ``b2`` 4-7.

    Inputs are 16 Gaussian features (the last 8 noise); each task is a 4-way argmax of its own
    random projections of its pair's features, so the tasks of a pair need the same features
    and the pairs nothing in common: task affinity should recover the grouping.
    """
    n = 300 if size == "tiny" else 1200
    gen = torch.Generator().manual_seed(seed)
    proj = {t: torch.randn(4, 4, generator=gen) for t in ("a1", "a2", "b1", "b2")}

    def split(n: int) -> Split:
        x = torch.randn(n, 16, generator=gen)
        targets = {t: (x[:, :4] if t[0] == "a" else x[:, 4:8]) @ w for t, w in proj.items()}
        return Split(x, {t: y.argmax(dim=1) for t, y in targets.items()})

    tasks = tuple(Task(t, "classification", 4) for t in proj)
    return Benchmark("pairs", (16,), tasks, split(n), split(n // 4), split(n // 4),
                     BackboneSpec("mlp", {"widths": (32, 32, 32)}))  # fmt: skip


class FirstTaskTwice(Combiner):
    """Loss weighting ``tests.plugins:FirstTaskTwice``: the first task counts twice."""

    def combine(self, losses: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """2 x the first task's loss plus the others'."""
        first, *rest = self.tasks
        return 2 * losses[first] + sum((losses[t] for t in rest), torch.zeros(()))


def not_a_combiner(tasks: list[str]) -> object:
    """A loss weighting factory that returns the wrong thing."""
    return tasks
