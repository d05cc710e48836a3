"""The full-training evaluator: train the candidate from scratch, score it on validation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from nas.explore.evaluators.base import Candidate, Evaluation, Evaluator, Progress
from nas.training.problem import Problem
from nas.training.train import TrainConfig, TrainResult, train

if TYPE_CHECKING:
    from nas.explore.config import SearchConfig

__all__ = ["FullTraining"]


@dataclass(frozen=True)
class FullTraining(Evaluator):
    """Train every candidate from scratch for ``epochs`` (AdamW, one-cycle schedule).

    Seeded by the candidate, so on the CPU the same candidate gives the same result.
    """

    epochs: int = 6
    batch_size: int = 64
    lr: float = 3e-3
    score_from: int = 1  # first epoch reported to ``progress``; earlier ones are not scored
    backbone_lr_mult: float = 1.0  # backbone lr = lr x this
    bn_mode: str = "train"  # backbone batch norm: train, or frozen (stored statistics)

    @classmethod
    def from_config(cls, config: SearchConfig, score_from: int = 1) -> FullTraining:
        """Full training at a study's epochs, batch size, learning rate and backbone options."""
        return cls(
            config.epochs,
            config.batch_size,
            float(config.lr),
            score_from=score_from,
            backbone_lr_mult=float(config.backbone_lr_mult),
            bn_mode=config.bn_mode,
        )

    def evaluate(
        self, problem: Problem, candidate: Candidate, progress: Progress | None = None
    ) -> Evaluation:
        """Build, train and score ``candidate``; reports after every epoch."""
        torch.manual_seed(candidate.seed)
        net = problem.build(candidate.layout).to(problem.device)
        config = TrainConfig(
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            loss_weighting=candidate.loss_weighting,
            seed=candidate.seed,
            score_from=self.score_from,
            backbone_lr_mult=self.backbone_lr_mult,
            bn_mode=self.bn_mode,  # type: ignore[arg-type]
        )

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
