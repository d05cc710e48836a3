"""``--strategy affinity``: trees built from task affinity (Vandenhende et al. 2020) as peers.

Once per study, :meth:`Affinity.prepare` trains the single-task networks (the independent layout,
with the study's epochs, batch size, learning rate and seed: one full training) and measures
the tasks' representation similarity at every depth on ``images`` training images
(:mod:`nas.training._affinity`); validation stays the study's to choose with. Then ``trees``
trees, the least dissimilar under evenly spaced FLOPs budgets between hard sharing and
separate networks, are queued into the study as ordinary trials; the confirm stage chooses
among them on validation and tests once.

The trained networks and then the affinity are checkpointed in the artifact store under the
study's lock, so a process killed after the training does not train again (one killed during
it trains again, as a killed trial does), and later processes load the affinity.

    mtlnas search --strategy affinity --n-trials 5
    mtlnas search --strategy affinity --strategy-option trees=5 --n-trials 7
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from nas.core._layout import Layout
from nas.explore.evaluators import Candidate, FullTraining
from nas.explore.strategies._base import Strategy
from nas.model._network import MultiTaskNetwork, feature_shapes
from nas.model.backbones._measure import block_cost
from nas.training._affinity import affinity, choose_trees, representations, trees

if TYPE_CHECKING:
    from nas.explore._config import SearchConfig
    from nas.explore.evaluators._base import Preparation
    from search_spaces import SearchSpace

__all__ = ["MAX_TREES", "Affinity", "affinity_strategy"]

MAX_TREES = 500_000  # trees scored at most (over 6 blocks: 5 tasks 14,532; 6 tasks 274,778)


class Affinity(Strategy):
    """Learns the task affinity in :meth:`prepare`; queues the trees it prefers.

    Args:
        trees: trees to queue, one per FLOPs budget.
        images: training images whose representations are compared (the paper uses 500).
    """

    def __init__(self, trees: int = 3, images: int = 500) -> None:
        self.n_trees, self.images = trees, images
        self.affinity: torch.Tensor | None = None  # depth x task x task
        self.block_flops: list[float] = []

    def check(self, space: SearchSpace) -> None:
        """Refused outside the branched space."""
        from nas.explore.strategies import StrategyError
        from search_spaces._branched import BranchedSpace

        if not isinstance(space, BranchedSpace):
            raise StrategyError("strategy 'affinity' builds trees: use --space branched")

    def prepare(self, context: Preparation) -> str | None:
        """Train (or load) the single-task networks and measure the affinity, once per study."""
        from nas.explore.strategies import StrategyError

        space, problem, config = context.space, context.problem, context.config
        self.check(space)
        if context.state is None:
            raise StrategyError(
                "strategy 'affinity' keeps its single-task networks in the artifact store, and "
                "this storage has none: give --artifacts DIR"
            )
        if config is None:
            raise StrategyError("strategy 'affinity' needs the study's configuration")
        shapes = feature_shapes(problem.backbone, problem.benchmark.input_shape)
        self.block_flops = [
            float(block_cost(problem.backbone, d, shapes[d]).flops) for d in range(space.depth)
        ]
        layout = Layout.independent([t.name for t in problem.tasks], space.depth)
        verb = "loaded"
        with context.state.hold():
            start = context.state.latest()
            spent = 0.0 if start is None else float(start.get("seconds", 0.0))  # earlier processes
            if start is not None and "affinity" in start:
                self.affinity = start["affinity"]
            else:
                begun = time.perf_counter()
                if start is not None:  # trained before a kill: measure only
                    with torch.random.fork_rng(devices=[]):  # its weights are loaded next
                        built = problem.build(layout).to(problem.device)
                    assert isinstance(built, MultiTaskNetwork)  # a layout's own, not a peer
                    net = built
                    net.load_state_dict(start["model"])
                    verb = "measured"
                else:  # the study's own trainer, as the independent baseline trial trains
                    candidate = Candidate(layout, seed=config.seed)
                    with torch.random.fork_rng(devices=[]):
                        trained = FullTraining.from_config(config).evaluate(problem, candidate)
                    assert isinstance(trained.network, MultiTaskNetwork)
                    net = trained.network
                    seconds = spent + time.perf_counter() - begun
                    context.state.save(
                        {"epoch": 1, "epochs": 2, "model": net.state_dict(), "seconds": seconds}
                    )
                    verb = "trained and measured"
                pick = torch.randperm(
                    len(problem.train), generator=torch.Generator().manual_seed(config.seed)
                )
                _, x, _ = next(problem.train.batches([pick[: self.images]]))
                self.affinity = affinity(representations(net, x)).cpu()
                spent += time.perf_counter() - begun
                context.state.save({"epoch": 2, "epochs": 2, "model": net.state_dict(),
                                    "affinity": self.affinity, "seconds": spent})  # fmt: skip
        # One training of the independent layout; the measurement is a forward pass.
        self.trainings, self.seconds = 1.0, spent
        return (
            f"affinity of study {context.study_name!r}: single-task networks {verb} "
            f"(1 full training, {self.seconds:.0f} s)"
        )

    def layouts(self, space: SearchSpace, config: SearchConfig) -> Sequence[Layout]:
        """The chosen trees, cheapest first (none before :meth:`prepare`)."""
        del config
        if self.affinity is None:
            return ()
        split = getattr(space, "split_depths", None)
        candidates = list(itertools.islice(trees(space.tasks, space.depth, split), MAX_TREES + 1))
        if len(candidates) > MAX_TREES:
            from nas.explore.strategies import StrategyError

            raise StrategyError(
                f"strategy 'affinity' scores every tree of the space, and this one has more than "
                f"{MAX_TREES:,}; allow fewer split depths, e.g. --space-option "
                f"split_depths=[0,{space.depth // 2},{space.depth}]"
            )
        return choose_trees(candidates, 1.0 - self.affinity, self.block_flops, self.n_trees)


def affinity_strategy(trees: int = 3, images: int = 500) -> Strategy:
    """Strategy factory ``affinity`` (see :class:`Affinity`)."""
    if trees < 1 or images < 3:
        from nas.explore.strategies import StrategyError

        raise StrategyError(
            f"strategy 'affinity': trees must be >= 1 and images >= 3, got {trees} and {images}"
        )
    return Affinity(trees, images)
