"""A backbone and evaluators defined outside nas/, named by import path in the tests."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from nas.evaluators import Candidate, Evaluation
from nas.problem import Problem
from nas.study.config import SearchConfig
from nas.train import evaluate


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


class UntrainedEvaluator:
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


class BrokenEvaluator:
    def evaluate(self, problem: Problem, candidate: Candidate, progress: object = None) -> None:
        raise RuntimeError("this evaluator always fails")


def broken(config: SearchConfig) -> BrokenEvaluator:
    return BrokenEvaluator()
