"""One search job from start to answer: what :mod:`nas.app.api` and the command line both run.

Create (or resume) the study, search to its target, then the confirm stage; the results come
back typed (:class:`SearchResult`) and the progress lines are printed on the way.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import optuna
import torch
from optuna.trial import TrialState

from nas.app._views import confirmed_table, flagged_tasks, health_warnings
from nas.core._errors import UserError
from nas.explore.evaluators import make_evaluator
from nas.explore.strategies import make_strategy
from nas.study import (
    ConfirmedResult,
    SearchConfig,
    StudyHandle,
    StudyRecord,
    TrialRecord,
    artifact_store,
    best_trial,
    create_or_resume,
    finished,
    load_study,
    open_storage,
    prepare,
    run_confirm,
    run_search,
    study_config,
)
from nas.study._create import check_same_tasks
from nas.study._outcome.confirm import check_confirm_options, stored_confirm_options
from nas.study._outcome.stage import LATENCY_REPEATS
from nas.study._store.record import TRIVIAL_KEY, refuse_stage
from nas.study._store.storage import DEFAULT_STORAGE
from nas.training._problem import Problem
from nas.training._train import pick_device
from search_spaces import SearchSpace

__all__ = [
    "RunOptions",
    "Best",
    "SearchResult",
    "command_line",
    "confirm_stage",
    "print_best",
    "refuse_table",
    "run",
]


# How a printed layout reads; said where a search first prints one (docs/concepts.md).
LAYOUT_NOTATION = (
    "a layout reads task:b0.b1.b2...: the block instance each task runs at each depth; tasks "
    "with the same number at a depth share that block, - skips it"
)


@dataclass(frozen=True)
class Best:
    """The search's best trial on validation (before the confirm stage's verdict)."""

    number: int
    delta_mtl: float  # validation Δ_MTL against the study's independent networks (a fraction)
    summary: str  # the layout in one line


@dataclass(frozen=True)
class SearchResult:
    """Where a search stands after :func:`nas.search` or :func:`nas.resume`.

    Attributes:
        name: the study's name; ``storage``: its database URL.
        config: the study's stored configuration.
        finished: trials finished (complete or pruned) out of ``config.n_trials``.
        best: the best trial on validation (None: none complete, or a Pareto front).
        confirmed: the confirm stage's answer on the test split (None without it).
    """

    name: str
    storage: str
    config: SearchConfig
    finished: int
    best: Best | None
    confirmed: ConfirmedResult | None


@dataclass(frozen=True)
class RunOptions:
    """How one search process runs: where, on what, and what it prints; never stored.

    The command line and the Python API both build one (the study's own options are its
    :class:`SearchConfig`).

    Attributes:
        storage: the database URL.
        device: ``auto``, ``cpu`` or ``cuda[:N]``.
        artifacts: the folder of trial weights (None: beside a SQLite file).
        heartbeat: seconds between trial heartbeats (None: the storage's default).
        progress: progress bars over trials and epochs.
        confirm: run the confirm stage after the search.
        confirm_top, confirm_seeds: finalists and fresh seeds (None: stored, else defaults).
        retrain: retrain lost or damaged kept state (weights, a supernet) instead of refusing.
        latency_repeats: timed runs per confirmed layout (None: the default; 0: none).
        confirm_peers: the peer families the confirm stage retrains (None: stored, else every
            built-in that fits; () none).
        devices: one device per slot (``nas.app._slots.slot_devices``); with more than one,
            the search's trials and the confirm runs are trained by one child process per
            slot, and this process shows their progress, then decides and prints.
    """

    storage: str = DEFAULT_STORAGE
    device: str = "auto"
    artifacts: str | None = None
    heartbeat: int | None = None
    progress: bool = True
    confirm: bool = True
    confirm_top: int | None = None
    confirm_seeds: int | None = None
    retrain: bool = False
    latency_repeats: int | None = None
    confirm_peers: tuple[str, ...] | None = None
    devices: tuple[str, ...] = ()
    runs_only: bool = False  # a device slot: train trials, leave the summary to its parent


def run(
    name: str, config: SearchConfig | None, given: dict[str, Any], options: RunOptions
) -> SearchResult:
    """Create (``config`` given) or resume (None) study ``name``, search, then confirm.

    Everything given is checked before the database is touched; ``given`` holds the options
    set explicitly (an existing study refuses any that differ from its own but ``n_trials``).
    """
    storage_url, device_name, artifacts = options.storage, options.device, options.artifacts
    heartbeat, progress, confirm = options.heartbeat, options.progress, options.confirm
    confirm_top, confirm_seeds = options.confirm_top, options.confirm_seeds
    retrain, latency_repeats = options.retrain, options.latency_repeats
    refuse_stage(name, "confirm")  # a stage is confirmed through its search, not resumed
    if confirm:  # a bad confirm option is refused before a search that would end on it
        check_confirm_options(confirm_top, confirm_seeds, latency_repeats)
    device = pick_device(device_name)
    parts = prepare(config, device) if config is not None else None
    if config is not None and parts is not None:
        if config.max_cost:
            config = _with_budgets(config, *parts)
        # An unknown evaluator or strategy, bad options, or a strategy that cannot search this
        # space are refused here, before a study is stored under the name.
        make_evaluator(config)
        make_strategy(config.strategy, config.strategy_options).check(parts[1])
        if config.warm_start is not None:
            make_strategy(config.warm_start, config.warm_start_options).check(parts[1])
        if confirm and options.confirm_peers:  # a peer that is unknown or does not fit
            from nas.study._outcome.peers import peer_finalists

            peer_finalists(options.confirm_peers, parts[0], parts[1].tasks,
                           config.objective_options)  # fmt: skip
    storage = open_storage(storage_url, heartbeat, create=config is not None)
    refuse_table(storage, name)
    prepared_for = config
    if config is None:
        # A resume: the stored configuration must rebuild here (its benchmark, its space)
        # before anything, a raised target included, is written.
        prepared_for = _stored_config(storage, name)
        parts = None if prepared_for is None else _prepare_stored(prepared_for, name, device)
    if parts is not None:
        # The label statistics read the training and validation splits whole (a streamed
        # split from its files): a bad file stops the search here, before a study is stored.
        parts[0].label_shares()
    space = parts[1] if parts is not None else None
    study, stored = create_or_resume(storage, name, config, given, space, storage_url)
    if parts is None or prepared_for is None or not _same_except_target(stored, prepared_for):
        parts = prepare(stored, device)  # the stored configuration rules an existing study
    config, (problem, space) = stored, parts
    check_same_tasks(study, problem)
    confirm_top, confirm_seeds, peers = stored_confirm_options(
        storage, study, confirm_top, confirm_seeds, options.confirm_peers
    )
    warning = problem.benchmark.protocol_warning()
    if warning is not None:
        print(warning, file=sys.stderr)
    for task, shares in problem.label_shares().items():
        if min(shares.values()) < 1:
            split_shares = ", ".join(f"{100 * v:.0f}% of {k}" for k, v in shares.items())
            print(f"task {task!r} is labelled on {split_shares}")
    handle = StudyHandle(study, storage, config, artifact_store(storage_url, artifacts),
                         storage_url)  # fmt: skip
    done = finished(study)
    if done >= config.n_trials:
        print(
            f"study {name!r} already has {done} finished trials (target {config.n_trials}); "
            f"raise it with: {command_line('resume', handle, artifacts)} --n-trials N"
        )
    else:
        slotted = len(options.devices) > 1
        where = f"in {len(options.devices)} processes on {_devices(options)}" if slotted else ""
        print(
            f"study {name!r} in {storage_url}: {done}/{config.n_trials} trials finished, "
            f"training {where or f'on {device}'}"
        )
        if slotted:
            _in_slots("worker", handle, options, lambda: (finished(study), config.n_trials))
        else:
            run_search(handle, problem, space, progress, retrain)
        if options.runs_only:
            return SearchResult(name, storage_url, config, finished(study), None, None)
        print_best(study, config)
        if not confirm:
            print(
                f"next: {command_line('confirm', handle, artifacts)}   |   "
                f"{command_line('show', handle)}"
            )
    confirmed = None
    if confirm and len(options.devices) > 1:  # the slots train the runs; this process decides
        from nas.study._outcome.confirm import replaced
        from nas.study._outcome.stage import open_confirm

        runs_study, plan = open_confirm(handle, problem, confirm_top, confirm_seeds, peers)
        runs = plan.runs

        def count() -> tuple[int, int]:
            return len(runs.complete(runs_study, replaced(runs_study))), len(runs.runs)

        _in_slots("confirm", handle, options, count)
    if confirm:
        confirmed = confirm_stage(
            handle, problem, confirm_top, confirm_seeds, progress, retrain, artifacts,
            latency_repeats, peers,
        )  # fmt: skip
    return SearchResult(name, storage_url, config, finished(study), _best(study, config),
                        confirmed)  # fmt: skip


def _devices(options: RunOptions) -> str:
    return ", ".join(dict.fromkeys(options.devices))


def _in_slots(
    command: str, handle: StudyHandle, options: RunOptions, count: Callable[[], tuple[int, int]]
) -> None:
    # The children are the commands a user would start by hand beside this process.
    from nas.app._slots import run_slots

    argv = [command, handle.name, "--storage", str(handle.url)]
    if options.artifacts is not None:
        argv += ["--artifacts", options.artifacts]
    if options.heartbeat is not None:
        argv += ["--heartbeat", str(options.heartbeat)]
    argv.append("--runs-only")
    if command == "worker":
        argv += ["--no-confirm", *(["--retrain"] if options.retrain else [])]
    what = "search" if command == "worker" else "confirm stage"
    run_slots(argv, options.devices, count, f"{what} on {_devices(options)}", options.progress)


def command_line(command: str, handle: StudyHandle, artifacts: str | None = None) -> str:
    """``mtlnas COMMAND NAME`` with the storage and artifact folder the study was run with.

    The defaults are left out; anything else is given, so the line works as printed.
    """
    words = ["mtlnas", command, handle.name]
    if handle.url is not None and handle.url != DEFAULT_STORAGE:
        words += ["--storage", handle.url]
    if artifacts is not None:
        words += ["--artifacts", artifacts]
    return shlex.join(words)


def _prepare_stored(
    config: SearchConfig, name: str, device: torch.device
) -> tuple[Problem, SearchSpace]:
    from nas.data._benchmark import BenchmarkError, benchmark_names

    try:
        return prepare(config, device)
    except BenchmarkError:
        known = config.benchmark in benchmark_names() or ":" in config.benchmark
        if known:
            raise
        # Made from a Python Benchmark object: only the process that holds it can rebuild it.
        raise UserError(
            f"study {name!r} was made from the Python benchmark {config.benchmark!r}, which "
            f"this process does not know: resume it from Python with nas.resume({name!r}, "
            "benchmark=<that Benchmark, or a function returning it>)"
        ) from None


def _stored_config(storage: optuna.storages.BaseStorage, name: str) -> SearchConfig | None:
    # None when there is nothing readable to check: create_or_resume then names the problem.
    from nas.study._create import study_exists

    if not study_exists(storage, name):
        return None
    try:
        return study_config(load_study(storage, name))
    except UserError:
        return None


def confirm_stage(
    handle: StudyHandle,
    problem: Problem,
    top: int | None,
    seeds: int | None,
    progress: bool,
    retrain: bool,
    artifacts: str | None = None,
    latency_repeats: int | None = None,
    peers: tuple[str, ...] | None = None,
) -> ConfirmedResult:
    """Run the confirm stage of ``handle``'s study and print its table.

    ``artifacts``: the artifact folder given by the user, repeated in the next-step hint;
    ``latency_repeats``: timed runs per layout (None: the default; 0: latency not measured);
    ``peers``: the peer families that join (None: as stored or planned).
    """
    print(f"confirming on fresh seeds, then the test split: study {handle.name!r}")
    repeats = LATENCY_REPEATS if latency_repeats is None else latency_repeats
    result = run_confirm(handle, problem, top, seeds, progress, retrain, repeats, peers)
    flagged = flagged_tasks(handle.study, StudyRecord(handle.study).get(TRIVIAL_KEY))
    print(confirmed_table(result, flagged))
    warning = problem.benchmark.protocol_warning()
    if warning is not None:
        print(warning, file=sys.stderr)
    print(
        f"next: {command_line('show', handle)}   |   "
        f"{command_line('export', handle, artifacts)} -o model.onnx"
    )
    return result


def print_best(study: optuna.Study, config: SearchConfig) -> None:
    """Health warnings, then the best trial on validation (or the front)."""
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
        print(f"  ({LAYOUT_NOTATION})")
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
    print(f"  ({LAYOUT_NOTATION})")


def _best(study: optuna.Study, config: SearchConfig) -> Best | None:
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if config.multi_objective or not complete:
        return None
    t = best_trial(study)
    return Best(t.number, float(t.values[0]), TrialRecord.of(t).summary or "")


def _with_budgets(config: SearchConfig, problem: Problem, space: SearchSpace) -> SearchConfig:
    # Relative budgets become absolute once, against this problem's independent networks, so
    # every process of the study (and a resume) judges layouts by the same numbers.
    from nas.core._layout import Layout
    from nas.explore._budgets import resolve

    independent_layout = Layout.independent(space.tasks, space.depth)
    independent = problem.cost(independent_layout)
    cheapest = problem.cost(space.cheapest())
    base = {"params": float(independent.params), "flops": float(independent.flops)}
    least = {"params": float(cheapest.params), "flops": float(cheapest.flops)}
    if "latency" in config.max_cost:  # measured here, side by side (nas.study._latency)
        from nas.study._latency import measure_ratio

        ratio, ms, device = measure_ratio(problem, space.cheapest(), independent_layout)
        base["latency"], least["latency"] = ms, ratio * ms
        print(
            f"latency budget against {device}: independent networks {ms:.2f} ms at batch 1, "
            f"the cheapest layout {ratio:.2f}x"
        )
    budgets = resolve(config.max_cost, base, least)
    widths = _baseline_widths(problem, space, budgets)
    return config.replace(
        objective_options={**config.objective_options, **budgets}, baseline_widths=widths
    )


def _baseline_widths(
    problem: Problem, space: SearchSpace, budgets: Mapping[str, float]
) -> dict[str, float]:
    # The equal-cost baselines: each baseline at the widest width its budget allows, fixed
    # once here (as the budgets are), so every process of the study trains the same networks.
    from nas.explore._budgets import widest
    from nas.study._baseline import baseline_layouts

    if not {"max_params", "max_flops"} & set(budgets):
        print("note: no equal-cost baselines: a latency budget is not the cost model's")
        return {}
    widths = {}
    for role, layout in baseline_layouts(space).items():
        try:
            scaled = widest(layout, problem.cost, budgets)
        except ValueError as err:  # a backbone without scaled(width), a pretrained one
            print(f"note: no equal-cost baselines: {err}")
            return {}
        if scaled is None:
            print(f"note: no equal-cost {role} baseline: even its thinnest network is over budget")
        else:
            widths[role] = scaled.width
    if widths:
        each = ", ".join(f"{role} at {w:g}x width" for role, w in widths.items())
        print(f"equal-cost baselines within the budget: {each}")
    return widths


def refuse_table(storage: optuna.storages.BaseStorage, name: str) -> None:
    """Refuse to search or confirm a tabulation (a UserError naming the command to run)."""
    from nas.study._create import study_exists
    from nas.study._store.record import TABLE_KEY

    if study_exists(storage, name) and TABLE_KEY in load_study(storage, name).user_attrs:
        raise UserError(
            f"study {name!r} is a tabulation, not a search; run the mtlnas tabulate command "
            "that built it again to resume it"
        )


def _same_except_target(a: SearchConfig, b: SearchConfig) -> bool:
    return {**a.to_dict(), "n_trials": 0} == {**b.to_dict(), "n_trials": 0}
