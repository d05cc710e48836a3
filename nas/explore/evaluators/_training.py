"""The full-training evaluator: train the candidate from scratch, score it on validation."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import torch

from nas.explore.evaluators._base import Candidate, Evaluation, Evaluator, Progress
from nas.training._problem import Problem
from nas.training._train import TrainConfig, TrainResult, train

if TYPE_CHECKING:
    from nas.explore._config import SearchConfig

__all__ = ["FullTraining"]


@dataclass(frozen=True)
class FullTraining(Evaluator):
    """Train every candidate from scratch for ``epochs`` (AdamW, one-cycle schedule).

    Seeded by the candidate, so on the CPU the same candidate gives the same result.
    """

    # How every candidate trains; its loss weighting and seed are the candidate's own.
    # ``score_from``: the first epoch reported to ``progress`` (earlier ones are not scored).
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=6))

    @classmethod
    def from_config(cls, config: SearchConfig, score_from: int = 1) -> FullTraining:
        """Full training as the study's options say (:meth:`SearchConfig.train_config`)."""
        return cls(config.train_config(score_from=score_from))

    @property
    def epochs(self) -> int:
        """Epochs each candidate trains for."""
        return self.train.epochs

    def evaluate(
        self, problem: Problem, candidate: Candidate, progress: Progress | None = None
    ) -> Evaluation:
        """Build, train and score ``candidate``; reports after every epoch."""
        torch.manual_seed(candidate.seed)
        net = problem.build(candidate.layout).to(problem.device)
        config = replace(self.train, loss_weighting=candidate.loss_weighting, seed=candidate.seed)

        def on_epoch(result: TrainResult) -> None:
            if progress is not None:
                progress(_evaluation(result))

        # Without a progress callback nobody reads per-epoch scores: skip them (confirm runs).
        watch = on_epoch if progress is not None else None
        result = train(net, problem.train, problem.val, problem.tasks, config, watch)
        return _evaluation(result, net)


def _evaluation(result: TrainResult, net: torch.nn.Module | None = None) -> Evaluation:
    return Evaluation(
        result.metrics, result.epochs, result.train_seconds, result.eval_seconds, network=net
    )
