"""Create a study or open an existing one, with its sampler and pruner rebuilt from the record.

    study, config = create_or_resume(storage, "my-study", SearchConfig(), given={}, space=space)

A study stores its configuration, so a resume needs only its name. The first two trials of
every study are the independent and the hard-sharing layouts: it carries its own baselines.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import optuna
import torch

from nas.backbones.registry import BackboneSpec
from nas.benchmark import load_benchmark
from nas.errors import UserError
from nas.layout import Layout
from nas.problem import Problem
from nas.study.config import SearchConfig, conflicts
from nas.study.record import FINISHED, StudyRecord
from nas.study.storage import load_study
from search_spaces import SearchSpace, make_space

__all__ = [
    "ConfigConflict",
    "baseline_layouts",
    "create_or_resume",
    "finished",
    "make_pruner",
    "make_sampler",
    "prepare",
    "pruning_warmup",
    "study_config",
    "study_exists",
]


class ConfigConflict(UserError, ValueError):
    """Options given for an existing study differ from its stored configuration."""


def study_config(study: optuna.Study) -> SearchConfig:
    """The configuration stored in ``study``; RecordError if it was not made by mtl-nas."""
    return SearchConfig.from_dict(StudyRecord(study).config())


def finished(study: optuna.Study) -> int:
    """Trials that count towards the target: complete or pruned."""
    return len(study.get_trials(deepcopy=False, states=FINISHED))


def make_sampler(config: SearchConfig, n_finished: int = 0) -> optuna.samplers.BaseSampler:
    """The configured sampler.

    Its seed moves with the finished count, so a resumed study does not replay the random
    start-up draws it already made.
    """
    seed = config.seed + n_finished
    if config.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if config.sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=8)
    # Ten start-up trials (the two enqueued baselines among them) before TPE models anything:
    # per-trial Δ_MTL is noisy, and a model fitted to fewer points mostly follows the noise.
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=10, multivariate=True)


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


def pruning_warmup(config: SearchConfig) -> int:
    """The first epoch the pruner judges (the last epoch when nothing is pruned)."""
    if config.pruner == "none" or config.multi_objective:
        return config.epochs
    return min(config.epochs, config.epochs // 2 + 1)


def prepare(config: SearchConfig, device: torch.device) -> tuple[Problem, SearchSpace]:
    """Load the benchmark, resolve the backbone once, and build the search space."""
    bench = load_benchmark(config.benchmark, size=config.size, seed=config.seed, root=config.data)
    spec = None  # the benchmark's own suggestion
    if config.backbone:
        spec = BackboneSpec(config.backbone, config.backbone_options)
    elif config.backbone_options:  # options alone adjust the benchmark's suggestion
        suggested = bench.backbone_spec()
        spec = BackboneSpec(suggested.name, {**suggested.options, **config.backbone_options})
    problem = Problem.prepare(bench, spec, device)
    space = make_space(config.space, bench.task_names, problem.backbone.depth, config.space_options)
    return problem, space


def study_exists(storage: optuna.storages.BaseStorage, name: str) -> bool:
    """True when the storage holds a study called ``name``."""
    return name in {s.study_name for s in optuna.get_all_study_summaries(storage)}


def baseline_layouts(space: SearchSpace) -> dict[str, Layout]:
    """The two layouts every study starts with."""
    return {
        "independent": Layout.independent(space.tasks, space.depth),
        "hard_sharing": Layout.hard_sharing(space.tasks, space.depth),
    }


def _enqueue_baselines(study: optuna.Study, space: SearchSpace, config: SearchConfig) -> None:
    for kind, layout in baseline_layouts(space).items():
        try:
            params = space.params(layout)
        except ValueError:
            params = {}  # not reachable in this space: the objective builds it from the attr
        if config.loss_weighting == "search":
            params["loss_weighting"] = "equal"
        # skip_if_exists: a re-run of the same creation never doubles a baseline.
        study.enqueue_trial(
            params,
            user_attrs={"baseline": kind, "layout": layout.to_dict()},
            skip_if_exists=True,
        )


def create_or_resume(
    storage: optuna.storages.BaseStorage,
    name: str,
    config: SearchConfig | None,
    given: Mapping[str, Any],
    space: SearchSpace | None = None,
) -> tuple[optuna.Study, SearchConfig]:
    """Create the study ``name`` with ``config``, or load it and check ``given`` options.

    ``config=None`` means resume: the study must exist. ``given`` holds the options the user
    set explicitly; on an existing study any that differ from the stored ones are refused,
    except ``n_trials``, which sets a new target.

    Raises:
        ConfigConflict: names every conflicting key with both values.
        StorageError: resuming a study that does not exist.
    """
    if not study_exists(storage, name):
        if config is None:
            load_study(storage, name)  # raises, listing the stored names
        elif space is None:
            raise ValueError("creating a study needs its search space")
        else:
            study = _create(storage, name, config, space)
            if study is not None:
                return study, config
            # another worker created it a moment ago: join it below
    study = load_study(storage, name)
    stored = _wait_for_config(study)
    bad = conflicts(stored, given)
    if bad:
        current = stored.to_dict()
        pairs = ", ".join(f"{k}: stored {current[k]!r}, given {given[k]!r}" for k in bad)
        raise ConfigConflict(
            f"study {name!r} exists with another configuration ({pairs}); "
            "drop those options to resume it, or choose a new --name"
        )
    if "n_trials" in given and given["n_trials"] != stored.n_trials:
        stored = stored.replace(n_trials=given["n_trials"])
        StudyRecord(study).set_config(stored.to_dict())
    n = finished(study)
    study = optuna.load_study(
        study_name=name,
        storage=storage,
        sampler=make_sampler(stored, n),
        pruner=make_pruner(stored),
    )
    return study, stored


def _create(
    storage: optuna.storages.BaseStorage,
    name: str,
    config: SearchConfig,
    space: SearchSpace,
) -> optuna.Study | None:
    """Create the study, or return None when another process created it first.

    The database's unique study name makes creation atomic: of several workers starting at
    the same moment exactly one creates the study, so the baselines are enqueued once.
    """
    try:
        study = optuna.create_study(
            storage=storage,
            study_name=name,
            directions=config.directions,  # type: ignore[arg-type]
            sampler=make_sampler(config),
            pruner=make_pruner(config),
        )
    except optuna.exceptions.DuplicatedStudyError:
        return None
    study.set_metric_names(config.metric_names)
    _enqueue_baselines(study, space, config)
    StudyRecord(study).set_config(config.to_dict(), first=True)  # last: joiners wait for it
    return study


def _wait_for_config(study: optuna.Study, timeout: float = 60.0) -> SearchConfig:
    # A worker that lost the race to create the study waits for the winner to store the
    # configuration (written right after the baselines are enqueued).
    deadline = time.monotonic() + timeout
    record = StudyRecord(study)
    while not record.has_config() and time.monotonic() < deadline:
        time.sleep(0.2)
    return study_config(study)
