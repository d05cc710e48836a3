"""What each ``mtlnas`` command does, given parsed arguments."""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any

import optuna
from optuna.trial import TrialState

from nas.errors import UserError
from nas.evaluators import make_evaluator
from nas.faults import quiet_trial_tracebacks
from nas.problem import Problem
from nas.strategies import make_strategy
from nas.study import (
    SearchConfig,
    StudyHandle,
    StudyRecord,
    TrialRecord,
    artifact_store,
    best_trial,
    create_or_resume,
    finished,
    is_internal,
    load_study,
    open_storage,
    prepare,
    run_search,
    study_config,
)
from nas.study.create import check_same_tasks
from nas.study.record import TRIVIAL_KEY
from nas.train import pick_device
from nas.views import confirmed_table, health_warnings
from search_spaces import SearchSpace

__all__ = ["USER_ERRORS", "confirm", "resume", "search"]

# Errors that are the user's to fix: one line, exit status 2, no traceback. Anything else is
# a bug and keeps its traceback.
USER_ERRORS = (UserError, FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)
optuna.logging.set_verbosity(optuna.logging.WARNING)
quiet_trial_tracebacks()


def _start(args: argparse.Namespace, given: dict[str, Any], create: bool) -> int:
    # Everything the user typed is checked before the database is touched.
    if getattr(args, "name", None) is not None and not args.name.strip():
        raise UserError("--name is empty; give the study a name, or leave --name out")
    if getattr(args, "name", None) is not None and is_internal(args.name):
        search_name = args.name.rsplit(":", 1)[0]
        if create:
            raise UserError(
                f"study names ending in {args.name[len(search_name) :]!r} are kept for the "
                "stages mtl-nas runs beside a search; choose another --name"
            )
        raise UserError(
            f"{args.name!r} is the confirm stage of study {search_name!r}, not a search; "
            f"run: mtlnas confirm {shlex.quote(search_name)}"
        )
    device = pick_device(args.device)
    config = SearchConfig(**given) if create else None
    parts = prepare(config, device) if config is not None else None
    if config is not None and parts is not None and config.max_cost:
        config = _with_budgets(config, *parts)
    if config is not None:
        # An unknown evaluator or strategy, or bad options, are refused before the database is
        # touched.
        make_evaluator(config)
        make_strategy(config.strategy, config.strategy_options)
        if config.warm_start is not None:
            make_strategy(config.warm_start, config.warm_start_options)
    storage = open_storage(args.storage, args.heartbeat, create=create)
    name = args.name
    if config is not None:
        name = name if name is not None else f"{config.benchmark.replace(':', '.')}-{config.space}"
    space = parts[1] if parts is not None else None
    _refuse_table(storage, name)
    study, stored = create_or_resume(storage, name, config, given, space, args.storage)
    if parts is None or config is None or not _same_except_target(stored, config):
        parts = prepare(stored, device)  # the stored configuration rules an existing study
    config, (problem, space) = stored, parts
    check_same_tasks(study, problem)
    for task, shares in problem.benchmark.label_shares().items():
        if min(shares.values()) < 1:
            split_shares = ", ".join(f"{100 * v:.0f}% of {k}" for k, v in shares.items())
            print(f"task {task!r} is labelled on {split_shares}")
    done = finished(study)
    if done >= config.n_trials:
        print(
            f"study {name!r} already has {done} finished trials (target {config.n_trials}); "
            f"raise it with: mtlnas resume {shlex.quote(name)} --n-trials N"
        )
        if args.no_confirm:
            return 0
        handle = StudyHandle(
            study, storage, config, artifact_store(args.storage, args.artifacts), args.storage
        )
        return _confirm(args, handle, problem)
    print(
        f"study {name!r} in {args.storage}: {done}/{config.n_trials} trials finished, "
        f"training on {device}"
    )
    handle = StudyHandle(
        study, storage, config, artifact_store(args.storage, args.artifacts), args.storage
    )
    run_search(handle, problem, space, not args.quiet, bool(getattr(args, "retrain", False)))
    _print_best(study, config)
    if args.no_confirm:
        q = shlex.quote(name)
        print(f"next: mtlnas confirm {q}   |   mtlnas show {q}")
        return 0
    return _confirm(args, handle, problem)


def _confirm(args: argparse.Namespace, handle: StudyHandle, problem: Problem) -> int:
    from nas.study import run_confirm

    top, seeds = getattr(args, "confirm_top", None), getattr(args, "confirm_seeds", None)
    print(f"confirming on fresh seeds, then the test split: study {handle.name!r}")
    retrain = bool(getattr(args, "retrain", False))
    result = run_confirm(handle, problem, top, seeds, not args.quiet, retrain)
    print(confirmed_table(result))
    q = shlex.quote(handle.name)
    print(f"next: mtlnas show {q}   |   mtlnas export {q} -o model.onnx")
    return 0


def confirm(args: argparse.Namespace, given: dict[str, Any]) -> int:
    """``mtlnas confirm NAME``: retrain the finalists with fresh seeds, then test once."""
    if is_internal(args.name):
        search_name = args.name.rsplit(":", 1)[0]
        raise UserError(
            f"{args.name!r} is the confirm stage of study {search_name!r}; "
            f"run: mtlnas confirm {shlex.quote(search_name)}"
        )
    device = pick_device(args.device)
    storage = open_storage(args.storage, args.heartbeat)
    _refuse_table(storage, args.name)
    study = load_study(storage, args.name)
    config = study_config(study)
    done = finished(study)
    if done < config.n_trials:
        print(
            f"note: study {args.name!r} has {done}/{config.n_trials} finished trials; "
            "confirming its best so far"
        )
    problem, _ = prepare(config, device)
    check_same_tasks(study, problem)
    store = artifact_store(args.storage, args.artifacts)
    return _confirm(args, StudyHandle(study, storage, config, store, args.storage), problem)


def _with_budgets(config: SearchConfig, problem: Problem, space: SearchSpace) -> SearchConfig:
    # Relative budgets become absolute once, against this problem's independent networks, so
    # every process of the study (and a resume) judges layouts by the same numbers.
    from nas.budgets import resolve
    from nas.layout import Layout

    independent_layout = Layout.independent(space.tasks, space.depth)
    independent = problem.cost(independent_layout)
    cheapest = problem.cost(space.cheapest())
    base = {"params": float(independent.params), "flops": float(independent.flops)}
    least = {"params": float(cheapest.params), "flops": float(cheapest.flops)}
    if "latency" in config.max_cost:  # measured here, side by side (nas.study.latency)
        from nas.study.latency import measure_ratio

        ratio, ms, device = measure_ratio(problem, space.cheapest(), independent_layout)
        base["latency"], least["latency"] = ms, ratio * ms
        print(
            f"latency budget against {device}: independent networks {ms:.2f} ms at batch 1, "
            f"the cheapest layout {ratio:.2f}x"
        )
    budgets = resolve(config.max_cost, base, least)
    return config.replace(objective_options={**config.objective_options, **budgets})


def _refuse_table(storage: optuna.storages.BaseStorage, name: str) -> None:
    from nas.study.create import study_exists
    from nas.study.record import TABLE_KEY

    if study_exists(storage, name) and TABLE_KEY in load_study(storage, name).user_attrs:
        raise UserError(
            f"study {name!r} is a tabulation, not a search; run the mtlnas tabulate command "
            "that built it again to resume it"
        )


def _same_except_target(a: SearchConfig, b: SearchConfig) -> bool:
    return {**a.to_dict(), "n_trials": 0} == {**b.to_dict(), "n_trials": 0}


def search(args: argparse.Namespace, given: dict[str, Any]) -> int:
    """``mtlnas search``: create a study (or continue one with the same configuration)."""
    return _start(args, given, create=True)


def resume(args: argparse.Namespace, given: dict[str, Any]) -> int:
    """``mtlnas resume NAME``: continue until the stored target count is reached."""
    return _start(args, given, create=False)


def _print_best(study: optuna.Study, config: SearchConfig) -> None:
    for line in health_warnings(study, StudyRecord(study).get(TRIVIAL_KEY)):
        print(line, file=sys.stderr)
    if config.multi_objective:
        front = sorted(study.best_trials, key=lambda t: t.values[1])
        print(f"Pareto front ({len(front)} trials): Δ_MTL vs {config.metric_names[1]}")
        for t in front:
            print(
                f"  trial {t.number}: Δ_MTL {100 * t.values[0]:+.2f}%  "
                f"{config.metric_names[1]} {t.values[1]:.3g}  {t.user_attrs.get('summary')}"
            )
        return
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        hint = "mtlnas show " + shlex.quote(study.study_name)
        print("no trial completed; see the reasons with: " + hint)
        return
    best = best_trial(study)
    print(
        f"best on validation: trial {best.number}, Δ_MTL {100 * best.values[0]:+.2f}%  "
        f"{TrialRecord.of(best).summary}"
    )


def tabulate(args: argparse.Namespace, given: dict[str, Any]) -> int:
    """``mtlnas tabulate``: train every layout of a space with S seeds; write the table file."""
    from nas.study.create import study_exists
    from nas.study.tabulate import open_table_study, run_tabulate, table_of

    if not args.name.strip() or is_internal(args.name):
        raise UserError(f"--name {args.name!r} cannot name a tabulation; choose another")
    if args.seeds is not None and args.seeds < 1:
        raise UserError(f"--seeds must be at least 1, got {args.seeds}")
    out = args.out or f"{args.name}.table.json"
    device = pick_device(args.device)
    storage = open_storage(args.storage, args.heartbeat, create=True)
    config = (
        study_config(load_study(storage, args.name))
        if study_exists(storage, args.name)
        else SearchConfig(**given)
    )
    problem, space = prepare(config, device)
    study, plan = open_table_study(storage, args.name, config, given, space, problem, args.seeds)
    total = len(plan["layouts"]) * len(plan["seeds"])
    print(
        f"tabulation {args.name!r} in {args.storage}: {len(plan['layouts'])} layouts x "
        f"{len(plan['seeds'])} seeds, {finished(study)}/{total} runs finished, training on {device}"
    )
    run_tabulate(study, plan, config, problem, args.storage, not args.quiet)
    made_with = "mtlnas " + shlex.join(sys.argv[1:])
    table = table_of(study, plan, problem, space, made_with)
    table.save(out)
    ranked = table.ranked()
    base = table.independent
    better = [e for e in ranked if e.test_delta > 0 and e is not base]
    print(
        f"wrote {out}: best mean test Δ_MTL {100 * ranked[0].test_delta:+.2f}% "
        f"({ranked[0].layout.summary()}); {len(better)} of {len(ranked)} layouts beat "
        f"independent networks on mean test Δ_MTL; hard sharing ranks "
        f"{table.rank_of(table.hard_sharing.layout)}, independent "
        f"{table.rank_of(base.layout)}"
    )
    return 0
