"""Tabulation: train every layout of a space with several seeds, as a resumable study.

The runs are the trials of an ordinary Optuna study (enqueued with their layout and seed), so a
tabulation has what a search has: heartbeats and retries of killed runs, ``mtlnas tabulate``
again to resume, and any number of workers on one database (a fleet on PostgreSQL). When every
run is complete, the table is computed from the trials and written with :meth:`Table.save`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import optuna

from nas.core._errors import UserError
from nas.core._layout import Layout
from nas.explore._config import SearchConfig, conflicts
from nas.explore._tables import Table, build_entries
from nas.explore.evaluators import Evaluation, FullTraining
from nas.explore.strategies import Grid
from nas.study._planned import (
    PlannedObjective,
    PlannedRun,
    RunPlan,
    open_planned,
    run_planned,
)
from nas.study._roles import Role
from nas.study._store.record import CONFIG_KEY, TABLE_KEY, TABLE_PLAN_KEY, StudyRecord
from nas.training._problem import Problem
from nas.training._train import evaluate
from search_spaces import SearchSpace

__all__ = [
    "DEFAULT_SEEDS",
    "RUN_KEY",
    "TableRun",
    "TableStudyError",
    "layouts_of",
    "open_table_study",
    "plan_of",
    "run_tabulate",
    "table_of",
]

DEFAULT_SEEDS = 3  # the fewest that give a layout's spread
RUN_KEY = "table_run"  # on each complete trial: its curve, metrics and training time


class TableStudyError(UserError, RuntimeError):
    """A tabulation that cannot go on: another kind of study, or other options than stored."""


def layouts_of(space: SearchSpace, config: SearchConfig) -> list[Layout]:
    """Every distinct layout of ``space``, the independent networks first, hard sharing second."""
    tasks, depth = space.tasks, space.depth
    first = [Layout.independent(tasks, depth), Layout.hard_sharing(tasks, depth)]
    rest = sorted(
        (lay for lay in Grid().layouts(space, config) if lay not in first),
        key=lambda lay: lay.summary(),
    )
    return first + rest


def _plan(layouts: Sequence[Layout], seeds: Sequence[int]) -> RunPlan:
    # Seed by seed: a table stopped early has whole seeds, and every Δ its same-seed baseline.
    roles: tuple[Role, ...] = ("independent", "hard_sharing")  # layouts_of puts them first
    return RunPlan(
        "entry",
        tuple(
            PlannedRun(i, s, lay, role=roles[i] if i < len(roles) else "candidate")
            for s in seeds
            for i, lay in enumerate(layouts)
        ),
        "table run",
    )


def plan_of(stored: Mapping[str, Any]) -> RunPlan:
    """The runs of a stored tabulation plan."""
    return _plan([Layout.from_dict(d) for d in stored["layouts"]], stored["seeds"])


def open_table_study(
    storage: optuna.storages.BaseStorage,
    name: str,
    config: SearchConfig,
    given: Mapping[str, Any],
    space: SearchSpace,
    problem: Problem,
    seeds: int | None,
) -> tuple[optuna.Study, dict[str, Any]]:
    """The tabulation study ``name``, created with its plan and queued runs on first use.

    Raises:
        TableStudyError: ``name`` is a search, or options differ from the stored ones.
    """

    def plan() -> tuple[RunPlan, dict[str, Any]]:  # first: a space it cannot list creates nothing
        layouts = layouts_of(space, config)
        seed_list = list(range(config.seed, config.seed + (seeds or DEFAULT_SEEDS)))
        stored = {"layouts": [lay.to_dict() for lay in layouts], "seeds": seed_list}
        return _plan(layouts, seed_list), stored

    def describe(study: optuna.Study) -> None:
        rec = StudyRecord(study)
        rec.set(TABLE_KEY, True)  # first: a joiner knows a tabulation from a search
        rec.set_config(config.to_dict(), first=True)
        rec.set_model(problem.describe())
        study.set_metric_names(["train_seconds"])

    def refuse(attrs: Mapping[str, Any]) -> Exception | None:
        if CONFIG_KEY in attrs and TABLE_KEY not in attrs:
            return TableStudyError(
                f"study {name!r} is not a tabulation (a search or a confirm stage); "
                "choose another --name"
            )
        return None

    study, stored, created = open_planned(
        storage, name, "minimize", TABLE_PLAN_KEY, describe, plan, refuse
    )
    if stored is None:
        raise TableStudyError(f"tabulation {name!r} has no plan; delete it to start over")
    if created:
        return study, stored
    rec = StudyRecord(study)
    config_stored = SearchConfig.from_dict(rec.config() or {})
    clash = [k for k in conflicts(config_stored, given) if k != "n_trials"]
    if clash or (seeds is not None and seeds != len(stored["seeds"])):
        raise TableStudyError(
            f"tabulation {name!r} was started with other options ({', '.join(clash) or 'seeds'}); "
            "drop them to resume it, or choose another --name"
        )
    return study, stored


class TableRun(PlannedObjective):
    """Trains one enqueued (layout, seed) run; stores its curve, metrics and training time."""

    def __init__(self, study: optuna.Study, plan: Mapping[str, Any], config: SearchConfig,
                 problem: Problem) -> None:  # fmt: skip
        # Every epoch's validation score goes into the table.
        trainer = FullTraining.from_config(config, score_from=1)
        super().__init__(study, plan_of(plan), problem, trainer)
        self.curve: list[dict[str, dict[str, float]]] = []

    def progress(self, run: PlannedRun) -> Callable[[Evaluation], None]:
        """Collects the run's validation curve."""
        self.curve = []
        return lambda e: self.curve.append({t: dict(m) for t, m in e.metrics.items()})

    def keep(self, trial: optuna.Trial, run: PlannedRun, evaluation: Evaluation) -> float:
        """Score the run on the test split; store its curve, metrics and training time."""
        assert evaluation.network is not None  # full training always has a network
        test = evaluate(evaluation.network, self.problem.test_split(), self.problem.tasks)
        trial.set_user_attr(
            RUN_KEY,
            {"curve": self.curve, "val": evaluation.metrics, "test": test,
             "train_seconds": evaluation.train_seconds, "epochs": evaluation.epochs},
        )  # fmt: skip
        return float(evaluation.train_seconds)


def table_of(study: optuna.Study, plan: Mapping[str, Any], problem: Problem,
             space: SearchSpace, made_with: str) -> Table:  # fmt: skip
    """The table of the study's complete runs (each layout's missing seeds left out)."""
    layouts = [Layout.from_dict(d) for d in plan["layouts"]]
    raw = {key: t.user_attrs[RUN_KEY] for key, t in plan_of(plan).complete(study).items()}
    costs = [(c.params, c.flops) for c in (problem.cost(lay) for lay in layouts)]
    tasks = problem.tasks
    primary = {t.name: t.primary for t in tasks}
    hib = problem.higher_is_better
    entries = build_entries(layouts, costs, raw, plan["seeds"], 0, primary, hib)
    config = StudyRecord(study).config() or {}
    meta = {
        "study": study.study_name,
        "config": config,
        "space": space.name,
        "space_options": space.options(),
        "tasks": [
            {"name": t.name, "primary": t.primary, "higher_is_better": hib[t.name]} for t in tasks
        ],
        "seeds": list(plan["seeds"]),
        "independent": 0,
        "hard_sharing": 1,
        "device": str(problem.device),
        "made_with": made_with,
    }
    return Table(meta, entries)


def run_tabulate(
    study: optuna.Study,
    plan: Mapping[str, Any],
    config: SearchConfig,
    problem: Problem,
    storage_url: str | None = None,
    progress: bool = True,
) -> None:
    """Train every missing run of the tabulation (beside any other workers on the study)."""
    run_planned(TableRun(study, plan, config, problem), storage_url, progress)
