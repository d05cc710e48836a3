"""AdaShare's select-or-skip policy (Sun et al. 2020): what it learns and how it is sampled.

Per task ``t``, depth ``d`` and option ``k`` (one of the depth's block copies, or skip, last) the
policy holds a logit, all equal at the start (0.5, the authors' ``init_method: equal``). During
policy learning each task's gate at each depth is a Gumbel-softmax sample at an annealed
temperature: soft, as the authors train (``hard_sampling: False``), or straight-through one-hot
(``hard=True``). A curriculum learns depths from the top (:mod:`.policy_schedule`); depths
not learned run the first copy. Two regularisers, as the authors' code computes them
(``envs/blockdrop_env.py``, ``get_sparsity_loss2`` and ``get_hamming_loss``):

- sparsity: per task, the mean over the learned depths of the cross-entropy of the logits
  against "skip", summed over tasks; it fades once a depth leans to skip;
- sharing: ``sum_{t1 < t2} sum_d (d + 1) / D * |z[t1, d] - z[t2, d]|`` on the raw logits ``z`` of
  running the depth (depths from 0): deeper depths weigh more, as in their code (the paper
  writes the reverse weights).

After learning, layouts are sampled from the policy's probabilities (the authors sample one per
retraining seed) and handed to the study to retrain from scratch and confirm.

Example:
    >>> p = Policy(("a", "b"), depth=3)
    >>> p.logits.shape, [round(float(x), 2) for x in p.select_probability().detach()[0]]
    (torch.Size([2, 3, 2]), [0.5, 0.5, 0.5])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from nas.core._layout import Layout
from nas.training._supernet import Supernet

__all__ = ["INITIAL_LOGIT", "Policy", "gated_forward"]

INITIAL_LOGIT = 0.5  # the authors' "equal" start; it matters under the policy's weight decay


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
        # Equal logits: every option starts equally likely, as in the authors' initialisation.
        self.logits = nn.Parameter(
            torch.full((len(self.tasks), depth, instances + 1), INITIAL_LOGIT)
        )

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

    def gates(self, tau: float, n_unlocked: int, hard: bool = False) -> torch.Tensor:
        """(tasks, depth, options) gates: Gumbel-softmax samples where learned.

        Soft samples by default (the authors'), one-hot straight-through ones when ``hard``.
        Depths not learned run copy 0 (always-run depths keep their copies' logits learnable
        when there are several copies, but never skip).
        """
        sample = F.gumbel_softmax(self.logits, tau=tau, hard=hard, dim=-1)
        fixed = torch.zeros_like(sample)
        fixed[..., 0] = 1.0
        mask = self.learned(n_unlocked).to(sample.device).view(1, -1, 1)
        return torch.where(mask, sample, fixed)

    def select_probability(self) -> torch.Tensor:
        """(tasks, depth) probability of running the block: ``1 - P(skip)``."""
        return 1.0 - torch.softmax(self.logits, dim=-1)[..., -1]

    def sparsity_loss(self, n_unlocked: int | None = None) -> torch.Tensor:
        """Sum over tasks of the mean cross-entropy against "skip" over the learned depths."""
        mask = self.learned(self.lockable if n_unlocked is None else n_unlocked)
        z = self.logits[:, mask.to(self.logits.device)]  # (tasks, learned, options)
        if z.shape[1] == 0:
            return self.logits.sum() * 0.0
        skip = torch.full(z.shape[:2], self.instances, device=z.device)
        per_depth = F.cross_entropy(z.transpose(1, 2), skip, reduction="none")  # (tasks, learned)
        return per_depth.mean(dim=1).sum()

    def sharing_loss(self) -> torch.Tensor:
        """``sum_{t1<t2} sum_d (d + 1) / D * |z[t1, d] - z[t2, d]|`` over the lockable depths.

        ``z`` are the raw logits of running the depth (every copy's, summed over copies).
        """
        z = self.logits[..., : self.instances]  # (tasks, depth, copies)
        d = torch.arange(self.depth, device=z.device, dtype=z.dtype)
        weight = (d + 1) / self.depth
        weight[: self.always_run] = 0.0  # never learned: nothing to agree on
        diff = (z.unsqueeze(0) - z.unsqueeze(1)).abs().sum(-1)  # (tasks, tasks, depth)
        pairs = torch.triu(torch.ones(len(self.tasks), len(self.tasks)), diagonal=1)
        return (pairs.to(z).unsqueeze(-1) * diff * weight).sum()

    def sample(
        self, n: int, generator: torch.Generator, n_unlocked: int | None = None
    ) -> list[Layout]:
        """Up to ``n`` distinct layouts drawn from the policy's probabilities, most likely first.

        Only the depths the curriculum learned (the top ``n_unlocked``; all by default) are
        drawn: the others run copy 0, as they did in every step of the training. Unlearned
        logits still hold their equal start, and drawing them would flip coins.
        """
        probs = torch.softmax(self.logits.detach().float().cpu(), dim=-1)
        fixed = ~self.learned(self.lockable if n_unlocked is None else n_unlocked)
        probs[:, fixed] = 0.0
        probs[:, fixed, 0] = 1.0
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
    ``net`` holds the copies (a :class:`~nas.training._supernet.Supernet`); ``learned`` is
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
