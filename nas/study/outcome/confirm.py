"""The confirm stage: retrain the finalists and both baselines with fresh seeds, then test once.

Validation chose the search's leaderboard, so its best score is optimistic (the winner's curse).
This stage retrains the top ``K`` distinct layouts and the two baselines from scratch with ``S``
seeds the search never used, picks the winner by mean validation Δ_MTL over those seeds, and only
then scores the winner and the baselines on the test split, which nothing before reads.

Its runs are trials of a sibling Optuna study, ``NAME:confirm``, in the same database: the same
heartbeats, retries of killed runs, workers and artifact store as the search, and readable by the
stock Optuna tools. Each run is enqueued with its role, layout and seed, so a resumed or second
process trains only what is missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import optuna
from optuna.artifacts import FileSystemArtifactStore
from optuna.trial import FrozenTrial, TrialState

from nas.core.layout import Layout
from nas.data.metrics import delta_mtl
from nas.explore.config import SearchConfig
from nas.explore.evaluators import Candidate, Evaluation, FullTraining
from nas.explore.objectives import feasible
from nas.study.outcome.confirm_options import ConfirmError, check_confirm_options
from nas.study.outcome.front import choose
from nas.study.store import record
from nas.study.store.record import (
    CONFIRM_SUFFIX,
    REPLACED_KEY,
    StudyRecord,
    TrialRecord,
)
from nas.study.store.recording import claim_missing, recording
from nas.study.store.weights import save_weights
from nas.training.problem import Problem

__all__ = [
    "CONFIRM_SUFFIX",
    "ConfirmError",
    "ConfirmPlan",
    "Finalist",
    "RunObjective",
    "complete_runs",
    "confirm_name",
    "missing_runs",
    "plan",
    "replaced",
]

SEED_OFFSET = 1000  # confirm seeds: search seed + 1000, + 1001, ... never the search's own


def confirm_name(name: str) -> str:
    """The confirm study's name for search study ``name``."""
    return name + CONFIRM_SUFFIX


@dataclass(frozen=True)
class Finalist:
    """A layout the confirm stage retrains: a baseline, or one of the search's best."""

    role: str  # independent, hard_sharing or candidate
    layout: Layout
    loss_weighting: str
    source_trial: int | None  # the search trial it came from (None for a baseline not run)
    val_delta: float | None  # its single-seed validation Δ_MTL in the search

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "role": self.role,
            "layout": self.layout.to_dict(),
            "loss_weighting": self.loss_weighting,
            "source_trial": self.source_trial,
            "val_delta": self.val_delta,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finalist:
        """Read :meth:`to_dict` output."""
        return cls(
            data["role"],
            Layout.from_dict(data["layout"]),
            data["loss_weighting"],
            data["source_trial"],
            data["val_delta"],
        )


@dataclass(frozen=True)
class ConfirmPlan:
    """Which layouts to retrain with which seeds; fixed when the confirm stage starts."""

    finalists: tuple[Finalist, ...]
    seeds: tuple[int, ...]
    top: int
    cost_axis: str | None = None  # a front's cost objective: every finalist is then tested

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out: dict[str, Any] = {
            "finalists": [f.to_dict() for f in self.finalists],
            "seeds": list(self.seeds),
            "top": self.top,
        }
        if self.cost_axis is not None:
            out["cost_axis"] = self.cost_axis
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ConfirmPlan:
        """Read :meth:`to_dict` output."""
        finalists = tuple(Finalist.from_dict(f) for f in data["finalists"])
        return cls(finalists, tuple(data["seeds"]), int(data["top"]), data.get("cost_axis"))

    def runs(self) -> list[dict[str, Any]]:
        """One user-attribute set per (finalist, seed): seed by seed, baselines first."""
        return [
            {
                "role": f.role,
                "finalist": i,
                "seed": seed,
                "layout": f.layout.to_dict(),
                "summary": f.layout.summary(),
                "loss_weighting": f.loss_weighting,
            }
            for seed in self.seeds
            for i, f in enumerate(self.finalists)
        ]


def plan(study: optuna.Study, config: SearchConfig, top: int, seeds: int) -> ConfirmPlan:
    """The two baselines and ``top`` distinct complete layouts of ``study`` within its budget.

    The ``top`` best by validation Δ_MTL; for a study with a cost objective, ``top`` spread
    across cost along its validation front (:func:`nas.study.outcome.front.choose`).

    Raises:
        ConfirmError: no complete trial beyond the two baselines, or bad ``top`` / ``seeds``.
    """
    check_confirm_options(top, seeds)
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    records = [(t, TrialRecord.of(t)) for t in complete]
    baselines: dict[str, Finalist] = {}
    layouts = _baseline_layouts(study)
    for role, layout in layouts.items():
        source = next(
            (t for t, r in records if r.baseline == role and r.delta_mtl is not None), None
        )
        baselines[role] = Finalist(
            role,
            layout,
            "equal",
            None if source is None else source.number,
            None if source is None else TrialRecord.of(source).delta_mtl,
        )
    seen = {(layout, "equal") for layout in layouts.values()}
    distinct: list[tuple[FrozenTrial, Finalist]] = []
    ranked = sorted(records, key=lambda tr: (-(tr[1].delta_mtl or -1e9), tr[0].number))
    for t, r in ranked:
        if r.layout is None or r.delta_mtl is None or not feasible(t):
            continue  # a layout over the study's budget is never a finalist
        key = (Layout.from_dict(r.layout), r.loss_weighting or "equal")
        if key not in seen:  # each layout once, at its best validation score
            seen.add(key)
            distinct.append((t, Finalist("candidate", key[0], key[1], t.number, r.delta_mtl)))
    costs = config.judged_on().costs
    if costs:  # a front: finalists spread across cost along it, not the top K by Δ_MTL
        points = [(float(t.values[0]), float(t.values[1])) for t, _ in distinct]
        candidates = [distinct[i][1] for i in choose(points, top)]
    else:
        candidates = [f for _, f in distinct[:top]]
    budgeted = bool(config.judged_on().max_cost)
    trials = study.get_trials(deepcopy=False)
    fits = [
        role
        for role, f in baselines.items()
        if f.source_trial is not None and feasible(trials[f.source_trial])
    ]
    if not candidates and not (budgeted and fits and len(records) > 2):
        over = " within the budget" if budgeted else ""
        raise ConfirmError(
            f"study {study.study_name!r} has no complete layout{over} beyond the two "
            f"baselines to confirm ({len(complete)} complete trials); run more: "
            f"mtlnas resume {study.study_name} --n-trials N"
        )
    if not candidates:  # every searched layout is over the budget: what fits is the answer
        print(
            f"note: no layout study {study.study_name!r} searched beyond the baselines is "
            f"within its budget; confirming the baselines ({' and '.join(fits)} within it)"
        )
    first = config.seed + SEED_OFFSET
    finalists = (baselines["independent"], baselines["hard_sharing"], *candidates)
    seeds_used = tuple(range(first, first + seeds))
    return ConfirmPlan(finalists, seeds_used, top, costs[0] if costs else None)


def _baseline_layouts(study: optuna.Study) -> dict[str, Layout]:
    # The layouts the search enqueued (its stored baselines), whatever state they ended in.
    out: dict[str, Layout] = {}
    for t in study.get_trials(deepcopy=False):
        r = TrialRecord.of(t)
        if r.baseline in ("independent", "hard_sharing") and r.layout is not None:
            out.setdefault(r.baseline, Layout.from_dict(r.layout))
    if set(out) != {"independent", "hard_sharing"}:
        raise ConfirmError(f"study {study.study_name!r} has no stored baselines to confirm")
    return out


class RunObjective:
    """Trains one enqueued confirm run from scratch and stores its weights and validation score.

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
        self.record, self.plan = StudyRecord(study), confirm
        self.problem, self.store, self.baseline = problem, store, search_baseline
        # Confirm runs always train from scratch, whatever scored the search's candidates.
        self.trainer = FullTraining.from_config(config)

    def __call__(self, trial: optuna.Trial) -> float:
        """Train the run the trial was enqueued with; failures are recorded and raised."""
        missing = partial(missing_runs, self.record.study, self.plan, exclude=trial.number)
        attrs = claim_missing(trial, "role", missing, "confirm run")
        with recording(trial, self.problem.device):
            layout = Layout.from_dict(attrs["layout"])
            candidate = Candidate(layout, attrs["loss_weighting"], int(attrs["seed"]))
            evaluation: Evaluation = self.trainer.evaluate(self.problem, candidate)
            primary = self.problem.primary(evaluation.metrics)
            assert evaluation.network is not None  # full training always has a network
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


def replaced(study: optuna.Study) -> set[int]:
    """Numbers of complete runs whose weights were lost and that were trained again."""
    return set(StudyRecord(study).get(REPLACED_KEY) or [])


def complete_runs(study: optuna.Study) -> dict[tuple[int, int], FrozenTrial]:
    """(finalist index, seed) -> the first complete run of it (not one replaced since)."""
    out: dict[tuple[int, int], FrozenTrial] = {}
    gone = replaced(study)
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        if t.number in gone:
            continue
        key = (int(t.user_attrs["finalist"]), int(t.user_attrs["seed"]))
        out.setdefault(key, t)
    return out


def missing_runs(
    study: optuna.Study, confirm: ConfirmPlan, exclude: int | None = None
) -> list[dict[str, Any]]:
    """The runs of the plan that no trial has completed, is running or waits to run."""
    live = (TrialState.COMPLETE, TrialState.WAITING, TrialState.RUNNING)
    gone = replaced(study)
    covered = {
        (int(t.user_attrs["finalist"]), int(t.user_attrs["seed"]))
        for t in study.get_trials(deepcopy=False, states=live)
        if "finalist" in t.user_attrs and t.number != exclude and t.number not in gone
    }
    return [r for r in confirm.runs() if (r["finalist"], r["seed"]) not in covered]
