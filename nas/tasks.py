"""Task specs: what a task predicts, how it is trained, and how it is scored.

Target conventions (one sample; the batch axis comes first in a split):

============== ============================ ========================== ===============
kind           target                       network output             head
============== ============================ ========================== ===============
classification int64 class index ()         logits (out,)              pooled
multilabel     float 0/1 (out,)             logits (out,)              pooled
regression     float (out,)                 values (out,)              pooled
segmentation   int64 (H, W), -1 = ignore    logits (out, H, W)         dense
depth          float (1, H, W), 0 = unknown depth (1, H, W)            dense
normals        float (3, H, W), 0 = unknown unnormalised xyz (3, H, W) dense
============== ============================ ========================== ===============
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F  # noqa: N812

from nas.errors import UserError
from nas.heads import HeadSpec

__all__ = ["IGNORE_INDEX", "KINDS", "METRICS", "Task", "TaskError", "TaskKind"]

TaskKind = Literal["classification", "multilabel", "regression", "segmentation", "depth", "normals"]
KINDS: tuple[str, ...] = (
    "classification",
    "multilabel",
    "regression",
    "segmentation",
    "depth",
    "normals",
)
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
}
_LOSSES = {
    "classification": ("cross_entropy",),
    "multilabel": ("bce",),
    "regression": ("l1", "mse"),
    "segmentation": ("cross_entropy",),
    "depth": ("l1", "mse"),
    "normals": ("cosine",),
}
_DENSE = ("segmentation", "depth", "normals")


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

    Example:
        >>> Task("seg", "segmentation", 13).primary, Task("depth", "depth").higher_is_better
        ('miou', False)
    """

    name: str
    kind: TaskKind
    out: int = 1
    primary: str = ""
    loss: str = ""

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
        }[self.kind]

    def compute_loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean training loss over the batch (and the valid pixels of dense tasks)."""
        pred = pred.float()
        if self.loss == "cross_entropy":
            return F.cross_entropy(pred, target, ignore_index=IGNORE_INDEX)
        if self.loss == "bce":
            return F.binary_cross_entropy_with_logits(pred, target)
        # Masked means with no host sync: empty masks give a zero loss, not NaN.
        if self.kind == "normals":
            valid = (target.norm(dim=1) > 0).float()
            err = 1 - F.cosine_similarity(pred, target, dim=1)
        else:
            valid = (target > 0).float() if self.kind == "depth" else torch.ones_like(target)
            err = (pred - target).abs() if self.loss == "l1" else (pred - target).square()
        loss: torch.Tensor = (err * valid).sum() / valid.sum().clamp_min(1)
        return loss
