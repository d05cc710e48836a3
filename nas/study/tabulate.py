"""Tabulation: train every layout of a space with several seeds, as a resumable study.

The runs are the trials of an ordinary Optuna study (enqueued with their layout and seed), so a
tabulation has what a search has: heartbeats and retries of killed runs, ``mtlnas tabulate``
again to resume, and any number of workers on one database (a fleet on PostgreSQL). When every
run is complete, the table is computed from the trials and written with :meth:`Table.save`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import optuna
from optuna.trial import TrialState

from nas.core.errors import UserError
from nas.core.layout import Layout
from nas.explore.config import SearchConfig, conflicts
from nas.explore.evaluators import Candidate, Evaluation, FullTraining
from nas.explore.strategies import Grid
from nas.explore.tables import Table, build_entries
from nas.study.create import study_exists
from nas.study.runner import run_trials
from nas.study.store.joining import create_or_join, queued_study, wait_ready
from nas.study.store.record import CONFIG_KEY, TABLE_KEY, TABLE_PLAN_KEY, StudyRecord
from nas.study.store.recording import claim_missing, recording
from nas.training.problem import Problem
from nas.training.train import evaluate
from search_spaces import SearchSpace

__all__ = [
    "DEFAULT_SEEDS",
    "RUN_KEY",
    "TableRun",
    "TableStudyError",
    "layouts_of",
    "missing_runs",
    "open_table_study",
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


def _runs(layouts: Sequence[Layout], seeds: Sequence[int]) -> list[dict[str, Any]]:
    # Seed by seed: a table stopped early has whole seeds, and every Δ its same-seed baseline.
    return [
        {"entry": i, "seed": s, "layout": lay.to_dict(), "summary": lay.summary()}
        for s in seeds
        for i, lay in enumerate(layouts)
    ]


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
    layouts: list[Layout] | None = None
    plan: dict[str, Any] | None = None
    if not study_exists(storage, name):  # the plan first: a space it cannot list creates nothing
        layouts = layouts_of(space, config)
        seed_list = list(range(config.seed, config.seed + (seeds or DEFAULT_SEEDS)))
        plan = {"layouts": [lay.to_dict() for lay in layouts], "seeds": seed_list}

    def fill(study: optuna.Study) -> None:
        assert layouts is not None and plan is not None, "the study did not exist a moment ago"
        rec = StudyRecord(study)
        rec.set(TABLE_KEY, True)  # first: a joiner knows a tabulation from a search
        rec.set_config(config.to_dict(), first=True)
        rec.set_model(problem.describe())
        study.set_metric_names(["train_seconds"])
        for attrs in _runs(layouts, plan["seeds"]):
            study.enqueue_trial({}, user_attrs=attrs)
        rec.set(TABLE_PLAN_KEY, plan)  # last: joiners wait for it

    def refuse(attrs: Mapping[str, Any]) -> Exception | None:
        if CONFIG_KEY in attrs and TABLE_KEY not in attrs:
            return TableStudyError(
                f"study {name!r} is not a tabulation (a search or a confirm stage); "
                "choose another --name"
            )
        return None

    study, created = create_or_join(storage, name, queued_study(storage, name, "minimize"), fill)
    plan = wait_ready(study, TABLE_PLAN_KEY, 0 if created else 60, refuse)
    if plan is None:
        raise TableStudyError(f"tabulation {name!r} has no plan; delete it to start over")
    if created:
        return study, plan
    rec = StudyRecord(study)
    stored = SearchConfig.from_dict(rec.config() or {})
    clash = [k for k in conflicts(stored, given) if k != "n_trials"]
    if clash or (seeds is not None and seeds != len(plan["seeds"])):
        raise TableStudyError(
            f"tabulation {name!r} was started with other options ({', '.join(clash) or 'seeds'}); "
            "drop them to resume it, or choose another --name"
        )
    return study, plan


class TableRun:
    """Trains one enqueued (layout, seed) run; stores its curve, metrics and training time."""

    def __init__(self, study: optuna.Study, plan: Mapping[str, Any], config: SearchConfig,
                 problem: Problem) -> None:  # fmt: skip
        self.study, self.plan, self.problem = study, plan, problem
        # Every epoch's validation score goes into the table.
        self.trainer = FullTraining.from_config(config, score_from=1)

    def __call__(self, trial: optuna.Trial) -> float:
        """Train the run the trial was enqueued with (or a missing one); failures are recorded."""
        missing = partial(missing_runs, self.study, self.plan, exclude=trial.number)
        attrs = claim_missing(trial, "entry", missing, "table run")
        curve: list[dict[str, dict[str, float]]] = []

        def progress(e: Evaluation) -> None:
            curve.append({t: dict(m) for t, m in e.metrics.items()})

        with recording(trial, self.problem.device):
            candidate = Candidate(Layout.from_dict(attrs["layout"]), "equal", int(attrs["seed"]))
            got = self.trainer.evaluate(self.problem, candidate, progress)
            assert got.network is not None  # full training always has a network
            test = evaluate(got.network, self.problem.test_split(), self.problem.tasks)
            trial.set_user_attr(
                RUN_KEY,
                {"curve": curve, "val": got.metrics, "test": test,
                 "train_seconds": got.train_seconds, "epochs": got.epochs},
            )  # fmt: skip
        return float(got.train_seconds)


def missing_runs(
    study: optuna.Study, plan: Mapping[str, Any], exclude: int | None = None
) -> list[dict[str, Any]]:
    """The runs of the plan that no trial has completed, is running or waits to run."""
    live = (TrialState.COMPLETE, TrialState.WAITING, TrialState.RUNNING)
    covered = {
        (int(t.user_attrs["entry"]), int(t.user_attrs["seed"]))
        for t in study.get_trials(deepcopy=False, states=live)
        if "entry" in t.user_attrs and t.number != exclude
    }
    layouts = [Layout.from_dict(d) for d in plan["layouts"]]
    return [r for r in _runs(layouts, plan["seeds"]) if (r["entry"], r["seed"]) not in covered]


def table_of(study: optuna.Study, plan: Mapping[str, Any], problem: Problem,
             space: SearchSpace, made_with: str) -> Table:  # fmt: skip
    """The table of the study's complete runs (each layout's missing seeds left out)."""
    layouts = [Layout.from_dict(d) for d in plan["layouts"]]
    raw: dict[tuple[int, int], dict[str, Any]] = {}
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        key = (int(t.user_attrs["entry"]), int(t.user_attrs["seed"]))
        raw.setdefault(key, t.user_attrs[RUN_KEY])
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
    for attrs in missing_runs(study, plan):  # runs that raised: killed ones are requeued
        study.enqueue_trial({}, user_attrs=attrs)
    target = len(plan["layouts"]) * len(plan["seeds"])
    run_trials(study, TableRun(study, plan, config, problem), target, storage_url, progress)
