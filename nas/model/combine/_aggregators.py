"""Gradient aggregation (Jacobian descent) through ``torchjd``, wired to any layout's sharing.

Each task's gradient is computed separately (one backward pass per task through the graph the
forward pass built once, shared prefixes included). Parameters are grouped by the set of tasks
whose losses reach them, read from autograd (:func:`~nas.model.combine._base.users_of`): a parameter
one task uses gets exactly that task's gradient; for each group that several tasks use, the
rows of their Jacobian over the group's parameters go to the aggregator (UPGrad, MGDA, PCGrad,
...), whose output is that group's gradient. A branched layout thus aggregates its trunk over
every task and each branch over the tasks in it; a select/skip layout the same per block.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from nas.model.combine._base import Combiner, Scaler, users_of

__all__ = ["Aggregation"]


def _torchjd(name: str, **kwargs: Any) -> Callable[[int], nn.Module]:
    def make(n_tasks: int) -> nn.Module:
        from torchjd import aggregation  # imported on use: only these methods need it

        cls = getattr(aggregation, name)
        made: nn.Module = cls(n_tasks=n_tasks, **kwargs) if name == "NashMTL" else cls(**kwargs)
        return made

    return make


class Aggregation(Combiner):
    """Per-task gradients of shared parameters combined by an aggregator, group by group.

    Args:
        tasks: task names.
        make: builds the aggregator for a group of ``n`` tasks (one per group: some keep state).
    """

    def __init__(self, tasks: Sequence[str], make: Callable[[int], nn.Module]) -> None:
        super().__init__(tasks)
        self.make = make
        self.groups: list[tuple[tuple[int, ...], list[int]]] | None = None
        self.aggregators: dict[tuple[int, ...], nn.Module] = {}

    def backward(
        self, losses: Mapping[str, torch.Tensor], params: Sequence[nn.Parameter], scaler: Scaler
    ) -> torch.Tensor:
        """Set each parameter's gradient: its one task's, or its group's aggregate."""
        scaled = [scaler.scale(losses[t]) for t in self.tasks]
        if self.groups is None:
            self.groups = _groups(users_of(scaled, params))
        last = len(scaled) - 1
        rows = [
            torch.autograd.grad(loss, params, retain_graph=i < last, allow_unused=True)
            for i, loss in enumerate(scaled)
        ]
        for users, members in self.groups:
            if not users:
                continue  # no loss reaches it (a skipped block's copy): no gradient
            if len(users) == 1:
                for k in members:
                    _accumulate(params[k], rows[users[0]][k])
                continue
            jacobian = torch.stack(
                [torch.cat([_flat(rows[u][k], params[k]) for k in members]) for u in users]
            )
            if users not in self.aggregators:
                self.aggregators[users] = self.make(len(users))
            direction = self.aggregators[users](jacobian.float()).to(jacobian.dtype)
            start = 0
            for k in members:
                n = params[k].numel()
                _accumulate(params[k], direction[start : start + n].view_as(params[k]))
                start += n
        return torch.stack([losses[t] for t in self.tasks]).sum().detach()


def _groups(users: list[tuple[int, ...]]) -> list[tuple[tuple[int, ...], list[int]]]:
    """(task set, indices of the parameters it uses), in first-seen order."""
    out: dict[tuple[int, ...], list[int]] = {}
    for k, u in enumerate(users):
        out.setdefault(u, []).append(k)
    return list(out.items())


def _flat(grad: torch.Tensor | None, param: nn.Parameter) -> torch.Tensor:
    # A task that uses a group may still not reach one of its tensors (e.g. a bias it skips).
    if grad is None:
        return torch.zeros(param.numel(), device=param.device, dtype=param.dtype)
    return grad.flatten()


def _accumulate(param: nn.Parameter, grad: torch.Tensor | None) -> None:
    if grad is None:
        return
    param.grad = grad.clone() if param.grad is None else param.grad + grad


def _method(cls: str, **kwargs: Any) -> Callable[[Sequence[str]], Aggregation]:
    def make(tasks: Sequence[str]) -> Aggregation:
        return Aggregation(tasks, _torchjd(cls, **kwargs))

    return make


# The built-in methods (listed in nas.core._plugins), each a factory of its Combiner from the
# task names: torchjd's defaults, CAGrad's c = 0.5 as in its paper.
upgrad = _method("UPGrad")
mgda = _method("MGDA")
pcgrad = _method("PCGrad")
gradvac = _method("GradVac")
cagrad = _method("CAGrad", c=0.5)
imtl_g = _method("IMTLG")
nash_mtl = _method("NashMTL")
aligned_mtl = _method("AlignedMTL")
dualproj = _method("DualProj")
graddrop = _method("GradDrop")
random = _method("Random")
