"""What ``mtlnas predict`` prints: each task's answer as a user reads it, not raw logits.

Classes for classification and segmentation, labels switched on for multi-label tasks,
probabilities for edges and saliency, values with their range for the rest. The task kinds come
from the exported file's metadata; a file without it is described by shape and range only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["describe_outputs"]

SHOWN = 8  # samples printed per task; the .npz file (-o) holds every output


def _first(values: list[Any], n: int) -> str:
    more = f" ... ({n} samples)" if n > SHOWN else ""
    return ", ".join(str(v) for v in values[:SHOWN]) + more


def _sigmoid(y: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-y.astype(np.float64)))


def _describe(kind: str | None, y: np.ndarray) -> str:
    n = len(y)
    if kind == "classification":
        return f"class per sample: {_first(y.argmax(axis=1).tolist(), n)}"
    if kind == "multilabel":
        on = [np.flatnonzero(row > 0).tolist() for row in y]  # logit > 0: probability > 0.5
        return f"labels on (probability > 0.5) per sample: {_first(on, n)}"
    if kind == "segmentation":
        classes = y.argmax(axis=1)
        present = np.unique(classes).tolist()
        return f"class map {tuple(classes.shape)}, classes present: {present}"
    if kind in ("edges", "saliency"):
        p = _sigmoid(y)
        return (
            f"probability map {tuple(p.shape)}, range [{p.min():.3g}, {p.max():.3g}], "
            f"{100 * float((p > 0.5).mean()):.1f}% of pixels above 0.5"
        )
    what = {"depth": "depth map", "normals": "normal map (xyz)"}.get(kind or "", "values")
    if kind == "regression" and y.shape[1:] == (1,):
        return f"value per sample: {_first([f'{v:.4g}' for v in y[:, 0].tolist()], n)}"
    return f"{what} {tuple(y.shape)}, range [{y.min():.4g}, {y.max():.4g}]"


def describe_outputs(
    outputs: Mapping[str, np.ndarray], tasks: list[dict[str, Any]] | None
) -> list[str]:
    """One line per task: ``task (kind): what the outputs say``.

    Args:
        outputs: the model's outputs by task name, each with a batch axis of at least one.
        tasks: the file's task metadata (``mtlnas.tasks``), or None for a file without it.
    """
    kinds = {t.get("name"): t.get("kind") for t in tasks or []}
    lines = []
    for task, y in outputs.items():
        kind = kinds.get(task)
        label = f"{task} ({kind})" if kind else task
        lines.append(f"{label}: {_describe(kind, y)}")
    return lines
