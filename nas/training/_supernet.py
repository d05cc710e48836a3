"""A weight-sharing supernet: every block copy any layout of a search space can use, in one module.

Single-path one-shot NAS (Guo et al. 2020): the supernet is trained once, each step routing the
batch through sampled layouts, and a candidate is then scored with the weights it inherits. The
executor is the same as a layout's own network (:func:`nas.model._network.plan`), so a step computes
each shared path prefix once and never runs a skipped block. Sampling follows the two known
remedies for weak supernet rankings (Yu et al. 2020, "How to train your super-net"):

* **fairness** (FairNAS, Chu et al. 2021): every parameter of the space cycles through all its
  values in a random order, each value once per cycle, so no copy and no choice is favoured;
* **the sandwich rule** (BigNAS): every step also trains the independent layout, which runs one
  copy per task at every depth, so every copy is updated at every step, and the baseline every
  Δ_MTL is measured against is trained as well as the candidates.

Scoring copies the candidate's weights into its own network and recalibrates its batch-norm
statistics on training batches (:func:`recalibrate`): statistics accumulated over many layouts
fit none of them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import optuna
import torch
from torch import nn

from nas.core._layout import Layout
from nas.data._benchmark import Split
from nas.data._source import Resident, Source
from nas.model._heads import HeadSpec
from nas.model._network import Rows, feature_shapes, plan
from nas.model.backbones._base import Backbone, head_of, stem_of
from search_spaces import SearchSpace

__all__ = ["FairSampler", "Supernet", "recalibrate"]

_BLOCK = re.compile(r"^blocks\.b(\d+)_(\d+)\.")


class Supernet(nn.Module):
    """The stem, ``pool[d]`` copies of every block ``d``, the skip shortcuts and one head per task.

    ``forward(x, rows)`` runs the layout whose task ``t`` uses copy ``rows[d][t]`` at depth
    ``d`` (``None``: skip); :meth:`state_for` gives a layout's own network those weights.
    """

    def __init__(
        self,
        backbone: Backbone,
        heads: Mapping[str, HeadSpec],
        tasks: Sequence[str],
        input_shape: Sequence[int],
        pool: Sequence[int],
    ) -> None:
        super().__init__()
        if len(pool) != backbone.depth:
            raise ValueError(f"pool has {len(pool)} depths, the backbone {backbone.depth}")
        self.backbone, self.tasks, self.pool = backbone, tuple(tasks), tuple(pool)
        shapes = feature_shapes(backbone, tuple(input_shape))
        self.stem: nn.Module = stem_of(backbone) or nn.Identity()
        self.blocks = nn.ModuleDict()
        for d, copies in enumerate(pool):
            for k in range(copies):
                self.blocks[f"b{d}_{k}"] = backbone.block(d)
            skip = backbone.skip(d)
            if skip is not None:
                self.blocks[f"s{d}"] = skip
        self.heads = nn.ModuleList(
            head_of(backbone, heads[t], shapes[-1], tuple(input_shape)) for t in self.tasks
        )
        self._plans: dict[Rows, tuple[list[tuple[str, int]], list[int]]] = {}

    def backbone_modules(self) -> list[nn.Module]:
        """The stem and the blocks, as opposed to the heads (for a backbone learning rate)."""
        return [self.stem, self.blocks]

    def forward(self, x: torch.Tensor, rows: Rows) -> dict[str, torch.Tensor]:
        """Outputs of the layout ``rows``; each distinct path prefix computed once."""
        key = tuple(tuple(r) for r in rows)
        if key not in self._plans:
            self._plans[key] = plan(key, self.backbone)
        steps, slots = self._plans[key]
        feats = [self.stem(x)]
        for name, src in steps:
            feats.append(self.blocks[name](feats[src]))
        return {t: head(feats[s]) for t, head, s in zip(self.tasks, self.heads, slots, strict=True)}

    def state_for(self, layout: Layout, rows: Rows) -> dict[str, torch.Tensor]:
        """The state dict of ``layout``'s own network, holding the copies ``rows`` names.

        Raises:
            ValueError: ``rows`` do not describe ``layout`` (another sharing pattern).
        """
        if Layout(layout.tasks, tuple(tuple(r) for r in rows)) != layout:
            raise ValueError("the instance rows do not describe the candidate's layout")
        copy_of: dict[tuple[int, int], int] = {}  # (depth, canonical instance) -> copy
        for d, (canon, raw) in enumerate(zip(layout.rows, rows, strict=True)):
            for c, r in zip(canon, raw, strict=True):
                if c is not None and r is not None:
                    copy_of[(d, c)] = r
        state = self.state_dict()
        out = {k: v for k, v in state.items() if not k.startswith("blocks.")}
        wanted = {(d, r): c for (d, c), r in copy_of.items()}
        for key, value in state.items():
            m = _BLOCK.match(key)
            if m is None:
                continue
            d, r = int(m.group(1)), int(m.group(2))
            if (d, r) in wanted:
                out[f"blocks.b{d}_{wanted[(d, r)]}." + key[m.end() :]] = value
        return out


class FairSampler:
    """Layouts for supernet training: every parameter cycles through its values (FairNAS).

    Each parameter of the space draws from its own queue holding a random permutation of its
    values, refilled when empty; so over one cycle every value is drawn exactly once.
    Deterministic for a seed; :meth:`state` / :meth:`restore` let training resume exactly.
    """

    def __init__(self, space: SearchSpace, seed: int) -> None:
        self.space = space
        self.values: dict[str, list[Any]] = {}
        for name, dist in space.distributions().items():
            if isinstance(dist, optuna.distributions.IntDistribution):
                self.values[name] = list(range(dist.low, dist.high + 1, dist.step))
            elif isinstance(dist, optuna.distributions.CategoricalDistribution):
                self.values[name] = list(dist.choices)
            else:
                raise ValueError(f"parameter {name!r}: a supernet samples ints and categoricals")
        self.rng = np.random.default_rng(seed)
        self.queues: dict[str, list[Any]] = {name: [] for name in self.values}

    def next_params(self) -> dict[str, Any]:
        """The next value of every parameter."""
        params = {}
        for name, values in self.values.items():
            if not self.queues[name]:
                self.queues[name] = [values[i] for i in self.rng.permutation(len(values))]
            params[name] = self.queues[name].pop()
        return params

    def draw(self) -> tuple[Layout, Rows]:
        """The next layout and the block copies its tasks use."""
        params = self.next_params()
        layout = self.space.suggest(optuna.trial.FixedTrial(params))
        return layout, self.space.instance_rows(layout, params)

    def state(self) -> dict[str, Any]:
        """What :meth:`restore` needs to continue the same sequence."""
        return {
            "rng": self.rng.bit_generator.state,
            "queues": {k: list(q) for k, q in self.queues.items()},
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        """Continue from :meth:`state` output."""
        self.rng.bit_generator.state = state["rng"]
        self.queues = {k: list(q) for k, q in state["queues"].items()}


@torch.no_grad()
def recalibrate(
    net: nn.Module, split: Split | Source, images: int, batch_size: int, seed: int
) -> None:
    """Re-estimate every batch-norm statistic of ``net`` on ``images`` training images.

    Statistics are reset and averaged over the batches (momentum None: a plain mean), in train
    mode without gradients; parameters are untouched. The same images for every candidate.
    """
    norms = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    was_training = net.training
    net.train()
    source = split if isinstance(split, Source) else Resident(split, split.x.device)
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(source), generator=gen)[: min(images, len(source))]
    plan = [
        order[start : start + batch_size]
        for start in range(0, len(order), batch_size)
        if start == 0 or len(order) - start > 1  # a last batch of one image says little
    ]
    for _, x, _ in source.batches(plan):
        net(x)
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum
    net.train(was_training)
