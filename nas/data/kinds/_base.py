"""What a task kind is: one object owning everything that depends on the kind of target.

A kind fixes a target's format and its unlabelled marker, which entries are labelled, the values
a target may hold, the losses, how metrics accumulate over a split and what they are, the label
statistics behind balanced weights and the trivial predictor, and how the target moves when the
input is scale-cropped or flipped. :class:`nas.data._tasks.Task` names a kind; every other module
asks the kind. A new kind is one module with a subclass and one line in
:mod:`nas.data.kinds`' registry; :func:`nas.testing.check_kind` checks the contract.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, ClassVar

import torch

if TYPE_CHECKING:
    from nas.data._tasks import Task

__all__ = ["Add", "Kind", "Stats", "Window", "ratio"]

Stats = dict[str, torch.Tensor]
Add = Callable[[str, torch.Tensor], None]  # accumulate a named sum over the split
Window = Callable[[torch.Tensor, str], torch.Tensor]  # crop-and-resize a map, "nearest"/"bilinear"


class Kind:
    """A task kind. Subclasses set the class attributes and override what differs.

    Attributes:
        name: the kind's name, as ``Task(kind=...)`` gives it.
        metrics: metric name -> True when higher is better; the first is the default primary.
        losses: the losses offered; the first is the default.
        dense: per-pixel (a dense head) or per-sample (a pooled head).
        dtype: the target's type: int64 class indices or float32 values.
        fixed_out: the output channels the kind always has (depth 1, normals 3), or None.
        min_out: the fewest outputs a task of the kind may have.
        weights: what ``Task.weights`` holds: ``"per_output"`` (one per class or label),
            ``"positive"`` (one weight in (0, 1) for the positive pixels) or ``"none"``.
        default_weights: the weights a task with ``loss="weighted_bce"`` and none given gets.
        marker: the unlabelled marker: the value every entry of an unlabelled target holds.
    """

    name: ClassVar[str]
    metrics: ClassVar[dict[str, bool]]
    losses: ClassVar[tuple[str, ...]]
    dense: ClassVar[bool] = False
    dtype: ClassVar[torch.dtype] = torch.float32
    fixed_out: ClassVar[int | None] = None
    min_out: ClassVar[int] = 1
    weights: ClassVar[str] = "none"
    # What weights="weighted_bce" starts from when none are given: numbers, or "balanced".
    default_weights: ClassVar[tuple[float, ...] | str] = "balanced"
    marker: ClassVar[float] = math.nan

    # -- the target -------------------------------------------------------------------------
    def target_shape(self, out: int, hw: tuple[int, ...]) -> tuple[int, ...]:
        """One sample's target shape (``hw``: the input's spatial size)."""
        return (out, *hw) if self.dense else (out,)

    def output_shape(self, out: int, hw: tuple[int, ...]) -> tuple[int, ...]:
        """One sample's network output shape."""
        return (out, *hw) if self.dense else (out,)

    def unlabelled(self, out: int, n: int, hw: tuple[int, ...]) -> torch.Tensor:
        """Targets for ``n`` samples that carry no label: :attr:`marker` everywhere."""
        return torch.full((n, *self.target_shape(out, hw)), self.marker, dtype=self.dtype)

    def example(self, out: int, n: int, hw: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
        """Targets for ``n`` samples, every entry labelled (for tests and fakes)."""
        return torch.randn((n, *self.target_shape(out, hw)), generator=gen)

    def known(self, y: torch.Tensor) -> torch.Tensor:
        """Which entries of targets ``y`` (batch first) are labelled, elementwise."""
        return torch.isfinite(y)

    def labelled(self, y: torch.Tensor) -> torch.Tensor:
        """Which samples of ``y`` carry any label."""
        return self.known(y).reshape(len(y), -1).any(dim=1)

    def value_problem(self, y: torch.Tensor, out: int) -> str | None:
        """What is wrong with the values of targets ``y`` (shape and type already checked)."""
        if self.dtype == torch.int64:
            ok = ((y >= 0) & (y < out)) | (y == -1)
            if not ok.all():
                return f"has class indices outside [0, {out}) (or -1 = unlabelled)"
            return None
        if torch.isinf(y).any():
            return "holds infinite values"
        if not math.isnan(self.marker) and torch.isnan(y).any():
            return f"holds NaN (the unlabelled marker of a {self.name} task is {self.marker:g})"
        return None

    # -- training and scoring ---------------------------------------------------------------
    def loss(self, task: Task, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean training loss over the labelled entries of a batch (0 when there are none)."""
        raise NotImplementedError

    def accumulate(self, task: Task, pred: torch.Tensor, target: torch.Tensor, add: Add) -> None:
        """Add one batch's sufficient statistics for the metrics (summed over the split)."""
        raise NotImplementedError

    def scores(self, task: Task, sums: Mapping[str, torch.Tensor]) -> dict[str, float]:
        """Every metric from the split's sums; NaN where nothing was added."""
        raise NotImplementedError

    # -- what the training labels say ---------------------------------------------------------
    def label_stats(self, y: torch.Tensor, out: int) -> Stats:
        """Sums over labels ``y``: two batches' sums add up to both's."""
        known = self.known(y)
        return {"sum": torch.nan_to_num(y).double().mul(known).sum(0), "known": known.sum(0)}

    def balanced(self, task: Task, stats: Stats) -> tuple[float, ...]:
        """Balanced imbalance weights from training label statistics."""
        raise ValueError(f"a {self.name} task takes no weights")

    def trivial(self, task: Task, stats: Stats, shape: tuple[int, ...]) -> torch.Tensor:
        """One sample's constant prediction (of output ``shape``) from training statistics."""
        raise NotImplementedError

    # -- words and geometry ---------------------------------------------------------------------
    def output_meaning(self, out: int) -> str:
        """What the network's output for the kind is, in words (written into exports)."""
        raise NotImplementedError

    def transform(self, y: torch.Tensor, window: Window, scale: float, flip: bool) -> torch.Tensor:
        """One sample's target moved with its input: cropped and resized, then mirrored."""
        if not self.dense:
            return y
        z = window(y, "nearest")  # nearest: class indices stay integers, markers stay markers
        return z.flip(-1) if flip else z


def ratio(sums: Mapping[str, torch.Tensor], num: str, den: str) -> float:
    """``sums[num] / sums[den]``, NaN when nothing was counted."""
    if num not in sums or float(sums[den]) == 0:
        return math.nan
    return float(sums[num]) / float(sums[den])
