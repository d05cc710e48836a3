"""Each task's term of Δ_MTL modelled from that task's own path through the network.

Δ_MTL is the mean of one term per task, and a task's term depends above all on its *path*: at
each depth, which other tasks run the block copy it runs (or that it skips the block). One
training of a layout therefore gives T observations, one per task, and each is about a path that
many other layouts share: a layout's training teaches the model about every layout in which a
task takes the same path. On the ground-truth tables a task's path explains 60-99% of the
variance of its term over the layouts (docs/tables.md), more than a linear model of the pooled
Δ_MTL does.

Per task, a Gaussian process over the task's path features (``share:{b}:{d}``: the task runs
the same copy of block ``d`` as task ``b``; ``alone:{d}``; ``run:{d}``) with a sum of two kernels:

- linear: each feature adds to the term, so a path is judged by its parts (it generalises to
  paths never trained);
- same path: 1 when two layouts give the task the same path, so what was measured on a path is
  kept even where the linear part does not fit (interactions between depths and partners).

Their scales and the noise variance are chosen by the marginal likelihood on a grid, per task
and per fit: with a few trainings the evidence decides how much to trust each part.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from nas.core._layout import Layout
from nas.explore.strategies._surrogate import Design

__all__ = ["PathModel", "task_features"]

LINEAR_GRID = (0.0, 0.1, 0.3, 1.0, 3.0)
PATH_GRID = (0.0, 0.1, 0.3, 1.0, 3.0)
NOISE_GRID = (0.03, 0.1, 0.3, 1.0)


def task_features(layout: Layout, task: str) -> dict[str, float]:
    """The features of ``task``'s path through ``layout`` that hold (value 1).

    Example:
        >>> lay = Layout(("a", "b", "c"), ((0, 0, 0), (0, 0, 1), (0, None, 0)))
        >>> sorted(task_features(lay, "c"))
        ['alone:1', 'run:0', 'run:1', 'run:2', 'share:a:0', 'share:a:2', 'share:b:0']
    """
    i = layout.tasks.index(task)
    out: dict[str, float] = {}
    for d, row in enumerate(layout.rows):
        copy = row[i]
        if copy is None:
            continue
        out[f"run:{d}"] = 1.0
        mates = [layout.tasks[j] for j, c in enumerate(row) if c == copy and j != i]
        if not mates:
            out[f"alone:{d}"] = 1.0
        for mate in mates:
            out[f"share:{mate}:{d}"] = 1.0
    return out


def _gp_mean(x_obs: np.ndarray, y: np.ndarray, x_new: np.ndarray) -> np.ndarray:
    """Posterior mean at ``x_new`` (centred rows) after the evidence picks the kernels' scales."""
    offset = float(y.mean())
    scale = float(y.std()) if len(y) > 1 and y.std() > 1e-12 else 1.0
    t = (y - offset) / scale
    p = max(x_obs.shape[1], 1)
    lin_oo, lin_no = x_obs @ x_obs.T / p, x_new @ x_obs.T / p
    same_oo = (np.abs(x_obs[:, None, :] - x_obs[None, :, :]).sum(-1) == 0).astype(float)
    same_no = (np.abs(x_new[:, None, :] - x_obs[None, :, :]).sum(-1) == 0).astype(float)
    n = len(y)
    best: tuple[float, float, float, float] | None = None
    for a in LINEAR_GRID:
        for b in PATH_GRID:
            if a == 0.0 and b == 0.0:
                continue
            for g in NOISE_GRID:
                k = a * lin_oo + b * same_oo + g * np.eye(n)
                chol = np.linalg.cholesky(k)
                alpha = np.linalg.solve(chol, t)
                evidence = -0.5 * float(alpha @ alpha) - float(np.log(np.diag(chol)).sum())
                if best is None or evidence > best[0]:
                    best = (evidence, a, b, g)
    assert best is not None
    _, a, b, g = best
    weights = np.linalg.solve(a * lin_oo + b * same_oo + g * np.eye(n), t)
    mean: np.ndarray = offset + scale * ((a * lin_no + b * same_no) @ weights)
    return mean


class PathModel:
    """Predicts Δ_MTL of candidate layouts as the mean of per-task Gaussian processes.

    Args:
        candidates: the layouts the model will be asked about (its feature basis is theirs).
        tasks: the task names, in the layouts' order.
    """

    def __init__(self, candidates: Sequence[Layout], tasks: Sequence[str]) -> None:
        self.tasks = tuple(tasks)
        # Per task, the basis of its path features over the candidates (constant and repeated
        # columns dropped, centred on them), as the pooled model's Design does for layouts.
        self._designs = {
            t: Design.of_rows([task_features(lay, t) for lay in candidates]) for t in self.tasks
        }

    def predict(
        self,
        seen: Sequence[tuple[Layout, Mapping[str, float]]],
        layouts: Sequence[Layout],
    ) -> np.ndarray:
        """Expected Δ_MTL of ``layouts`` given ``seen`` (layout, each task's term) pairs.

        Example:
            >>> a = Layout(("x", "y"), ((0, 0), (0, 1)))
            >>> b = Layout(("x", "y"), ((0, 1), (0, 1)))
            >>> m = PathModel([a, b], ("x", "y"))
            >>> seen = [(a, {"x": 0.1, "y": 0.3}), (b, {"x": 0.0, "y": -0.1})]
            >>> bool(m.predict(seen, [a])[0] > m.predict(seen, [b])[0])
            True
        """
        if not seen:
            return np.zeros(len(layouts))
        total = np.zeros(len(layouts))
        for task, design in self._designs.items():
            # A crashed or diverged training's term says nothing about its path: left out.
            pairs = [(lay, terms[task]) for lay, terms in seen if np.isfinite(terms[task])]
            if not pairs:
                continue
            y = np.array([v for _, v in pairs], dtype=float)
            x_obs = design.rows_matrix([task_features(lay, task) for lay, _ in pairs])
            x_new = design.rows_matrix([task_features(lay, task) for lay in layouts])
            total += _gp_mean(x_obs, y, x_new)
        return total / len(self._designs)
