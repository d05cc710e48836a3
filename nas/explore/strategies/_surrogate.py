"""A layout's Δ_MTL modelled from its structure: which task pairs share which blocks.

One training of one layout says something about every layout that shares the same task pairs at
the same depths, and a seed's noise (several points of Δ_MTL on small benchmarks) averages out
across them. So a layout is described by binary features, and Δ_MTL is a linear function of them
with Gaussian noise (Bayesian linear regression, as in BOCS, Baptista & Poloczek 2018, without
its pairwise terms, which tens of trainings cannot fit):

- ``share:{a}:{b}:{d}``: tasks ``a`` and ``b`` run the same copy of block ``d`` (its weights and
  gradients are shared); in a tree this is the thermometer code of the pair's shared depth;
- ``alone:{a}:{d}``: task ``a`` runs a copy of block ``d`` that no other task runs;
- ``run:{a}:{d}``: task ``a`` runs block ``d`` at all (select-or-skip spaces).

The weights have a zero-mean isotropic Gaussian prior; its scale and the noise variance are
chosen by the marginal likelihood (empirical Bayes) on a small grid, so the fit needs no tuning
and a handful of trials gives a broad posterior rather than a confident wrong one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from nas.core._layout import Layout

__all__ = ["Design", "Posterior", "features", "fit"]

# Prior scale of the weights and noise variance, both relative to the targets' variance. A
# grid, not an optimiser: the evidence is flat in places with few points, and a grid is robust.
PRIOR_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
NOISE_GRID = (0.003, 0.01, 0.03, 0.1, 0.2, 0.4, 0.7, 1.0)


def features(layout: Layout) -> dict[str, float]:
    """The structural features of ``layout`` that hold (value 1; absent ones are 0).

    Example:
        >>> lay = Layout(("a", "b", "c"), ((0, 0, 0), (0, 0, 1), (0, None, 0)))
        >>> sorted(k for k in features(lay) if not k.startswith("run"))
        ['alone:c:1', 'share:a:b:0', 'share:a:b:1', 'share:a:c:0', 'share:a:c:2', 'share:b:c:0']
    """
    out: dict[str, float] = {}
    tasks = layout.tasks
    for d, row in enumerate(layout.rows):
        for i, c in enumerate(row):
            if c is None:
                continue
            out[f"run:{tasks[i]}:{d}"] = 1.0
            if sum(1 for other in row if other == c) == 1:
                out[f"alone:{tasks[i]}:{d}"] = 1.0
        for i, j in combinations(range(len(tasks)), 2):
            if row[i] is not None and row[i] == row[j]:
                out[f"share:{tasks[i]}:{tasks[j]}:{d}"] = 1.0
    return out


@dataclass(frozen=True)
class Design:
    """A fixed feature basis for a set of layouts: constant and duplicate columns dropped.

    Built from the candidate layouts, so a feature that never varies among them (``run`` in a
    tree space) or always equals another (depths between two allowed split points) is one
    column, and the prior is not counted twice for it.
    """

    names: tuple[str, ...]
    center: np.ndarray  # the candidates' mean of each column: the prior is on centred features

    @classmethod
    def of(cls, layouts: Iterable[Layout]) -> Design:
        """The basis that spans the features of ``layouts``."""
        return cls.of_rows([features(lay) for lay in layouts])

    @classmethod
    def of_rows(cls, rows: Sequence[Mapping[str, float]]) -> Design:
        """The basis that spans ``rows`` of named features (absent names are 0)."""
        names = sorted({k for r in rows for k in r})
        if not rows or not names:
            return cls((), np.zeros(0))
        m = np.array([[r.get(k, 0.0) for k in names] for r in rows])
        keep: list[int] = []
        seen: set[bytes] = set()
        for k in range(m.shape[1]):
            col = m[:, k]
            if col.min() == col.max():
                continue
            key = col.tobytes()
            if key not in seen:
                seen.add(key)
                keep.append(k)
        return cls(tuple(names[k] for k in keep), m[:, keep].mean(axis=0))

    def matrix(self, layouts: Sequence[Layout]) -> np.ndarray:
        """One centred row per layout."""
        return self.rows_matrix([features(lay) for lay in layouts])

    def rows_matrix(self, rows: Sequence[Mapping[str, float]]) -> np.ndarray:
        """One centred row per row of named features."""
        if not self.names:
            return np.zeros((len(rows), 0))
        m = np.array([[r.get(k, 0.0) for k in self.names] for r in rows])
        centred: np.ndarray = m - self.center
        return centred


@dataclass(frozen=True)
class Posterior:
    """The posterior over the weights, on the targets' original scale.

    ``predict`` gives the mean and standard deviation of a layout's *expected* Δ_MTL (over
    seeds), without the noise of one more training.
    """

    offset: float
    scale: float
    center: np.ndarray  # the observed rows' mean: the intercept is fitted flat, not shrunk
    mean_w: np.ndarray
    cov_w: np.ndarray
    noise_sd: float  # of one training, on the original scale

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation of each row's expected value."""
        x = x - self.center
        mean = self.offset + self.scale * (x @ self.mean_w)
        var = np.einsum("ij,jk,ik->i", x, self.cov_w, x) if x.shape[1] else np.zeros(len(x))
        return mean, self.scale * np.sqrt(np.maximum(var, 0.0))

    def sample(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One draw of the expected values of ``x``'s rows (Thompson sampling)."""
        if not x.shape[1]:
            return np.full(len(x), self.offset) + rng.normal(0, 1e-9, len(x))
        w = rng.multivariate_normal(self.mean_w, self.cov_w, method="cholesky")
        drawn: np.ndarray = self.offset + self.scale * ((x - self.center) @ w)
        return drawn


def fit(x: np.ndarray, y: Sequence[float]) -> Posterior:
    """Bayesian linear regression of ``y`` on the centred features ``x``, by empirical Bayes.

    The targets are standardised (and a crash's -1e9 clipped to 3 standard deviations under
    the median first), so the grids are relative to their spread; the intercept is the targets'
    mean (features centred on the observed rows), so only the structure's weights are shrunk.
    """
    y_arr = np.asarray(y, dtype=float)
    if len(y_arr) == 0:
        p = x.shape[1]
        return Posterior(0.0, 1.0, np.zeros(p), np.zeros(p), np.eye(p), 1.0)
    med = float(np.median(y_arr))
    good = y_arr[y_arr > -1e8]
    spread = float(np.std(good)) if len(good) > 1 else 0.0
    spread = spread if spread > 1e-12 else 1.0
    y_arr = np.clip(y_arr, med - 3 * spread, None)
    offset = float(np.mean(y_arr))
    scale = float(np.std(y_arr)) if len(y_arr) > 1 and np.std(y_arr) > 1e-12 else spread
    t = (y_arr - offset) / scale
    center = x.mean(axis=0)
    x = x - center
    n, p = x.shape
    best: tuple[float, float, float] | None = None
    for prior in PRIOR_GRID:
        gram = prior * (x @ x.T) if p else np.zeros((n, n))
        for noise in NOISE_GRID:
            k = gram + noise * np.eye(n)
            chol = np.linalg.cholesky(k)
            alpha = np.linalg.solve(chol, t)
            evidence = -0.5 * float(alpha @ alpha) - float(np.log(np.diag(chol)).sum())
            if best is None or evidence > best[0]:
                best = (evidence, prior, noise)
    assert best is not None
    _, prior, noise = best
    precision = x.T @ x / noise + np.eye(p) / prior
    cov = np.linalg.inv(precision)
    cov = (cov + cov.T) / 2
    mean_w = cov @ x.T @ t / noise
    return Posterior(offset, scale, center, mean_w, cov, scale * math.sqrt(noise))
