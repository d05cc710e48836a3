"""The confirm stage of a search: open it (one plan, shared by every worker) and run it to its end.

The finalists and both baselines are retrained with fresh seeds as queued trials of a sibling
study (``NAME:confirm``), so any number of workers share the work and a killed one loses only
its run; :func:`~nas.study.outcome.verdict.decide` then picks the winner on validation and reads the
test split once.
"""

from __future__ import annotations

import sys
from dataclasses import replace

import optuna
from optuna.artifacts import FileSystemArtifactStore

from nas.core.layout import Layout
from nas.study.handle import StudyHandle
from nas.study.outcome.confirm import (
    ConfirmError,
    ConfirmPlan,
    RunObjective,
    complete_runs,
    confirm_name,
    missing_runs,
    plan,
    replaced,
)
from nas.study.outcome.confirmed import CONFIRMED_VERSION, ConfirmedResult
from nas.study.outcome.front import DEFAULT_FRONT_TOP
from nas.study.outcome.verdict import DEFAULT_SEEDS, DEFAULT_TOP, answerable, decide
from nas.study.runner import run_trials
from nas.study.store.joining import create_or_join, queued_study, study_exists, wait_ready
from nas.study.store.record import (
    CONFIRM_OF_KEY,
    CONFIRMED_KEY,
    PLAN_KEY,
    REPLACED_KEY,
    StudyRecord,
    TrialRecord,
)
from nas.study.store.storage import StorageError
from nas.study.store.weights import CorruptWeights, load_weights
from nas.training.problem import Problem

__all__ = ["LATENCY_REPEATS", "open_confirm", "run_confirm", "with_latency"]

LATENCY_REPEATS = 30  # timed runs per tested layout and batch size


def open_confirm(
    handle: StudyHandle, problem: Problem, top: int | None, seeds: int | None
) -> tuple[optuna.Study, ConfirmPlan]:
    """The search's confirm study, created with its plan and queued runs on first use.

    ``top`` / ``seeds`` of None mean the defaults, or what an existing confirm stage stored.

    Raises:
        ConfirmError: nothing to confirm, or options that differ from the stored plan.
    """
    storage, search, config = handle.storage, handle.study, handle.config
    name = confirm_name(search.study_name)
    # The plan is made before the study, so a search with nothing to confirm creates nothing.
    wanted = None
    if not study_exists(storage, name):
        default = DEFAULT_FRONT_TOP if config.multi_objective else DEFAULT_TOP
        top_, seeds_ = default if top is None else top, DEFAULT_SEEDS if seeds is None else seeds
        wanted = plan(search, config, top_, seeds_)

    def fill(study: optuna.Study) -> None:
        assert wanted is not None, "the study did not exist a moment ago"
        record = StudyRecord(study)
        record.set(CONFIRM_OF_KEY, search.study_name)
        record.set_model(problem.describe())
        record.set_config(config.to_dict(), first=True)
        study.set_metric_names(["val_delta_mtl_vs_search_baseline"])
        for attrs in wanted.runs():
            study.enqueue_trial({}, user_attrs=attrs)
        record.set(PLAN_KEY, wanted.to_dict())  # last: joiners wait for it

    study, created = create_or_join(storage, name, queued_study(storage, name, "maximize"), fill)
    raw = wait_ready(study, PLAN_KEY, 0 if created else 60)
    if raw is None:
        raise ConfirmError(f"confirm study {name!r} has no plan; delete it to start over")
    stored = ConfirmPlan.from_dict(raw)
    if (top is not None and top != stored.top) or (
        seeds is not None and seeds != len(stored.seeds)
    ):
        raise ConfirmError(
            f"study {search.study_name!r} was confirmed with --top {stored.top} --seeds "
            f"{len(stored.seeds)}; drop the options to resume that confirm stage"
        )
    return study, stored


def _queue_lost_weights(study: optuna.Study, store: FileSystemArtifactStore) -> list[int]:
    """Mark the complete runs whose weights cannot be loaded as replaced; return their numbers.

    Their (finalist, seed) pairs are then missing, so the caller queues them again.
    """
    lost = []
    for t in complete_runs(study).values():
        r = TrialRecord.of(t)
        try:
            load_weights(store, str(r.weights), r.weights_sha256)
        except (FileNotFoundError, CorruptWeights):
            lost.append(t.number)
    if lost:
        record = StudyRecord(study)
        record.set(REPLACED_KEY, sorted(replaced(study) | set(lost)))
        record.set(CONFIRMED_KEY, None)  # computed again from the retrained runs
    return lost


def _requeue_failed(study: optuna.Study, confirm: ConfirmPlan) -> None:
    # A run that raised (not one that was killed: heartbeats re-queue those) is queued again
    # by the next process that confirms.
    for attrs in missing_runs(study, confirm):
        study.enqueue_trial({}, user_attrs=attrs)


def run_confirm(
    handle: StudyHandle,
    problem: Problem,
    top: int | None = None,
    seeds: int | None = None,
    progress: bool = True,
    retrain: bool = False,
    latency_repeats: int = LATENCY_REPEATS,
) -> ConfirmedResult:
    """Train every missing confirm run, then compute (once) and return the confirmed result.

    ``top`` / ``seeds``: finalists besides the baselines and seeds per finalist (None: the
    defaults, or what an existing confirm stage stored). With ``retrain``, complete runs whose
    weights are missing or corrupt are trained again (the same seeds) and the result is
    computed anew from them; nothing else is retrained. ``latency_repeats``: timed runs per
    layout and batch size when the result is computed (0: latency is not measured).

    Raises:
        ConfirmError: nothing to confirm, options that differ from the stored plan, or runs
            that failed.
        StorageError: the storage has no artifact store for the runs' weights.
    """
    store = handle.store
    if store is None:
        raise StorageError("the confirm stage keeps every run's weights: give --artifacts DIR")
    study, confirm = open_confirm(handle, problem, top, seeds)
    record = StudyRecord(study)
    lost = _queue_lost_weights(study, store) if retrain else []
    if retrain:
        print(
            f"retraining {len(lost)} confirm runs whose weights are missing or corrupt: "
            + ", ".join(f"run {n}" for n in lost)
            if lost
            else "every confirm run's weights are in place: nothing to retrain"
        )
    done = record.get(CONFIRMED_KEY)
    if done is not None and not lost:
        stored = ConfirmedResult.from_dict(done)
        if stored.version >= CONFIRMED_VERSION:
            return stored
        # Chosen by an earlier rule (a baseline could not be the answer): choose again from
        # the stored runs; every run is complete, so nothing trains.
        print(f"study {handle.name!r}: its verdict was chosen by an earlier rule; choosing "
              "again from the stored runs (nothing is retrained)")  # fmt: skip
    _requeue_failed(study, confirm)
    baseline = StudyRecord(handle.study).baseline()
    objective = RunObjective(study, confirm, handle.config, problem, store, baseline)
    # Replaced runs are finished trials that no longer count: one more run for each.
    target = len(confirm.runs()) + len(replaced(study))
    run_trials(study, objective, target, handle.url, progress)
    eligible = answerable(handle.study, confirm, bool(handle.config.judged_on().max_cost))
    result = decide(study, confirm, problem, store, eligible)
    if latency_repeats > 0:
        result = with_latency(result, study, problem, store, latency_repeats)
    else:
        print("latency not measured (--confirm-latency-repeats 0)")
    StudyRecord(study).set(CONFIRMED_KEY, result.to_dict())
    return result


def with_latency(
    result: ConfirmedResult,
    study: optuna.Study,
    problem: Problem,
    store: FileSystemArtifactStore,
    repeats: int = LATENCY_REPEATS,
) -> ConfirmedResult:
    """``result`` with each tested layout's latency, measured here side by side.

    Each tested layout's first-seed network is exported and timed under onnxruntime
    (:mod:`nas.runtime.latency`: the graph ``mtlnas export`` writes, on the device it would serve
    on). A network the exporter cannot take costs the latency figures, never the answer.
    """
    from nas.runtime.latency import measure_latency  # the serving graph is export's business

    runs = study.get_trials(deepcopy=False)
    nets = {}
    for row in result.rows:
        if row.tested:
            r = TrialRecord.of(runs[row.runs[result.seeds[0]]])
            net = problem.build(Layout.from_dict(row.layout))
            net.load_state_dict(load_weights(store, str(r.weights), r.weights_sha256))
            nets[str(row.finalist)] = net.eval()
    print(
        f"timing {len(nets)} exported graphs under onnxruntime, batch 1 and 64, {repeats} runs "
        "each (--confirm-latency-repeats N; 0 skips)"
    )
    try:
        latency = measure_latency(nets, repeats=repeats)
    except Exception as err:
        line = f"{type(err).__name__}: {err}".splitlines()[0][:300]
        print(f"latency not measured ({line}); the confirmed result stands", file=sys.stderr)
        return result
    rows = [replace(r, latency_ms=latency.median_ms.get(str(r.finalist))) for r in result.rows]
    return replace(result, rows=rows, latency_device=latency.device)
