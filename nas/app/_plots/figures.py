"""Figures of a study (PNG): the chosen layout, the search history and the Pareto front.

Every figure says which split its numbers come from. A layout drawing carries its full
one-line summary in the PNG's metadata (``Description``), so a shortened title loses nothing.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display

import matplotlib.pyplot as plt
import optuna
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator
from optuna.trial import TrialState

from nas.app._plots.drawing import grid_geometry, tree_geometry
from nas.core._layout import Layout
from nas.study._roles import ROLES

if TYPE_CHECKING:
    from nas.study._outcome.confirmed import ConfirmedResult

__all__ = ["draw_layout", "plot_history", "plot_pareto", "save", "share_colour"]


def save(fig: Figure, path: Path, description: str = "") -> Path:
    """Write ``fig`` as PNG (with ``description`` in its metadata) and free it."""
    fig.savefig(path, dpi=120, bbox_inches="tight", metadata={"Description": description})
    plt.close(fig)  # pyplot keeps every open figure alive otherwise
    return path


def share_colour(n: int, of: int) -> Any:
    """The colour meaning "shared by ``n`` of ``of`` tasks": darker is shared by more."""
    if of <= 1:
        return plt.get_cmap("viridis")(0.45)
    return plt.get_cmap("viridis_r")(0.12 + 0.76 * (n - 1) / (of - 1))


def _share_legend(
    ax: Axes, counts: set[int], of: int, extra: list[Line2D], marker: str = "o"
) -> None:
    handles = [
        Line2D(
            [],
            [],
            marker=marker,
            ls="",
            ms=10,
            color=share_colour(n, of),
            label="own block (1 task)" if n == 1 else f"shared by {n} tasks",
        )
        for n in sorted(counts)
    ]
    ax.legend(
        handles=handles + extra,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
        fontsize=9,
    )


def _title(fig: Figure, ax: Axes, title: str) -> None:
    width = max(30, int(fig.get_figwidth() * 11))  # characters that fit at this size
    ax.set_title(textwrap.fill(title, width), fontsize=10)


def draw_layout(layout: Layout, path: Path, title: str = "") -> Path:
    """Draw a layout: a tree for branched layouts, a select/skip grid otherwise."""
    n, depth = layout.num_tasks, layout.depth
    fig, ax = plt.subplots(figsize=(3.2 + 1.0 * depth, 1.2 + 0.55 * n))
    if layout.is_tree():
        _draw_tree(ax, layout)
        default = "where the tasks branch"
    else:
        _draw_grid(ax, layout)
        default = "which blocks each task runs"
    _title(fig, ax, title or default)
    ax.set_xlim(-1.4, depth + 1.6)
    ax.set_ylim(n - 0.4, -0.6)  # row 0 on top
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", length=0)
    return save(fig, path, layout.summary())


def _draw_tree(ax: Axes, layout: Layout) -> None:
    geo, n, depth = tree_geometry(layout), layout.num_tasks, layout.depth
    start = (-1.0, (n - 1) / 2)
    for node, (x, y) in geo.nodes.items():
        px, py = start if geo.parent[node] is None else geo.nodes[geo.parent[node]]  # type: ignore[index]
        ax.plot([px, x], [py, y], color="0.55", lw=1.6, zorder=1)
    for node, (x, y) in geo.nodes.items():
        ax.scatter(
            [x],
            [y],
            s=230,
            color=share_colour(geo.sizes[node], n),
            zorder=3,
            edgecolors="white",
            linewidths=1.0,
        )
    for task, row in geo.rows.items():
        x, y = geo.nodes[geo.leaf[task]]
        ax.plot([x, depth], [y, row], color="0.55", lw=1.6, zorder=1)
        ax.scatter([depth], [row], s=120, marker="s", color="0.25", zorder=3)
        ax.text(depth + 0.2, row, task, va="center", fontsize=10)
    ax.scatter([start[0]], [start[1]], s=120, marker="D", color="0.25", zorder=3)
    ax.set_xticks([-1, *range(depth), depth], ["input", *map(str, range(depth)), "head"])
    ax.set_xlabel("block (depth)")
    ax.set_yticks([])
    head = Line2D([], [], marker="s", ls="", ms=8, color="0.25", label="task head")
    _share_legend(ax, set(geo.sizes.values()), n, [head])


def _draw_grid(ax: Axes, layout: Layout) -> None:
    geo, n, depth = grid_geometry(layout), layout.num_tasks, layout.depth
    instances = {d: sorted({i for (dd, i) in geo.joins if dd == d}) for d in range(depth)}
    for (d, inst), rows in geo.joins.items():
        # Tasks that run one block instance are joined by a bracket beside their cells, with a
        # tick to each member only: a task between them that does not run it gets no tick.
        colour = share_colour(len(rows), n)
        ax.scatter(
            [d] * len(rows),
            [float(r) for r in rows],
            s=200,
            marker="s",
            zorder=3,
            color=colour,
            edgecolors="white",
            linewidths=1.0,
        )
        if len(rows) > 1:
            x = d + 0.3 + 0.1 * instances[d].index(inst)
            ax.plot([x, x], [rows[0], rows[-1]], color=colour, lw=2, zorder=2)
            for r in rows:
                ax.plot([d + 0.15, x], [r, r], color=colour, lw=2, zorder=2)
    for (task, d), choice in geo.cells.items():
        if choice is None:
            ax.scatter([d], [geo.rows[task]], marker="x", s=70, color="0.55", zorder=3)
    order = sorted(geo.rows, key=geo.rows.__getitem__)
    ax.set_yticks(range(n), order)
    ax.set_xticks(range(depth), [str(d) for d in range(depth)])
    ax.set_xlabel("block (depth)")
    skip = Line2D([], [], marker="x", ls="", ms=8, color="0.55", label="skipped (never run)")
    _share_legend(ax, set(geo.sizes.values()), n, [skip], marker="s")


def plot_history(study: optuna.Study, path: Path, confirmed: ConfirmedResult | None = None) -> Path:
    """Validation Δ_MTL of every complete trial and the best so far; confirmed results marked.

    With ``confirmed`` (the confirm stage's table), each finalist that was scored on the test
    split is drawn at its search trial as test Δ_MTL, mean ± sd over the fresh seeds.
    """
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    xs = [t.number for t in trials]
    ys = [100 * t.values[0] for t in trials]
    best = [max(ys[: i + 1]) for i in range(len(ys))]
    fig, ax = plt.subplots(figsize=(7, 3.8))
    ax.scatter(xs, ys, s=18, color="C0", label="trial: validation split, one seed")
    ax.step(xs, best, where="post", color="C0", alpha=0.5, label="best so far (validation)")
    ax.axhline(0, color="0.6", lw=0.8)
    if confirmed is not None:
        # Only what is drawn is in the legend: the winner (a baseline too, at its search
        # trial) and, for a confirmed front, the other tested finalists.
        seeds = len(confirmed.seeds)
        for r in confirmed.rows:
            d = r.test_delta
            winner = r.finalist == confirmed.winner
            if d is None or r.source_trial is None or not (winner or not ROLES[r.role].baseline):
                continue
            what = "confirmed winner" if winner else "confirmed finalist"
            if winner and ROLES[r.role].baseline:
                what += f" ({ROLES[r.role].name}, a baseline)"
            ax.errorbar(
                [r.source_trial],
                [100 * d.mean],
                yerr=[100 * d.sd],
                fmt="*" if winner else "P",
                ms=13 if winner else 9,
                color="C3" if winner else "C1",
                capsize=4,
                zorder=4,
                label=f"{what}: test split, mean ± sd of {seeds} seeds",
            )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial")
    ax.set_ylabel("Δ_MTL (%)")
    ax.set_title(f"{study.study_name}: search history")
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))  # one entry for several front finalists
    ax.legend(unique.values(), unique.keys(), fontsize=8, loc="best")
    return save(fig, path)


def plot_pareto(study: optuna.Study, path: Path, confirmed: ConfirmedResult | None = None) -> Path:
    """Validation Δ_MTL against the cost objective, the front highlighted, finalists ringed."""
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    front = {t.number for t in study.best_trials}
    names = study.metric_names or ["delta_mtl", "cost"]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for on_front in (False, True):
        pts = [t for t in trials if (t.number in front) == on_front]
        ax.scatter(
            [t.values[1] for t in pts],
            [100 * t.values[0] for t in pts],
            s=30 if on_front else 14,
            color="C3" if on_front else "C0",
            label="Pareto front (validation)" if on_front else "trial (validation, one seed)",
        )
    if confirmed is not None:
        chosen = {r.source_trial for r in confirmed.rows if not ROLES[r.role].baseline}
        ring = [t for t in trials if t.number in chosen]
        ax.scatter(
            [t.values[1] for t in ring],
            [100 * t.values[0] for t in ring],
            s=140,
            facecolors="none",
            edgecolors="k",
            label="retrained by the confirm stage",
        )
    axis = {"latency": "latency at batch 1, multiple of the independent networks'"}
    ax.set_xlabel(axis.get(names[1], names[1]))
    ax.set_ylabel("validation Δ_MTL (%)")
    ax.set_title(f"{study.study_name}: Pareto front (validation split)")
    ax.legend(fontsize=8)
    return save(fig, path)
