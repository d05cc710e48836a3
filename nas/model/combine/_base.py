"""What a combination method is to the trainer: how task losses become parameter gradients.

A :class:`Combiner` gets the task losses of a batch and leaves each trained parameter's
gradient in ``.grad`` for the optimizer. Loss weightings do it with one backward pass of a
weighted sum (:meth:`Combiner.combine`); gradient aggregations override :meth:`backward`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import torch
from torch import nn

__all__ = ["Combiner", "Scaler", "users_of"]


class Scaler(Protocol):
    """The part of ``torch.amp.GradScaler`` a combiner uses."""

    def scale(self, outputs: torch.Tensor) -> torch.Tensor:
        """``outputs`` times the loss scale (unchanged when scaling is off)."""
        ...


class Combiner(nn.Module):
    """Equal weights unless a subclass says otherwise; see the module docstring.

    Args:
        tasks: task names, in the network's output order.
    """

    def __init__(self, tasks: Sequence[str]) -> None:
        super().__init__()
        self.tasks = list(tasks)

    def trained_parameters(self) -> list[nn.Parameter]:
        """Parameters of the method that the network's optimizer trains (none by default)."""
        return []

    def combine(self, losses: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The one loss a weighting backpropagates."""
        return torch.stack([losses[t] for t in self.tasks]).sum()

    def backward(
        self, losses: Mapping[str, torch.Tensor], params: Sequence[nn.Parameter], scaler: Scaler
    ) -> torch.Tensor:
        """Leave every parameter's gradient in ``.grad``; return the loss to report (detached).

        ``params``: the network's trained parameters (gradients are accumulated: the trainer
        zeroes them first).
        """
        loss = self.combine(losses)
        scaler.scale(loss).backward()  # type: ignore[no-untyped-call]
        return loss.detach()

    def end_epoch(self, mean_losses: Mapping[str, float]) -> None:
        """Told each task's mean training loss after every epoch (DWA's weights follow it)."""


def users_of(
    losses: Sequence[torch.Tensor], params: Sequence[nn.Parameter]
) -> list[tuple[int, ...]]:
    """Per parameter, the indices of the tasks whose loss depends on it (from the graph).

    ``losses``: each task's loss, as computed (not sliced from a stacked vector, whose
    backward reaches every input). A parameter no loss reaches gets ``()``. This reads the
    layout from autograd, so it holds for any network, however blocks are shared.
    """
    users: list[list[int]] = [[] for _ in params]
    for i, loss in enumerate(losses):
        grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
        for k, g in enumerate(grads):
            if g is not None:
                users[k].append(i)
    return [tuple(u) for u in users]
