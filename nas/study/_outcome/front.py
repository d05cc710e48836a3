"""Confirmed fronts: finalists spread along the validation front, and dominance on the test split.

A study with a cost objective (``--objectives delta,flops``) answers "what does each point of
cost buy?", so its confirm stage does not retrain the top ``K`` layouts by Δ_MTL (they crowd
the expensive end): it takes ``K`` layouts spread across cost along the validation Pareto front
(then along the next front, when the first has fewer than ``K``), retrains each with the confirm
seeds and tests every one. A finalist is reported *dominated* when another tested layout costs
no more and beats it on test Δ_MTL with a paired 95% interval above zero over the seeds:
with a handful of seeds, "not shown dominated" is all a point can claim.

Example:
    >>> layers([(0.0, 1.0), (-1.0, 0.5), (-2.0, 0.8), (-3.0, 0.2)])
    [[3, 1, 0], [2]]
    >>> spread([0.2, 0.21, 0.22, 0.23, 0.6, 1.0], 3)
    [0, 4, 5]
"""

from __future__ import annotations

from collections.abc import Sequence

from nas.study._outcome.confirmed import ConfirmedResult, ConfirmedRow, Paired

__all__ = ["DEFAULT_FRONT_TOP", "choose", "dominated", "layers", "row_cost", "spread"]

DEFAULT_FRONT_TOP = 3  # finalists along a front besides the baselines: its two ends and a middle


def layers(points: Sequence[tuple[float, float]]) -> list[list[int]]:
    """Non-dominated layers of (score, cost) points: score maximised, cost minimised.

    Each layer is a list of indices into ``points``, sorted by cost (then index); the first
    layer is the Pareto front, the second the front of what is left, and so on.
    """

    def beats(a: tuple[float, float], b: tuple[float, float]) -> bool:
        return a[0] >= b[0] and a[1] <= b[1] and a != b

    left = list(range(len(points)))
    out = []
    while left:
        layer = [i for i in left if not any(beats(points[j], points[i]) for j in left)]
        out.append(sorted(layer, key=lambda i: (points[i][1], i)))
        left = [i for i in left if i not in layer]
    return out


def spread(costs: Sequence[float], k: int) -> list[int]:
    """Indices of ``k`` of ``costs`` spread across their range: both ends, then evenly between.

    Each of ``k`` evenly spaced cost targets from the cheapest to the dearest takes the nearest
    index not yet taken; all of them when there are ``k`` or fewer. Sorted by cost.
    """
    order = sorted(range(len(costs)), key=lambda i: (costs[i], i))
    if k >= len(order):
        return order
    if k == 1:
        return [order[-1]]  # one point: the front's most accurate end
    low, high = costs[order[0]], costs[order[-1]]
    taken: list[int] = []
    for step in range(k):
        target = low + (high - low) * step / (k - 1)
        free = [i for i in order if i not in taken]
        taken.append(min(free, key=lambda i: (abs(costs[i] - target), costs[i], i)))
    return sorted(taken, key=lambda i: (costs[i], i))


def choose(points: Sequence[tuple[float, float]], k: int) -> list[int]:
    """``k`` indices of (score, cost) ``points`` spread along the front, then the next fronts."""
    chosen: list[int] = []
    for layer in layers(points):
        need = k - len(chosen)
        if need <= 0:
            break
        if need >= len(layer):
            chosen += layer
        else:
            chosen += [layer[i] for i in spread([points[j][1] for j in layer], need)]
    return sorted(chosen, key=lambda i: (points[i][1], i))


def row_cost(result: ConfirmedResult, row: ConfirmedRow) -> float | None:
    """``row``'s cost on the result's cost axis (latency: milliseconds at batch 1)."""
    axis = result.cost_axis
    if axis in ("flops", "params"):
        value = getattr(row, axis)
        return None if value is None else float(value)
    if axis == "latency" and row.latency_ms:
        return row.latency_ms.get(min(row.latency_ms))
    return None


def dominated(result: ConfirmedResult) -> dict[int, int]:
    """Finalist -> a tested finalist that costs no more and is better on test (95% interval).

    The comparison is paired seed by seed (both Δ_MTL are against the same-seed independent
    networks); the dominating finalist given is the cheapest such one. Empty for a result
    without a cost axis.
    """
    tested = [r for r in result.rows if r.tested]
    costs = {r.finalist: row_cost(result, r) for r in tested}
    out: dict[int, int] = {}
    for a in tested:
        ca = costs[a.finalist]
        if ca is None or a.test_deltas is None:
            continue
        better = []
        for b in tested:
            cb = costs[b.finalist]
            if b is a or cb is None or cb > ca or b.test_deltas is None:
                continue
            paired = Paired([x - y for x, y in zip(b.test_deltas, a.test_deltas, strict=True)])
            if paired.better:
                better.append((cb, b.finalist))
        if better:
            out[a.finalist] = min(better)[1]
    return out
