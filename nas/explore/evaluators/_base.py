"""The evaluator seam: how a candidate layout is scored, behind one small protocol.

Full training is one evaluator; the confirm stage and cheaper scorers are others. An evaluator
never sees an Optuna trial: it gets the prepared problem and a candidate, reports progress
through a callback (which may raise to stop it), and returns validation metrics. Before a
search's first trial it is :meth:`~Evaluator.prepare`-d once with a :class:`Preparation`; an
evaluator that learns something once per study (a supernet) keeps it through the
:class:`StateKeeper` there, so a killed process resumes and every worker shares it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from torch import nn

from nas.core._layout import Layout
from nas.training._problem import Metrics, Problem

if TYPE_CHECKING:
    from nas.explore._config import SearchConfig
    from search_spaces import SearchSpace

__all__ = ["Candidate", "Evaluation", "Evaluator", "Preparation", "Progress", "StateKeeper"]

Checkpoint = dict[str, Any]


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


class StateKeeper(Protocol):
    """Where a study keeps what its evaluator learns once: a lock and the last checkpoint.

    One per study, in its artifact store: the first worker trains under the lock, the others
    wait and load; checkpoints are written atomically with a SHA-256, so a killed training
    resumes from the last one saved.
    """

    def hold(self) -> AbstractContextManager[None]:
        """Hold the study's state lock (one process trains, the others wait)."""
        ...

    def latest(self) -> Checkpoint | None:
        """The last saved checkpoint, or None before the first."""
        ...

    def save(self, checkpoint: Checkpoint) -> None:
        """Store ``checkpoint`` as the latest, atomically."""
        ...


@dataclass(frozen=True)
class Preparation:
    """What an evaluator is prepared with, once per search process before its first trial.

    Attributes:
        study_name: the search study's name (for messages).
        problem: the prepared problem.
        space: the study's search space.
        state: the study's state keeper; None when the storage has no artifact store.
        progress: whether to show progress bars.
        config: the study's configuration (seed, batch size, learning rate, ...), when known.
    """

    study_name: str
    problem: Problem
    space: SearchSpace
    state: StateKeeper | None
    progress: bool = True
    config: SearchConfig | None = None


@runtime_checkable
class Evaluator(Protocol):
    """Scores candidates of a prepared problem.

    Subclass it to inherit the no-op :meth:`prepare`.

    Example:
        >>> class Untrained(Evaluator):
        ...     def evaluate(self, problem, candidate, progress=None):
        ...         from nas.training._train import evaluate
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

    def prepare(self, context: Preparation) -> str | None:
        """Get ready to score (train or load what is shared); a line to print, or None.

        Called once per search process before its first trial; the default does nothing.
        """
        return None
