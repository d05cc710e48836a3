"""Run the confirm stage to its end and compute the confirmed table (the product's answer)."""

from __future__ import annotations

import time

import optuna
from optuna.artifacts import FileSystemArtifactStore

from nas.metrics import delta_mtl
from nas.problem import Problem
from nas.study.config import SearchConfig
from nas.study.confirm import (
    CONFIRM_SUFFIX,
    ConfirmError,
    ConfirmPlan,
    RunObjective,
    complete_runs,
    confirm_name,
    missing_runs,
    plan,
    replaced,
)
from nas.study.confirmed import ConfirmedResult, ConfirmedRow, TaskInfo
from nas.study.create import study_exists
from nas.study.record import (
    CONFIRM_OF_KEY,
    CONFIRMED_KEY,
    PLAN_KEY,
    REPLACED_KEY,
    StudyRecord,
    TrialRecord,
)
from nas.study.runner import run_trials
from nas.study.stats import summarize
from nas.study.weights import CorruptWeights, load_weights
from nas.train import evaluate

__all__ = [
    "DEFAULT_SEEDS",
    "DEFAULT_TOP",
    "confirm_progress",
    "confirmed",
    "decide",
    "open_confirm",
    "run_confirm",
]

DEFAULT_TOP = 2  # finalists besides the baselines: the search's best two distinct layouts
DEFAULT_SEEDS = 5  # the fewest that give a usable spread and a paired test


def open_confirm(
    storage: optuna.storages.BaseStorage,
    search: optuna.Study,
    config: SearchConfig,
    problem: Problem,
    top: int | None,
    seeds: int | None,
) -> tuple[optuna.Study, ConfirmPlan]:
    """The search's confirm study, created with its plan and queued runs on first use.

    ``top`` / ``seeds`` of None mean the defaults, or what an existing confirm stage stored.

    Raises:
        ConfirmError: nothing to confirm, or options that differ from the stored plan.
    """
    name = confirm_name(search.study_name)
    if not study_exists(storage, name):
        wanted = plan(search, config, top or DEFAULT_TOP, seeds or DEFAULT_SEEDS)
        try:
            study = optuna.create_study(
                storage=storage,
                study_name=name,
                direction="maximize",
                sampler=optuna.samplers.RandomSampler(),  # nothing is sampled: runs are queued
            )
        except optuna.exceptions.DuplicatedStudyError:
            pass  # another worker is creating it: join below
        else:
            record = StudyRecord(study)
            record.set(CONFIRM_OF_KEY, search.study_name)
            record.set_model(problem.describe())
            record.set_config(config.to_dict(), first=True)
            study.set_metric_names(["val_delta_mtl_vs_search_baseline"])
            for attrs in wanted.runs():
                study.enqueue_trial({}, user_attrs=attrs)
            record.set(PLAN_KEY, wanted.to_dict())  # last: joiners wait for it
            return study, wanted
    study = optuna.load_study(study_name=name, storage=storage)
    record = StudyRecord(study)
    deadline = time.monotonic() + 60
    while (raw := record.get(PLAN_KEY)) is None:
        if time.monotonic() > deadline:
            raise ConfirmError(f"confirm study {name!r} has no plan; delete it to start over")
        time.sleep(0.2)
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
    storage: optuna.storages.BaseStorage,
    search: optuna.Study,
    config: SearchConfig,
    problem: Problem,
    store: FileSystemArtifactStore,
    top: int | None = None,
    seeds: int | None = None,
    storage_url: str | None = None,
    progress: bool = True,
    retrain: bool = False,
) -> ConfirmedResult:
    """Train every missing confirm run, then compute (once) and return the confirmed result.

    With ``retrain``, complete runs whose weights are missing or corrupt are trained again
    (the same seeds) and the table is computed anew from them; nothing else is retrained.
    """
    study, confirm = open_confirm(storage, search, config, problem, top, seeds)
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
        return ConfirmedResult.from_dict(done)
    _requeue_failed(study, confirm)
    objective = RunObjective(study, confirm, config, problem, store, StudyRecord(search).baseline())
    # Replaced runs are finished trials that no longer count: one more run for each.
    target = len(confirm.runs()) + len(replaced(study))
    run_trials(study, objective, target, storage_url, progress)
    result = decide(study, confirm, problem, store)
    StudyRecord(study).set(CONFIRMED_KEY, result.to_dict())
    return result


def _confirm_study(storage: optuna.storages.BaseStorage, name: str) -> optuna.Study | None:
    # One lookup by name, not a listing of every study (list calls this once per study).
    try:
        return optuna.load_study(study_name=confirm_name(name), storage=storage)
    except KeyError:
        return None


def confirmed(storage: optuna.storages.BaseStorage, name: str) -> ConfirmedResult | None:
    """The confirmed result of search study ``name``, or None before its confirm stage ended."""
    study = _confirm_study(storage, name)
    raw = None if study is None else StudyRecord(study).get(CONFIRMED_KEY)
    return None if raw is None else ConfirmedResult.from_dict(raw)


def confirm_progress(storage: optuna.storages.BaseStorage, name: str) -> str | None:
    """A line on an unfinished confirm stage of study ``name``; None when there is none."""
    study = _confirm_study(storage, name)
    if study is None:
        return None
    raw = StudyRecord(study).get(PLAN_KEY)
    total = 0 if raw is None else len(ConfirmPlan.from_dict(raw).runs())
    done = len(complete_runs(study))
    return (
        f"confirm stage: {done}/{total} runs done; finish it with: mtlnas confirm {name} "
        "(until then the figures below are single-seed validation scores)"
    )


def decide(
    study: optuna.Study, confirm: ConfirmPlan, problem: Problem, store: FileSystemArtifactStore
) -> ConfirmedResult:
    """Pick the winner on mean validation Δ_MTL; only then score it and the baselines on test.

    Every Δ_MTL here is paired: a run at seed s against the independent run at seed s.
    """
    runs = complete_runs(study)
    missing = [
        (i, s) for s in confirm.seeds for i in range(len(confirm.finalists)) if (i, s) not in runs
    ]
    if missing:
        raise ConfirmError(
            f"confirm study {study.study_name!r} misses {len(missing)} runs (failed); "
            "see the reasons with optuna or mtlnas show, then run mtlnas confirm again"
        )
    up = problem.higher_is_better

    def primary(i: int, s: int) -> dict[str, float]:
        return dict(TrialRecord.of(runs[(i, s)]).primary or {})

    val = {
        i: [delta_mtl(primary(i, s), primary(0, s), up) for s in confirm.seeds]
        for i in range(len(confirm.finalists))
    }
    candidates = [i for i, f in enumerate(confirm.finalists) if f.role == "candidate"]
    winner = max(candidates, key=lambda i: (sum(val[i]) / len(val[i]), -i))
    # The test split is read here and nowhere before.
    test_split = problem.test_split()
    test: dict[int, list[dict[str, float]]] = {}
    for i in (0, 1, winner):
        test[i] = []
        for s in confirm.seeds:
            net = problem.build(confirm.finalists[i].layout)
            run = TrialRecord.of(runs[(i, s)])
            try:
                state = load_weights(store, str(run.weights), run.weights_sha256)
            except (FileNotFoundError, CorruptWeights) as err:
                search_name = study.study_name.removesuffix(CONFIRM_SUFFIX)
                raise ConfirmError(
                    f"confirm run {runs[(i, s)].number}: {err}; retrain it with: "
                    f"mtlnas confirm {search_name} --retrain"
                ) from None
            net.load_state_dict(state)
            metrics = evaluate(net.to(problem.device), test_split, problem.tasks)
            test[i].append(problem.primary(metrics))
    test_delta = {
        i: [delta_mtl(m, b, up) for m, b in zip(test[i], test[0], strict=True)] for i in test
    }
    rows = [
        ConfirmedRow(
            finalist=i,
            role=f.role,
            summary=f.layout.summary(),
            layout=f.layout.to_dict(),
            loss_weighting=f.loss_weighting,
            source_trial=f.source_trial,
            search_val_delta=f.val_delta,
            val_deltas=val[i],
            val_delta=summarize(val[i]),
            runs={s: runs[(i, s)].number for s in confirm.seeds},
            test_deltas=test_delta.get(i),
            test_primary_runs=test.get(i),
        )
        for i, f in enumerate(confirm.finalists)
    ]
    tasks = [TaskInfo(t.name, t.primary, t.higher_is_better) for t in problem.tasks]
    return ConfirmedResult(list(confirm.seeds), winner, rows, tasks)
