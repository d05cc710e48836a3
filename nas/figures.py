"""Figures of a study: optimisation history, Pareto front, and a drawing of a Layout (PNG)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display

import matplotlib.pyplot as plt
import optuna
from matplotlib.figure import Figure
from optuna.trial import TrialState

from nas.layout import Layout

__all__ = ["draw_layout", "plot_history", "plot_pareto"]


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)  # pyplot keeps every open figure alive otherwise
    return path


def draw_layout(layout: Layout, path: Path, title: str = "") -> Path:
    """Draw a layout: a tree for branched layouts, a select/skip grid otherwise."""
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * layout.depth, 0.9 + 0.6 * layout.num_tasks))
    ys = {t: i for i, t in enumerate(reversed(layout.tasks))}
    if layout.is_tree():
        # One node per (depth, group), at the mean height of its tasks; edges to the parent.
        rows = [[c or 0 for c in row] for row in layout.rows]  # a tree has no skips
        prev: dict[int, tuple[float, float]] = {}
        for d, row in enumerate(rows):
            nodes: dict[int, tuple[float, float]] = {}
            for g in sorted(set(row)):
                members = [t for t, c in zip(layout.tasks, row, strict=True) if c == g]
                y = sum(ys[t] for t in members) / len(members)
                nodes[g] = (d, y)
                parent = rows[d - 1][layout.tasks.index(members[0])] if d else None
                px, py = prev.get(parent, (-1, y)) if parent is not None else (-1, y)
                ax.plot([px, d], [py, y], color="0.4", zorder=1)
                ax.scatter([d], [y], s=220, color=f"C{g % 10}", zorder=2)
            prev = nodes
        for t in layout.tasks:
            last = rows[-1][layout.tasks.index(t)]
            ax.plot([prev[last][0], layout.depth], [prev[last][1], ys[t]], color="0.4")
    else:
        for t in layout.tasks:
            for d, c in enumerate(layout.path(t)):
                if c is None:
                    ax.text(d, ys[t], "x", ha="center", va="center", color="0.5", fontsize=14)
                else:
                    ax.scatter([d], [ys[t]], s=260, marker="s", color=f"C{c % 10}")
                    ax.text(d, ys[t], str(c), ha="center", va="center", color="white")
    ax.set_yticks(list(ys.values()), list(ys))
    ax.set_xticks(range(layout.depth), [f"block {d}" for d in range(layout.depth)])
    ax.set_xlim(-1.3, layout.depth + 0.3)
    ax.set_title(title or ("tree layout" if layout.is_tree() else "select (instance) / skip (x)"))
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return _save(fig, path)


def plot_history(study: optuna.Study, path: Path) -> Path:
    """Δ_MTL of every complete trial, with the best so far."""
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    xs = [t.number for t in trials]
    ys = [100 * t.values[0] for t in trials]
    best = [max(ys[: i + 1]) for i in range(len(ys))]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.scatter(xs, ys, s=18, label="trial")
    ax.step(xs, best, where="post", color="C3", label="best so far")
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_xlabel("trial")
    ax.set_ylabel("validation Δ_MTL (%), one seed")
    ax.set_title(f"{study.study_name}: search history (validation split)")
    ax.legend()
    return _save(fig, path)


def plot_pareto(study: optuna.Study, path: Path) -> Path:
    """Δ_MTL against the cost objective, the Pareto front highlighted."""
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    front = {t.number for t in study.best_trials}
    names = study.metric_names or ["delta_mtl", "cost"]
    fig, ax = plt.subplots(figsize=(6, 4))
    for on_front in (False, True):
        pts = [t for t in trials if (t.number in front) == on_front]
        ax.scatter(
            [t.values[1] for t in pts],
            [100 * t.values[0] for t in pts],
            s=30 if on_front else 14,
            color="C3" if on_front else "C0",
            label="Pareto front" if on_front else "trial",
        )
    ax.set_xlabel(names[1])
    ax.set_ylabel("validation Δ_MTL (%), one seed")
    ax.set_title(f"{study.study_name}: Pareto front (validation split)")
    ax.legend()
    return _save(fig, path)
