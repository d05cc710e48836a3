"""Loss weightings: one weighted sum of the task losses, one backward pass.

``equal`` (the sum), ``uncertainty`` (Kendall et al. 2018), ``dwa`` (Liu et al. 2019) and
``gradnorm`` (Chen et al. 2018). These are a few lines each and tied to this trainer's loop
(epoch ends for DWA, the shared parameters for GradNorm), so they are written here;
gradient aggregations, the larger family, come from a maintained library (:mod:`.aggregators`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from nas.model.combine._base import Combiner, Scaler, users_of

__all__ = ["DWA", "Equal", "GradNorm", "Uncertainty"]


class Equal(Combiner):
    """The sum of the task losses."""

    def combine(self, losses: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The weighted sum this weighting trains on."""
        return torch.stack([losses[t] for t in self.tasks]).sum()


class Uncertainty(Combiner):
    """Learned homoscedastic uncertainty: ``sum_i exp(-s_i) L_i + s_i``, ``s_i = log sigma_i^2``."""

    def __init__(self, tasks: Sequence[str]) -> None:
        super().__init__(tasks)
        self.log_vars = nn.Parameter(torch.zeros(len(self.tasks)))

    def trained_parameters(self) -> list[nn.Parameter]:
        """The log variances, trained by the network's optimizer."""
        return [self.log_vars]

    def combine(self, losses: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The weighted sum this weighting trains on."""
        stacked = torch.stack([losses[t] for t in self.tasks])
        return (torch.exp(-self.log_vars) * stacked + self.log_vars).sum()


class DWA(Combiner):
    """Dynamic weight average: tasks whose loss falls slowest get more weight.

    ``w_i = T exp(r_i / temperature) / sum_j exp(r_j / temperature)`` with ``r_i`` the ratio of
    task ``i``'s mean loss over the last two epochs; equal weights (1) for the first two.
    """

    def __init__(self, tasks: Sequence[str], temperature: float = 2.0) -> None:
        super().__init__(tasks)
        self.temperature = temperature
        self.history: list[list[float]] = []
        self.weights = torch.ones(len(self.tasks))  # constant within an epoch

    def combine(self, losses: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The weighted sum this weighting trains on."""
        stacked = torch.stack([losses[t] for t in self.tasks])
        return (self.weights.to(stacked.device) * stacked).sum()

    def end_epoch(self, mean_losses: Mapping[str, float]) -> None:
        """Record the epoch's mean losses; the weights of the next epoch follow from them."""
        self.history.append([float(mean_losses[t]) for t in self.tasks])
        if len(self.history) >= 2:
            last, before = torch.tensor(self.history[-1]), torch.tensor(self.history[-2])
            ratio = last / before.clamp_min(1e-12)
            weights = len(self.tasks) * torch.softmax(ratio / self.temperature, dim=0)
            self.weights = weights


class GradNorm(Combiner):
    """GradNorm: weights learned so each task's gradient norm tracks its relative training rate.

    At each step, with ``G_i = w_i ||grad_W L_i||`` on the parameters ``W`` every task uses,
    ``r_i = (L_i / L_i(0)) / mean_j (L_j / L_j(0))`` and target ``mean(G) r_i^alpha`` (held
    constant), the weights take an Adam step on ``sum_i |G_i - target_i|`` and are renormalised
    to sum to ``T``; the network trains on ``sum_i w_i L_i``. The paper uses the last shared
    layer as ``W``; here it is every parameter all tasks share (layouts share different depths).
    A layout where no parameter is shared by every task keeps equal weights.
    """

    def __init__(self, tasks: Sequence[str], alpha: float = 1.5, lr: float = 0.025) -> None:
        super().__init__(tasks)
        self.alpha = alpha
        self.weights = nn.Parameter(torch.ones(len(self.tasks)))
        self.opt = torch.optim.Adam([self.weights], lr=lr)
        self.initial: torch.Tensor | None = None
        self.shared: list[nn.Parameter] | None = None

    def combine(self, losses: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The weighted sum this weighting trains on (weights held constant)."""
        stacked = torch.stack([losses[t] for t in self.tasks])
        return (self.weights.detach() * stacked).sum()

    def backward(
        self, losses: Mapping[str, torch.Tensor], params: Sequence[nn.Parameter], scaler: Scaler
    ) -> torch.Tensor:
        """Update the weights from the gradient norms, then backpropagate the weighted sum."""
        stacked = torch.stack([losses[t] for t in self.tasks])
        if self.shared is None:
            users = users_of([losses[t] for t in self.tasks], params)
            everyone = tuple(range(len(self.tasks)))
            self.shared = [p for p, u in zip(params, users, strict=True) if u == everyone]
        if self.initial is None:
            self.initial = stacked.detach().clamp_min(1e-12)
        if self.shared:
            self.update([losses[t] for t in self.tasks])
        return super().backward(losses, params, scaler)

    def update(self, losses: Sequence[torch.Tensor]) -> None:
        """One step of the weights on the gradient-norm loss."""
        assert self.shared is not None and self.initial is not None
        norms = []
        for loss in losses:
            grads = torch.autograd.grad(loss, self.shared, retain_graph=True)
            norms.append(torch.sqrt(torch.stack([(g.float() ** 2).sum() for g in grads]).sum()))
        norm = torch.stack(norms).detach()
        g = self.weights * norm
        rate = torch.stack([loss.detach() for loss in losses]) / self.initial
        target = (g.mean() * (rate / rate.mean()) ** self.alpha).detach()
        self.opt.zero_grad(set_to_none=True)
        (g - target).abs().sum().backward(inputs=[self.weights])  # type: ignore[no-untyped-call]
        self.opt.step()
        with torch.no_grad():
            self.weights.clamp_(min=1e-4)
            self.weights.mul_(len(self.tasks) / self.weights.sum())
