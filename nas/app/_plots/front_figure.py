"""A confirmed front as one figure: what each point of cost buys, on the test split.

Cost (a multiple of the independent networks') on one axis, test Δ_MTL on the other; every
confirm seed is a dot, each layout's mean ± sd a bar. Layouts a paired comparison shows
dominated (:func:`nas.study._outcome.front.dominated`) are drawn hollow.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib import pyplot as plt

from nas.app._plots.figures import save
from nas.study._outcome.confirmed import ConfirmedResult, ConfirmedRow
from nas.study._outcome.front import dominated, row_cost
from nas.study._roles import ROLES

__all__ = ["plot_front"]

AXIS_NAMES = {"flops": "FLOPs per sample", "params": "parameters", "latency": "latency, batch 1"}


def _name(result: ConfirmedResult, row: ConfirmedRow) -> str:
    if ROLES[row.role].baseline:
        return ROLES[row.role].name
    win = ", winner" if row.finalist == result.winner else ""
    return f"#{row.finalist} (trial {row.source_trial}{win})"


def plot_front(result: ConfirmedResult, path: Path, study_name: str) -> Path:
    """Write the figure of a confirmed front ``result`` to ``path``.

    Raises:
        ValueError: ``result`` is not a front, or its costs are unknown.
    """
    base = row_cost(result, result.independent)
    rows = [r for r in result.rows if r.tested]
    points = [(r, row_cost(result, r)) for r in rows]
    if result.cost_axis is None or not base or any(c is None for _, c in points):
        raise ValueError("not a confirmed front with known costs")
    dom = dominated(result)
    fig, ax = plt.subplots(figsize=(7.5, 5.0))
    kept = []
    for row, cost in points:
        assert cost is not None and row.test_deltas is not None and row.test_delta is not None
        x, colour = cost / base, ROLES[row.role].colour
        ax.scatter([x] * len(row.test_deltas), [100 * v for v in row.test_deltas], s=16,
                   color=colour, alpha=0.55, zorder=3)  # fmt: skip
        hollow = row.finalist in dom
        mean, sd = 100 * row.test_delta.mean, 100 * row.test_delta.sd
        ax.errorbar([x], [mean], yerr=[sd], fmt="o", ms=8, capsize=4, color=colour, zorder=4,
                    mfc="white" if hollow else colour)  # fmt: skip
        ax.annotate(_name(result, row) + (" (dominated)" if hollow else ""), (x, mean),
                    xytext=(7, 4), textcoords="offset points", fontsize=8)  # fmt: skip
        if not hollow:
            kept.append((x, mean))
    kept.sort()
    ax.plot([k[0] for k in kept], [k[1] for k in kept], color="0.7", lw=1, zorder=1)
    ax.axhline(0, color="0.6", lw=0.8)
    axis = AXIS_NAMES[result.cost_axis]
    ax.set_xlabel(f"{axis}, multiple of the independent networks' (left is cheaper)")
    ax.set_ylabel("test Δ_MTL (%) vs independent, same seeds (up is better)")
    ax.set_title(
        f"{study_name}: confirmed front on the test split\n{len(result.seeds)} fresh seeds per "
        "layout; dots are seeds, bars mean ± sd; hollow: dominated (paired 95% interval)",
        fontsize=10,
    )
    words = "; ".join(f"{_name(result, r)}: {result.cost_words(r)}" for r in rows)
    return save(fig, path, f"confirmed front of {study_name} (test split). {words}")
