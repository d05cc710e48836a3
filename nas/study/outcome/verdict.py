"""The confirm stage's verdict: the winner chosen on validation, then the test split read once."""

from __future__ import annotations

import optuna
from optuna.artifacts import FileSystemArtifactStore

from nas.data.metrics import delta_mtl
from nas.study.outcome.confirm import (
    CONFIRM_SUFFIX,
    ConfirmError,
    ConfirmPlan,
    complete_runs,
    confirm_name,
)
from nas.study.outcome.confirmed import ConfirmedResult, ConfirmedRow, TaskInfo
from nas.study.outcome.stats import summarize
from nas.study.store.record import (
    CONFIRMED_KEY,
    PLAN_KEY,
    StudyRecord,
    TrialRecord,
)
from nas.study.store.weights import CorruptWeights, load_weights
from nas.training.problem import Problem
from nas.training.train import evaluate

__all__ = [
    "DEFAULT_SEEDS",
    "DEFAULT_TOP",
    "confirm_progress",
    "confirmed",
    "decide",
]

DEFAULT_TOP = 2  # finalists besides the baselines: the search's best two distinct layouts
DEFAULT_SEEDS = 5  # the fewest that give a usable spread and a paired test


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

    For a front (a plan with a cost axis) every finalist is scored on test, the winner being
    the front's most accurate point on validation.

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
    # A front tests every finalist (what each point of cost buys); otherwise only the winner
    # and the baselines are read on test.
    every = range(len(confirm.finalists))
    for i in every if confirm.cost_axis else (0, 1, winner):
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
            params=(cost := problem.cost(f.layout)).params,
            flops=cost.flops,
        )
        for i, f in enumerate(confirm.finalists)
    ]
    tasks = [TaskInfo(t.name, t.primary, t.higher_is_better) for t in problem.tasks]
    return ConfirmedResult(list(confirm.seeds), winner, rows, tasks, cost_axis=confirm.cost_axis)
