"""AdaShare's select-or-skip policy (Sun et al. 2020): what it learns and how it is sampled.

Per task ``t``, depth ``d`` and option ``k`` (one of the depth's block copies, or skip, last) the
policy holds a logit. During policy learning each task's gate at each depth is a hard
Gumbel-softmax sample (one-hot in the forward pass, the soft sample's gradient in the backward
pass: straight-through), its temperature annealed per epoch (:class:`Temperature`). A curriculum
unlocks depths from the top, one more every few epochs (:func:`unlocked`); locked depths run the
first copy. Two regularisers act on the select probabilities ``a[t, d] = 1 - P(skip)``:

- sparsity, ``sum_t sum_d log a[t, d]``: minimised, it makes tasks skip blocks;
- sharing, ``sum_{t1 < t2} sum_d (D - d - 1) / D * |a[t1, d] - a[t2, d]|`` (depths counted
  from 0): tasks agree more on the lower blocks, as the paper's ``(L - l) / L`` weights do.

After learning, layouts are sampled from the policy's probabilities (the paper samples 8) and
handed to the study to retrain and confirm. This module is the policy itself; the strategy that
trains it on the project's trainer is to come.

Example:
    >>> p = Policy(("a", "b"), depth=3)
    >>> p.logits.shape, unlocked(epoch=0, lockable=2, every=2), unlocked(4, 2, 2)
    (torch.Size([2, 3, 2]), 1, 2)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from nas.layout import Layout
from nas.supernet import Supernet

__all__ = ["Policy", "Temperature", "gated_forward", "unlocked"]


@dataclass(frozen=True)
class Temperature:
    """Gumbel-softmax temperature: ``initial * decay ** epoch`` (AdaShare's 5 and 0.965)."""

    initial: float = 5.0
    decay: float = 0.965

    def at(self, epoch: int) -> float:
        """The temperature of policy epoch ``epoch`` (from 0)."""
        return self.initial * self.decay**epoch


def unlocked(epoch: int, lockable: int, every: int) -> int:
    """How many of the ``lockable`` top depths are learned at ``epoch``: one more each ``every``."""
    return min(lockable, 1 + epoch // max(1, every))


class Policy(nn.Module):
    """Select-or-skip logits per task, depth and option (``instances`` copies, then skip).

    Args:
        tasks: task names.
        depth: blocks of the backbone.
        instances: copies of each block a task may select.
        always_run: leading depths every task runs (no skip, never learned when one copy).
    """

    def __init__(
        self, tasks: Sequence[str], depth: int, instances: int = 1, always_run: int = 1
    ) -> None:
        super().__init__()
        self.tasks, self.depth = tuple(tasks), depth
        self.instances, self.always_run = instances, always_run
        # Equal logits: every option starts equally likely, as in the paper's initialisation.
        self.logits = nn.Parameter(torch.zeros(len(self.tasks), depth, instances + 1))

    @property
    def lockable(self) -> int:
        """Depths the curriculum can unlock: all but the ``always_run`` ones."""
        return self.depth - self.always_run

    def learned(self, n_unlocked: int) -> torch.Tensor:
        """Bool mask over depths: the top ``n_unlocked`` of the lockable ones."""
        mask = torch.zeros(self.depth, dtype=torch.bool)
        mask[self.depth - min(n_unlocked, self.lockable) :] = True
        mask[: self.always_run] = False
        return mask

    def gates(self, tau: float, n_unlocked: int) -> torch.Tensor:
        """(tasks, depth, options) one-hot gates: straight-through Gumbel samples where learned.

        Depths not learned run copy 0 (always-run depths keep their copies' logits learnable
        when there are several copies, but never skip).
        """
        hard = F.gumbel_softmax(self.logits, tau=tau, hard=True, dim=-1)
        fixed = torch.zeros_like(hard)
        fixed[..., 0] = 1.0
        mask = self.learned(n_unlocked).to(hard.device).view(1, -1, 1)
        return torch.where(mask, hard, fixed)

    def select_probability(self) -> torch.Tensor:
        """(tasks, depth) probability of running the block: ``1 - P(skip)``."""
        return 1.0 - torch.softmax(self.logits, dim=-1)[..., -1]

    def sparsity_loss(self, n_unlocked: int | None = None) -> torch.Tensor:
        """``sum log a[t, d]`` over the learned depths (all skippable ones by default)."""
        mask = self.learned(self.lockable if n_unlocked is None else n_unlocked)
        a = self.select_probability()[:, mask.to(self.logits.device)]
        return torch.log(a.clamp_min(1e-12)).sum()

    def sharing_loss(self) -> torch.Tensor:
        """``sum_{t1<t2} sum_d (D - d - 1) / D |a[t1, d] - a[t2, d]|``: agree on low blocks."""
        a = self.select_probability()
        d = torch.arange(self.depth, device=a.device, dtype=a.dtype)
        weight = (self.depth - d - 1) / self.depth
        diff = (a.unsqueeze(0) - a.unsqueeze(1)).abs()  # (tasks, tasks, depth)
        pairs = torch.triu(torch.ones(len(self.tasks), len(self.tasks)), diagonal=1)
        return (pairs.to(a).unsqueeze(-1) * diff * weight).sum()

    def sample(self, n: int, generator: torch.Generator) -> list[Layout]:
        """Up to ``n`` distinct layouts drawn from the policy's probabilities, most likely first.

        Always-run depths never skip: their skip option is dropped before drawing.
        """
        probs = torch.softmax(self.logits.detach().float().cpu(), dim=-1)
        probs[:, : self.always_run, -1] = 0.0
        out = [self._layout(probs.argmax(-1))]
        for _ in range(20 * n):
            if len(out) >= n:
                break
            draw = torch.multinomial(probs.view(-1, probs.shape[-1]), 1, generator=generator)
            layout = self._layout(draw.view(probs.shape[:2]))
            if layout not in out:
                out.append(layout)
        return out

    def _layout(self, choice: torch.Tensor) -> Layout:
        skip = self.instances
        picks = choice.tolist()
        rows = tuple(
            tuple(None if picks[t][d] == skip else picks[t][d] for t in range(len(self.tasks)))
            for d in range(self.depth)
        )
        return Layout(self.tasks, rows)


def gated_forward(
    net: Supernet, x: torch.Tensor, gates: torch.Tensor, learned: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Each task's outputs with its gates mixing its options at every learned depth.

    At a learned depth ``d`` the task's feature is ``sum_k g[k] * option_k(h)`` over the
    depth's copies and its skip shortcut: with one-hot gates that is the chosen option's output
    in value, and every option runs so that the gates get gradients (as in AdaShare). A depth
    not learned runs copy 0 alone, and tasks share it until their first learned depth.
    ``net`` holds the copies (a :class:`~nas.supernet.Supernet`); ``learned`` is
    :meth:`Policy.learned`'s mask.
    """
    depth = net.backbone.depth
    first = next((d for d in range(depth) if bool(learned[d])), depth)
    trunk = net.stem(x)
    for d in range(first):  # locked depths before any learned one: one path for every task
        trunk = net.blocks[f"b{d}_0"](trunk)
    outs = {}
    for t, task in enumerate(net.tasks):
        h = trunk
        for d in range(first, depth):
            if not bool(learned[d]):
                h = net.blocks[f"b{d}_0"](h)
                continue
            skip = net.blocks[f"s{d}"](h) if f"s{d}" in net.blocks else h
            options = torch.stack([*(net.blocks[f"b{d}_{k}"](h) for k in range(net.pool[d])), skip])
            h = (gates[t, d].view(-1, *[1] * (options.dim() - 1)) * options).sum(0)
        outs[task] = net.heads[t](h)
    return outs
