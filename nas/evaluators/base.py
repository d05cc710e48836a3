"""The evaluator seam: how a candidate layout is scored, behind one small protocol.

Full training is one evaluator; the confirm stage and cheaper scorers are others. An evaluator
never sees an Optuna trial: it gets the prepared problem and a candidate, reports progress
through a callback (which may raise to stop it), and returns validation metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from torch import nn

from nas.layout import Layout
from nas.problem import Metrics, Problem

__all__ = ["Candidate", "Evaluation", "Evaluator", "Progress"]


@dataclass(frozen=True)
class Candidate:
    """What is scored: a layout, how its task losses are weighted, and the seed it runs with."""

    layout: Layout
    loss_weighting: str = "equal"  # equal, or uncertainty (Kendall et al. 2018)
    seed: int = 0  # initial weights and batch order
    # Which copy of each block each task runs, where the space has several (a supernet needs
    # it; the Layout renumbers copies canonically). None: the Layout's own numbers.
    instances: tuple[tuple[int | None, ...], ...] | None = None


@dataclass(frozen=True)
class Evaluation:
    """A candidate's validation metrics so far (or final), and where the time went.

    Attributes:
        metrics: every metric of every task on the validation split.
        epochs: training epochs run (0 for an evaluator that does not train).
        train_seconds: time spent training.
        eval_seconds: time spent scoring.
        network: the scored network, whose weights a study may keep; None when there is none.
    """

    metrics: Metrics
    epochs: int = 0
    train_seconds: float = 0.0
    eval_seconds: float = 0.0
    network: nn.Module | None = None


Progress = Callable[[Evaluation], None]


@runtime_checkable
class Evaluator(Protocol):
    """Scores candidates of a prepared problem.

    Example:
        >>> class Untrained:
        ...     def evaluate(self, problem, candidate, progress=None):
        ...         from nas.train import evaluate
        ...         net = problem.build(candidate.layout).to(problem.device)
        ...         return Evaluation(evaluate(net, problem.val, problem.tasks), network=net)
        >>> isinstance(Untrained(), Evaluator)
        True
    """

    def evaluate(
        self, problem: Problem, candidate: Candidate, progress: Progress | None = None
    ) -> Evaluation:
        """Score ``candidate`` on the validation split; ``progress`` may raise to stop early."""
        ...
