"""Task specs: what a task predicts, how it is trained, and how it is scored.

Target conventions (one sample; the batch axis comes first in a split):

============== ============================ ========================== ===============
kind           target                       network output             head
============== ============================ ========================== ===============
classification int64 class index (), -1 =   logits (out,)              pooled
               unlabelled
multilabel     float 0/1 (out,), NaN =      logits (out,)              pooled
               unlabelled
regression     float (out,), NaN =          values (out,)              pooled
               unlabelled
segmentation   int64 (H, W), -1 = ignore    logits (out, H, W)         dense
depth          float (1, H, W), 0 = unknown depth (1, H, W)            dense
normals        float (3, H, W), 0 = unknown unnormalised xyz (3, H, W) dense
edges          float 0/1 (1, H, W), -1 =    logit (1, H, W)            dense
               ignore
saliency       float 0/1 (1, H, W), -1 =    logit (1, H, W)            dense
               ignore
============== ============================ ========================== ===============

Missing labels: every kind has a marker inside its target (above): -1 for class indices and
binary maps, NaN for float vectors, 0 for depth and normals. Markers, not a separate mask, so a
split stays one tensor per task and a sample can lack one label of a multilabel task. Losses
average over labelled entries only (a batch with none gives 0, never NaN) and metrics count
labelled entries only.

Imbalance (``Task.weights``): class weights for ``classification`` and ``segmentation`` (one per
class), positive weights for ``multilabel`` (one per label, PyTorch's ``pos_weight``: a
positive counts that many negatives), and for ``edges`` / ``saliency`` the weight of the
positive pixels, ``w`` in (0, 1), negatives weighing ``1 - w`` (the edges default is 0.95, as the
dense multi-task suites train edge detection). ``"balanced"`` computes them from the training
split when the benchmark loads (inverse class frequency; negatives over positives; ``w`` = the
share of negative pixels), and the numbers are what the study stores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F  # noqa: N812

from nas.core.errors import UserError
from nas.model.heads import HeadSpec

__all__ = ["IGNORE_INDEX", "KINDS", "METRICS", "Task", "TaskError", "TaskKind", "labelled"]

TaskKind = Literal[
    "classification", "multilabel", "regression", "segmentation", "depth", "normals", "edges",
    "saliency",
]  # fmt: skip
KINDS: tuple[str, ...] = (
    "classification",
    "multilabel",
    "regression",
    "segmentation",
    "depth",
    "normals",
    "edges",
    "saliency",
)
BINARY_DENSE = ("edges", "saliency")
EDGE_POSITIVE_WEIGHT = 0.95  # edges: positives weigh 0.95, negatives 0.05 (about 5% are edges)
IGNORE_INDEX = -1  # segmentation pixels with this label count in no loss and no metric

# Metrics per kind: name -> True when higher is better. The first one is the default primary.
METRICS: dict[str, dict[str, bool]] = {
    "classification": {"accuracy": True},
    "multilabel": {"accuracy": True},
    "regression": {"abs_err": False, "rmse": False},
    "segmentation": {"miou": True, "pix_acc": True},
    "depth": {"abs_err": False, "rel_err": False, "rmse": False},
    "normals": {
        "mean_angle": False,
        "median_angle": False,
        "within_11.25": True,
        "within_22.5": True,
        "within_30": True,
    },
    # odsF: F-measure (beta 1) at the one threshold best over the whole split; ap: area under
    # the precision-recall curve. maxF: F-measure with beta^2 = 0.3 (the saliency convention,
    # precision weighted more) at the best threshold; iou: at probability 0.5.
    "edges": {"odsf": True, "ap": True},
    "saliency": {"maxf": True, "iou": True},
}
_LOSSES = {
    "classification": ("cross_entropy",),
    "multilabel": ("bce",),
    "regression": ("l1", "mse"),
    "segmentation": ("cross_entropy",),
    "depth": ("l1", "mse"),
    "normals": ("cosine",),
    "edges": ("weighted_bce", "bce"),
    "saliency": ("bce", "weighted_bce"),
}
_DENSE = ("segmentation", "depth", "normals", *BINARY_DENSE)


class TaskError(UserError, ValueError):
    """A task description mtl-nas cannot use; the message names the task and field."""


@dataclass(frozen=True)
class Task:
    """One task of a benchmark.

    Attributes:
        name: unique within the benchmark; also the name of the ONNX output.
        kind: one of :data:`KINDS`; fixes the target format, head and metrics.
        out: classes (classification, segmentation), labels (multilabel) or targets
            (regression); depth is always 1 and normals always 3.
        primary: the metric that enters Δ_MTL; defaults to the kind's first metric.
        loss: training loss; defaults to the kind's first loss.
        weights: imbalance weights (see the module docstring), ``"balanced"`` until the
            benchmark resolves it from its training split, or None for none.

    Example:
        >>> Task("seg", "segmentation", 13).primary, Task("depth", "depth").higher_is_better
        ('miou', False)
    """

    name: str
    kind: TaskKind
    out: int = 1
    primary: str = ""
    loss: str = ""
    weights: tuple[float, ...] | str | None = None

    def __post_init__(self) -> None:
        where = f"task {self.name!r}"
        if not isinstance(self.name, str) or not self.name:
            raise TaskError(f"{where}: field 'name' must be a non-empty string")
        if self.kind not in KINDS:
            raise TaskError(f"{where}: field 'kind' is {self.kind!r}; choose one of {KINDS}")
        if self.kind == "depth":
            object.__setattr__(self, "out", 1)
        if self.kind == "normals":
            object.__setattr__(self, "out", 3)
        if isinstance(self.out, bool) or not isinstance(self.out, int) or self.out < 1:
            raise TaskError(f"{where}: field 'out' must be a positive int, got {self.out!r}")
        if self.kind in ("classification", "segmentation") and self.out < 2:
            raise TaskError(f"{where}: field 'out' must count at least 2 classes")
        metrics = METRICS[self.kind]
        primary = self.primary or next(iter(metrics))
        if primary not in metrics:
            raise TaskError(
                f"{where}: field 'primary' is {primary!r};"
                f" a {self.kind} task offers {list(metrics)}"
            )
        loss = self.loss or _LOSSES[self.kind][0]
        if loss not in _LOSSES[self.kind]:
            raise TaskError(
                f"{where}: field 'loss' is {loss!r}; a {self.kind} task offers {_LOSSES[self.kind]}"
            )
        object.__setattr__(self, "primary", primary)
        object.__setattr__(self, "loss", loss)
        object.__setattr__(self, "weights", self._checked_weights(where))

    def _checked_weights(self, where: str) -> tuple[float, ...] | str | None:
        weights = self.weights
        if weights is None and self.loss == "weighted_bce":
            return (EDGE_POSITIVE_WEIGHT,) if self.kind == "edges" else "balanced"
        if weights is None or weights == "balanced":
            if weights == "balanced" and self.kind in ("regression", "depth", "normals"):
                raise TaskError(f"{where}: a {self.kind} task takes no class weights")
            return weights
        if isinstance(weights, str) or not isinstance(weights, (list, tuple)):
            raise TaskError(f"{where}: field 'weights' must be numbers or 'balanced'")
        values = tuple(float(w) for w in weights)
        n = 1 if self.kind in BINARY_DENSE else self.out
        if self.kind in ("regression", "depth", "normals") or len(values) != n:
            raise TaskError(
                f"{where}: field 'weights' needs {n} number(s) for a {self.kind} task, "
                f"got {len(values)}"
            )
        if not all(w >= 0 and w < float("inf") for w in values) or not any(values):
            raise TaskError(f"{where}: field 'weights' must be finite, >= 0, not all zero")
        if self.kind in BINARY_DENSE and not 0 < values[0] < 1:
            raise TaskError(f"{where}: the positive weight of a {self.kind} task lies in (0, 1)")
        return values

    @property
    def dense(self) -> bool:
        """True for per-pixel tasks."""
        return self.kind in _DENSE

    @property
    def higher_is_better(self) -> bool:
        """Direction of the primary metric."""
        return METRICS[self.kind][self.primary]

    @property
    def head(self) -> HeadSpec:
        """The head this task needs."""
        return HeadSpec("dense" if self.dense else "pooled", self.out)

    @property
    def output_meaning(self) -> str:
        """What the network's output for this task is, in words (written into exports)."""
        return {
            "classification": f"logits over {self.out} classes (softmax for probabilities)",
            "multilabel": f"logits for {self.out} labels (sigmoid for probabilities)",
            "regression": f"{self.out} regression values",
            "segmentation": f"per-pixel logits over {self.out} classes, NCHW",
            "depth": "per-pixel depth, N1HW",
            "normals": "per-pixel surface normal xyz (normalise to unit length), N3HW",
            "edges": "per-pixel edge logit, N1HW (sigmoid for the edge probability)",
            "saliency": "per-pixel saliency logit, N1HW (sigmoid for the probability)",
        }[self.kind]

    def compute_loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean training loss over the batch (and the valid pixels of dense tasks)."""
        pred = pred.float()
        weights = self.weights if isinstance(self.weights, tuple) else None
        if self.loss == "cross_entropy":
            return _cross_entropy(pred, target, weights)
        if self.kind in BINARY_DENSE:
            return _binary_dense_loss(pred, target, weights[0] if weights else None)
        if self.loss == "bce":
            w = None if weights is None else torch.tensor(weights, device=pred.device)
            known = torch.isfinite(target)
            per = F.binary_cross_entropy_with_logits(
                pred, torch.nan_to_num(target), pos_weight=w, reduction="none"
            )
            bce: torch.Tensor = (per * known).sum() / known.sum().clamp_min(1)
            return bce
        # Masked means with no host sync: empty masks give a zero loss, not NaN.
        if self.kind == "normals":
            valid = (target.norm(dim=1) > 0).float()
            err = 1 - F.cosine_similarity(pred, target, dim=1)
        else:
            valid = (target > 0).float() if self.kind == "depth" else torch.isfinite(target).float()
            diff = pred - torch.nan_to_num(target)
            err = diff.abs() if self.loss == "l1" else diff.square()
        loss: torch.Tensor = (err * valid).sum() / valid.sum().clamp_min(1)
        return loss


def _cross_entropy(
    pred: torch.Tensor, target: torch.Tensor, weights: tuple[float, ...] | None
) -> torch.Tensor:
    """Cross-entropy over labelled targets (-1 = unlabelled), class-weighted as PyTorch's mean.

    PyTorch's own mean is NaN for a batch without one labelled target; this is 0.
    """
    valid = target != IGNORE_INDEX
    per = F.cross_entropy(pred, target, ignore_index=IGNORE_INDEX, reduction="none")
    if weights is None:
        return per.sum() / valid.sum().clamp_min(1)
    w = torch.tensor(weights, device=pred.device)[target.clamp_min(0)] * valid
    loss: torch.Tensor = (per * w).sum() / w.sum().clamp_min(1e-12)
    return loss


def labelled(task: Task, y: torch.Tensor) -> torch.Tensor:
    """Which samples of ``y`` (batch first) carry a label for ``task``: any labelled entry."""
    if task.kind in ("classification", "segmentation", *BINARY_DENSE):
        known = y != IGNORE_INDEX
    elif task.kind in ("multilabel", "regression"):
        known = torch.isfinite(y)
    elif task.kind == "depth":
        known = y > 0
    else:  # normals
        known = y.abs().sum(dim=1) > 0
    return known.reshape(len(y), -1).any(dim=1)


def _binary_dense_loss(pred: torch.Tensor, target: torch.Tensor, w: float | None) -> torch.Tensor:
    """(Weighted) BCE over the labelled pixels; -1 marks unlabelled ones."""
    valid = (target >= 0).float()
    y = target.clamp(0, 1)
    per_pixel = F.binary_cross_entropy_with_logits(pred, y, reduction="none")
    if w is not None:  # positives weigh w, negatives 1 - w; x2 keeps w = 0.5 equal to plain BCE
        per_pixel = per_pixel * 2 * (w * y + (1 - w) * (1 - y))
    loss: torch.Tensor = (per_pixel * valid).sum() / valid.sum().clamp_min(1)
    return loss
