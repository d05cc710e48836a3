"""Evaluators: how a candidate layout is scored. Chosen by name or ``package.module:function``.

An evaluator factory takes the study's :class:`~nas.explore._config.SearchConfig` and the study's
evaluator options (``--evaluator-option KEY=JSON``) as keywords, and returns an
:class:`Evaluator`; ``train`` (full training, the default), ``supernet`` (weights inherited
from one weight-sharing supernet per study) and ``table:FILE`` (answered from a ground-truth
table, :mod:`nas.explore.evaluators._table`) are built in. A search calls the evaluator's
``prepare(Preparation)`` once before its trials (a no-op unless overridden: the supernet
trains there, keeping its checkpoints through the :class:`StateKeeper` it is given).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nas.core._errors import UserError
from nas.core._plugins import Catalog
from nas.explore._config import pruning_warmup
from nas.explore.evaluators._base import (
    Candidate,
    Evaluation,
    Evaluator,
    Preparation,
    Progress,
    StateKeeper,
)
from nas.explore.evaluators._supernet import SupernetEvaluator
from nas.explore.evaluators._training import FullTraining

if TYPE_CHECKING:
    from nas.explore._config import SearchConfig

__all__ = [
    "EVALUATOR_CATALOG",
    "Candidate",
    "Evaluation",
    "Evaluator",
    "EvaluatorError",
    "FullTraining",
    "Preparation",
    "Progress",
    "StateKeeper",
    "SupernetEvaluator",
    "full_training",
    "make_evaluator",
    "register_evaluator",
    "supernet_evaluator",
]


class EvaluatorError(UserError, ValueError):
    """An unknown evaluator, or a factory that does not return one."""


EVALUATOR_CATALOG: Catalog[Evaluator] = Catalog("evaluator", None, EvaluatorError)


def register_evaluator(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: make an evaluator factory ``fn(config) -> Evaluator`` available by ``name``."""
    return EVALUATOR_CATALOG.register(name)


def full_training(config: SearchConfig) -> FullTraining:
    """Evaluator factory ``train``: full training with the study's epochs, batch size and lr.

    Validation is scored from the first epoch the pruner may judge: earlier scores would be
    computed (on a large validation split, not for free) only to be ignored.
    """
    return FullTraining.from_config(config, score_from=pruning_warmup(config))


def supernet_evaluator(
    config: SearchConfig, epochs: int | None = None, recalibration_images: int = 1024
) -> Any:
    """Evaluator factory ``supernet``: one weight-sharing supernet per study (training.supernet).

    Options: ``epochs``, the supernet's training epochs (default twice the study's epochs;
    ``--supernet-epochs N`` is short for ``--evaluator-option epochs=N``), and
    ``recalibration_images``, the training images that re-estimate a candidate's batch norm.
    Trained with the study's batch size, learning rate and backbone options; seeded by the
    study's seed.
    """
    for key, value in (("epochs", epochs), ("recalibration_images", recalibration_images)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise EvaluatorError(
                f"evaluator 'supernet': option {key!r} must be a positive integer, got {value!r}"
            )
    train = config.train_config(epochs=epochs or 2 * config.epochs)
    return SupernetEvaluator(train, recalibration_images=recalibration_images)


def make_evaluator(config: SearchConfig) -> Evaluator:
    """The evaluator ``config.evaluator`` names, built for ``config``.

    Raises:
        EvaluatorError: unknown name, or the factory returned no evaluator.
    """
    name = config.evaluator
    options = config.evaluator_options
    if name.startswith("table:"):  # a file, not a module: answered from a stored table
        from nas.explore.evaluators._table import table_evaluator

        return table_evaluator(config, name.partition(":")[2])
    made = EVALUATOR_CATALOG.make(name, options, config=config)
    if not isinstance(made, Evaluator):
        missing = [m for m in ("evaluate", "prepare") if not callable(getattr(made, m, None))]
        raise EvaluatorError(
            f"evaluator {name!r} returned {type(made).__name__}, which has no "
            f"{' or '.join(f'{m}()' for m in missing)}: subclass nas.explore.evaluators.Evaluator "
            "(it gives a no-op prepare)"
        )
    return made
