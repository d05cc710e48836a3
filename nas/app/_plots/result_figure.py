"""The confirmed result as one figure: is the winner better than the baselines, and on which task.

Everything in it is from the test split, scored once after the confirm stage retrained the
winner and both baselines with fresh seeds; each dot is one seed, each bar mean ± sd.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import pyplot as plt

from nas.app._plots.figures import save
from nas.study._outcome.confirmed import ConfirmedResult, ConfirmedRow
from nas.study._roles import ROLES

__all__ = ["plot_confirmed"]


def _label(result: ConfirmedResult, row: ConfirmedRow) -> str:
    role = ROLES[row.role]
    name = role.name if role.baseline else f"winner (trial {row.source_trial})"
    if row.layout.width != 1:
        name += f" at {row.layout.width:g}x width"
    if role.baseline and row.finalist == result.winner:
        name += " (winner)"
    ratio, latency = result.cost_ratio(row), result.latency_ratio(row)
    if ratio is not None:
        name += f"\n{ratio[0]:.2f}x FLOPs, {ratio[1]:.2f}x params"
    against = result.against(row, "independent_scaled")
    if against is not None and row.role != "independent_scaled":  # a budget's equal-cost rows
        name += f"\n{100 * sum(against) / len(against):+.2f}% vs equal-cost separate"
    if latency:
        batches = sorted(latency)
        each = "/".join(f"{latency[b]:.2f}x" for b in batches)
        name += f"\n{each} latency (batch {'/'.join(map(str, batches))})"
    return name


def _dots(ax: Any, y: float, values: list[float], colour: str) -> None:
    jitter = np.linspace(-0.12, 0.12, len(values)) if len(values) > 1 else np.zeros(1)
    ax.scatter(values, y + jitter, s=14, color=colour, alpha=0.7, zorder=3)


def plot_confirmed(result: ConfirmedResult, path: Path, study_name: str) -> Path:
    """Write the figure of a confirm stage's ``result`` to ``path``."""
    rows = [r for r in result.rows if r.tested]
    tasks = result.tasks
    seeds = len(result.seeds)
    cols = math.ceil(len(tasks) / 2)
    fig = plt.figure(figsize=(4.6 + 3.0 * cols, 4.6))
    grid = fig.add_gridspec(2, 1 + cols, width_ratios=[1.5] + [1.0] * cols, wspace=0.45, hspace=0.6)
    ax = fig.add_subplot(grid[:, 0])
    ys = list(range(len(rows)))[::-1]
    for y, r in zip(ys, rows, strict=True):
        d = r.test_delta
        assert d is not None and r.test_deltas is not None
        colour = ROLES[r.role].colour
        ax.errorbar(
            [100 * d.mean],
            [y],
            xerr=[100 * d.sd],
            fmt="o",
            color=colour,
            capsize=4,
            ms=7,
            zorder=4,
        )
        _dots(ax, y, [100 * v for v in r.test_deltas], colour)
    ax.axvline(0, color="0.6", lw=0.8)
    ax.set_yticks(ys, [_label(result, r) for r in rows])
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_xlabel("test Δ_MTL (%) vs independent, same seeds\n(right is better)")
    ax.set_title("all tasks together", fontsize=10)
    for k, task in enumerate(tasks):
        sub = fig.add_subplot(grid[k % 2, 1 + k // 2])
        for y, r in zip(ys, rows, strict=True):
            s = r.test_primary(task.name)
            assert s is not None
            colour = ROLES[r.role].colour
            sub.errorbar(
                [s.mean], [y], xerr=[s.sd], fmt="o", color=colour, capsize=3, ms=5, zorder=4
            )
            runs = [run[task.name] for run in r.test_primary_runs or []]
            if runs:
                _dots(sub, y, runs, colour)
        better = "right" if task.higher_is_better else "left"
        sub.set_title(f"{task.name}: {task.primary}\n({better} is better)", fontsize=9)
        # The rows are the left panel's, in its order: names here would run into the panel
        # to the left, so each row is told by its colour and place.
        sub.set_yticks(ys, [])
        sub.set_ylim(-0.6, len(rows) - 0.4)
        sub.tick_params(axis="x", labelsize=8)
    fig.suptitle(
        f"{study_name}: confirmed on the test split — {seeds} fresh seeds per layout, "
        "dots are seeds, bars mean ± sd;\nper-task panels: the left panel's rows, in its order",
        fontsize=11,
        y=1.04,
    )
    fig.text(0.01, -0.04, _verdict(result), fontsize=9, va="top")
    # The metadata holds every row's label and the verdict: the figure's text, searchable.
    labels = "\n".join(_label(result, r).replace("\n", "; ") for r in rows)
    return save(fig, path, f"{labels}\n{_verdict(result)}")


def _verdict(result: ConfirmedResult) -> str:
    lines = []
    for key in result.baselines:  # every baseline the result holds, equal-cost ones included
        name = ROLES[key].name
        if key == result.winner_row.role:
            continue  # the winner itself
        paired = result.paired(key)
        p = paired.summary
        word = "better" if paired.better else "not shown better"
        lines.append(
            f"winner minus {name}: {100 * p.mean:+.2f} ± {100 * p.se:.2f} (SE) points over "
            f"{p.n} seeds, 95% [{100 * p.low:+.2f}, {100 * p.high:+.2f}]: {word}"
        )
    return "\n".join(lines)
