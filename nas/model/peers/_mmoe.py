"""Multi-gate mixture of experts (MMoE, Ma et al. 2018): experts mixed by one gate per task.

Each expert is a whole column of the backbone's blocks, one expert per task (so its Layout
carries the independent networks' rows and a budget scales the experts). Task ``t``'s features
are ``sum_e softmax(gate_t(g))_e * expert_e(s)``, ``s`` the shared stem's output and ``g`` its
features (vectors) or their mean over the image (images): a gate is one linear layer, as MMoE's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from nas.model._network import feature_shapes
from nas.model.backbones._base import Backbone
from nas.model.peers._base import feature_rank

__all__ = ["MMoE", "MMoEBody", "mmoe"]


class MMoEBody(nn.Module):
    """``tasks`` experts (columns of blocks) and ``tasks`` gates over them."""

    def __init__(self, backbone: Backbone, tasks: int, input_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.tasks = tasks
        self.experts = nn.ModuleList(
            nn.Sequential(*(backbone.block(d) for d in range(backbone.depth))) for _ in range(tasks)
        )
        # Every task's gate in one layer: logits for (task, expert).
        self.gates = nn.Linear(feature_shapes(backbone, input_shape)[0][0], tasks * tasks)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every expert once; each task's gated mixture of them; one feature map per task."""
        s = x
        g = s.mean(dim=(2, 3)) if s.dim() == 4 else s
        logits = self.gates(g).unflatten(1, (self.tasks, self.tasks))
        weights = logits.softmax(-1)  # (B, T, E): task t's weight on expert e
        out = torch.stack([e(s) for e in self.experts], 1)  # (B, E, ...)
        mixed = torch.bmm(weights, out.flatten(2))  # (B, T, F): one product per sample
        feats = mixed.unflatten(2, out.shape[2:])  # type: ignore[no-untyped-call]
        return list(feats.unbind(1))


@dataclass(frozen=True)
class MMoE:
    """The MMoE family: one expert per task, so its Layout carries the independent rows."""

    trunk: Literal["independent"] = "independent"

    def fits(self, backbone: Backbone, input_shape: tuple[int, ...]) -> str | None:
        """Any backbone whose features are vectors or images."""
        return feature_rank(backbone, input_shape)

    def body(self, backbone: Backbone, tasks: int, input_shape: tuple[int, ...]) -> nn.Module:
        """A fresh :class:`MMoEBody`."""
        return MMoEBody(backbone, tasks, input_shape)


def mmoe() -> MMoE:
    """Peer factory ``mmoe``."""
    return MMoE()
