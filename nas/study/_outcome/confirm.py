"""The confirm stage: retrain the finalists and the baselines with fresh seeds, then test once.

Validation chose the search's leaderboard, so its best score is optimistic (the winner's curse).
This stage retrains the top ``K`` distinct layouts and the baselines (the two every study has,
and, in a study with a budget, both scaled to it) from scratch with ``S``
seeds the search never used, picks the winner by mean validation Δ_MTL over those seeds, and only
then scores the winner and the baselines on the test split, which nothing before reads.

Its runs are trials of a sibling Optuna study, ``NAME:confirm``, in the same database: the same
heartbeats, retries of killed runs, workers and artifact store as the search, and readable by the
stock Optuna tools. Each run is enqueued with its role, layout and seed, so a resumed or second
process trains only what is missing (:mod:`nas.study._planned`). This module plans the stage
and checks its options; :mod:`~nas.study._outcome.stage` runs it, and
:mod:`~nas.study._outcome.verdict` reads its answer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from nas.core._errors import UserError
from nas.core._layout import Layout
from nas.explore._config import SearchConfig
from nas.explore._objectives import feasible
from nas.study._outcome.front import choose
from nas.study._planned import PlannedRun, RunPlan
from nas.study._roles import BASELINES, Role, role_of
from nas.study._store.joining import study_exists
from nas.study._store.record import (
    CONFIRM_OPTIONS_KEY,
    CONFIRM_SUFFIX,
    REPLACED_KEY,
    StudyRecord,
    TrialRecord,
)

__all__ = [
    "CONFIRM_SUFFIX",
    "ConfirmError",
    "ConfirmPlan",
    "Finalist",
    "check_confirm_options",
    "confirm_name",
    "plan",
    "replaced",
    "stored_confirm_options",
]

_log = logging.getLogger(__name__)


class ConfirmError(UserError, RuntimeError):
    """Nothing to confirm, or options that differ from a confirm stage already started."""


def check_confirm_options(
    top: int | None,
    seeds: int | None,
    latency_repeats: int | None = None,
    prefix: str = "--confirm-",
) -> None:
    """Refuse a finalist count below 1, fewer than 2 seeds, or negative latency repeats.

    None is the default, accepted. Called before a search starts, so a bad option never
    costs a search. ``prefix``: how the flags are spelt (``--`` for ``mtlnas confirm``).

    Raises:
        ConfirmError: naming the option and its least value.
    """
    for flag, value, least, why in (
        (f"{prefix}top", top, 1, "at least one finalist besides the baselines"),
        (f"{prefix}seeds", seeds, 2, "a spread needs two seeds"),
        (f"{prefix}latency-repeats", latency_repeats, 0, "0 skips the latency figures"),
    ):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfirmError(f"{flag} must be an integer, got {value!r}")
        if value < least:
            raise ConfirmError(f"{flag} must be at least {least} ({why}), got {value}")


def stored_confirm_options(
    storage: optuna.storages.BaseStorage,
    study: optuna.Study,
    top: int | None,
    seeds: int | None,
    peers: tuple[str, ...] | None = None,
) -> tuple[int | None, int | None, tuple[str, ...] | None]:
    """``top``, ``seeds`` and ``peers`` as given, else as a search of ``study`` stored them.

    What is given is stored, so a search killed before its confirm stage is confirmed on
    resume as it was asked to be. Once the confirm stage is planned its plan rules: the options
    are returned as given, for :func:`~nas.study._outcome.stage.open_confirm` to compare with
    it (or to add the peers given), and nothing is written.
    """
    if study_exists(storage, study.study_name + CONFIRM_SUFFIX):
        return top, seeds, peers
    record = StudyRecord(study)
    stored = dict(record.get(CONFIRM_OPTIONS_KEY) or {})
    named = None if peers is None else list(peers)
    given = {k: v for k, v in (("top", top), ("seeds", seeds), ("peers", named)) if v is not None}
    if given and {**stored, **given} != stored:
        stored |= given
        record.set(CONFIRM_OPTIONS_KEY, stored)
    kept = stored.get("peers")
    return stored.get("top"), stored.get("seeds"), None if kept is None else tuple(kept)


SEED_OFFSET = 1000  # confirm seeds: search seed + 1000, + 1001, ... never the search's own


def confirm_name(name: str) -> str:
    """The confirm study's name for search study ``name``."""
    return name + CONFIRM_SUFFIX


@dataclass(frozen=True)
class Finalist:
    """A layout the confirm stage retrains: a baseline, or one of the search's best."""

    role: Role
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
            role_of(data["role"]),
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

    def joined(self, peers: Sequence[Finalist]) -> ConfirmPlan:
        """This plan with ``peers`` after every finalist (a run's finalist number never moves)."""
        return replace(self, finalists=(*self.finalists, *peers))

    def with_peers(self, peers: Sequence[Finalist]) -> ConfirmPlan:
        """A new plan with ``peers`` after its baselines, before the searched finalists."""
        n = sum(f.role != "candidate" for f in self.finalists)
        return replace(self, finalists=(*self.finalists[:n], *peers, *self.finalists[n:]))

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

    @property
    def runs(self) -> RunPlan:
        """One run per (finalist, seed): seed by seed, baselines first."""
        return RunPlan(
            "finalist",
            tuple(
                PlannedRun(i, seed, f.layout, f.loss_weighting, f.role)
                for seed in self.seeds
                for i, f in enumerate(self.finalists)
            ),
            "confirm run",
        )


def plan(study: optuna.Study, config: SearchConfig, top: int, seeds: int) -> ConfirmPlan:
    """The baselines and ``top`` distinct complete layouts of ``study`` within its budget.

    The baselines are the independent networks and hard sharing, then, in a study with a
    parameter or FLOP budget, the same two at the widest width within it (``..._scaled``).
    The peers (:mod:`~nas.study._outcome.peers`) join with :meth:`ConfirmPlan.with_peers`.

    The ``top`` best by validation Δ_MTL; for a study with a cost objective, ``top`` spread
    across cost along its validation front (:func:`nas.study._outcome.front.choose`).

    Raises:
        ConfirmError: no complete trial beyond the two baselines, or bad ``top`` / ``seeds``.
    """
    check_confirm_options(top, seeds)
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    records = [(t, TrialRecord.of(t)) for t in complete]
    baselines: dict[Role, Finalist] = {}
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
        _log.info(
            f"note: no layout study {study.study_name!r} searched beyond the baselines is "
            f"within its budget; confirming the baselines ({' and '.join(fits)} within it)"
        )
    first = config.seed + SEED_OFFSET
    finalists = (*baselines.values(), *candidates)
    seeds_used = tuple(range(first, first + seeds))
    return ConfirmPlan(finalists, seeds_used, top, costs[0] if costs else None)


def _baseline_layouts(study: optuna.Study) -> dict[Role, Layout]:
    # The layouts the search enqueued (its stored baselines), whatever state they ended in, in
    # the order of BASELINES: the two every study has, then a budget's equal-cost ones.
    found: dict[Role, Layout] = {}
    for t in study.get_trials(deepcopy=False):
        r = TrialRecord.of(t)
        if r.baseline in BASELINES and r.layout is not None:
            found.setdefault(role_of(r.baseline), Layout.from_dict(r.layout))
    if not {"independent", "hard_sharing"} <= set(found):
        raise ConfirmError(f"study {study.study_name!r} has no stored baselines to confirm")
    return {role: found[role] for role in BASELINES if role in found}


def replaced(study: optuna.Study) -> set[int]:
    """Numbers of complete runs whose weights were lost and that were trained again."""
    return set(StudyRecord(study).get(REPLACED_KEY) or [])
