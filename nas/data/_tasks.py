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

import torch

from nas.core._errors import UserError
from nas.data.kinds import IGNORE_INDEX, Kind, kind_names, kind_of
from nas.model._heads import HeadSpec

__all__ = ["IGNORE_INDEX", "KINDS", "METRICS", "Task", "TaskError", "labelled"]

KINDS: tuple[str, ...] = kind_names()  # the built-in kinds (nas.data.kinds registers more)

# Metrics per built-in kind: name -> True when higher is better; the first is the default.
# odsF: F-measure (beta 1) at the one threshold best over the whole split; ap: area under the
# precision-recall curve. maxF: F-measure with beta^2 = 0.3 (the saliency convention, precision
# weighted more) at the best threshold; iou: at probability 0.5.
METRICS: dict[str, dict[str, bool]] = {k: dict(kind_of(k).metrics) for k in KINDS}  # type: ignore[union-attr]


class TaskError(UserError, ValueError):
    """A task description mtl-nas cannot use; the message names the task and field."""


@dataclass(frozen=True)
class Task:
    """One task of a benchmark.

    Attributes:
        name: unique within the benchmark; also the name of the ONNX output.
        kind: a registered kind (:data:`KINDS` built in); fixes the target format, head,
            losses and metrics (:mod:`nas.data.kinds`).
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
    kind: str
    out: int = 1
    primary: str = ""
    loss: str = ""
    weights: tuple[float, ...] | str | None = None

    def __post_init__(self) -> None:
        where = f"task {self.name!r}"
        if not isinstance(self.name, str) or not self.name:
            raise TaskError(f"{where}: field 'name' must be a non-empty string")
        spec = kind_of(self.kind) if isinstance(self.kind, str) else None
        if spec is None:
            raise TaskError(f"{where}: field 'kind' is {self.kind!r}; choose one of {kind_names()}")
        if spec.fixed_out is not None:
            object.__setattr__(self, "out", spec.fixed_out)
        if isinstance(self.out, bool) or not isinstance(self.out, int) or self.out < 1:
            raise TaskError(f"{where}: field 'out' must be a positive int, got {self.out!r}")
        if self.out < spec.min_out:
            raise TaskError(f"{where}: field 'out' must count at least {spec.min_out} classes")
        primary = self.primary or next(iter(spec.metrics))
        if primary not in spec.metrics:
            raise TaskError(
                f"{where}: field 'primary' is {primary!r};"
                f" a {self.kind} task offers {list(spec.metrics)}"
            )
        loss = self.loss or spec.losses[0]
        if loss not in spec.losses:
            raise TaskError(
                f"{where}: field 'loss' is {loss!r}; a {self.kind} task offers {spec.losses}"
            )
        object.__setattr__(self, "primary", primary)
        object.__setattr__(self, "loss", loss)
        object.__setattr__(self, "weights", self._checked_weights(where, spec))

    def _checked_weights(self, where: str, spec: Kind) -> tuple[float, ...] | str | None:
        weights = self.weights
        if weights is None and self.loss == "weighted_bce":
            return spec.default_weights
        if weights is None or weights == "balanced":
            if weights == "balanced" and spec.weights == "none":
                raise TaskError(f"{where}: a {self.kind} task takes no class weights")
            return weights
        if isinstance(weights, str) or not isinstance(weights, (list, tuple)):
            raise TaskError(f"{where}: field 'weights' must be numbers or 'balanced'")
        values = tuple(float(w) for w in weights)
        n = 1 if spec.weights == "positive" else self.out
        if spec.weights == "none" or len(values) != n:
            raise TaskError(
                f"{where}: field 'weights' needs {n} number(s) for a {self.kind} task, "
                f"got {len(values)}"
            )
        if not all(w >= 0 and w < float("inf") for w in values) or not any(values):
            raise TaskError(f"{where}: field 'weights' must be finite, >= 0, not all zero")
        if spec.weights == "positive" and not 0 < values[0] < 1:
            raise TaskError(f"{where}: the positive weight of a {self.kind} task lies in (0, 1)")
        return values

    @property
    def spec(self) -> Kind:
        """The kind object: losses, metrics, markers and checks of this task's targets."""
        spec = kind_of(self.kind)
        assert spec is not None  # checked when the task was made
        return spec

    @property
    def dense(self) -> bool:
        """True for per-pixel tasks."""
        return self.spec.dense

    @property
    def higher_is_better(self) -> bool:
        """Direction of the primary metric."""
        return self.spec.metrics[self.primary]

    @property
    def head(self) -> HeadSpec:
        """The head this task needs."""
        return HeadSpec("dense" if self.dense else "pooled", self.out)

    @property
    def output_meaning(self) -> str:
        """What the network's output for this task is, in words (written into exports)."""
        return self.spec.output_meaning(self.out)

    def compute_loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean training loss over the batch (and the valid pixels of dense tasks)."""
        return self.spec.loss(self, pred, target)


def labelled(task: Task, y: torch.Tensor) -> torch.Tensor:
    """Which samples of ``y`` (batch first) carry a label for ``task``: any labelled entry."""
    return task.spec.labelled(y)
