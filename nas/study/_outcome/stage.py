"""The confirm stage of a search: open it (one plan, shared by every worker) and run it to its end.

The finalists and both baselines are retrained with fresh seeds as queued trials of a sibling
study (``NAME:confirm``), so any number of workers share the work and a killed one loses only
its run; :func:`~nas.study._outcome.verdict.decide` then picks the winner on validation and
reads the test split once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import optuna
from optuna.artifacts import FileSystemArtifactStore

from nas.data._metrics import delta_mtl
from nas.explore._config import SearchConfig
from nas.explore.evaluators import Evaluation, FullTraining
from nas.study._handle import StudyHandle
from nas.study._outcome.confirm import (
    ConfirmError,
    ConfirmPlan,
    Finalist,
    confirm_name,
    plan,
    replaced,
)
from nas.study._outcome.confirmed import CONFIRMED_VERSION, ConfirmedResult
from nas.study._outcome.front import DEFAULT_FRONT_TOP
from nas.study._outcome.peers import peer_finalists
from nas.study._outcome.verdict import DEFAULT_SEEDS, DEFAULT_TOP, answerable, decide
from nas.study._planned import PlannedObjective, PlannedRun, RunPlan, open_planned, run_planned
from nas.study._roles import ROLES
from nas.study._store import record
from nas.study._store.record import (
    CONFIRM_OF_KEY,
    CONFIRMED_KEY,
    PLAN_KEY,
    REPLACED_KEY,
    StudyRecord,
    TrialRecord,
)
from nas.study._store.storage import StorageError
from nas.study._store.weights import CorruptWeights, load_weights, save_weights
from nas.training._problem import Problem

__all__ = [
    "LATENCY_REPEATS",
    "ConfirmRun",
    "open_confirm",
    "run_confirm",
    "train_confirm_runs",
    "with_latency",
]

_log = logging.getLogger(__name__)

LATENCY_REPEATS = 30  # timed runs per tested layout and batch size


def open_confirm(
    handle: StudyHandle,
    problem: Problem,
    top: int | None,
    seeds: int | None,
    peers: tuple[str, ...] | None = None,
) -> tuple[optuna.Study, ConfirmPlan]:
    """The search's confirm study, created with its plan and queued runs on first use.

    ``top`` / ``seeds`` of None mean the defaults, or what an existing confirm stage stored.
    ``peers``: the peer families that join (None: every built-in that fits the backbone, for a
    new plan; nothing new for a stored one). Peers named for a stored plan that lacks them are
    added to it, with their runs: nothing stored is trained again, and the result is computed
    again once they are trained.

    Raises:
        ConfirmError: nothing to confirm, or options that differ from the stored plan.
        PeerError: a peer that is unknown or does not fit.
    """
    search, config = handle.study, handle.config
    name = confirm_name(search.study_name)
    budgets = config.objective_options

    def make() -> tuple[RunPlan, dict[str, Any]]:  # a search with nothing to confirm: no study
        default = DEFAULT_FRONT_TOP if config.multi_objective else DEFAULT_TOP
        top_, seeds_ = default if top is None else top, DEFAULT_SEEDS if seeds is None else seeds
        wanted = plan(search, config, top_, seeds_)
        joining = peer_finalists(peers, problem, wanted.finalists[0].layout.tasks, budgets)
        wanted = wanted.with_peers(joining)
        return wanted.runs, wanted.to_dict()

    def describe(study: optuna.Study) -> None:
        rec = StudyRecord(study)
        rec.set(CONFIRM_OF_KEY, search.study_name)
        rec.set_model(problem.describe())
        rec.set_config(config.to_dict(), first=True)
        study.set_metric_names(["val_delta_mtl_vs_search_baseline"])

    study, raw, _ = open_planned(handle.storage, name, "maximize", PLAN_KEY, describe, make)
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
    if peers:
        tasks = stored.finalists[0].layout.tasks
        have = {f.layout for f in stored.finalists}
        new = [f for f in peer_finalists(peers, problem, tasks, budgets) if f.layout not in have]
        if new:
            stored = _add_peers(study, stored, new)
    return study, stored


def _add_peers(study: optuna.Study, stored: ConfirmPlan, new: list[Finalist]) -> ConfirmPlan:
    # After every finalist, so the runs already stored keep their finalist numbers; the plan
    # is written before the runs are queued, so a worker that sees a run knows its finalist.
    grown = stored.joined(new)
    _log.info(
        f"adding {', '.join(ROLES[f.role].name for f in new)} to the confirm stage: "
        f"{len(new) * len(grown.seeds)} runs (the stored runs are kept)"
    )
    rec = StudyRecord(study)
    rec.set(PLAN_KEY, grown.to_dict())
    rec.set(CONFIRMED_KEY, None)  # computed again once the peers are trained
    runs = grown.runs
    old = len(stored.finalists)
    runs.enqueue(study, [r for r in runs.missing(study, replaced(study)) if r.index >= old])
    return grown


class ConfirmRun(PlannedObjective):
    """Trains one confirm run from scratch and stores its weights and validation score.

    The value is the run's validation Δ_MTL against the search's own baseline (for a glance in
    Optuna's tools); the confirmed table pairs each run with the same-seed independent run.
    """

    def __init__(
        self,
        study: optuna.Study,
        confirm: ConfirmPlan,
        config: SearchConfig,
        problem: Problem,
        store: FileSystemArtifactStore,
        search_baseline: Mapping[str, float] | None,
    ) -> None:
        # Confirm runs always train from scratch, whatever scored the search's candidates.
        super().__init__(study, confirm.runs, problem, FullTraining.from_config(config))
        self.store, self.baseline = store, search_baseline

    def gone(self) -> set[int]:
        """Complete runs whose weights were lost: trained again."""
        return replaced(self.study)

    def keep(self, trial: optuna.Trial, run: PlannedRun, evaluation: Evaluation) -> float:
        """Store the run's weights and metrics; its value is its validation Δ_MTL."""
        assert evaluation.network is not None  # full training always has a network
        primary = self.problem.primary(evaluation.metrics)
        artifact, sha256 = save_weights(self.store, trial, evaluation.network)
        record.write(
            trial,
            metrics=evaluation.metrics,
            primary=primary,
            epochs=evaluation.epochs,
            train_seconds=evaluation.train_seconds,
            weights=artifact,
            weights_sha256=sha256,
        )
        if self.baseline is None:
            return 0.0
        delta = delta_mtl(primary, self.baseline, self.problem.higher_is_better)
        record.write(trial, delta_mtl=delta)
        return delta


def _queue_lost_weights(
    study: optuna.Study, confirm: ConfirmPlan, store: FileSystemArtifactStore
) -> list[int]:
    """Mark the complete runs whose weights cannot be loaded as replaced; return their numbers.

    Their (finalist, seed) pairs are then missing, so the caller queues them again.
    """
    lost = []
    for t in confirm.runs.complete(study, replaced(study)).values():
        r = TrialRecord.of(t)
        try:
            load_weights(store, str(r.weights), r.weights_sha256)
        except (FileNotFoundError, CorruptWeights):
            lost.append(t.number)
    if lost:
        rec = StudyRecord(study)
        rec.set(REPLACED_KEY, sorted(replaced(study) | set(lost)))
        rec.set(CONFIRMED_KEY, None)  # computed again from the retrained runs
    return lost


def run_confirm(
    handle: StudyHandle,
    problem: Problem,
    top: int | None = None,
    seeds: int | None = None,
    progress: bool = True,
    retrain: bool = False,
    latency_repeats: int = LATENCY_REPEATS,
    peers: tuple[str, ...] | None = None,
) -> ConfirmedResult:
    """Train every missing confirm run, then compute (once) and return the confirmed result.

    ``top`` / ``seeds``: finalists besides the baselines and seeds per finalist (None: the
    defaults, or what an existing confirm stage stored). With ``retrain``, complete runs whose
    weights are missing or corrupt are trained again (the same seeds) and the result is
    computed anew from them; nothing else is retrained. ``latency_repeats``: timed runs per
    layout and batch size when the result is computed (0: latency is not measured).
    ``peers``: the peer families (:func:`open_confirm`).

    Raises:
        ConfirmError: nothing to confirm, options that differ from the stored plan, or runs
            that failed.
        StorageError: the storage has no artifact store for the runs' weights.
    """
    store = handle.store
    if store is None:
        raise StorageError("the confirm stage keeps every run's weights: give --artifacts DIR")
    study, confirm = open_confirm(handle, problem, top, seeds, peers)
    rec = StudyRecord(study)
    lost = _queue_lost_weights(study, confirm, store) if retrain else []
    if retrain:
        _log.info(
            f"retraining {len(lost)} confirm runs whose weights are missing or corrupt: "
            + ", ".join(f"run {n}" for n in lost)
            if lost
            else "every confirm run's weights are in place: nothing to retrain"
        )
    done = rec.get(CONFIRMED_KEY)
    if done is not None and not lost:
        stored = ConfirmedResult.from_dict(done)
        if stored.version >= CONFIRMED_VERSION:
            return stored
        # Chosen by an earlier rule (a baseline could not be the answer): choose again from
        # the stored runs; every run is complete, so nothing trains.
        _log.info(f"study {handle.name!r}: its verdict was chosen by an earlier rule; choosing "
                  "again from the stored runs (nothing is retrained)")  # fmt: skip
    _train_missing(handle, problem, study, confirm, progress)
    eligible = answerable(handle.study, confirm, bool(handle.config.judged_on().max_cost))
    result = decide(study, confirm, problem, store, eligible)
    if latency_repeats > 0:
        result = with_latency(result, study, problem, store, latency_repeats)
    else:
        _log.info("latency not measured (--confirm-latency-repeats 0)")
    StudyRecord(study).set(CONFIRMED_KEY, result.to_dict())
    return result


def train_confirm_runs(handle: StudyHandle, problem: Problem, progress: bool = True) -> None:
    """Train the confirm runs no process has trained, then stop (one device slot's share).

    The process that started the slots plans the stage first and computes the result after.

    Raises:
        StorageError: the storage has no artifact store for the runs' weights.
    """
    if handle.store is None:
        raise StorageError("the confirm stage keeps every run's weights: give --artifacts DIR")
    study, confirm = open_confirm(handle, problem, None, None)
    _train_missing(handle, problem, study, confirm, progress)


def _train_missing(
    handle: StudyHandle, problem: Problem, study: optuna.Study, confirm: ConfirmPlan, progress: bool
) -> None:
    assert handle.store is not None  # checked by both callers, with the user's message
    baseline = StudyRecord(handle.study).baseline()
    objective = ConfirmRun(study, confirm, handle.config, problem, handle.store, baseline)
    run_planned(objective, handle.url, progress)


def with_latency(
    result: ConfirmedResult,
    study: optuna.Study,
    problem: Problem,
    store: FileSystemArtifactStore,
    repeats: int = LATENCY_REPEATS,
) -> ConfirmedResult:
    """``result`` with each tested layout's latency, measured here side by side.

    Each tested layout's first-seed network is exported and timed under onnxruntime
    (:mod:`nas.runtime._latency`: the graph ``mtlnas export`` writes, on the device it would serve
    on). A network the exporter cannot take costs the latency figures, never the answer.
    """
    from nas.runtime._latency import measure_latency  # the serving graph is export's business

    runs = study.get_trials(deepcopy=False)
    nets = {}
    for row in result.rows:
        if row.tested:
            r = TrialRecord.of(runs[row.runs[result.seeds[0]]])
            net = problem.build(row.layout)
            net.load_state_dict(load_weights(store, str(r.weights), r.weights_sha256))
            nets[str(row.finalist)] = net.eval()
    _log.info(
        f"timing {len(nets)} exported graphs under onnxruntime, batch 1 and 64, {repeats} runs "
        "each (--confirm-latency-repeats N; 0 skips)"
    )
    try:
        latency = measure_latency(nets, repeats=repeats)
    except Exception as err:
        line = f"{type(err).__name__}: {err}".splitlines()[0][:300]
        _log.warning(f"latency not measured ({line}); the confirmed result stands")
        return result
    rows = [replace(r, latency_ms=latency.median_ms.get(str(r.finalist))) for r in result.rows]
    return replace(result, rows=rows, latency_device=latency.device)
