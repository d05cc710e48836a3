"""What each ``mtlnas`` command does, given parsed arguments."""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any

import optuna

from nas.app._jobs import RunOptions, confirm_stage, refuse_table, run
from nas.core._errors import UserError
from nas.core._faults import quiet_trial_tracebacks
from nas.study import (
    SearchConfig,
    StudyHandle,
    artifact_store,
    finished,
    is_internal,
    load_study,
    open_storage,
    prepare,
    study_config,
)
from nas.study._create import check_same_tasks
from nas.study._outcome.confirm import check_confirm_options, stored_confirm_options
from nas.study._outcome.peers import parse_peers
from nas.study._store.record import refuse_stage
from nas.training._train import pick_device

__all__ = ["USER_ERRORS", "confirm", "delete", "resume", "search", "tabulate"]

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
        if not create:
            refuse_stage(args.name, "confirm")
        raise UserError(
            f"study names ending in {args.name[len(args.name.rsplit(':', 1)[0]) :]!r} are kept "
            "for the stages mtl-nas runs beside a search; choose another --name"
        )
    pick_device(args.device)  # a bad --device is named before a bad option
    devices = _slots(args)
    config = SearchConfig(**given) if create else None
    name = args.name
    if config is not None and name is None:
        name = f"{config.benchmark.replace(':', '.')}-{config.space}"
    how = RunOptions(
        storage=args.storage,
        device=args.device,
        artifacts=args.artifacts,
        heartbeat=args.heartbeat,
        progress=not args.quiet,
        confirm=not args.no_confirm,
        confirm_top=getattr(args, "confirm_top", None),
        confirm_seeds=getattr(args, "confirm_seeds", None),
        retrain=bool(getattr(args, "retrain", False)),
        latency_repeats=getattr(args, "latency_repeats", None),
        confirm_peers=parse_peers(getattr(args, "confirm_peers", None)),
        devices=tuple(devices),
        runs_only=bool(getattr(args, "runs_only", False)),
    )
    run(name, config, given, how)
    return 0


def _slots(args: argparse.Namespace) -> list[str]:
    """The device of each slot from --devices / --per-device; [] for this process alone."""
    from nas.app._slots import resolve_slots

    slots, args.device = resolve_slots(args.devices, args.per_device, args.device)
    return slots


def confirm(args: argparse.Namespace, given: dict[str, Any]) -> int:
    """``mtlnas confirm NAME``: retrain the finalists with fresh seeds, then test once."""
    refuse_stage(args.name, "confirm")
    top, seeds = getattr(args, "confirm_top", None), getattr(args, "confirm_seeds", None)
    check_confirm_options(top, seeds, args.latency_repeats, prefix="--")
    peers = parse_peers(getattr(args, "confirm_peers", None))
    device = pick_device(args.device)
    storage = open_storage(args.storage, args.heartbeat)
    refuse_table(storage, args.name)
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
    handle = StudyHandle(study, storage, config, store, args.storage)
    if args.runs_only:  # a device slot of a search: train runs; its parent decides
        from nas.study._outcome.stage import train_confirm_runs

        train_confirm_runs(handle, problem, not args.quiet)
        return 0
    top, seeds, peers = stored_confirm_options(storage, study, top, seeds, peers)
    retrain = bool(getattr(args, "retrain", False))
    confirm_stage(handle, problem, top, seeds, not args.quiet, retrain, args.artifacts,
                  args.latency_repeats, peers)  # fmt: skip
    return 0


def search(args: argparse.Namespace, given: dict[str, Any]) -> int:
    """``mtlnas search``: create a study (or continue one with the same configuration)."""
    return _start(args, given, create=True)


def resume(args: argparse.Namespace, given: dict[str, Any]) -> int:
    """``mtlnas resume NAME``: continue until the stored target count is reached."""
    return _start(args, given, create=False)


def tabulate(args: argparse.Namespace, given: dict[str, Any]) -> int:
    """``mtlnas tabulate``: train every layout of a space with S seeds; write the table file."""
    from nas.study._create import study_exists
    from nas.study._tabulate import open_table_study, run_tabulate, table_of

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


def delete(args: argparse.Namespace, given: dict[str, Any]) -> int:
    """``mtlnas delete NAME``: the study, its confirm stage and their artifacts."""
    from nas.app.api import delete as delete_study

    gone = delete_study(args.name, storage=args.storage, artifacts=args.artifacts)
    files = f"{gone.files} files removed from the artifact store"
    if gone.missing:
        files += f" ({gone.missing} already missing)"
    print(
        f"deleted {', '.join(repr(s) for s in gone.studies)} from {args.storage}: "
        f"{gone.trials} trials; {files}"
    )
    return 0
