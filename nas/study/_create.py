"""Create a study or open an existing one, with its sampler and pruner rebuilt from the record.

    study, config = create_or_resume(storage, "my-study", SearchConfig(), given={}, space=space)

A study stores its configuration, so a resume needs only its name. The first two trials of
every study are the independent and the hard-sharing layouts: it carries its own baselines.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from typing import Any

import optuna

from nas.core._errors import UserError
from nas.explore._config import SearchConfig, conflicts, pruning_warmup
from nas.explore.strategies import make_strategy
from nas.study._baseline import enqueue_baselines
from nas.study._store.gate import TrialGate
from nas.study._store.joining import create_or_join, study_exists, wait_ready
from nas.study._store.record import CONFIG_KEY, FINISHED, StudyRecord
from nas.study._store.storage import load_study
from nas.training._problem import Problem
from search_spaces import SearchSpace

__all__ = [
    "ConfigConflict",
    "check_same_tasks",
    "create_or_resume",
    "finished",
    "make_pruner",
    "make_sampler",
    "study_config",
    "study_exists",
]

_log = logging.getLogger(__name__)


class ConfigConflict(UserError, ValueError):
    """Options given for an existing study differ from its stored configuration."""


def study_config(study: optuna.Study) -> SearchConfig:
    """The configuration stored in ``study``; RecordError if it was not made by mtl-nas."""
    return SearchConfig.from_dict(StudyRecord(study).config())


def finished(study: optuna.Study) -> int:
    """Trials that count towards the target: complete or pruned."""
    return len(study.get_trials(deepcopy=False, states=FINISHED))


def make_sampler(
    config: SearchConfig, draw: int = 0, space: SearchSpace | None = None
) -> optuna.samplers.BaseSampler:
    """The configured strategy's sampler, seeded with the study's seed plus ``draw``.

    With ``space``, through :meth:`~nas.explore.strategies.Strategy.sampler_for` (a strategy that
    models layouts needs it); the runner passes it for every trial it asks for.

    The runner builds one per trial with ``draw`` = the trial count at that moment: a resumed
    study does not replay the random start-up draws it already made, and workers that start
    together (each under the study's gate, so each sees a different count) draw differently.
    """
    strategy = make_strategy(config.strategy, config.strategy_options)
    if space is None:
        return strategy.sampler(config.seed + draw)
    return strategy.sampler_for(space, config.seed + draw)


def make_pruner(config: SearchConfig) -> optuna.pruners.BasePruner:
    """Pruning for single-objective studies (Optuna's pruning API is single-objective).

    The default stops only hopeless layouts: after four finished trials, a layout whose Δ_MTL
    at an epoch is in the bottom quarter of earlier trials at that epoch (``percentile``; the
    stricter ``median`` stops the bottom half). Per-epoch Δ_MTL is noisy and tens of trials are
    few, so a stricter rule throws good layouts away; a rank rule needs no brackets to fill
    (Hyperband does). The first half of training is never judged: early epochs rank layouts
    poorly (shared trunks start faster, separate branches catch up later).
    """
    if config.pruner == "none" or config.multi_objective:
        return optuna.pruners.NopPruner()
    # Optuna's percentile is the share of trials *kept*: 75 stops the bottom quarter.
    percentile = 50.0 if config.pruner == "median" else 75.0
    return optuna.pruners.PercentilePruner(
        percentile, n_startup_trials=4, n_warmup_steps=pruning_warmup(config)
    )


def check_same_tasks(study: optuna.Study, problem: Problem) -> None:
    """Refuse a study whose benchmark now has other tasks than when the study was made.

    Raises:
        ConfigConflict: naming both task lists.
    """
    model = StudyRecord(study).model()
    if model is None:
        return
    stored = [t["name"] for t in model["tasks"]]
    now = [t.name for t in problem.tasks]
    if stored != now:
        raise ConfigConflict(
            f"study {study.study_name!r} was made when its benchmark had the tasks {stored}; "
            f"it now has {now}: resume it with the mtl-nas version that made it, or start a "
            "new study (--name)"
        )


def create_or_resume(
    storage: optuna.storages.BaseStorage,
    name: str,
    config: SearchConfig | None,
    given: Mapping[str, Any],
    space: SearchSpace | None = None,
    storage_url: str | None = None,
) -> tuple[optuna.Study, SearchConfig]:
    """Create the study ``name`` with ``config``, or load it and check ``given`` options.

    ``config=None`` means resume: the study must exist. ``given`` holds the options the user
    set explicitly; on an existing study any that differ from the stored ones are refused,
    except ``n_trials``, which sets a new target (never below the trials already finished).
    With ``storage_url``, creation holds the study's gate, so a study found without its
    configuration under the gate was left half-created by a killed process: a search
    (``config`` given) removes and creates it again, saying so.

    Raises:
        ConfigConflict: names every conflicting key with both values.
        StorageError: resuming a study that does not exist.
        RecordError: a half-created study on resume, or a study not made by mtl-nas.
    """
    with TrialGate(storage_url, name) if storage_url else contextlib.nullcontext():
        study, stored = _open(storage, name, config, space, waited=storage_url is not None)
    _check_given(study, stored, given)
    if "n_trials" in given and given["n_trials"] != stored.n_trials:
        stored = stored.replace(n_trials=given["n_trials"])
        StudyRecord(study).set_config(stored.to_dict())
    study = optuna.load_study(
        study_name=name,
        storage=storage,
        sampler=make_sampler(stored, len(study.get_trials(deepcopy=False)), space),
        pruner=make_pruner(stored),
    )
    return study, stored


def _open(
    storage: optuna.storages.BaseStorage,
    name: str,
    config: SearchConfig | None,
    space: SearchSpace | None,
    waited: bool,
) -> tuple[optuna.Study, SearchConfig]:
    if config is not None and space is None:
        raise ValueError("creating a study needs its search space")
    if config is not None and space is None:
        raise ValueError("creating a study needs its search space")
    if config is None or space is None:
        study = load_study(storage, name)  # resume: it must exist (raises, listing the names)
        created = False
    else:
        study, created = _create(storage, name, config, space)
    if created:
        assert config is not None
        return study, config
    record = StudyRecord(study)
    if not waited:  # no gate: give a creator racing us a moment to store the configuration
        wait_ready(study, CONFIG_KEY, 10.0)
    if not record.has_config() and record.half_created() and config is not None:
        assert space is not None
        optuna.delete_study(study_name=name, storage=storage)
        _log.warning(
            f"study {name!r} was left half-created by an interrupted search (no configuration "
            "stored); removed it and created it again"
        )
        study, _ = _create(storage, name, config, space)  # joined if a racer recreated it
    return study, study_config(study)


def _check_given(study: optuna.Study, stored: SearchConfig, given: Mapping[str, Any]) -> None:
    name = study.study_name
    bad = conflicts(stored, given)
    if bad:
        current = stored.to_dict()
        pairs = ", ".join(f"{k}: stored {current[k]!r}, given {given[k]!r}" for k in bad)
        raise ConfigConflict(
            f"study {name!r} exists with another configuration ({pairs}); "
            "drop those options to resume it, or choose a new --name"
        )
    target, done = given.get("n_trials"), finished(study)
    if target is not None and target < done:
        raise ConfigConflict(
            f"study {name!r} already has {done} finished trials; --n-trials {target} would "
            f"set its target below that; give at least {done}, or drop --n-trials"
        )
    if target is not None and target < stored.n_trials:
        _log.info(f"study {name!r}: target lowered from {stored.n_trials} to {target} trials")


def _create(
    storage: optuna.storages.BaseStorage,
    name: str,
    config: SearchConfig,
    space: SearchSpace,
) -> tuple[optuna.Study, bool]:
    """Create the study (baselines queued, configuration stored last), or load the one there.

    Of several workers starting at the same moment exactly one creates the study
    (:func:`~nas.study._store.joining.create_or_join`), so the baselines are enqueued once.
    """

    def make() -> optuna.Study:
        return optuna.create_study(
            storage=storage,
            study_name=name,
            directions=config.directions,  # type: ignore[arg-type]
            sampler=make_sampler(config, 0, space),
            pruner=make_pruner(config),
        )

    def fill(study: optuna.Study) -> None:
        study.set_metric_names(config.metric_names)
        enqueue_baselines(study, space, config)
        StudyRecord(study).set_config(config.to_dict(), first=True)  # last: joiners wait for it

    return create_or_join(storage, name, make, fill)
