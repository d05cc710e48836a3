"""What a study has learned so far, read back for the structural samplers.

The layouts its complete trials trained, with their score (:func:`observations`) or each task's
term of Δ_MTL (:func:`task_observations`), as :mod:`nas.explore.strategies._structure` models them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial, TrialState

from nas.core._layout import Layout
from search_spaces import SearchSpace

__all__ = ["layout_of", "observations", "task_observations"]


def _trained(study: optuna.Study, space: SearchSpace) -> Iterator[tuple[FrozenTrial, Layout]]:
    # Complete trials that trained their layout: a trial answered from an earlier one
    # (``duplicate_of``) repeats that result and is left out, as is a non-finite score.
    dists = space.distributions()
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        if t.user_attrs.get("duplicate_of") is not None or not t.values:
            continue
        layout = layout_of(t, space, dists)
        # A layout at another width (an equal-cost baseline) is no point of the space.
        if layout is not None and layout.width == 1 and math.isfinite(t.values[0]):
            yield t, layout


def observations(study: optuna.Study, space: SearchSpace) -> list[tuple[Layout, float]]:
    """(layout, first objective) of every complete trial that trained its layout.

    A trial answered from an earlier one (``duplicate_of``) repeats that result and is left
    out; a layout trained twice (other seeds, e.g. a retry) counts twice.
    """
    return [(layout, float(t.values[0])) for t, layout in _trained(study, space)]


def task_observations(
    study: optuna.Study, space: SearchSpace
) -> list[tuple[Layout, dict[str, float]]] | None:
    """(layout, each task's term of Δ_MTL) of the trials :func:`observations` reads.

    None when one of them stored no terms (a study of an older release, or objectives of a
    user's own): the per-task model then cannot see every training.
    """
    out = []
    for t, layout in _trained(study, space):
        terms = t.user_attrs.get("task_deltas")
        if not isinstance(terms, dict):
            return None
        out.append((layout, {k: float(v) for k, v in terms.items()}))
    return out


def layout_of(
    t: FrozenTrial, space: SearchSpace, dists: dict[str, BaseDistribution]
) -> Layout | None:
    """The layout trial ``t`` trained: stored with it, else rebuilt from its parameters."""
    stored = t.user_attrs.get("layout")
    if stored is not None:
        return Layout.from_dict(stored)
    if all(k in t.params for k in dists):
        return space.suggest(optuna.trial.FixedTrial({k: t.params[k] for k in dists}))
    return None
