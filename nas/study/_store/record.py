"""What a study and its trials store: the one place that names, writes, reads and versions it.

Everything lives in Optuna's own user attributes, so the stock Optuna CLI and optuna-dashboard
read it as it is. Study attributes hold JSON text; trial attributes JSON values.

Record versions: 1 (mtl-nas 0.1: no version key, backbones stored by their fields) and 2 (a
version key, backbones stored by name and options). Both are read; a newer one is refused.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from nas.core._errors import UserError

__all__ = [
    "BASELINE_KEY",
    "CONFIG_KEY",
    "CONFIRMED_KEY",
    "CONFIRM_OF_KEY",
    "CONFIRM_OPTIONS_KEY",
    "CONFIRM_SUFFIX",
    "INTERNAL_SUFFIXES",
    "PLAN_KEY",
    "PROTOCOL_KEY",
    "FINISHED",
    "MODEL_KEY",
    "RECORD_VERSION",
    "REPLACED_KEY",
    "TABLE_KEY",
    "TABLE_PLAN_KEY",
    "TRIVIAL_KEY",
    "VERSION_KEY",
    "RecordError",
    "StudyRecord",
    "TrialRecord",
    "is_internal",
    "refuse_stage",
    "write",
]

RECORD_VERSION = 2
VERSION_KEY = "mtlnas_record_version"
CONFIG_KEY = "mtlnas_config"  # SearchConfig JSON
BASELINE_KEY = "mtlnas_baseline"  # {"trial": n, "metrics": {task: primary}}
MODEL_KEY = "mtlnas_model"  # Problem.describe(): enough to rebuild any trial's network
CONFIRM_OF_KEY = "mtlnas_confirm_of"  # on a confirm study: the search study's name
CONFIRM_OPTIONS_KEY = "mtlnas_confirm_options"  # {"top": n, "seeds": n} given to the search
PLAN_KEY = "mtlnas_confirm_plan"  # on a confirm study: ConfirmPlan JSON
CONFIRMED_KEY = "mtlnas_confirmed"  # on a confirm study: the confirmed table, once computed
REPLACED_KEY = "mtlnas_replaced"  # on a confirm study: runs whose lost weights were retrained
TABLE_KEY = "mtlnas_table"  # on a tabulation study (nas.study._tabulate): true, stored first
TABLE_PLAN_KEY = "mtlnas_table_plan"  # on a tabulation study: its layouts and seeds
TRIVIAL_KEY = "mtlnas_trivial"  # {task: primary metric of its trivial predictor, validation}
PROTOCOL_KEY = "mtlnas_protocol_warning"  # a benchmark validating on its test split says so
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)  # count towards a study's target
# Sibling studies a search keeps beside itself in the same database (its confirm stage): not
# searches of their own, so not resumed, joined or listed as choices.
CONFIRM_SUFFIX = ":confirm"
INTERNAL_SUFFIXES = (CONFIRM_SUFFIX,)


def is_internal(name: str) -> bool:
    """True for the name of a study mtl-nas keeps beside a search (e.g. ``NAME:confirm``)."""
    return name.endswith(INTERNAL_SUFFIXES)


class RecordError(UserError, RuntimeError):
    """A study not made by mtl-nas, or made by a newer one."""


def refuse_stage(name: str, command: str) -> None:
    """Refuse ``name`` when it is a stage kept beside a search, naming the command to run.

    ``show``, ``export`` and the others read a search's answer through the search itself:
    a stage read as a study of its own would print or export one of its runs instead.

    Raises:
        RecordError: naming the search study and ``mtlnas COMMAND SEARCH``.
    """
    if is_internal(name):
        search = name.rsplit(":", 1)[0]
        raise RecordError(
            f"{name!r} is the confirm stage of study {search!r}, not a study of its own; "
            f"run: mtlnas {command} {shlex.quote(search)}"
        )


@dataclass(frozen=True)
class TrialRecord:
    """The facts mtl-nas stores on a trial; every field is optional (None when not written).

    Attributes:
        baseline: ``independent`` or ``hard_sharing`` for the two enqueued baselines.
        layout: the Layout's JSON form.
        summary: the Layout's one-line summary.
        params, flops, block_executions: the layout's cost (per sample).
        latency: the layout's batch-1 latency as a multiple of the independent networks'
            (measured once per study, :mod:`nas.study._latency`), when the study uses it.
        device, worker: where it ran (``host:pid``).
        numerics: what its floating-point results depend on besides the seed (torch build, CPU
            kernel capability and threads, or the GPU): runs that differ here differ in their
            last bits, and so in their figures.
        loss_weighting: how the task losses were weighted.
        metrics: every validation metric of every task.
        primary: each task's primary validation metric.
        beat_trivial: per task, whether that metric beat its trivial predictor (nas.data._health).
        delta_mtl: validation Δ_MTL against the study's baseline (a fraction).
        task_deltas: each task's term of that Δ_MTL (their mean is ``delta_mtl``).
        weights: artifact id of the stored state dict.
        weights_sha256: that file's SHA-256 (absent in studies written before 0.3).
        duplicate_of: the earlier trial whose result was reused.
        pruned_reason, fail_reason: why it did not complete.
        wall_seconds, train_seconds, eval_seconds, epochs: where the time went.
        role, finalist, seed: a confirm run's part (independent, hard_sharing, candidate),
            its finalist's index in the confirm plan, and its training seed.
    """

    baseline: str | None = None
    layout: dict[str, Any] | None = None
    summary: str | None = None
    params: int | None = None
    flops: int | None = None
    block_executions: int | None = None
    latency: float | None = None
    device: str | None = None
    worker: str | None = None
    numerics: str | None = None
    loss_weighting: str | None = None
    metrics: dict[str, dict[str, float]] | None = None
    primary: dict[str, float] | None = None
    beat_trivial: dict[str, bool] | None = None
    delta_mtl: float | None = None
    task_deltas: dict[str, float] | None = None
    weights: str | None = None
    weights_sha256: str | None = None
    duplicate_of: int | None = None
    pruned_reason: str | None = None
    fail_reason: str | None = None
    wall_seconds: float | None = None
    train_seconds: float | None = None
    eval_seconds: float | None = None
    epochs: int | None = None
    role: str | None = None
    finalist: int | None = None
    seed: int | None = None

    @classmethod
    def of(cls, trial: FrozenTrial) -> TrialRecord:
        """Read a trial's record (unknown attributes, e.g. a user's own, are ignored)."""
        attrs = trial.user_attrs
        return cls(**{f.name: attrs.get(f.name) for f in fields(cls)})

    @property
    def reason(self) -> str:
        """Why the trial was pruned or failed; empty when it completed."""
        return self.pruned_reason or self.fail_reason or ""


_FIELDS = frozenset(f.name for f in fields(TrialRecord))


def write(trial: optuna.trial.BaseTrial, **values: Any) -> None:
    """Store record fields on a running trial; an unknown field name is a bug, caught here."""
    for key, value in values.items():
        if key not in _FIELDS:
            raise KeyError(f"{key!r} is not a TrialRecord field")
        trial.set_user_attr(key, value)


class StudyRecord:
    """The study-level facts, always read fresh from the storage (never a cached copy).

    Args:
        study: an mtl-nas study.
    """

    def __init__(self, study: optuna.Study) -> None:
        self.study = study

    def _attrs(self) -> dict[str, Any]:
        return study_attrs(self.study)

    def get(self, key: str) -> Any:
        """A stored JSON value by key (one named in this module), or None."""
        raw = self._attrs().get(key)
        return None if raw is None else json.loads(raw)

    def set(self, key: str, value: Any, sort_keys: bool = False) -> None:
        """Store a JSON value under a key named in this module."""
        # Key order is kept (tasks stay in output order) except where it carries no meaning.
        self.study.set_user_attr(key, json.dumps(value, sort_keys=sort_keys))

    @property
    def version(self) -> int:
        """The record version the study was written with.

        Raises:
            RecordError: a newer mtl-nas wrote it.
        """
        version = int(self._attrs().get(VERSION_KEY, 1))
        if version > RECORD_VERSION:
            raise RecordError(
                f"study {self.study.study_name!r} was written by a newer mtl-nas (record "
                f"version {version}; this one reads up to {RECORD_VERSION}); upgrade mtl-nas"
            )
        return version

    def has_config(self) -> bool:
        """True once the configuration is stored (the last step of creating a study)."""
        return CONFIG_KEY in self._attrs()

    def half_created(self) -> bool:
        """True for a study with no configuration that holds nothing but its queued baselines.

        What a process killed while creating the study leaves behind (or an empty study): safe
        to remove, as it holds no result.
        """
        if set(self._attrs()) - {VERSION_KEY}:  # a configuration or anything else stored
            return False
        return all(
            t.state == TrialState.WAITING and "baseline" in t.user_attrs
            for t in self.study.get_trials(deepcopy=False)
        )

    def config(self) -> dict[str, Any]:
        """The stored configuration as a dict.

        Raises:
            RecordError: the study was not created by mtl-nas.
        """
        raw = self.get(CONFIG_KEY)
        name = self.study.study_name
        if raw is None and self.half_created():
            raise RecordError(
                f"study {name!r} was left half-created (its creation was interrupted); "
                f"create it again with: mtlnas search --name {shlex.quote(name)} and its options"
            )
        if raw is None:
            raise RecordError(f"study {name!r} was not created by mtl-nas (no config)")
        self.version  # noqa: B018  (refuses a newer record)
        return dict(raw)

    def set_config(self, config: Mapping[str, Any], first: bool = False) -> None:
        """Store the configuration; ``first`` also stamps the record version."""
        if first:
            self.study.set_user_attr(VERSION_KEY, RECORD_VERSION)
        self.set(CONFIG_KEY, dict(config), sort_keys=True)

    def baseline(self) -> dict[str, float] | None:
        """The independent baseline's primary metrics, or None before it finished."""
        raw = self.get(BASELINE_KEY)
        return None if raw is None else dict(raw["metrics"])

    def set_baseline(self, trial_number: int, primary: Mapping[str, float]) -> None:
        """Store the baseline once the independent trial has finished."""
        self.set(BASELINE_KEY, {"trial": trial_number, "metrics": dict(primary)})

    def model(self) -> dict[str, Any] | None:
        """The model description (:meth:`nas.training._problem.Problem.describe`), or None."""
        raw = self.get(MODEL_KEY)
        return None if raw is None else dict(raw)

    def set_model(self, description: Mapping[str, Any]) -> None:
        """Store the model description, once."""
        if MODEL_KEY not in self._attrs():
            self.set(MODEL_KEY, dict(description))


def study_attrs(study: optuna.Study) -> dict[str, Any]:
    """The study's user attributes, read from the storage rather than a cached copy."""
    return dict(study._storage.get_study_user_attrs(study._study_id))
