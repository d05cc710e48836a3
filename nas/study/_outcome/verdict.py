"""The confirm stage's verdict: the winner chosen on validation, then the test split read once.

Every retrained layout within the study's budget may be the answer, the baselines included:
validation chooses, and when the separate networks (or hard sharing) beat every searched
finalist on the confirm seeds, they are the answer a user should deploy, as they are the
search's own best trial when no layout beats them on its single seed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set

import optuna
from optuna.artifacts import FileSystemArtifactStore

from nas.data._metrics import delta_mtl
from nas.explore._objectives import feasible
from nas.study._outcome.confirm import (
    CONFIRM_SUFFIX,
    ConfirmError,
    ConfirmPlan,
    Finalist,
    confirm_name,
    replaced,
)
from nas.study._outcome.confirmed import ConfirmedResult, ConfirmedRow, TaskInfo
from nas.study._outcome.stats import summarize
from nas.study._roles import ROLES
from nas.study._store.record import (
    CONFIRMED_KEY,
    PLAN_KEY,
    StudyRecord,
    TrialRecord,
)
from nas.study._store.weights import CorruptWeights, load_weights
from nas.training._problem import Problem
from nas.training._train import evaluate

__all__ = [
    "DEFAULT_SEEDS",
    "DEFAULT_TOP",
    "answerable",
    "choose",
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
    if raw is None:
        total = done = 0
    else:
        runs = ConfirmPlan.from_dict(raw).runs
        total, done = len(runs.runs), len(runs.complete(study, replaced(study)))
    return (
        f"confirm stage: {done}/{total} runs done; finish it with: mtlnas confirm {name} "
        "(until then the figures below are single-seed validation scores)"
    )


def answerable(search: optuna.Study, confirm: ConfirmPlan, budgeted: bool) -> list[int]:
    """The finalists that may be the answer: every one within the search study's budget.

    Searched finalists, the equal-cost baselines and the peers (scaled to the budget) are
    within it by construction; a full-width baseline is when its search trial stored no
    constraint above zero, or, never completed in the search, when the study has no budget
    (``budgeted``: it sets a maximum cost).
    """
    trials = search.get_trials(deepcopy=False)

    def within(f: Finalist) -> bool:
        if f.role not in ("independent", "hard_sharing"):  # the full-width baselines
            return True
        return not budgeted if f.source_trial is None else feasible(trials[f.source_trial])

    return [i for i, f in enumerate(confirm.finalists) if within(f)]


def choose(val: Mapping[int, Sequence[float]], eligible: Iterable[int], searched: Set[int]) -> int:
    """The eligible finalist of best mean validation Δ_MTL over the confirm seeds.

    Ties go to a searched layout before a baseline, then to the earlier finalist.

    Raises:
        ConfirmError: nothing is eligible.
    """
    pool = list(eligible)
    if not pool:
        raise ConfirmError("no confirmed layout is within the study's budget")
    return max(pool, key=lambda i: (sum(val[i]) / len(val[i]), i in searched, -i))


def decide(
    study: optuna.Study,
    confirm: ConfirmPlan,
    problem: Problem,
    store: FileSystemArtifactStore,
    eligible: Sequence[int] | None = None,
) -> ConfirmedResult:
    """Pick the winner on mean validation Δ_MTL; only then score it and the baselines on test.

    ``eligible``: the finalists that may be the answer (:func:`answerable`); None, every one.
    A baseline wins only by a higher mean than every eligible searched finalist: ties go to
    the searched layout. For a front (a plan with a cost axis) every finalist is scored on
    test, the winner being the front's most accurate eligible point on validation.

    Every Δ_MTL here is paired: a run at seed s against the independent run at seed s.
    """
    runs = confirm.runs.complete(study, replaced(study))
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
    searched = {i for i, f in enumerate(confirm.finalists) if f.role == "candidate"}
    pool = range(len(confirm.finalists)) if eligible is None else eligible
    winner = choose(val, pool, searched)
    # The test split is read here and nowhere before.
    test_split = problem.test_split()
    test: dict[int, list[dict[str, float]]] = {}
    # A front tests every finalist (what each point of cost buys); otherwise only the winner
    # and the baselines are read on test.
    every = range(len(confirm.finalists))
    baselines = [i for i, f in enumerate(confirm.finalists) if ROLES[f.role].baseline]
    for i in every if confirm.cost_axis else dict.fromkeys((*baselines, winner)):
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
            layout=f.layout,
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
